"""Continuous Weight Optimization (CWO): re-weight the models' capital every `interval_s`.

Method (robust by construction; every step is bounded):

1. Performance data. Every `sample_s` each live model's equity at the mid is sampled; a model's
   return over one sample interval is Δequity / (capital · weight at the start of the interval),
   i.e. its return per unit of exposure, so a model's record does not depend on the weight it
   happened to get. The last `lookback` intervals are used.
2. Risk. The covariance of those returns is shrunk toward a scaled identity with the
   Ledoit–Wolf (2004) optimal intensity; each model's volatility is the square root of the
   shrunk diagonal. Base weights are inverse volatility (naive risk parity).
3. Performance tilt. Each base weight is multiplied by `1 + tilt · tanh(t / 2)`, where t is the
   model's t-statistic of mean return (mean / shrunk vol · sqrt(n)); the tilt is bounded to
   `[1 - tilt, 1 + tilt]`, so noise cannot move capital far.
4. Bounds. The result is projected onto {Σ w = 1, min_weight ≤ w ≤ max_weight} over the live
   models (when n live models cannot satisfy the bounds, they widen to 1/n). Dead models get 0.
5. Turnover. The move from the current weights is scaled down so that Σ|Δw| ≤ max_turnover;
   weight freed by a model that died is exempt (a dead model is at 0 at the next reallocation,
   its weight first spread over the live ones in proportion to their current weights).
6. Exact sum. Weights are set on a 1e-6 grid as `Decimal` and sum to exactly 1 (largest
   remainder, never leaving the bounds). The turnover bound holds to within that grid.

With too little history (fewer than `min_samples` intervals) step 2–3 give equal weights.
The allocator never moves cash between ledgers: a weight only scales a model's target size.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

import numpy as np
import numpy.typing as npt

from nexusforge.errors import ConfigError
from nexusforge.nexus.journal import Journal
from nexusforge.nexus.model import ModelState, TradingModel

FloatArray = npt.NDArray[np.float64]
QUANTUM = Decimal("0.000001")
UNITS = 1_000_000  # weight grid units per 1


@dataclass(frozen=True, slots=True)
class AllocatorConfig:
    """CWO settings."""

    interval_s: float = 60.0
    sample_s: float = 5.0
    lookback: int = 240
    min_samples: int = 6
    min_weight: float = 0.02
    max_weight: float = 0.5
    max_turnover: float = 0.3
    tilt: float = 0.5

    def __post_init__(self) -> None:
        ok = (
            self.interval_s > 0
            and self.sample_s > 0
            and self.lookback >= 2
            and 2 <= self.min_samples <= self.lookback
            and 0 <= self.min_weight <= self.max_weight <= 1
            and 0 < self.max_turnover <= 2
            and 0 <= self.tilt < 1
        )
        if not ok:
            raise ConfigError(f"allocator settings out of range: {self}")


@dataclass(frozen=True, slots=True)
class ModelSample:
    """One model at one sample: its equity, capital, weight and whether it is alive."""

    slot: int
    equity: Decimal
    capital: Decimal
    weight: Decimal
    alive: bool


@dataclass(frozen=True, slots=True)
class Reallocation:
    """One CWO decision: the new weights (sum exactly 1) and why."""

    ts_s: float
    weights: dict[int, Decimal]
    previous: dict[int, Decimal]
    samples: int
    turnover: float
    method: str


def ledoit_wolf(returns: FloatArray) -> tuple[FloatArray, float]:
    """Shrunk covariance toward mu·I with the Ledoit–Wolf (2004) intensity, and that intensity."""
    x = returns - returns.mean(axis=0)
    t, n = x.shape
    s = x.T @ x / t
    mu = float(np.trace(s)) / n
    target = mu * np.eye(n)
    d2 = float(((s - target) ** 2).sum())
    if d2 <= 0.0:
        return s, 0.0
    b2 = sum(float(((np.outer(r, r) - s) ** 2).sum()) for r in x) / t**2
    delta = min(b2, d2) / d2
    return delta * target + (1 - delta) * s, delta


def target_weights(returns: FloatArray, tilt: float) -> FloatArray:
    """Inverse-volatility weights from the shrunk covariance, tilted by bounded t-statistics."""
    t, n = returns.shape
    cov, _ = ledoit_wolf(returns)
    vol = np.sqrt(np.maximum(np.diag(cov), 0.0))
    if not np.all(vol > 0):
        floor = float(vol[vol > 0].min()) if np.any(vol > 0) else 1.0
        vol = np.where(vol > 0, vol, floor)  # a model that never moved: as calm as the calmest
    tstat = returns.mean(axis=0) / vol * math.sqrt(t)
    raw = (1.0 / vol) * (1.0 + tilt * np.tanh(tstat / 2.0))
    total = float(raw.sum())
    return raw / total if total > 0 else np.full(n, 1.0 / n)


def project_bounded_simplex(v: FloatArray, lo: float, hi: float) -> FloatArray:
    """Euclidean projection of v onto {Σ w = 1, lo ≤ w ≤ hi} (bisection on the shift)."""
    n = len(v)
    if not n * lo <= 1.0 <= n * hi + 1e-12:
        raise ConfigError(f"no weights of {n} models fit in [{lo}, {hi}] and sum to 1")
    a, b = float(v.min()) - hi - 1.0, float(v.max()) - lo + 1.0
    for _ in range(200):
        m = (a + b) / 2
        if float(np.clip(v - m, lo, hi).sum()) > 1.0:
            a = m
        else:
            b = m
    return np.asarray(np.clip(v - (a + b) / 2, lo, hi), dtype=np.float64)


def effective_bounds(n: int, lo: float, hi: float) -> tuple[float, float]:
    """Bounds widened to 1/n when n live models could not otherwise sum to 1."""
    return min(lo, 1.0 / n), max(hi, 1.0 / n)


def limit_turnover(current: FloatArray, target: FloatArray, max_turnover: float) -> FloatArray:
    """Move from current toward target by at most max_turnover in Σ|Δw| (a convex step)."""
    dist = float(np.abs(target - current).sum())
    if dist <= max_turnover:
        return target
    return current + (target - current) * (max_turnover / dist)


def to_decimal_weights(w: FloatArray, lo: float, hi: float) -> list[Decimal]:
    """Weights on the 1e-6 grid, within [lo, hi] (grid-rounded inward), summing to exactly 1."""
    lo_u, hi_u = math.ceil(lo * UNITS - 1e-6), math.floor(hi * UNITS + 1e-6)
    hi_u = max(hi_u, -(-UNITS // len(w)))
    lo_u = min(lo_u, UNITS // len(w))
    exact = w * UNITS
    units = [min(hi_u, max(lo_u, math.floor(x))) for x in exact.tolist()]
    short = UNITS - sum(units)
    order = sorted(range(len(w)), key=lambda i: exact[i] - units[i], reverse=short > 0)
    step = 1 if short > 0 else -1
    while short != 0:
        moved = False
        for i in order:
            if short == 0:
                break
            if lo_u <= units[i] + step <= hi_u:
                units[i] += step
                short -= step
                moved = True
        if not moved:
            raise ConfigError("weights cannot be placed on the grid within their bounds")
    return [Decimal(u) * QUANTUM for u in units]


@dataclass
class Allocator:
    """Samples model equity and re-weights every `interval_s` (call `step` once per round)."""

    config: AllocatorConfig = field(default_factory=AllocatorConfig)
    history: list[Reallocation] = field(default_factory=list)
    _returns: dict[int, deque[float]] = field(default_factory=dict, init=False)
    _last: dict[int, ModelSample] = field(default_factory=dict, init=False)
    _last_sample_s: float | None = field(default=None, init=False)
    _last_realloc_s: float | None = field(default=None, init=False)

    def observe(self, now_s: float, samples: Sequence[ModelSample]) -> bool:
        """Records one sample if `sample_s` has passed; True when it did."""
        if self._last_sample_s is not None and now_s - self._last_sample_s < self.config.sample_s:
            return False
        self._last_sample_s = now_s
        for s in samples:
            prev = self._last.get(s.slot)
            if prev is not None and prev.alive and s.alive and prev.weight > 0:
                r = float((s.equity - prev.equity) / (prev.capital * prev.weight))
                if math.isfinite(r):
                    q = self._returns.setdefault(s.slot, deque(maxlen=self.config.lookback))
                    q.append(r)
            self._last[s.slot] = s
        return True

    def due(self, now_s: float) -> bool:
        """Whether a reallocation is due (the first one comes one interval after the start)."""
        if self._last_realloc_s is None:
            self._last_realloc_s = now_s
            return False
        return now_s - self._last_realloc_s >= self.config.interval_s

    def step(self, now_s: float, samples: Sequence[ModelSample]) -> Reallocation | None:
        """Observe, and reallocate when due; the decision (to journal, then apply) or None."""
        self.observe(now_s, samples)
        if not self.due(now_s):
            return None
        return self.reallocate(now_s, samples)

    def reallocate(self, now_s: float, samples: Sequence[ModelSample]) -> Reallocation:
        """New weights for `samples` (their current weights are the starting point)."""
        self._last_realloc_s = now_s
        cfg = self.config
        previous = {s.slot: s.weight for s in samples}
        live = [s for s in samples if s.alive]
        if not live:
            weights = {s.slot: Decimal(0) for s in samples}
            return self._record(now_s, weights, previous, 0, "no live model")
        lo, hi = effective_bounds(len(live), cfg.min_weight, cfg.max_weight)
        current = _current_live(live, lo, hi)
        n = min((len(self._returns.get(s.slot, ())) for s in live), default=0)
        if n >= cfg.min_samples:
            rets = np.array([list(self._returns[s.slot])[-n:] for s in live]).T
            raw, method = target_weights(rets, cfg.tilt), f"risk parity (LW) + tilt, {n} samples"
        else:
            raw, method = np.full(len(live), 1.0 / len(live)), f"equal ({n} samples)"
        target = project_bounded_simplex(raw, lo, hi)
        moved = limit_turnover(current, target, cfg.max_turnover)
        decimals = to_decimal_weights(moved, lo, hi)
        weights = {s.slot: Decimal(0) for s in samples}
        weights.update({s.slot: d for s, d in zip(live, decimals, strict=True)})
        return self._record(now_s, weights, previous, n, method)

    def _record(
        self,
        now_s: float,
        weights: dict[int, Decimal],
        previous: Mapping[int, Decimal],
        n: int,
        method: str,
    ) -> Reallocation:
        turnover = float(sum(abs(weights[k] - previous.get(k, Decimal(0))) for k in weights))
        r = Reallocation(now_s, weights, dict(previous), n, turnover, method)
        self.history = [*self.history[-1439:], r]
        return r


def _current_live(live: Sequence[ModelSample], lo: float, hi: float) -> FloatArray:
    """Current weights of the live models, dead models' weight spread pro rata, in bounds."""
    w = np.array([float(s.weight) for s in live], dtype=np.float64)
    total = float(w.sum())
    w = w / total if total > 0 else np.full(len(live), 1.0 / len(live))
    if np.all(w >= lo - 1e-12) and np.all(w <= hi + 1e-12):
        return w
    return project_bounded_simplex(w, lo, hi)


def reweight(
    alloc: Allocator,
    models: Sequence[TradingModel],
    mid: Decimal,
    journal: Journal,
    now_s: float,
) -> Reallocation | None:
    """The engine's once-per-round call: sample, and when due journal the new weights, then set
    them (a weight scales the model's target size from its next round on)."""
    samples = [
        ModelSample(
            m.slot, m.ledger.equity(mid), m.ledger.capital, m.weight, m.state is ModelState.ACTIVE
        )
        for m in models
    ]
    r = alloc.step(now_s, samples)
    if r is None:
        return None
    for m in models:
        journal.record_weight(m.slot, r.weights[m.slot])
    for m in models:
        m.set_weight(r.weights[m.slot])
    return r
