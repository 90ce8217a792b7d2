"""CWO: weights sum to 1 exactly, stay in bounds, respect the turnover limit, dead models get 0."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nexusforge.errors import ConfigError
from nexusforge.nexus.allocator import (
    QUANTUM,
    Allocator,
    AllocatorConfig,
    ModelSample,
    ledoit_wolf,
    project_bounded_simplex,
)

CAPITAL = Decimal(10_000)


def samples(
    equities: list[Decimal], weights: list[Decimal], alive: list[bool]
) -> list[ModelSample]:
    return [
        ModelSample(i, e, CAPITAL, w, a)
        for i, (e, w, a) in enumerate(zip(equities, weights, alive, strict=True))
    ]


def run(alloc: Allocator, paths: np.ndarray, alive: list[bool], t0: float = 0.0) -> list[Decimal]:
    """Feeds equity paths (rows = samples) and applies each reallocation; final weights."""
    n = paths.shape[1]
    weights = [Decimal(1) / n] * n
    cfg = alloc.config
    for k, row in enumerate(paths):
        now = t0 + k * cfg.sample_s
        s = samples([CAPITAL + Decimal(repr(float(x))) for x in row], weights, alive)
        r = alloc.step(now, s)
        if r is not None:
            check(r.weights, r.previous, alive, cfg)
            weights = [r.weights[i] for i in range(n)]
    return weights


def check(
    w: dict[int, Decimal], prev: dict[int, Decimal], alive: list[bool], cfg: AllocatorConfig
) -> None:
    assert sum(w.values()) == Decimal(1)
    n_live = sum(alive)
    lo, hi = min(cfg.min_weight, 1 / n_live), max(cfg.max_weight, 1 / n_live)
    for i, a in enumerate(alive):
        if not a:
            assert w[i] == 0
        else:
            assert Decimal(repr(lo)) - QUANTUM <= w[i] <= Decimal(repr(hi)) + QUANTUM


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(1, 6),
    seed=st.integers(0, 2**31 - 1),
    dead=st.sets(st.integers(0, 5), max_size=5),
    lo=st.sampled_from([0.0, 0.02, 0.1]),
    hi=st.sampled_from([0.3, 0.5, 1.0]),
    turnover=st.sampled_from([0.05, 0.3, 2.0]),
)
def test_weights_sum_bounds_turnover(
    n: int, seed: int, dead: set[int], lo: float, hi: float, turnover: float
) -> None:
    rng = np.random.default_rng(seed)
    cfg = AllocatorConfig(interval_s=20, sample_s=1, lookback=30, min_samples=5, min_weight=lo,
                          max_weight=hi, max_turnover=turnover)  # fmt: skip
    alloc = Allocator(cfg)
    drift = rng.normal(0, 5, n)
    paths = np.cumsum(rng.normal(drift, rng.uniform(1, 80, n), (90, n)), axis=0)
    alive = [True] * n
    weights = run(alloc, paths, alive)
    alive = [i not in dead for i in range(n)]
    if not any(alive):
        alive[0] = True
    # the next reallocation after deaths: dead at 0 at once; the live ones move within the limit
    now = 1000.0
    s = samples([CAPITAL] * n, weights, alive)
    r = alloc.reallocate(now, s)
    check(r.weights, r.previous, alive, cfg)
    live_prev = np.array([float(weights[i]) for i in range(n) if alive[i]])
    if live_prev.sum() > 0 and all(alive):
        in_bounds = np.all(live_prev >= min(lo, 1 / n) - 1e-9) and np.all(
            live_prev <= max(hi, 1 / n) + 1e-9
        )
        if in_bounds:
            assert r.turnover <= turnover + n * float(QUANTUM)


def test_better_model_gets_more_weight_and_turnover_caps_the_move() -> None:
    rng = np.random.default_rng(7)
    cfg = AllocatorConfig(interval_s=10, sample_s=1, lookback=200, min_samples=10, max_turnover=0.1)
    alloc = Allocator(cfg)
    steps = rng.normal(0, 10, (300, 4))
    steps[:, 0] += 8.0  # a planted edge: same noise, positive drift
    weights = run(alloc, np.cumsum(steps, axis=0), [True] * 4)
    assert weights[0] == max(weights)
    assert weights[0] > Decimal("0.3")
    for prev, cur in zip(alloc.history, alloc.history[1:], strict=False):
        assert cur.turnover <= 0.1 + 4 * float(QUANTUM)
        assert prev.ts_s < cur.ts_s


def test_low_volatility_model_gets_more_weight_without_edge() -> None:
    rng = np.random.default_rng(3)
    cfg = AllocatorConfig(interval_s=10, sample_s=1, lookback=200, min_samples=10, tilt=0.0,
                          max_turnover=2.0)  # fmt: skip
    steps = rng.normal(0, 1, (200, 3)) * np.array([5.0, 20.0, 20.0])
    weights = run(Allocator(cfg), np.cumsum(steps, axis=0), [True] * 3)
    assert weights[0] > weights[1] and weights[0] > weights[2]


def test_too_little_history_gives_equal_weights() -> None:
    alloc = Allocator(AllocatorConfig(interval_s=1, sample_s=1, min_samples=50))
    s = samples([CAPITAL] * 3, [Decimal("0.5"), Decimal("0.25"), Decimal("0.25")], [True] * 3)
    r = alloc.reallocate(0.0, s)
    assert "equal" in r.method
    assert sum(r.weights.values()) == 1


def test_first_reallocation_waits_one_interval() -> None:
    alloc = Allocator(AllocatorConfig(interval_s=60, sample_s=5))
    s = samples([CAPITAL] * 2, [Decimal("0.5")] * 2, [True, True])
    assert alloc.step(0.0, s) is None
    assert alloc.step(59.0, s) is None
    assert alloc.step(60.0, s) is not None


def test_all_dead_gives_zero() -> None:
    s = samples([CAPITAL] * 2, [Decimal("0.5")] * 2, [False, False])
    r = Allocator().reallocate(0.0, s)
    assert all(w == 0 for w in r.weights.values())


def test_ledoit_wolf_intensity_in_unit_interval_and_psd() -> None:
    x = np.random.default_rng(1).normal(size=(20, 6))
    cov, delta = ledoit_wolf(x)
    assert 0 <= delta <= 1
    assert np.all(np.linalg.eigvalsh(cov) > 0)


def test_projection_and_bad_settings() -> None:
    w = project_bounded_simplex(np.array([5.0, 0.0, 0.0]), 0.1, 0.5)
    assert abs(w.sum() - 1) < 1e-9 and w.max() <= 0.5 + 1e-12 and w.min() >= 0.1 - 1e-12
    with pytest.raises(ConfigError):
        project_bounded_simplex(np.array([1.0, 1.0]), 0.0, 0.2)
    with pytest.raises(ConfigError):
        AllocatorConfig(min_weight=0.6, max_weight=0.5)
