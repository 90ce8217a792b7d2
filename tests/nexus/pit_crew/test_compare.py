"""The promotion rule: > threshold better AND significant (HAC one-sided test); never a loser."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from nexusforge.nexus.pit_crew.compare import (
    CompareConfig,
    best_target,
    compare,
    newey_west_lrv,
    sharpe,
)

RULE = CompareConfig()


def test_clearly_better_beats() -> None:
    rng = np.random.default_rng(0)
    champ = rng.normal(0.0, 1.0, 500)
    chall = rng.normal(0.3, 1.0, 500)
    v = compare(chall, champ, "c", 0, RULE)
    assert v.beats and v.p_value < 0.05 and v.challenger_sharpe > v.champion_sharpe


def test_same_strategy_never_beats() -> None:
    rng = np.random.default_rng(1)
    r = rng.normal(0.1, 1.0, 500)
    assert not compare(r, r, "c", 0, RULE).beats


def test_small_but_significant_edge_below_threshold_does_not_beat() -> None:
    rng = np.random.default_rng(2)
    common = rng.normal(0.2, 1.0, 5000)
    champ = common
    chall = common * 1.0 + 0.01  # ~5 % better Sharpe, almost deterministic (highly significant)
    v = compare(chall, champ, "c", 0, RULE)
    assert v.p_value < 0.05
    assert not v.beats and "better" in v.reason


def test_losing_challenger_never_promoted_over_a_worse_champion() -> None:
    rng = np.random.default_rng(3)
    champ = rng.normal(-0.5, 1.0, 500)
    chall = rng.normal(-0.1, 1.0, 500)
    v = compare(chall, champ, "c", 0, RULE)
    assert not v.beats and "not positive" in v.reason


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), mu=st.floats(-0.2, 0.2), n=st.integers(3, 300))
def test_a_worse_challenger_never_beats(seed: int, mu: float, n: int) -> None:
    rng = np.random.default_rng(seed)
    champ = rng.normal(mu, 1.0, n)
    chall = champ - np.abs(rng.normal(0.05, 0.05, n))  # worse every interval
    assert not compare(chall, champ, "c", 0, RULE).beats


def test_newey_west_matches_variance_for_white_noise_and_grows_with_autocorrelation() -> None:
    rng = np.random.default_rng(4)
    e = rng.normal(size=20000)
    assert abs(newey_west_lrv(e) - 1.0) < 0.05
    ar = np.zeros_like(e)
    for t in range(1, len(e)):
        ar[t] = 0.5 * ar[t - 1] + e[t]
    assert newey_west_lrv(ar) > 1.5 * float(np.var(ar))


def test_edge_cases() -> None:
    assert math.isnan(sharpe(np.array([1.0])))
    assert sharpe(np.zeros(10)) == 0.0
    v = compare(np.array([1.0, 2.0]), np.array([0.0, 0.0]), "c", 0, RULE)
    assert not v.beats and v.reason == "too few samples"
    beat = compare(np.array([0.2, 0.3, 0.25, 0.28] * 10), np.zeros(40), "x", 3, RULE)
    lost = compare(np.zeros(40), np.zeros(40), "y", 4, RULE)
    assert best_target([lost, beat]) == beat
    assert best_target([lost]) is None
