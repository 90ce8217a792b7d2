"""Walk-forward optimisation: fit on an in-sample window, trade only the next out-of-sample
window, step forward; the stitched out-of-sample curve and walk-forward efficiency.

Anchored: every in-sample window starts at row 0. Rolling: a fixed-length window slides.
Between in-sample and out-of-sample lie `purge` bars (default: the forward-return horizon,
whose labels would reach into the OOS window) and an `embargo` of further bars. The fitter
is handed a table cut to its in-sample rows only, so it cannot read an OOS bar.
"""

from __future__ import annotations

import json
import math
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import msgspec
import numpy as np
import numpy.typing as npt
import polars as pl

from nexusforge.errors import ForgeError
from nexusforge.forge.backtest.batch import evaluate_batch
from nexusforge.forge.backtest.engine import MarketData
from nexusforge.forge.evolve.fitness import FitnessConfig
from nexusforge.forge.evolve.run import ForgeConfig, run_on_table
from nexusforge.forge.evolve.table import FUNDING, TARGET, ResearchTable
from nexusforge.forge.validate.bootstrap import sharpe
from nexusforge.forge.validate.returns import window_returns
from nexusforge.strategy import Expr, codec, to_infix

SCHEMES = ("anchored", "rolling")


class WalkForwardConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """Scheme and window lengths in bars; `purge` None means the table's horizon."""

    scheme: str = "anchored"
    in_sample: int = 2000
    out_of_sample: int = 500
    purge: int | None = None
    embargo: int = 0

    def __post_init__(self) -> None:
        if self.scheme not in SCHEMES:
            raise ValueError(f"scheme must be one of {SCHEMES}")
        if self.in_sample < 100 or self.out_of_sample < 10:
            raise ValueError("in_sample must be >= 100 bars and out_of_sample >= 10")
        if (self.purge is not None and self.purge < 0) or self.embargo < 0:
            raise ValueError("purge and embargo must be >= 0")


@dataclass(frozen=True)
class Split:
    """Rows fitted on and rows traded on in one step."""

    in_sample: slice
    out_of_sample: slice


def splits(rows: int, cfg: WalkForwardConfig, horizon: int = 1) -> list[Split]:
    """Every step's windows; OOS windows tile the history after the first in-sample span."""
    gap = (horizon if cfg.purge is None else cfg.purge) + cfg.embargo
    out, oos_start = [], cfg.in_sample + gap
    while oos_start + cfg.out_of_sample <= rows:
        is_stop = oos_start - gap
        is_start = 0 if cfg.scheme == "anchored" else is_stop - cfg.in_sample
        out.append(Split(slice(is_start, is_stop),
                         slice(oos_start, oos_start + cfg.out_of_sample)))  # fmt: skip
        oos_start += cfg.out_of_sample
    if not out:
        raise ForgeError(f"{rows} rows are too few for one walk-forward step ({cfg})")
    return out


class Fitter(Protocol):
    """Fits a strategy on an in-sample table (it never sees any other rows)."""

    def fit(self, train: ResearchTable) -> Expr: ...


def in_sample_table(table: ResearchTable, rows: slice) -> ResearchTable:
    """The table cut to `rows`, with the forward-return labels of its last `horizon` rows
    (which look past the cut) blanked."""
    frame = table.frame.slice(rows.start, rows.stop - rows.start)
    n = frame.height
    keep = pl.int_range(0, n) < n - table.horizon
    frame = frame.with_columns(pl.when(keep).then(pl.col(TARGET)).otherwise(None).alias(TARGET))
    return ResearchTable(frame, table.bars_per_year, table.horizon)


@dataclass(frozen=True)
class GridFitter:
    """A parameterised strategy as a grid of expressions: the best in-sample net Sharpe wins."""

    candidates: Sequence[Expr]
    fitness: FitnessConfig

    def fit(self, train: ResearchTable) -> Expr:
        """The candidate with the highest net Sharpe on the whole in-sample window."""
        funding = train.frame[FUNDING].to_numpy()
        res = evaluate_batch(list(self.candidates), train.frame.select(train.features),
                             train.close, bars_per_year=train.bars_per_year,
                             market=MarketData(funding=funding),
                             config=self.fitness.backtest_config(), threads=1)  # fmt: skip
        srs = np.array([m.sharpe if math.isfinite(m.sharpe) else -np.inf for m in res])
        return self.candidates[int(np.argmax(srs))]


@dataclass(frozen=True)
class ForgeFitter:
    """The whole Forge search (causal discovery + GP) run on the in-sample table; its best
    hall-of-fame expression is the fit."""

    config: ForgeConfig

    def fit(self, train: ResearchTable) -> Expr:
        """Run the Forge on `train` in a scratch folder and return its best individual."""
        with tempfile.TemporaryDirectory(prefix="nf-wf-") as tmp:
            run_on_table(self.config, train, Path(tmp))
            hof = json.loads((Path(tmp) / "hall_of_fame.json").read_text())
        if not hof:
            raise ForgeError("the Forge found no individual in this in-sample window")
        return codec.loads(json.dumps({"schema": codec.SCHEMA_VERSION, "expr": hof[0]["expr"]}))


@dataclass(frozen=True)
class Step:
    """One walk-forward step: what was fitted and how it did in and out of sample."""

    split: Split
    infix: str
    is_sharpe: float
    oos_sharpe: float
    is_annual_return: float
    oos_annual_return: float


@dataclass(frozen=True)
class WalkForward:
    """All steps, the stitched OOS returns and walk-forward efficiency."""

    steps: tuple[Step, ...]
    oos_returns: npt.NDArray[np.float64]
    bars_per_year: float

    @property
    def oos_sharpe(self) -> float:
        """Annualised net Sharpe of the stitched out-of-sample returns."""
        return float(sharpe(self.oos_returns, self.bars_per_year)[0])

    @property
    def efficiency(self) -> float:
        """Walk-forward efficiency (Pardo): mean annualised OOS return over mean IS return;
        NaN when the in-sample return is not positive (there is nothing to keep)."""
        is_ret = float(np.mean([s.is_annual_return for s in self.steps]))
        oos_ret = float(np.mean([s.oos_annual_return for s in self.steps]))
        return oos_ret / is_ret if is_ret > 0.0 else math.nan


def _annual_return(r: npt.NDArray[np.float64], bars_per_year: float) -> float:
    return float(np.mean(r) * bars_per_year)


def walk_forward(
    table: ResearchTable, fitter: Fitter, cfg: WalkForwardConfig, fitness: FitnessConfig
) -> WalkForward:
    """Fit on each in-sample window, trade the fitted strategy on the next OOS window."""
    steps, oos = [], []
    for sp in splits(table.height, cfg, table.horizon):
        expr = fitter.fit(in_sample_table(table, sp.in_sample))
        r_is = window_returns(expr, table, sp.in_sample, fitness).returns
        r_oos = window_returns(expr, table, sp.out_of_sample, fitness).returns
        bpy = table.bars_per_year
        steps.append(Step(sp, to_infix(expr), float(sharpe(r_is, bpy)[0]),
                          float(sharpe(r_oos, bpy)[0]), _annual_return(r_is, bpy),
                          _annual_return(r_oos, bpy)))  # fmt: skip
        oos.append(r_oos)
    return WalkForward(tuple(steps), np.concatenate(oos), table.bars_per_year)
