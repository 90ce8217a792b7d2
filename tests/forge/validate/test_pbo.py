"""CSCV PBO: a split computed by hand, pure noise (PBO near 0.5), one planted skilled
strategy among noise (PBO near 0) and a planted overfit family (PBO high)."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from nexusforge.forge.validate.pbo import pbo


def test_two_blocks_by_hand() -> None:
    # Block A = rows 0-1, block B = rows 2-3; strategies x, y, z.
    m = np.array([
        [0.02, 0.01, 0.00],
        [0.04, 0.01, 0.01],
        [-0.01, 0.03, 0.00],
        [-0.02, 0.02, 0.02],
    ])  # fmt: skip
    # IS = A: Sharpes x=0.03/0.01414=2.12, y=0 sd (-> 0), z=0.005/0.00707=0.71 -> x wins;
    # OOS = B: x=-0.015/0.00707=-2.12, y=0.025/0.00707=3.54, z=0.01/0.01414=0.71 -> x ranks 1
    # of 3, omega = 1/4, logit = log(1/3). IS = B: y wins; OOS = A: y has sd 0 -> 0, ranks 2
    # (x 2.12 > z 0.71 > y 0): omega = 1/4, logit = log(1/3).
    res = pbo(m, blocks=2)
    assert res.logits == pytest.approx([math.log(1 / 3), math.log(1 / 3)], abs=1e-6)
    assert res.is_sharpe == pytest.approx([0.03 / math.sqrt(2e-4), 0.025 / math.sqrt(5e-5)],
                                          abs=1e-6)  # fmt: skip
    assert res.pbo == 1.0
    assert res.prob_oos_loss == 0.5


def test_pure_noise_gives_pbo_near_one_half() -> None:
    rng = np.random.default_rng(0)
    res = pbo(rng.standard_normal((1000, 40)), blocks=10)
    assert 0.3 <= res.pbo <= 0.8
    assert len(res.logits) == math.comb(10, 5)


def test_one_skilled_strategy_among_noise_gives_low_pbo() -> None:
    rng = np.random.default_rng(1)
    m = rng.standard_normal((1000, 40))
    m[:, 7] += 0.25  # per-period Sharpe ~0.25: the only real edge
    res = pbo(m, blocks=10)
    assert res.pbo <= 0.05
    assert res.prob_oos_loss <= 0.05


def test_planted_overfit_family_gives_high_pbo() -> None:
    # Each strategy is good in some blocks and bad in the others, so the IS winner is the one
    # whose good blocks were drawn in-sample; out of sample it sits at the bottom.
    rng = np.random.default_rng(2)
    blocks, size, n = 8, 50, 30
    sign = rng.choice([-1.0, 1.0], size=(blocks, n))
    sign -= sign.mean(axis=0)  # every strategy nets out to zero over the whole history
    m = np.repeat(sign, size, axis=0) * 0.3 + rng.standard_normal((blocks * size, n))
    res = pbo(m, blocks=blocks)
    assert res.pbo >= 0.8
    assert res.degradation_slope < 0.0


def test_bad_shapes_are_refused() -> None:
    with pytest.raises(ValueError):
        pbo(np.zeros((100, 1)))
    with pytest.raises(ValueError):
        pbo(np.zeros((100, 3)), blocks=3)
    with pytest.raises(ValueError):
        pbo(np.zeros((10, 3)), blocks=8)


def _naive_pbo(m: np.ndarray, blocks: int) -> float:
    """CSCV written out plainly: concatenate, Sharpe, rank, logit (the reference)."""
    size = m.shape[0] // blocks
    parts = [m[i * size : (i + 1) * size] for i in range(blocks)]
    n, below = m.shape[1], 0
    splits = list(itertools.combinations(range(blocks), blocks // 2))
    for chosen in splits:
        ins = np.concatenate([parts[i] for i in chosen])
        oos = np.concatenate([parts[i] for i in range(blocks) if i not in chosen])
        best = int(np.argmax(ins.mean(0) / ins.std(0, ddof=1)))
        sr = oos.mean(0) / oos.std(0, ddof=1)
        omega = (np.sum(sr < sr[best]) + 1 + (np.sum(sr == sr[best]) - 1) / 2) / (n + 1)
        below += math.log(omega / (1 - omega)) <= 0
    return below / len(splits)


def test_matches_a_plain_implementation() -> None:
    rng = np.random.default_rng(9)
    m = rng.standard_normal((333, 12)) + np.linspace(-0.05, 0.1, 12)
    for blocks in (4, 8, 10):
        assert pbo(m, blocks).pbo == pytest.approx(_naive_pbo(m, blocks), abs=1e-12)
