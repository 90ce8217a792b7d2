"""Causal fitness: net-of-cost backtests on rolling train -> test -> trade windows, the scoring
rule, and the hook for the simulator's adversarial fitness.

The history is cut into `folds` consecutive, non-overlapping blocks; each block is split into
train, test and trade windows in that order. Selection sees train and test only; trade windows
are evaluated for the final hall of fame and never feed a selection decision. Each window is
backtested from a cold start (flat, initial capital; an expression's warm-up bars inside the
window stay flat), so no state leaks between windows.

Scoring rule (written into the manifest as `fitness_rule`): per window, the net Sharpe ratio
minus, with `baseline = "buy_hold"`, the buy-and-hold Sharpe of the same window under the same
costs (so a tiny always-long position, whose Sharpe is the market's, scores 0, not the bull
market's Sharpe); a window with no trade, or an undefined Sharpe, counts as `inactive_score`.
Per fold, the lower of train and test; the score is the mean over folds minus
`turnover_penalty` times the mean daily turnover (traded notional / capital per day).

Adversarial fitness joins through `hybrid`: with `adversarial_weight` w, score = (1 - w) *
causal + w * a low quantile (`[adversarial] quantile`) across seeded simulated markets of the
cost drag the simulator's markets put on the expression; `forge/evolve/hybrid.py` builds those
markets (simulator bars through the research table's own feature code) and documents the rule.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import msgspec
import numpy as np
import numpy.typing as npt

from nexusforge.forge.backtest.batch import METRIC_NAMES, evaluate_windows
from nexusforge.forge.backtest.engine import BacktestConfig, MarketData
from nexusforge.forge.evolve.table import FUNDING, ResearchTable
from nexusforge.market.costs import CostModel
from nexusforge.strategy import codec

SEGMENTS = ("train", "test", "trade")
SELECTION = ("train", "test")
METRICS = ("sharpe", "total_return", "max_drawdown", "turnover", "trades", "total_cost")
RULE = (
    "score = mean over folds of min(excess_sharpe_train, excess_sharpe_test) "
    "- turnover_penalty * mean daily turnover; excess = net Sharpe - buy-and-hold Sharpe of "
    "the window (baseline=buy_hold) or net Sharpe (baseline=none); no trade or undefined "
    "Sharpe = inactive_score"
)
BUY_HOLD = '{"schema": 1, "expr": {"const": 1.0}}'
BASELINES = ("buy_hold", "none")
_M = {name: i for i, name in enumerate(METRICS)}


class FitnessConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """Windows, costs and the scoring rule's constants."""

    folds: int = 3
    train_frac: float = 0.5
    test_frac: float = 0.25
    turnover_penalty: float = 0.01
    inactive_score: float = -1.0
    fee_tier: str = "VIP0"
    half_spread_bps: float = 0.5
    adversarial_weight: float = 0.0
    baseline: str = "buy_hold"

    def __post_init__(self) -> None:
        if self.baseline not in BASELINES:
            raise ValueError(f"baseline must be one of {BASELINES}")
        if not 1 <= self.folds <= 50:
            raise ValueError("folds must be in 1..50")
        if min(self.train_frac, self.test_frac) <= 0.0 or self.train_frac + self.test_frac >= 1.0:
            raise ValueError("train_frac and test_frac must be > 0 and leave room for trade")
        if not 0.0 <= self.turnover_penalty <= 10.0:
            raise ValueError("turnover_penalty must be in [0, 10]")
        if not 0.0 <= self.half_spread_bps <= 100.0:
            raise ValueError("half_spread_bps must be in [0, 100]")
        if not 0.0 <= self.adversarial_weight <= 1.0:
            raise ValueError("adversarial_weight must be in [0, 1]")

    def backtest_config(self) -> BacktestConfig:
        """The backtester settings every window uses (one cost model, Bybit fee tier)."""
        return BacktestConfig(
            costs=CostModel.bybit_tier(self.fee_tier), half_spread_bps=self.half_spread_bps
        )


@dataclass(frozen=True)
class Fold:
    """Row ranges of one fold's train, test and trade windows."""

    train: slice
    test: slice
    trade: slice

    def window(self, segment: str) -> slice:
        """The rows of `segment`."""
        return {"train": self.train, "test": self.test, "trade": self.trade}[segment]


def make_folds(rows: int, cfg: FitnessConfig, min_window: int = 50) -> list[Fold]:
    """Consecutive non-overlapping blocks, each split train | test | trade."""
    block = rows // cfg.folds
    n_train, n_test = int(block * cfg.train_frac), int(block * cfg.test_frac)
    n_trade = block - n_train - n_test
    if min(n_train, n_test, n_trade) < min_window:
        raise ValueError(f"{rows} rows give windows shorter than {min_window} bars")
    out = []
    for f in range(cfg.folds):
        a = f * block
        out.append(Fold(slice(a, a + n_train), slice(a + n_train, a + n_train + n_test),
                        slice(a + n_train + n_test, a + block)))  # fmt: skip
    return out


class WindowEvaluator:
    """Backtests batches of codec-JSON expressions on every fold's windows of one table."""

    def __init__(self, table: ResearchTable, cfg: FitnessConfig, threads: int | None = None):
        self.table, self.cfg, self.threads = table, cfg, threads
        self.folds = make_folds(table.height, cfg)
        self._bt = cfg.backtest_config()
        self._features = table.frame.select(table.features)
        self._close = table.close
        self._funding = table.frame[FUNDING].to_numpy().astype(np.float64)

    def evaluate(
        self, exprs_json: Sequence[str], segments: Sequence[str] = SELECTION
    ) -> npt.NDArray[np.float64]:
        """Metrics array (individual, fold, segment, metric): every window in one core call
        (each from a cold start, subtrees shared across the batch evaluated once)."""
        exprs = [codec.loads(text) for text in exprs_json]
        spans = [
            (fold.window(seg).start, fold.window(seg).stop)
            for fold in self.folds
            for seg in segments
        ]
        arr = evaluate_windows(
            exprs, self._features, self._close, spans, bars_per_year=self.table.bars_per_year,
            market=MarketData(funding=self._funding), config=self._bt, threads=self.threads,
        )  # fmt: skip
        picked = arr[..., [METRIC_NAMES.index(name) for name in METRICS]]
        return picked.reshape(len(exprs), len(self.folds), len(segments), len(METRICS))

    def window_bars(self, segments: Sequence[str] = SELECTION) -> npt.NDArray[np.float64]:
        """Bars per (fold, segment)."""
        return np.array(
            [[fold.window(s).stop - fold.window(s).start for s in segments] for fold in self.folds],
            dtype=np.float64,
        )


def scores(
    metrics: npt.NDArray[np.float64],
    window_bars: npt.NDArray[np.float64],
    bars_per_year: float,
    cfg: FitnessConfig,
    baseline: npt.NDArray[np.float64] | None = None,
) -> npt.NDArray[np.float64]:
    """The documented scoring rule over (individual, fold, [train, test], metric) arrays;
    `baseline` is the buy-and-hold metrics (1, fold, [train, test], metric) when used."""
    sharpe = metrics[..., _M["sharpe"]].copy()
    if baseline is not None:
        sharpe -= np.nan_to_num(baseline[0, ..., _M["sharpe"]])
    dead = (metrics[..., _M["trades"]] <= 0) | ~np.isfinite(sharpe)
    sharpe[dead] = cfg.inactive_score
    per_fold = sharpe.min(axis=2)
    days = window_bars / (bars_per_year / 365.0)
    daily_turnover = np.nan_to_num(metrics[..., _M["turnover"]]) / days
    return np.asarray(
        per_fold.mean(axis=1) - cfg.turnover_penalty * daily_turnover.mean(axis=(1, 2))
    )


def hybrid(
    causal: npt.ArrayLike, adversarial: npt.ArrayLike, weight: float, quantile: float = 0.1
) -> npt.NDArray[np.float64]:
    """The hybrid rule: (1 - weight) * causal + weight * the `quantile` of each individual's
    adversarial scores across simulator scenarios (a bad scenario drags the score down; one
    lucky scenario does not lift it). `adversarial` is (individual, scenario)."""
    c = np.asarray(causal, dtype=np.float64)
    a = np.asarray(adversarial, dtype=np.float64)
    if a.ndim != 2 or a.shape[0] != c.shape[0] or a.shape[1] == 0:
        raise ValueError(f"adversarial must be (individual, scenario), got {a.shape}")
    if not 0.0 <= weight <= 1.0 or not 0.0 <= quantile <= 1.0:
        raise ValueError("weight and quantile must be in [0, 1]")
    low = np.quantile(np.nan_to_num(a, nan=0.0), quantile, axis=1)
    low[np.isnan(a).any(axis=1)] = -np.inf  # a scenario that could not be scored counts as lost
    return np.asarray((1.0 - weight) * c + weight * low)


def drawdowns(metrics: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Mean max drawdown over the selection windows (the NSGA-II risk objective)."""
    return np.asarray(np.nan_to_num(metrics[..., _M["max_drawdown"]], nan=1.0).mean(axis=(1, 2)))


def metric_index(name: str) -> int:
    """Position of a metric in the last axis of `WindowEvaluator.evaluate`'s array."""
    return _M[name]
