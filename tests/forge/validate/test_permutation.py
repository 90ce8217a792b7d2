"""The null test: block shuffles keep the returns' values and blocks, null histories keep
the features, a planted driver gets a small p-value, and pure noise gets p-values that are not
small more often than chance allows."""

from __future__ import annotations

import numpy as np
import pytest
from validate_fixtures import planted_table, tiny_config

from nexusforge.forge.evolve.fitness import FitnessConfig
from nexusforge.forge.validate.permutation import (
    NullTest,
    block_shuffle,
    forge_search,
    null_table,
    null_test,
    population_null,
    population_search,
    search_scores,
)
from nexusforge.strategy import codec

FIT = FitnessConfig(folds=2)


def key(node: str) -> str:
    return codec.dumps(codec.loads('{"schema": 1, "expr": ' + node + "}"))


DRIVER = key('{"op": "lag", "args": [{"col": "driver"}], "k": 1}')
TRIALS = [DRIVER] + [
    key(e)
    for e in ('{"col": "noise_a"}', '{"op": "neg", "args": [{"col": "noise_a"}]}',
              '{"op": "mean", "args": [{"col": "noise_b"}], "k": 20}', '{"col": "ret_h1"}',
              '{"op": "neg", "args": [{"col": "ret_h1"}]}')
]  # fmt: skip


def test_block_shuffle_is_a_permutation_of_whole_blocks() -> None:
    rng = np.random.default_rng(0)
    v = np.arange(1003, dtype=float)
    out = block_shuffle(v, 100, rng)
    assert np.array_equal(np.sort(out), v)
    starts = out[np.flatnonzero(np.diff(out, prepend=-2.0) != 1.0)]
    assert set(starts) <= set(range(0, 1003, 100)) and not np.array_equal(out, v)


def test_null_table_keeps_features_and_the_returns_multiset() -> None:
    t = planted_table(rows=3000)
    n = null_table(t, 288, np.random.default_rng(1))
    for c in ("driver", "decoy_a", "noise_a", "noise_b"):
        assert n.frame[c].equals(t.frame[c])
    real = np.sort(np.diff(np.log(t.close)))
    assert np.allclose(np.sort(np.diff(np.log(n.close))), real, atol=1e-12)
    # The driver no longer predicts the next return.
    fwd = n.frame["fwd_ret"].to_numpy()[:-1]
    assert abs(np.corrcoef(t.frame["driver"].to_numpy()[:-1], fwd)[0, 1]) < 0.05


def test_planted_driver_beats_every_null_search() -> None:
    t = planted_table(rows=4000)
    observed = float(search_scores(t, [DRIVER], FIT)[0])
    res = null_test(t, population_search(TRIALS, FIT), observed, nulls=19, seed=2)
    assert res.p_value == pytest.approx(0.05)
    assert res.null_best.max() < observed


def test_noise_found_strategies_are_not_significant_more_often_than_chance() -> None:
    # 20 pure-noise histories: the best trial of each is tested against 9 null searches;
    # under the null p is uniform on {0.1, ..., 1}, so p <= 0.1 should come ~10 % of times.
    small = 0
    for seed in range(20):
        t = planted_table(seed=100 + seed, rows=2400, beta=0.0)
        search = population_search(TRIALS, FIT)
        res = null_test(t, search, search(t), nulls=9, block=96, seed=seed)
        small += res.p_value <= 0.1
    assert small <= 6  # P(Binomial(20, 0.1) > 6) < 0.3 %


def test_population_null_estimates_the_zero_skill_sharpe_variance() -> None:
    t = planted_table(rows=4000, beta=0.0)
    pn = population_null(t, TRIALS, FIT, nulls=8, seed=3)
    assert pn.sharpes.shape == (8, len(TRIALS)) and pn.null_best.shape == (8,)
    # A zero-skill per-bar Sharpe over ~1,500 selection bars has sd ~1/sqrt(bars); its
    # variance across nulls is of that order, not of the trials' spread of costs.
    bars = 2 * (4000 // 2) * 0.75
    assert 0.5 / bars < pn.sharpe_variance < 2.5 / bars
    assert NullTest(1.0, np.array([0.5, 2.0, 0.9]), 10).p_value == pytest.approx(2 / 4)


@pytest.mark.slow
def test_the_whole_forge_as_the_null_search() -> None:
    # Two null histories searched by the real GP: a null search either finds nothing (no
    # causal parent: -inf) or a score below what the GP finds on the planted history.
    t = planted_table(rows=6000)
    search = forge_search(tiny_config(alpha=0.2))
    found = search(t)
    res = null_test(t, search, found, nulls=2, seed=7)
    assert np.isfinite(found) and found > 5.0
    assert np.all(res.null_best < found) and res.p_value == pytest.approx(1 / 3)
