"""The null test: run the same search on histories whose feature-to-return link was destroyed,
and rank the found strategy's score among the best scores of those null searches.

A null history keeps every feature column as it was and rebuilds the price from the real
log returns shuffled in blocks (the marginal distribution is kept exactly, and the serial
dependence inside each block); the past-return feature is recomputed from the null price.
p = (1 + #{null best >= observed}) / (1 + K), so K = 19 null searches can reach p = 0.05.
"""

from __future__ import annotations

import math
import tempfile
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from nexusforge.errors import EvaluationError, ForgeError
from nexusforge.forge.evolve.fitness import (
    BUY_HOLD,
    SELECTION,
    FitnessConfig,
    WindowEvaluator,
    metric_index,
    scores,
)
from nexusforge.forge.evolve.run import ForgeConfig, run_on_table
from nexusforge.forge.evolve.table import CLOSE_TS, FUNDING, ResearchTable, from_bars

Search = Callable[[ResearchTable], float]


def block_shuffle(
    values: npt.ArrayLike, block: int, rng: np.random.Generator
) -> npt.NDArray[np.float64]:
    """`values` cut into consecutive blocks of `block` (the last may be shorter), in a random
    block order."""
    v = np.asarray(values, dtype=np.float64)
    if block < 1:
        raise ValueError("block must be >= 1")
    parts = [v[i : i + block] for i in range(0, v.size, block)]
    order = rng.permutation(len(parts))
    return np.concatenate([parts[i] for i in order]) if parts else v.copy()


def null_table(table: ResearchTable, block: int, rng: np.random.Generator) -> ResearchTable:
    """The table with its price rebuilt from block-shuffled log returns (features kept)."""
    close = table.close
    logret = block_shuffle(np.diff(np.log(close)), block, rng)
    null_close = close[0] * np.exp(np.concatenate([[0.0], np.cumsum(logret)]))
    past = f"ret_h{table.horizon}"
    feats = table.frame.select([c for c in table.features if c != past])
    return from_bars(table.frame[CLOSE_TS].to_numpy(), null_close, feats,
                     bars_per_year=table.bars_per_year, horizon=table.horizon,
                     funding=table.frame[FUNDING].to_numpy())  # fmt: skip


@dataclass(frozen=True)
class Scored:
    """Each expression's selection score and per-bar Sharpe (mean over the selection
    windows; NaN where it never traded) on one table."""

    scores: npt.NDArray[np.float64]
    sharpes: npt.NDArray[np.float64]


def score_population(
    table: ResearchTable, exprs_json: Sequence[str], fitness: FitnessConfig,
    threads: int | None = 1,
) -> Scored:  # fmt: skip
    """The Forge's selection score (the run's own rule) and Sharpe of each expression."""
    ev = WindowEvaluator(table, fitness, threads)
    m = ev.evaluate(list(exprs_json), SELECTION)
    base = ev.evaluate([BUY_HOLD], SELECTION) if fitness.baseline == "buy_hold" else None
    sc = scores(m, ev.window_bars(SELECTION), table.bars_per_year, fitness, base)
    sr = m[..., metric_index("sharpe")]
    sr[m[..., metric_index("trades")] <= 0] = np.nan
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # an all-NaN row is a trial never traded
        per_bar = np.nanmean(sr, axis=(1, 2)) / np.sqrt(table.bars_per_year)
    return Scored(sc, np.asarray(per_bar))


def search_scores(
    table: ResearchTable, exprs_json: Sequence[str], fitness: FitnessConfig, threads: int = 1
) -> npt.NDArray[np.float64]:
    """The Forge's selection score (the run's own rule) of each expression on `table`."""
    return score_population(table, exprs_json, fitness, threads).scores


def population_search(exprs_json: Sequence[str], fitness: FitnessConfig) -> Search:
    """The search as the set of every expression the run tried: its best score on a table
    (a lower bound on what a fresh GP run would find there)."""

    def search(table: ResearchTable) -> float:
        return float(np.nanmax(search_scores(table, exprs_json, fitness)))

    return search


def forge_search(config: ForgeConfig) -> Search:
    """The whole Forge run (causal discovery + GP, the given config) as the search: its best
    score on a table, or -inf when it finds no causal parent there (nothing to evolve)."""

    def search(table: ResearchTable) -> float:
        with tempfile.TemporaryDirectory(prefix="nf-null-") as tmp, warnings.catch_warnings():
            # A null run's hall of fame may never trade a window (numpy warns on its mean).
            warnings.simplefilter("ignore", RuntimeWarning)
            try:
                return run_on_table(config, table, Path(tmp)).best_score
            except EvaluationError:
                raise
            except ForgeError:
                return -math.inf

    return search


@dataclass(frozen=True)
class PopulationNull:
    """The run's trials re-scored on every null history: the best score per null (the null
    test) and each trial's per-bar Sharpe per null (null × trial, NaN where it never traded)."""

    null_best: npt.NDArray[np.float64]
    sharpes: npt.NDArray[np.float64]
    block: int

    @property
    def sharpe_variance(self) -> float:
        """A zero-skill trial's Sharpe estimation variance: each trial's variance across the
        null histories, averaged over trials (their different costs and styles shift their
        means, which is not luck, so the cross-sectional spread is not used)."""
        s = self.sharpes
        ok = np.isfinite(s).sum(axis=0) >= 2
        if s.shape[0] < 2 or not ok.any():
            return math.nan
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            return float(np.nanmean(np.nanvar(s[:, ok], axis=0, ddof=1)))


def population_null(
    table: ResearchTable, exprs_json: Sequence[str], fitness: FitnessConfig, *,
    nulls: int = 19, block: int = 288, seed: int = 0, threads: int | None = 1,
) -> PopulationNull:  # fmt: skip
    """Score every trial on `nulls` block-shuffled copies of `table` (seeded; the figures do
    not depend on `threads`, the backtester's threads, None = every core)."""
    if nulls < 1:
        raise ValueError("nulls must be >= 1")
    rng = np.random.default_rng(seed)
    best, srs = [], []
    for _ in range(nulls):
        sc = score_population(null_table(table, block, rng), exprs_json, fitness, threads)
        best.append(float(np.nanmax(sc.scores)))
        srs.append(sc.sharpes)
    return PopulationNull(np.array(best), np.stack(srs), block)


@dataclass(frozen=True)
class NullTest:
    """The observed score, the best score of each null search and the p-value."""

    observed: float
    null_best: npt.NDArray[np.float64]
    block: int

    @property
    def p_value(self) -> float:
        """(1 + #{null best >= observed}) / (1 + K)."""
        return float((1 + np.sum(self.null_best >= self.observed)) / (1 + self.null_best.size))


def null_test(
    table: ResearchTable, search: Search, observed: float, *, nulls: int = 19,
    block: int = 288, seed: int = 0,
) -> NullTest:  # fmt: skip
    """Run `search` on `nulls` block-shuffled copies of `table` (seeded, reproducible)."""
    if nulls < 1:
        raise ValueError("nulls must be >= 1")
    rng = np.random.default_rng(seed)
    best = np.array([search(null_table(table, block, rng)) for _ in range(nulls)])
    return NullTest(float(observed), best, block)
