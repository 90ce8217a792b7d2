"""Walk-forward: window geometry (anchored, rolling, purge, embargo), a poisoned OOS window
never changes a fit, a grid fitter finds the planted driver every step, the GP as fitter, and
a run on real Bybit history."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from validate_fixtures import planted_table, tiny_config

from nexusforge.errors import ForgeError
from nexusforge.forge.evolve.fitness import FitnessConfig
from nexusforge.forge.evolve.table import TARGET, ResearchTable, read_table
from nexusforge.forge.validate.walk_forward import (
    ForgeFitter,
    GridFitter,
    WalkForwardConfig,
    in_sample_table,
    splits,
    walk_forward,
)
from nexusforge.strategy import Expr, codec, to_infix

FIT = FitnessConfig()


def expr(text: str) -> Expr:
    return codec.loads('{"schema": 1, "expr": ' + text + "}")


DRIVER = expr('{"op": "lag", "args": [{"col": "driver"}], "k": 1}')
ANTI = expr('{"op": "neg", "args": [{"op": "lag", "args": [{"col": "driver"}], "k": 1}]}')
NOISE = expr('{"col": "noise_a"}')


def test_anchored_and_rolling_windows_with_purge_and_embargo() -> None:
    cfg = WalkForwardConfig(scheme="anchored", in_sample=1000, out_of_sample=300, embargo=5)
    sp = splits(2700, cfg, horizon=2)
    assert [s.out_of_sample for s in sp] == [slice(1007, 1307), slice(1307, 1607),
                                            slice(1607, 1907), slice(1907, 2207),
                                            slice(2207, 2507)]  # fmt: skip
    for s in sp:
        assert s.in_sample.start == 0
        assert s.out_of_sample.start - s.in_sample.stop == 2 + 5  # purge (horizon) + embargo
    roll = splits(2700, WalkForwardConfig(scheme="rolling", in_sample=1000, out_of_sample=300))
    assert all(s.in_sample.stop - s.in_sample.start == 1000 for s in roll)
    assert all(s.out_of_sample.start == s.in_sample.stop + 1 for s in roll)
    with pytest.raises(ForgeError):
        splits(900, cfg)


@dataclass
class Recorder:
    """A fitter that records what it was shown and delegates to a grid."""

    grid: GridFitter
    seen: list[pl.DataFrame] = field(default_factory=list)

    def fit(self, train: ResearchTable) -> Expr:
        self.seen.append(train.frame)
        return self.grid.fit(train)


def test_poisoned_oos_window_never_changes_the_fit() -> None:
    table = planted_table(rows=4000)
    cfg = WalkForwardConfig(in_sample=1500, out_of_sample=500)
    grid = GridFitter([DRIVER, ANTI, NOISE], FIT)
    clean = Recorder(grid)
    wf = walk_forward(table, clean, cfg, FIT)
    for k, sp in enumerate(splits(table.height, cfg, table.horizon)):
        # Poison every row from this step's OOS window on: prices, features and labels.
        oos = sp.out_of_sample.start
        bad = table.frame.with_row_index("i").with_columns(
            [pl.when(pl.col("i") >= oos).then(pl.col(c) * -7.0 + 1e3).otherwise(pl.col(c))
             .alias(c) for c in table.frame.columns if c != "close_ts"]
        ).drop("i")  # fmt: skip
        poisoned = ResearchTable(bad, table.bars_per_year, table.horizon)
        shown = in_sample_table(poisoned, sp.in_sample)
        assert shown.frame.equals(clean.seen[k]), f"step {k}: the fitter saw a poisoned bar"
        assert to_infix(grid.fit(shown)) == wf.steps[k].infix
        # The whole walk-forward on the poisoned history: step k's fit is unchanged (later
        # steps legitimately fit on rows that are now poisoned in-sample).
        rec = Recorder(grid)
        again = walk_forward(poisoned, rec, cfg, FIT)
        assert rec.seen[k].equals(clean.seen[k]) and again.steps[k].infix == wf.steps[k].infix
        # The labels of the last rows, which look past the cut, are blanked.
        assert shown.frame[TARGET].tail(table.horizon).is_null().all()


def test_grid_fitter_finds_the_planted_driver_each_step() -> None:
    table = planted_table(rows=5000)
    wf = walk_forward(table, GridFitter([NOISE, ANTI, DRIVER], FIT),
                      WalkForwardConfig(in_sample=1500, out_of_sample=700), FIT)  # fmt: skip
    assert len(wf.steps) == 4
    assert all("driver" in s.infix and "-" not in s.infix for s in wf.steps)
    assert wf.oos_returns.size == 4 * 700
    assert wf.oos_sharpe > 3.0 and all(s.oos_sharpe > 0 for s in wf.steps)
    assert 0.2 < wf.efficiency < 5.0


@pytest.mark.slow
def test_the_gp_as_fitter_refits_each_step() -> None:
    table = planted_table(rows=8000)
    wf = walk_forward(table, ForgeFitter(tiny_config()),
                      WalkForwardConfig(in_sample=6000, out_of_sample=900), FIT)  # fmt: skip
    assert len(wf.steps) == 2
    # Each refit trades the driver or its noisy proxy (the decoy carries its signal too).
    assert all("driver" in s.infix or "decoy" in s.infix for s in wf.steps)
    assert all(s.oos_sharpe > 0.0 for s in wf.steps) and wf.efficiency > 0.0


@pytest.mark.slow
def test_walk_forward_on_real_history(real_run: Path) -> None:
    table = read_table(real_run / "research_table.parquet")
    grid = [expr('{"col": "ret_h1"}'), expr('{"op": "neg", "args": [{"col": "ret_h1"}]}'),
            expr('{"const": 1.0}'), expr('{"const": -1.0}')]  # fmt: skip
    wf = walk_forward(table, GridFitter(grid, FIT),
                      WalkForwardConfig(scheme="rolling", in_sample=3000, out_of_sample=1500),
                      FIT)  # fmt: skip
    assert len(wf.steps) == 5  # (12000 - 3001) // 1500
    assert np.all(np.isfinite(wf.oos_returns)) and math.isfinite(wf.oos_sharpe)
    assert all(s.infix for s in wf.steps)
