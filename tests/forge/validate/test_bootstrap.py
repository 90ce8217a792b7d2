"""Block bootstraps and trade shuffles: index structure, the Sharpe standard error of iid
returns (Lo 2002), invariants of trade-order shuffles, and ruin on planted paths."""

from __future__ import annotations

import math

import numpy as np
import pytest

from nexusforge.forge.validate.bootstrap import (
    circular_indices,
    max_drawdown,
    monte_carlo,
    stationary_indices,
    trade_returns,
)


def _block_lengths(idx: np.ndarray, n: int) -> np.ndarray:
    cont = (idx[1:] - idx[:-1]) % n == 1
    breaks = np.flatnonzero(~cont)
    return np.diff(np.concatenate([[-1], breaks, [idx.size - 1]]))


def test_stationary_blocks_have_geometric_mean_length() -> None:
    rng = np.random.default_rng(0)
    n = 200_000
    idx = stationary_indices(n, 20.0, rng)
    assert idx.min() >= 0 and idx.max() < n
    # A new block can start where the old one would continue (prob 1/n): negligible here.
    assert _block_lengths(idx, n).mean() == pytest.approx(20.0, rel=0.05)


def test_circular_blocks_are_consecutive_and_wrap() -> None:
    rng = np.random.default_rng(1)
    idx = circular_indices(103, 10, rng)
    assert idx.size == 103
    for b in range(10):
        block = idx[b * 10 : (b + 1) * 10]
        assert np.all((np.diff(block) % 103) == 1)


def test_bootstrap_sharpe_spread_matches_lo_standard_error() -> None:
    rng = np.random.default_rng(2)
    n, sr = 2000, 0.1
    r = rng.normal(sr * 0.01, 0.01, size=n)
    mc = monte_carlo(r, periods_per_year=1.0, scheme="stationary", paths=1500, block=5.0, seed=3)
    lo_se = math.sqrt((1 + sr**2 / 2) / n)  # per-period Sharpe, iid normal returns
    assert mc.sharpe.std() == pytest.approx(lo_se, rel=0.12)
    assert np.median(mc.sharpe) == pytest.approx(mc.observed_sharpe, abs=lo_se / 2)


def test_trade_returns_compound_to_the_whole_path() -> None:
    r = np.array([0.01, -0.02, 0.0, 0.0, 0.03, 0.01, -0.01])
    pos = np.array([1.0, 1.0, 0.0, 0.0, -2.0, -2.0, 1.0])
    tr = trade_returns(r, pos)
    assert tr.size == 4
    assert tr[0] == pytest.approx(1.01 * 0.98 - 1)
    assert np.prod(1 + tr) == pytest.approx(np.prod(1 + r))


def test_trade_shuffles_keep_the_end_and_move_the_drawdown() -> None:
    rng = np.random.default_rng(4)
    r = rng.normal(0.0005, 0.01, size=600)
    pos = np.repeat(rng.choice([-1.0, 0.0, 1.0], size=60), 10)
    mc = monte_carlo(r, periods_per_year=252.0, scheme="trades", position=pos, paths=300, seed=5)
    assert mc.max_drawdown.std() > 0.0
    tr = trade_returns(r, pos)
    # Any order of the same trades has the same final equity.
    assert np.prod(1 + rng.permutation(tr)) == pytest.approx(np.prod(1 + r))
    assert mc.summary()["drawdown_p05"] <= mc.summary()["drawdown_p95"]


def test_ruin_probability_on_planted_paths() -> None:
    down = np.full(100, -0.01)  # every resample loses 1 - 0.99**100 = 63 %
    assert monte_carlo(down, periods_per_year=252.0, paths=50).ruin_probability == 1.0
    up = np.full(100, 0.01)
    assert monte_carlo(up, periods_per_year=252.0, paths=50).ruin_probability == 0.0
    assert max_drawdown(down)[0] == pytest.approx(1 - 0.99**100)


def test_ruin_probability_matches_a_simulated_truth() -> None:
    # Blocks of one bar resample iid from the sample's own +-5 % flips, so the ruin rate must
    # equal that of fresh iid paths with the sample's share of up moves.
    rng = np.random.default_rng(6)
    r = rng.choice([0.05, -0.05], size=200)
    mc = monte_carlo(r, periods_per_year=252.0, scheme="circular", block=1.0, paths=4000)
    p_up = float(np.mean(r > 0))
    fresh = rng.choice([0.05, -0.05], size=(4000, 200), p=[p_up, 1 - p_up])
    truth = float(np.mean(max_drawdown(fresh) >= 0.5))
    assert 0.05 < truth < 0.95
    assert mc.ruin_probability == pytest.approx(truth, abs=0.03)


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ValueError):
        monte_carlo([0.1, 0.2], periods_per_year=1.0, scheme="nope")
    with pytest.raises(ValueError):
        monte_carlo([0.1, 0.2, 0.3], periods_per_year=1.0, scheme="trades")
