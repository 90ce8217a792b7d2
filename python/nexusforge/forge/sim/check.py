"""The fidelity check: stylized facts of the simulator over many seeds, beside the real data.

Each fact is computed per seed; its value is the median across seeds, its interval the central
95 % of the per-seed values, and it passes when the value lies in the target range of issue 5.
The real column is the same statistic on the real files (`real.py`); for the KS distances it is
the distance between the two halves of the real sample (how far the real data is from itself).
This module reports; it never tunes the simulator.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from nexusforge.errors import ConfigError
from nexusforge.forge.sim import facts
from nexusforge.forge.sim.config import SimConfig
from nexusforge.forge.sim.facts import FloatArray, ImpactFit, MarketSample
from nexusforge.forge.sim.real import default_data_dir, load_real_market
from nexusforge.forge.sim.run import SimResult, run_sim
from nexusforge.strategy.expr import Const

ABS_ACF_MAX_LAG = 120
SIGN_ACF_MAX_LAG = 100
# A decay exponent is reported only when the ACF is positive on at least this share of the lags.
MIN_POSITIVE_SHARE = 0.9
INF = math.inf


@dataclass(frozen=True)
class FactSpec:
    """A stylized fact: its name, target range (inclusive; ±inf for an open end) and meaning."""

    name: str
    lo: float
    hi: float
    meaning: str

    def passes(self, value: float) -> bool:
        return math.isfinite(value) and self.lo <= value <= self.hi


FACTS: tuple[FactSpec, ...] = (
    FactSpec("hill_tail_index", 2.5, 4.0, "Hill tail index of |r| (1-min), top 2.5–5 %"),
    FactSpec("excess_kurtosis", 5.0, INF, "excess kurtosis of 1-min returns"),
    FactSpec(
        "return_acf_inside_share", 0.9, 1.0, "share of lags 2–20 with |ACF(r)| ≤ 2/√T (iid: 0.95)"
    ),
    FactSpec("abs_return_acf_min", 0.0, 1.0, "smallest ACF of |r| over lags 1–120 (> 0)"),
    FactSpec("abs_return_acf_exponent", 0.1, 0.5, "power-law decay exponent of ACF(|r|), 1–120"),
    FactSpec("sign_acf_exponent", 0.3, 0.8, "power-law decay exponent of taker-order sign ACF"),
    FactSpec("impact_exponent", 0.4, 0.6, "meta-order impact exponent δ in I/σ = Y·(Q/V)^δ"),
    FactSpec("impact_prefactor", 0.3, 1.5, "meta-order impact prefactor Y"),
    FactSpec("impact_decades", 2.0, INF, "decades of Q/V the impact fit spans"),
    FactSpec("ofi_r2", 0.4, 1.0, "R² of mid change on order-flow imbalance (1 s)"),
    FactSpec("spread_ks", 0.0, 0.1, "KS distance of spread (ticks) to real Bybit"),
    FactSpec("depth_ks", 0.0, 0.1, "KS distance of top-of-book depth to real Bybit"),
)
FACT_NAMES = tuple(f.name for f in FACTS)
IMPACT_FACTS = ("impact_exponent", "impact_prefactor", "impact_decades")


def sample_facts(sample: MarketSample, real: MarketSample) -> dict[str, float]:
    """Every fact except impact, on one market sample (KS distances against `real`)."""
    r = sample.returns_1m
    abs_fit = facts.acf_power_law(np.abs(r), ABS_ACF_MAX_LAG, min_share=MIN_POSITIVE_SHARE)
    sign_fit = facts.acf_power_law(
        sample.trade_sign, SIGN_ACF_MAX_LAG, min_share=MIN_POSITIVE_SHARE
    )
    return {
        "hill_tail_index": facts.hill_tail_index_band(r),
        "excess_kurtosis": facts.excess_kurtosis(r),
        "return_acf_inside_share": facts.return_acf_inside_share(r),
        "abs_return_acf_min": facts.abs_return_acf_min(r, ABS_ACF_MAX_LAG),
        "abs_return_acf_exponent": abs_fit.exponent,
        "sign_acf_exponent": sign_fit.exponent,
        "ofi_r2": facts.ofi_regression(sample.ofi, sample.mid_change).r2,
        "spread_ks": facts.ks_distance(sample.spread_ticks, real.spread_ticks),
        "depth_ks": facts.ks_distance(sample.top_depth, real.top_depth),
    }


def sim_sample(
    trades: pl.DataFrame,
    top: pl.DataFrame,
    mids: pl.DataFrame,
    tick_size: float,
    ofi_bucket_ns: int = 1_000_000_000,
) -> MarketSample:
    """The observations of one simulated run (`SimResult` frames), in the real sample's units.

    Spreads are in ticks, quantities in base units; a top-of-book sample with an empty side is
    no spread, depth or OFI sample; `mids` must be on a 1-minute grid.
    """
    mid = mids.sort("ts_ns")["mid"].to_numpy().astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        r = np.diff(np.log(np.where(mid > 0, mid, np.nan)))
    tr = trades.sort("ts_ns", maintain_order=True)
    qty = tr["qty"].to_numpy().astype(np.float64)
    sign, _ = facts.taker_orders(tr["taker_order"].to_numpy(), tr["taker_side"].to_numpy(), qty)
    tp = top.sort("ts_ns").filter(pl.col("bid").is_not_null() & pl.col("ask").is_not_null())
    bid, ask, bid_q, ask_q = (
        tp[c].to_numpy().astype(np.float64) for c in ("bid", "ask", "bid_qty", "ask_qty")
    )
    e = facts.order_flow_imbalance(bid, bid_q, ask, ask_q)
    dmid = np.concatenate([[0.0], np.diff(0.5 * (bid + ask))])
    ts = tp["ts_ns"].to_numpy()
    _, ofi = facts.bucket_sums(ts, e, ofi_bucket_ns)
    _, change = facts.bucket_sums(ts, dmid, ofi_bucket_ns)
    return MarketSample(
        returns_1m=r[np.isfinite(r)],
        trade_qty=qty,
        trade_sign=sign,
        spread_ticks=np.round((ask - bid) / tick_size),
        top_depth=0.5 * (bid_q + ask_q),
        ofi=ofi,
        mid_change=change,
        sources={"all": "simulation"},
    )


def impact_facts(fit: ImpactFit) -> dict[str, float]:
    """The three impact facts from one impact-law fit."""
    return {
        "impact_exponent": fit.exponent,
        "impact_prefactor": fit.prefactor,
        "impact_decades": fit.decades,
    }


def real_facts(real: MarketSample) -> dict[str, float]:
    """The facts of the real sample; KS facts compare its two halves; impact is not observable."""
    first, second = _halves(real)
    values = sample_facts(real, real)
    values["spread_ks"] = facts.ks_distance(first.spread_ticks, second.spread_ticks)
    values["depth_ks"] = facts.ks_distance(first.top_depth, second.top_depth)
    values.update(dict.fromkeys(IMPACT_FACTS, math.nan))
    return values


def _halves(sample: MarketSample) -> tuple[MarketSample, MarketSample]:
    def half(a: FloatArray, which: int) -> FloatArray:
        mid = len(a) // 2
        return a[:mid] if which == 0 else a[mid:]

    def build(which: int) -> MarketSample:
        return MarketSample(
            returns_1m=half(sample.returns_1m, which),
            trade_qty=half(sample.trade_qty, which),
            trade_sign=half(sample.trade_sign, which),
            spread_ticks=half(sample.spread_ticks, which),
            top_depth=half(sample.top_depth, which),
            ofi=half(sample.ofi, which),
            mid_change=half(sample.mid_change, which),
            sources=sample.sources,
        )

    return build(0), build(1)


@dataclass(frozen=True)
class FactResult:
    """One fact across seeds: median value, 95 % interval, target range, real value, pass."""

    spec: FactSpec
    per_seed: tuple[float, ...]
    real: float
    # Set for facts estimated on all seeds' points at once (impact): the pooled estimate and a
    # bootstrap-over-seeds interval replace the median and percentiles of per-seed values.
    pooled: tuple[float, float, float] | None = None

    @property
    def value(self) -> float:
        if self.pooled is not None:
            return self.pooled[0]
        vals = self._finite()
        return float(np.median(vals)) if len(vals) else math.nan

    @property
    def interval(self) -> tuple[float, float]:
        if self.pooled is not None:
            return self.pooled[1], self.pooled[2]
        vals = self._finite()
        if len(vals) == 0:
            return math.nan, math.nan
        lo, hi = np.percentile(vals, [2.5, 97.5])
        return float(lo), float(hi)

    @property
    def passed(self) -> bool:
        return self.spec.passes(self.value)

    def _finite(self) -> FloatArray:
        vals = np.asarray(self.per_seed, dtype=np.float64)
        return vals[np.isfinite(vals)]


@dataclass(frozen=True)
class Pooled:
    """Pooled series across seeds, kept for the report's plots."""

    sim_returns: FloatArray
    real_returns: FloatArray
    sim_signs: tuple[FloatArray, ...]
    real_signs: FloatArray
    sim_abs_returns: tuple[FloatArray, ...]
    impact_q_over_v: FloatArray
    impact_over_sigma: FloatArray


@dataclass(frozen=True)
class FidelityReport:
    """The result of `check_fidelity`: every fact, the seeds, and where the real data came from."""

    facts: dict[str, FactResult]
    seeds: tuple[int, ...]
    real_sources: dict[str, str]
    config: dict[str, Any]
    pooled: Pooled | None = field(default=None, repr=False)

    @property
    def all_pass(self) -> bool:
        return all(f.passed for f in self.facts.values())

    def to_json(self) -> dict[str, Any]:
        """`{"facts": {NAME: {"value", "interval", "range", "real", "pass"}}}`; NaN/inf → null."""
        return {
            "facts": {
                name: {
                    "value": _num(f.value),
                    "interval": [_num(v) for v in f.interval],
                    "range": [_num(f.spec.lo), _num(f.spec.hi)],
                    "real": _num(f.real),
                    "pass": f.passed,
                }
                for name, f in self.facts.items()
            }
        }


def _num(x: float) -> float | None:
    """JSON has no NaN or infinity: an undefined value or an open range end is null."""
    return float(x) if math.isfinite(x) else None


def assemble_report(
    per_seed: Sequence[dict[str, float]],
    real_values: dict[str, float],
    seeds: Sequence[int],
    real_sources: dict[str, str],
    config: dict[str, Any],
    pooled: Pooled | None = None,
    pooled_facts: dict[str, tuple[float, float, float]] | None = None,
) -> FidelityReport:
    """Collect per-seed fact values into a report (missing facts count as NaN for that seed);
    `pooled_facts` gives (value, lo, hi) of facts estimated over all seeds at once."""
    extra = pooled_facts or {}
    results = {
        spec.name: FactResult(
            spec,
            tuple(float(values.get(spec.name, math.nan)) for values in per_seed),
            float(real_values.get(spec.name, math.nan)),
            extra.get(spec.name),
        )
        for spec in FACTS
    }
    return FidelityReport(results, tuple(seeds), dict(real_sources), dict(config), pooled)


SeedRunner = Callable[[int], tuple[MarketSample, tuple[FloatArray, FloatArray]]]
BOOTSTRAP = 200


def pooled_impact(
    points: Sequence[tuple[FloatArray, FloatArray]], seed: int = 0
) -> dict[str, tuple[float, float, float]]:
    """Impact facts fitted on every seed's meta-orders at once, with a 95 % interval from
    resampling whole seeds (one seed's handful of meta-orders is too few for its own fit)."""
    usable = [p for p in points if len(p[0])]
    if not usable:
        return {}

    def fit(chosen: Sequence[tuple[FloatArray, FloatArray]]) -> dict[str, float]:
        q = np.concatenate([c[0] for c in chosen])
        i = np.concatenate([c[1] for c in chosen])
        return impact_facts(facts.impact_law(q, i))

    value = fit(usable)
    rng = np.random.default_rng(seed)
    draws = [
        fit([usable[k] for k in rng.integers(0, len(usable), len(usable))])
        for _ in range(BOOTSTRAP)
    ]
    out = {}
    for name in IMPACT_FACTS:
        vals = np.asarray([d[name] for d in draws])
        vals = vals[np.isfinite(vals)]
        lo, hi = np.percentile(vals, [2.5, 97.5]) if len(vals) else (math.nan, math.nan)
        out[name] = (value[name], float(lo), float(hi))
    return out


def check_with_runner(
    run_seed: SeedRunner,
    seeds: Sequence[int],
    real: MarketSample,
    config: dict[str, Any],
) -> FidelityReport:
    """Run `run_seed` for every seed, compute the facts, and compare with the real sample.

    `run_seed` returns the seed's market sample and its meta-orders' (Q/V, I/σ) arrays.
    """
    if len(seeds) < 2:
        raise ConfigError(f"a fidelity check needs at least 2 seeds, got {len(seeds)}")
    per_seed, samples, impacts = [], [], []
    for seed in seeds:
        sample, impact = run_seed(seed)
        values = sample_facts(sample, real)
        if len(impact[0]):
            values.update(impact_facts(facts.impact_law(*impact)))
        per_seed.append(values)
        samples.append(sample)
        impacts.append(impact)
    pooled = Pooled(
        sim_returns=np.concatenate([s.returns_1m for s in samples]),
        real_returns=real.returns_1m,
        sim_signs=tuple(s.trade_sign for s in samples),
        real_signs=real.trade_sign,
        sim_abs_returns=tuple(np.abs(s.returns_1m) for s in samples),
        impact_q_over_v=np.concatenate([i[0] for i in impacts]),
        impact_over_sigma=np.concatenate([i[1] for i in impacts]),
    )
    return assemble_report(
        per_seed, real_facts(real), seeds, real.sources, config, pooled, pooled_impact(impacts)
    )


# ---- running the simulator: the fact runs and the meta-order impact experiment ----

# Fact runs sample the top of book every 100 ms (OFI needs the flow between samples) and the
# mid every minute; events are not needed.
FACT_SAMPLING = {
    "sampling.top_interval_s": 0.1,
    "sampling.mid_interval_s": 60.0,
    "sampling.l2_levels": 0,
    "sampling.record_events": False,
}


@dataclass(frozen=True)
class ImpactPlan:
    """Meta-orders per seed: sizes Q/V spread evenly in log over [lo, hi], V being the traded
    volume of `reference_s` of the seed's fact run; each executed as market orders of
    `participation` times the market's average volume per decision period."""

    q_over_v_lo: float = 10**-3.6
    q_over_v_hi: float = 10**-1.5
    sizes: int = 6
    participation: float = 0.2
    reference_s: float = 3600.0
    start_s: float = 120.0

    def fractions(self) -> FloatArray:
        return np.geomspace(self.q_over_v_lo, self.q_over_v_hi, self.sizes)


@dataclass(frozen=True)
class ImpactPoint:
    """One meta-order: Q/V, impact over σ (both over `reference_s`), size and duration."""

    q_over_v: float
    impact_over_sigma: float
    qty: float
    duration_s: float


def _mean_mid(top: pl.DataFrame, start_ns: int, end_ns: int) -> float:
    """Mean two-sided mid over [start, end] (smooths the half-tick steps of one sample)."""
    rows = top.filter(
        (pl.col("ts_ns") >= start_ns) & (pl.col("ts_ns") <= end_ns) & pl.col("mid").is_not_null()
    )
    return float(rows["mid"].mean()) if rows.height else math.nan  # type: ignore[arg-type]


def _completed_at(result: SimResult, qty: float) -> int | None:
    """When the strategy's |position| first reached `qty` (None if it never did)."""
    assert result.strategy is not None
    ledger = result.strategy.ledger
    done = ledger.filter(pl.col("position").abs() >= qty * (1 - 1e-9))
    return int(done["ts_ns"][0]) if done.height else None


def measure_impact(
    config: SimConfig, seed: int, fact_run: SimResult, plan: ImpactPlan
) -> list[ImpactPoint]:
    """Meta-orders of increasing size on `seed`: a buy and a sell of each size on the same
    seed (the rest of the market draws the same randomness), impact = half the gap between
    their mids when both are done, over σ; σ and V are those of `reference_s` of the fact run."""
    lot = config.lot_size
    volume = float(fact_run.trades["qty"].sum()) * plan.reference_s / config.duration_s
    r = np.diff(np.log(fact_run.mids["mid"].to_numpy().astype(np.float64)))
    sigma = float(np.nanstd(r) * math.sqrt(plan.reference_s / 60.0))
    if not (volume > 0 and sigma > 0):
        return []
    interval = float(config.get("strategy.interval_s"))
    child = max(1, round(plan.participation * volume / plan.reference_s * interval / lot))
    points = []
    for frac in plan.fractions():
        lots = max(1, round(frac * volume / lot))
        run_s = plan.start_s + (math.ceil(lots / child) + 5) * interval + 5.0
        cfg = config.with_overrides(
            {
                "duration_s": run_s,
                "strategy.max_position_lots": lots,
                "strategy.max_order_lots": min(child, lots),
                "strategy.start_s": plan.start_s,
            }
        )
        buy, sell = (run_sim(cfg, seed, strategy=Const(side)) for side in (1.0, -1.0))
        ends = [_completed_at(res, lots * lot) for res in (buy, sell)]
        if any(e is None for e in ends):
            continue  # a meta-order did not complete: not a point
        end = max(e for e in ends if e is not None)
        window = (end, end + 1_000_000_000)
        gap = _mean_mid(buy.top, *window) - _mean_mid(sell.top, *window)
        start_mid = _mean_mid(buy.top, 0, round(plan.start_s * 1e9))
        impact = 0.5 * gap / start_mid
        if math.isfinite(impact):
            duration = end / 1e9 - plan.start_s
            points.append(ImpactPoint(lots * lot / volume, impact / sigma, lots * lot, duration))
    return points


def fact_config(config: SimConfig) -> SimConfig:
    """`config` with the sampling the facts need."""
    return config.with_overrides(FACT_SAMPLING)


def check_fidelity(
    config: SimConfig | None = None,
    seeds: int = 20,
    *,
    first_seed: int = 1,
    data_dir: Path | None = None,
    impact: ImpactPlan | None = None,
    progress: Callable[[int], None] | None = None,
) -> FidelityReport:
    """Run `config` (default: the calm scenario) on `seeds` seeds and report every stylized fact
    beside the real data; `impact` sets the meta-orders (`ImpactPlan(sizes=0)`: none)."""
    cfg = fact_config(config if config is not None else SimConfig.scenario())
    plan = impact if impact is not None else ImpactPlan()
    real_market = load_real_market(data_dir if data_dir is not None else default_data_dir())

    def run_seed(seed: int) -> tuple[MarketSample, tuple[FloatArray, FloatArray]]:
        run = run_sim(cfg, seed)
        sample = sim_sample(run.trades, run.top, run.mids, cfg.tick_size)
        points = measure_impact(cfg, seed, run, plan) if plan.sizes > 0 else []
        if progress is not None:
            progress(seed)
        q = np.asarray([p.q_over_v for p in points], dtype=np.float64)
        return sample, (q, np.asarray([p.impact_over_sigma for p in points], dtype=np.float64))

    seed_list = list(range(first_seed, first_seed + seeds))
    return check_with_runner(run_seed, seed_list, real_market, cfg.to_dict())
