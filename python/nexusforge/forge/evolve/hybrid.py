"""The adversarial half of the hybrid fitness: an evolved expression traded on simulated markets.

Shared features: each (scenario, seed) of `[adversarial]` is one simulator run (agents only,
no strategy inside), turned into a research table by `forge.sim.bars.sim_bars` — the same
candle, MTFA and return code as the real table — so the expression reads the same columns with
the same meaning there. It is backtested on that table by the same Rust batch backtester and
cost model as the causal fitness, with the *simulated* touch at each bar close as the spread it
crosses and square-root impact on the simulated volatility and volume (`impact_window` bars).

Per simulated market the score is the cost drag, net Sharpe minus gross (cost-free) Sharpe of
the same positions: what that market's fees, spread and impact take from the strategy, in the
causal score's Sharpe units (no trade: 0). The strategy's gross PnL on a sim path is left out on
purpose: a simulated path carries none of history's causal drivers, so it is luck (its standard
error over two simulated days of 5 m bars is ~14 Sharpe units), while the drag is a near
deterministic function of how the strategy trades in calm, volatile, toxic and thin books.

Rule (manifest `adversarial.rule`): hybrid = (1 - w) * causal + w * q-quantile of the drag
across the scenario x seed markets (`fitness.hybrid`), w = `fitness.adversarial_weight`,
q = `adversarial.quantile`; only individuals that reach full evaluation (past the surrogate)
are scored, each once (cached by expression). The simulator runs once per run, not per
individual. Limit: the strategy's orders do not enter the simulated book (the agents do not
react to it); its own impact is the cost model's, on the simulated volume — trading inside the
agent population needs the simulator's strategy agent to read these bar features (Rust).
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import msgspec
import numpy as np
import numpy.typing as npt

from nexusforge.errors import ConfigError
from nexusforge.forge.backtest.batch import evaluate_batch
from nexusforge.forge.backtest.engine import BacktestConfig, MarketData
from nexusforge.forge.backtest.options import impact_inputs
from nexusforge.forge.backtest.run import SECONDS_PER_YEAR
from nexusforge.forge.evolve.fitness import FitnessConfig, hybrid
from nexusforge.forge.evolve.table import ResearchTable
from nexusforge.forge.sim.config import SCENARIOS, SimConfig
from nexusforge.forge.sim.run import run_sim
from nexusforge.market.costs import CostModel
from nexusforge.strategy import codec

if TYPE_CHECKING:  # forge.sim.bars imports this package's table module (import cycle at runtime)
    from nexusforge.forge.sim.bars import SimBars

RULE = (
    "hybrid = (1 - adversarial_weight) * causal + adversarial_weight * quantile_q over "
    "simulated markets (scenario x seed) of (net Sharpe - gross Sharpe) of the expression "
    "backtested on the sim's bars (same features, backtester and cost model; simulated touch "
    "and impact); no trade in a market = 0"
)
# Fitness runs need only trades and the touch: no event log, no L2 samples.
_LEAN = {"sampling.record_events": False, "sampling.l2_levels": 0}
_FREE = BacktestConfig(costs=CostModel(0.0, 0.0, 0.0, 0.0))
MIN_BARS = 50  # per simulated market, below which its Sharpe figures mean little
Array = npt.NDArray[np.float64]


class AdversarialConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """Simulated markets of the adversarial fitness (the weight is `fitness.adversarial_weight`)."""

    scenarios: tuple[str, ...] = ("calm", "volatile", "toxic", "thin")
    seeds: tuple[int, ...] = (0,)
    # Simulated time per market: 1 h MTFA features need 20 h of bars before their first value,
    # so two days leave 28 h in which every research feature is defined.
    duration_s: float = 172_800.0
    quantile: float = 0.1  # of the drag across markets: a bad market drags the score down
    impact_window: int = 20  # bars of simulated volatility and volume for the impact model
    threads: int | None = None  # simulator runs in parallel (default: the CPU count)

    def __post_init__(self) -> None:
        unknown = [s for s in self.scenarios if s not in SCENARIOS]
        if unknown or not self.scenarios:
            raise ValueError(f"scenarios {unknown or '[]'} unknown; known: {list(SCENARIOS)}")
        if not self.seeds or len(set(self.seeds)) != len(self.seeds):
            raise ValueError("seeds must be a non-empty list without repeats")
        if not 600.0 <= self.duration_s <= 30 * 86_400.0:
            raise ValueError("duration_s must be in [600, 2592000] simulated seconds")
        if not 0.0 <= self.quantile <= 1.0:
            raise ValueError("quantile must be in [0, 1]")
        if not 2 <= self.impact_window <= 10_000:
            raise ValueError("impact_window must be in 2..10000 bars")
        if self.threads is not None and not 1 <= self.threads <= 256:
            raise ValueError("threads must be in 1..256")


@dataclass(frozen=True)
class SimMarket:
    """One simulated market as a research table plus its cost inputs."""

    scenario: str
    seed: int
    bars: SimBars
    market: MarketData
    sim_seconds: float  # wall time of its simulator run and bar building

    def describe(self) -> dict[str, Any]:
        """Manifest entry: which market, how many bars, what it cost to build."""
        close = self.bars.table.close
        return {"scenario": self.scenario, "seed": self.seed, "bars": self.bars.table.height,
                "fingerprint": self.bars.table.fingerprint(),
                "median_spread_bps": _median_spread_bps(self.bars),
                "close_first": float(close[0]), "close_last": float(close[-1]),
                "sim_seconds": round(self.sim_seconds, 3)}  # fmt: skip


def build_markets(cfg: AdversarialConfig, interval_s: int, horizon: int) -> list[SimMarket]:
    """Runs every scenario x seed once (threads; the simulator releases the GIL), in order."""
    jobs = [(s, seed) for s in cfg.scenarios for seed in cfg.seeds]
    workers = max(1, min(cfg.threads or os.cpu_count() or 1, len(jobs)))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(lambda j: _market(cfg, j[0], j[1], interval_s, horizon), jobs))


def _market(cfg: AdversarialConfig, scenario: str, seed: int, interval_s: int,
            horizon: int) -> SimMarket:  # fmt: skip
    from nexusforge.forge.sim.bars import sim_bars

    t0 = time.perf_counter()
    sim = SimConfig.scenario(scenario).with_overrides({**_LEAN, "duration_s": cfg.duration_s})
    bars = sim_bars(run_sim(sim, seed=seed), interval_s, horizon)
    sigma, volume = impact_inputs(bars.table.close, bars.volume, cfg.impact_window)
    market = MarketData(bid=bars.bid, ask=bars.ask, sigma=sigma, volume=volume)
    return SimMarket(scenario, seed, bars, market, time.perf_counter() - t0)


def _median_spread_bps(bars: SimBars) -> float | None:
    s = (bars.ask - bars.bid) / (0.5 * (bars.ask + bars.bid)) * 1e4
    s = s[np.isfinite(s)]
    return float(np.median(s)) if s.size else None


@dataclass
class Adversary:
    """Scores expressions on the simulated markets and combines them with the causal score."""

    markets: list[SimMarket]
    fitness: FitnessConfig
    cfg: AdversarialConfig
    threads: int | None = None
    _cache: dict[str, Array] = field(default_factory=dict, init=False)
    _causal: dict[str, float] = field(default_factory=dict, init=False)
    scored: int = field(default=0, init=False)  # expressions scored (cache misses)
    score_seconds: float = field(default=0.0, init=False)

    @classmethod
    def build(
        cls, cfg: AdversarialConfig, fitness: FitnessConfig, interval_s: int, horizon: int,
        features: Sequence[str],
    ) -> Adversary:  # fmt: skip
        """Refuses (naming them) features the simulated tables lack, then builds the markets."""
        from nexusforge.forge.sim.bars import sim_feature_names

        have = sim_feature_names(interval_s, horizon)
        missing = sorted(set(features) - set(have))
        if missing:
            raise ConfigError(
                f"fitness.adversarial_weight > 0: the simulated research table has no {missing} "
                f"(it has {list(have)}: bar/MTFA features of candles); use bar features or weight 0"
            )
        if cfg.duration_s < MIN_BARS * interval_s:
            raise ConfigError(
                f"adversarial.duration_s = {cfg.duration_s:.0f} s gives fewer than {MIN_BARS} "
                f"bars of {interval_s} s; make it at least {MIN_BARS * interval_s} s"
            )
        return cls(build_markets(cfg, interval_s, horizon), fitness, cfg)

    @classmethod
    def for_table(
        cls, cfg: AdversarialConfig, fitness: FitnessConfig, table: ResearchTable,
        features: Sequence[str],
    ) -> Adversary:  # fmt: skip
        """`build` at the table's own bar interval and horizon."""
        interval_s = round(SECONDS_PER_YEAR / table.bars_per_year)
        return cls.build(cfg, fitness, interval_s, table.horizon, features)

    def drag(self, exprs_json: Sequence[str]) -> Array:
        """(individual, market) cost drag in Sharpe units, cached per expression."""
        todo = list(dict.fromkeys(k for k in exprs_json if k not in self._cache))
        if todo:
            t0 = time.perf_counter()
            fresh = self._score(todo)
            self._cache.update(zip(todo, fresh, strict=True))
            self.scored += len(todo)
            self.score_seconds += time.perf_counter() - t0
        if not exprs_json:
            return np.empty((0, len(self.markets)))
        return np.stack([self._cache[k] for k in exprs_json])

    def _score(self, keys: list[str]) -> Array:
        exprs = [codec.loads(k) for k in keys]
        net_cfg = self.fitness.backtest_config()
        out = np.zeros((len(keys), len(self.markets)))
        for j, m in enumerate(self.markets):
            t = m.bars.table
            data, close = t.frame.select(t.features), t.close
            net, gross = (
                evaluate_batch(exprs, data, close, bars_per_year=t.bars_per_year,
                               market=mk, config=bt, threads=self.threads)
                for mk, bt in ((m.market, net_cfg), (MarketData(), _FREE))
            )  # fmt: skip
            for i, (a, b) in enumerate(zip(net, gross, strict=True)):
                out[i, j] = _drag(a.sharpe, b.sharpe, a.trades)
        return out

    def combine(self, exprs_json: Sequence[str], causal: npt.ArrayLike) -> Array:
        """The hybrid score of each expression (the documented rule)."""
        w = self.fitness.adversarial_weight
        c = np.asarray(causal, dtype=np.float64)
        self._causal.update(zip(exprs_json, c.tolist(), strict=True))
        return hybrid(c, self.drag(exprs_json), w, self.cfg.quantile)

    def low(self, exprs_json: Sequence[str]) -> Array:
        """The `quantile` of each expression's drag across markets (its adversarial score)."""
        return np.asarray(np.quantile(self.drag(exprs_json), self.cfg.quantile, axis=1))

    def summary(self) -> dict[str, Any]:
        """Manifest section: rule, settings, markets and what the adversarial term cost."""
        return {"rule": RULE, "weight": self.fitness.adversarial_weight,
                "config": msgspec.to_builtins(self.cfg),
                "markets": [m.describe() for m in self.markets],
                "sim_seconds": round(sum(m.sim_seconds for m in self.markets), 3),
                "scored": self.scored, "score_seconds": round(self.score_seconds, 3)}  # fmt: skip

    def challenger_scores(self, expr_json: str) -> dict[str, float | None]:
        """Per-challenger figures: its causal score, its adversarial score (the hybrid's two
        terms) and the drag in each market."""
        d = self.drag([expr_json])[0]
        out: dict[str, float | None] = {
            "causal_fitness": self._causal.get(expr_json),
            "adversarial": float(np.quantile(d, self.cfg.quantile)),
        }
        for m, v in zip(self.markets, d, strict=True):
            out[f"adversarial_{m.scenario}_s{m.seed}"] = float(v)
        return out


def _drag(net: float, gross: float, trades: float) -> float:
    """Net minus gross Sharpe; 0 for a strategy that never traded (it paid nothing) or whose
    returns had no spread in that market (Sharpe undefined)."""
    d = net - gross
    return d if trades > 0 and math.isfinite(d) else 0.0
