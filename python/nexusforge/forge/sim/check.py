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
from typing import Any

import numpy as np

from nexusforge.errors import ConfigError
from nexusforge.forge.sim import facts
from nexusforge.forge.sim.facts import FloatArray, ImpactFit, MarketSample

ABS_ACF_MAX_LAG = 120
SIGN_ACF_MAX_LAG = 100
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
    abs_fit = facts.acf_power_law(np.abs(r), ABS_ACF_MAX_LAG)
    sign_fit = facts.acf_power_law(sample.trade_sign, SIGN_ACF_MAX_LAG)
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

    @property
    def value(self) -> float:
        vals = self._finite()
        return float(np.median(vals)) if len(vals) else math.nan

    @property
    def interval(self) -> tuple[float, float]:
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
) -> FidelityReport:
    """Collect per-seed fact values into a report (missing facts count as NaN for that seed)."""
    results = {
        spec.name: FactResult(
            spec,
            tuple(float(values.get(spec.name, math.nan)) for values in per_seed),
            float(real_values.get(spec.name, math.nan)),
        )
        for spec in FACTS
    }
    return FidelityReport(results, tuple(seeds), dict(real_sources), dict(config), pooled)


SeedRunner = Callable[[int], tuple[MarketSample, ImpactFit | None]]


def check_with_runner(
    run_seed: SeedRunner,
    seeds: Sequence[int],
    real: MarketSample,
    config: dict[str, Any],
    impact_points: tuple[FloatArray, FloatArray] | None = None,
) -> FidelityReport:
    """Run `run_seed` for every seed, compute the facts, and compare with the real sample."""
    if len(seeds) < 2:
        raise ConfigError(f"a fidelity check needs at least 2 seeds, got {len(seeds)}")
    per_seed, samples = [], []
    for seed in seeds:
        sample, impact = run_seed(seed)
        values = sample_facts(sample, real)
        if impact is not None:
            values.update(impact_facts(impact))
        per_seed.append(values)
        samples.append(sample)
    q, i = impact_points if impact_points is not None else (np.zeros(0), np.zeros(0))
    pooled = Pooled(
        sim_returns=np.concatenate([s.returns_1m for s in samples]),
        real_returns=real.returns_1m,
        sim_signs=tuple(s.trade_sign for s in samples),
        real_signs=real.trade_sign,
        sim_abs_returns=tuple(np.abs(s.returns_1m) for s in samples),
        impact_q_over_v=q,
        impact_over_sigma=i,
    )
    return assemble_report(per_seed, real_facts(real), seeds, real.sources, config, pooled)
