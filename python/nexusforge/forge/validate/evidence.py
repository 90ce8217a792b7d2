"""The figures the gate judges, computed from a run folder: per candidate (net returns in
and out of sample, Monte Carlo, deflated Sharpe, search score, refutation, stress) and per
run (PBO over the evaluated population, the null searches' best scores, walk-forward).

In-sample = the run's train and test windows (what selection saw); out-of-sample = its trade
windows, which never fed a selection decision. Each window is traded from flat.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from nexusforge.forge.validate.bootstrap import MonteCarlo, monte_carlo, sharpe
from nexusforge.forge.validate.config import GateConfig
from nexusforge.forge.validate.deflated_sharpe import DeflatedSharpe, deflated_sharpe, moments
from nexusforge.forge.validate.pbo import PboResult, pbo
from nexusforge.forge.validate.permutation import (
    NullTest,
    PopulationNull,
    population_null,
    search_scores,
)
from nexusforge.forge.validate.refute import RefuteResult, not_run, refute
from nexusforge.forge.validate.returns import WindowReturns, period_returns, stitched_returns
from nexusforge.forge.validate.run_folder import RunFolder
from nexusforge.forge.validate.stress import StressResult, stress
from nexusforge.forge.validate.walk_forward import ForgeFitter, WalkForward, walk_forward
from nexusforge.strategy import Expr, codec

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class RunEvidence:
    """Run-level figures: PBO, the null searches, and the GP walk-forward when asked for."""

    pbo: PboResult | None
    pbo_period_bars: int
    null: PopulationNull
    trial_variance: float  # the trials' cross-sectional Sharpe variance in the run, per bar
    walk_forward: WalkForward | None


@dataclass(frozen=True)
class Candidate:
    """Per-candidate figures."""

    expr: Expr
    in_sample: WindowReturns
    out_of_sample: WindowReturns
    is_sharpe: float
    oos_sharpe: float
    efficiency: float
    dsr: DeflatedSharpe
    monte_carlo: MonteCarlo
    score: float
    p_value: float
    refutation: RefuteResult
    stress: StressResult


def selection_windows(run: RunFolder) -> list[slice]:
    """Train and test windows of every fold, in time order."""
    return [w for f in run.folds for w in (f.train, f.test)]


def trade_windows(run: RunFolder) -> list[slice]:
    """Held-out trade windows of every fold, in time order."""
    return [f.trade for f in run.folds]


def population_matrix(run: RunFolder, max_strategies: int, blocks: int) -> tuple[FloatArray, int]:
    """Per-period selection-window returns of the best-scored `max_strategies` individuals
    (period × strategy; never-trading and duplicate columns dropped) and the period length
    in bars, chosen so each CSCV block holds at least 4 periods."""
    pop = run.population.sort("score", descending=True, nulls_last=True).head(max_strategies)
    windows = selection_windows(run)
    bars = sum(w.stop - w.start for w in windows)
    period = max(1, min(run.table.bars_per_year // 365, bars // (blocks * 4)))
    cols = []
    for text in pop["expr_json"]:
        r = stitched_returns(codec.loads(text), run.table, windows, run.fitness).returns
        cols.append(period_returns(r, int(period)))
    m = np.stack(cols, axis=1) if cols else np.empty((0, 0))
    if m.size:
        m = m[:, np.any(m != 0.0, axis=0)]
        m = np.unique(m, axis=1)
    return m, int(period)


def run_evidence(run: RunFolder, s: GateConfig) -> RunEvidence:
    """PBO over the population, the null searches' best scores, optional GP walk-forward."""
    m, period = population_matrix(run, s.pbo_max_strategies, s.pbo_blocks)
    p = pbo(m, s.pbo_blocks) if m.ndim == 2 and m.shape[1] >= 2 else None
    exprs = run.population["expr_json"].to_list()
    null = population_null(run.table, exprs, run.fitness, nulls=s.nulls, block=s.null_block,
                           seed=s.seed, threads=s.threads)  # fmt: skip
    srs = run.trial_sharpes()
    trial_var = float(srs.var(ddof=1)) if srs.size > 1 else 0.0
    walk = None
    if s.walk_forward is not None:
        walk = walk_forward(run.table, ForgeFitter(run.config), s.walk_forward, run.fitness)
    return RunEvidence(p, period, null, trial_var, walk)


def candidate_evidence(
    run: RunFolder, expr: Expr, ev: RunEvidence, s: GateConfig, refute_it: bool = True
) -> Candidate:
    """Every per-candidate figure the gate judges; the DoWhy refutation only when
    `refute_it` (else recorded as not run; `with_refutation` adds it later)."""
    bpy = run.table.bars_per_year
    ins = stitched_returns(expr, run.table, selection_windows(run), run.fitness)
    oos = stitched_returns(expr, run.table, trade_windows(run), run.fitness)
    is_ann, oos_ann = float(ins.returns.mean() * bpy), float(oos.returns.mean() * bpy)
    m = moments(ins.returns)
    var = ev.null.sharpe_variance if s.dsr_variance == "null" else ev.trial_variance
    dsr = deflated_sharpe(m.sharpe, run.trials, var, m.skew, m.kurtosis, m.n)
    mc = monte_carlo(
        oos.returns, periods_per_year=bpy, paths=s.bootstrap_paths, block=s.bootstrap_block,
        ruin_drawdown=s.ruin_drawdown, seed=s.seed,
    )  # fmt: skip
    score = float(search_scores(run.table, [codec.dumps(expr)], run.fitness)[0])
    p_value = NullTest(score, ev.null.null_best, ev.null.block).p_value
    ref = refutation(run, expr, s) if refute_it else not_run("cheaper checks failed first")
    st = stress(expr, seeds=s.stress_seeds, duration_s=s.stress_duration_s)
    return Candidate(
        expr, ins, oos, float(sharpe(ins.returns, bpy)[0]), float(sharpe(oos.returns, bpy)[0]),
        oos_ann / is_ann if is_ann > 0.0 else math.nan, dsr, mc, score, p_value, ref, st,
    )  # fmt: skip


def refutation(run: RunFolder, expr: Expr, s: GateConfig) -> RefuteResult:
    """DoWhy refutation of `expr` on the run's trade windows with its causal parents."""
    return refute(expr, run.table, trade_windows(run), run.parents, s.refute)


def with_refutation(run: RunFolder, c: Candidate, s: GateConfig) -> Candidate:
    """`c` with its DoWhy refutation run."""
    return dataclasses.replace(c, refutation=refutation(run, c.expr, s))
