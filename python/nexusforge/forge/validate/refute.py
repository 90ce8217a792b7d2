"""Causal refutation with DoWhy: does the strategy's signal move the forward return, and does
that estimate survive attempts to break it?

Treatment = the expression's value at bar t (standardised), outcome = the forward return
from t; common causes = the causal parents from the run's discovery (`causal/graph.json`)
that the expression does not read, each at its strategy lag, screened by the outcome: a parent
is kept only when it is associated with the return beyond the signal and the signal's own
input features (at lags 0 to the parents' longest), at level `screen_alpha`. A parent with no such
association has no path to the return that bypasses the signal's inputs, so it cannot
confound; dropping it leaves a valid adjustment set (de Luna, Waernbaum & Richardson 2011,
Biometrika 98(4), the outcome-based reduction Q_Y). It matters because discovery at a loose
alpha lists proxies of the true cause (a feature measured together with the signal's input)
as parents, and adjusting for a proxy of the signal's own cause would take its effect away.
The effect is a backdoor linear regression. It holds when (documented criteria, thresholds in
`RefuteConfig`):
  estimate   positive (the strategy is long when its signal is high) with p <= `alpha`;
  placebo    a permuted treatment's effect is below `placebo_ratio` of the estimate;
  random common cause / data subset
             the effect moves by at most `stability` of itself and keeps its sign;
  unobserved common cause
             a simulated standard-normal confounder added with coefficient
             `confounder_strength` to the (standardised) signal and subtracted from the
             (standardised) return leaves the effect with the same sign.
"""

from __future__ import annotations

import dataclasses
import json
import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec
import numpy as np
import polars as pl
from scipy import stats  # type: ignore[import-untyped]

from nexusforge.errors import DataError
from nexusforge.forge.evolve.table import TARGET, ResearchTable
from nexusforge.forge.validate.returns import signal_program
from nexusforge.strategy import Expr, compile_expr, evaluate


class RefuteConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """Sample size, simulations per refuter and the pass criteria."""

    rows: int = 3000
    # 20, not fewer: the placebo's mean effect over n permuted signals has sd ~
    # 1 / sqrt(rows * n); with n = 10 and 3,000 rows (0.006) a just-significant true effect
    # (~0.037 sd, criterion 0.25 x that) fails the placebo ~12 % of the time, ~3 % with 20.
    simulations: int = 20
    alpha: float = 0.05
    placebo_ratio: float = 0.25
    stability: float = 0.25
    confounder_strength: float = 0.05
    # 1.0 keeps every graph parent as a common cause (no outcome screening).
    screen_alpha: float = 0.05
    seed: int = 0

    def __post_init__(self) -> None:
        if not 200 <= self.rows <= 200_000 or not 2 <= self.simulations <= 1000:
            raise ValueError("rows must be in 200..200000 and simulations in 2..1000")
        if not 0.0 < self.alpha < 1.0 or self.placebo_ratio <= 0 or self.stability <= 0:
            raise ValueError("alpha must be in (0, 1); placebo_ratio and stability > 0")
        if not 0.0 < self.screen_alpha <= 1.0:
            raise ValueError("screen_alpha must be in (0, 1]")


@dataclass(frozen=True)
class Parent:
    """A causal parent of the return: feature and strategy lag (bars)."""

    feature: str
    lag: int


def read_parents(graph_json: Path) -> list[Parent]:
    """Parents from a run's `causal/graph.json`."""
    try:
        doc = json.loads(graph_json.read_text(encoding="utf-8"))
        return [Parent(str(p["feature"]), int(p["lag"])) for p in doc["parents"]]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise DataError(f"cannot read causal graph {graph_json}: {exc}") from exc


@dataclass(frozen=True)
class Refutation:
    """One refuter's new effect and whether the estimate held."""

    name: str
    new_effect: float
    passed: bool


@dataclass(frozen=True)
class RefuteResult:
    """The estimate, its p-value, the common causes used and each refutation."""

    effect: float
    p_value: float
    rows: int
    common_causes: tuple[str, ...]
    refutations: tuple[Refutation, ...]
    estimate_passed: bool
    note: str = ""
    screened_out: tuple[tuple[str, float], ...] = ()  # graph parents dropped, with their p
    skipped: bool = False  # not run (the gate's cheaper checks had already failed)

    @property
    def passed(self) -> bool:
        """The estimate is positive and significant and every refuter left it standing."""
        return self.estimate_passed and all(r.passed for r in self.refutations)

    def figures(self) -> dict[str, Any]:
        """Plain-JSON figures for challenger files and the rejection log."""
        return {"effect": self.effect, "p_value": self.p_value, "rows": self.rows,
                "common_causes": list(self.common_causes), "passed": self.passed, "note": self.note,
                "screened_out": dict(self.screened_out), "skipped": self.skipped,
                "refuters": {r.name: {"new_effect": r.new_effect, "passed": r.passed}
                             for r in self.refutations}}  # fmt: skip


INPUT = "input:"  # prefix of the signal's own input columns (screening only, never controls)


def _lagged(x: np.ndarray[Any, Any], lag: int) -> np.ndarray[Any, Any]:
    return np.concatenate([np.full(lag, np.nan), x.astype(np.float64)])[: x.size]


def not_run(reason: str) -> RefuteResult:
    """The record of a refutation the gate did not run, and why."""
    return RefuteResult(math.nan, math.nan, 0, (), (), False, reason, skipped=True)


def causal_frame(
    expr: Expr,
    table: ResearchTable,
    rows: Sequence[slice],
    parents: Sequence[Parent],
    max_rows: int,
) -> pl.DataFrame:
    """Signal, forward return, lagged confounders and the signal's input features at lags 0
    to the parents' longest (`input:` columns) on the windows `rows` (the last `max_rows`
    rows with every value finite)."""
    compiled = signal_program(expr, table)
    signal = evaluate(compiled, table.frame.select(compiled.columns))
    cols = {"signal": signal, "fwd_ret": table.frame[TARGET].to_numpy()}
    for p in parents:
        if p.feature in compiled.columns:
            continue  # an input of the signal is not a confounder of it
        cols[f"{p.feature}_lag{p.lag}"] = _lagged(table.frame[p.feature].to_numpy(), p.lag)
    if len(cols) > 2:
        for name in compile_expr(expr).columns:
            for lag in range(max(p.lag for p in parents) + 1):
                cols[f"{INPUT}{name}_lag{lag}"] = _lagged(table.frame[name].to_numpy(), lag)
    keep = np.zeros(table.height, dtype=bool)
    for w in rows:
        keep[w] = True
    frame = pl.DataFrame(cols).filter(pl.Series(keep))
    return frame.filter(pl.all_horizontal(pl.all().is_finite())).tail(max_rows)


def _zscore(x: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    sd = x.std()
    return (x - x.mean()) / sd if sd > 0.0 else np.zeros_like(x)


def outcome_p_value(frame: pl.DataFrame, column: str) -> float:
    """Two-sided p of `column`'s coefficient in an OLS of the return on the signal, the
    signal's input columns and `column`: does it tell the return anything more?"""
    base = ["signal", *(c for c in frame.columns if c.startswith(INPUT))]
    x = np.column_stack([np.ones(frame.height)]
                        + [_zscore(frame[c].to_numpy()) for c in (*base, column)])  # fmt: skip
    y = _zscore(frame["fwd_ret"].to_numpy())
    coef, *_ = np.linalg.lstsq(x, y, rcond=None)
    rank = np.linalg.matrix_rank(x)
    dof = frame.height - rank
    resid = y - x @ coef
    cov = float(resid @ resid) / dof * np.linalg.pinv(x.T @ x)
    se = math.sqrt(max(float(cov[-1, -1]), 0.0))
    if se == 0.0 or dof < 1:
        return 1.0  # collinear with the signal's inputs: nothing beyond them
    return float(2.0 * stats.t.sf(abs(coef[-1] / se), dof))


def screen(frame: pl.DataFrame, candidates: Sequence[str], alpha: float) -> tuple[
    tuple[str, ...], tuple[tuple[str, float], ...]
]:  # fmt: skip
    """Graph parents kept as common causes (p <= `alpha`) and those dropped, with their p."""
    if alpha >= 1.0:
        return tuple(candidates), ()
    ps = {c: outcome_p_value(frame, c) for c in candidates}
    kept = tuple(c for c in candidates if ps[c] <= alpha)
    return kept, tuple((c, p) for c, p in ps.items() if p > alpha)


def _stable(new: float, old: float, tolerance: float) -> bool:
    """Same sign and a relative change of at most `tolerance`."""
    return new * old > 0.0 and abs(new - old) <= tolerance * abs(old)


def refute(
    expr: Expr,
    table: ResearchTable,
    rows: Sequence[slice],
    parents: Sequence[Parent],
    cfg: RefuteConfig,
) -> RefuteResult:
    """Estimate the signal's effect on the forward return and try to refute it."""
    frame = causal_frame(expr, table, rows, parents, cfg.rows)
    graph = [c for c in frame.columns if c not in ("signal", "fwd_ret") and not c.startswith(INPUT)]
    sig = frame["signal"].to_numpy()
    if frame.height < 100 or np.unique(sig).size < 2:
        note = "fewer than 100 rows" if frame.height < 100 else "the signal is constant"
        return RefuteResult(math.nan, math.nan, frame.height, tuple(graph), (), False, note)
    common, dropped = screen(frame, graph, cfg.screen_alpha)
    # Signal and return standardised: the effect is in return sds per signal sd (comparable
    # across strategies) and the simulated confounder's strengths mean the same on both sides.
    y = frame["fwd_ret"].to_numpy()
    frame = frame.select("signal", "fwd_ret", *common).with_columns(
        pl.Series("signal", (sig - sig.mean()) / sig.std()),
        pl.Series("fwd_ret", (y - y.mean()) / y.std()),
    )
    with warnings.catch_warnings():
        # DoWhy calls pandas and statsmodels in ways they now warn about; not our input.
        warnings.simplefilter("ignore")
        res = _run_dowhy(frame, common, cfg)
    return dataclasses.replace(res, screened_out=dropped)


def _run_dowhy(frame: pl.DataFrame, common: tuple[str, ...], cfg: RefuteConfig) -> RefuteResult:
    from dowhy import CausalModel  # type: ignore[import-untyped]

    model = CausalModel(data=frame.to_pandas(), treatment="signal", outcome="fwd_ret",
                        common_causes=list(common) or None)  # fmt: skip
    ident = model.identify_effect(proceed_when_unidentifiable=True)
    est = model.estimate_effect(ident, method_name="backdoor.linear_regression",
                                test_significance=True)  # fmt: skip
    effect = float(est.value)
    p_value = float(np.ravel(est.test_stat_significance()["p_value"])[0])
    ok_estimate = effect > 0.0 and p_value <= cfg.alpha

    def run(method: str, **kw: Any) -> float:
        r = model.refute_estimate(ident, est, method_name=method, random_seed=cfg.seed, **kw)
        return float(np.ravel(r.new_effect)[0])

    n = cfg.simulations
    placebo = run("placebo_treatment_refuter", placebo_type="permute", num_simulations=n)
    rcc = run("random_common_cause", num_simulations=n)
    subset = run("data_subset_refuter", subset_fraction=0.8, num_simulations=n)
    s = cfg.confounder_strength
    unobs = run("add_unobserved_common_cause", confounders_effect_on_treatment="linear",
                confounders_effect_on_outcome="linear", effect_strength_on_treatment=s,
                effect_strength_on_outcome=s)  # fmt: skip
    tol = cfg.stability
    refs = (
        Refutation("placebo_treatment", placebo, abs(placebo) <= cfg.placebo_ratio * abs(effect)),
        Refutation("random_common_cause", rcc, _stable(rcc, effect, tol)),
        Refutation("data_subset", subset, _stable(subset, effect, tol)),
        Refutation("unobserved_common_cause", unobs, unobs * effect > 0.0),
    )
    return RefuteResult(effect, p_value, frame.height, common, refs, ok_estimate)
