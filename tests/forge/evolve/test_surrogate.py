"""The surrogate on real Bybit BTCUSDT history: it ranks held-out individuals far better than
chance; the vectorizer and screening step behave as documented."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest
from deap import gp

from nexusforge.forge.evolve.fitness import (
    BUY_HOLD,
    SELECTION,
    FitnessConfig,
    WindowEvaluator,
    scores,
)
from nexusforge.forge.evolve.primitives import Term, build_pset, generate, to_expr
from nexusforge.forge.evolve.run import parse_config, research_table
from nexusforge.forge.evolve.surrogate import (
    PHENO,
    Surrogate,
    Vectorizer,
    quantiles,
    screen,
    spearman,
)
from nexusforge.forge.evolve.table import TARGET, ResearchTable
from nexusforge.strategy import codec
from nexusforge.strategy.expr import columns

TERMS = [
    Term("m5_range_close", 0), Term("m5_rv", 1), Term("m15_ret", 0), Term("h1_vwap_dev_bps", 1),
]  # fmt: skip


def _held_out_rho(table: ResearchTable, terms: list[Term]) -> tuple[float, float]:
    """Fit on 200 random individuals' true scores, rank 100 others; their Spearman rho
    without and with the phenotypic neighbour features."""
    fit = FitnessConfig(folds=2)
    ev = WindowEvaluator(table, fit, threads=2)
    pset = build_pset(terms)
    rng = random.Random(0)
    exprs, seen = [], set()
    while len(exprs) < 300:
        e = to_expr(gp.PrimitiveTree(generate(pset, rng, 2, 5)))
        key = codec.dumps(e)
        if columns(e) and key not in seen:
            seen.add(key)
            exprs.append(e)
    m = ev.evaluate([codec.dumps(e) for e in exprs], SELECTION)
    base = ev.evaluate([BUY_HOLD], SELECTION)
    y = scores(m, ev.window_bars(), table.bars_per_year, fit, base)
    train0 = ev.folds[0].train
    ref = table.frame.slice(train0.start, train0.stop - train0.start).tail(3000)
    vec = Vectorizer(terms, ref.select(table.features), ref[TARGET].to_numpy())
    x, sig = vec.transform_signed(exprs)
    assert x.shape == (300, len(vec.names)) and np.isfinite(x).all()
    assert sig.shape == (300, ref.height) and np.isfinite(sig).all()
    norms = np.linalg.norm(sig, axis=1)
    assert np.allclose(norms[norms > 0], 1.0)  # unit signatures: dot products are correlations
    plain, signed = Surrogate(seed=1, min_train=50), Surrogate(seed=1, min_train=50)
    plain.add(x[:200], list(y[:200]))
    signed.add(x[:200], list(y[:200]), sig[:200])
    assert plain.fit() and plain.ready and signed.fit()
    rho_plain = spearman(plain.predict(x[200:]), y[200:])
    return rho_plain, spearman(signed.predict(x[200:], sig[200:]), y[200:])


def test_surrogate_ranks_held_out_individuals_on_real_data(real_store: Path) -> None:
    table = research_table(parse_config({"data": {"max_rows": 40_000}}), real_store)
    rho = _held_out_rho(table, TERMS)
    assert min(rho) > 0.5, rho


def test_surrogate_ranks_held_out_individuals_on_planted_driver(planted: ResearchTable) -> None:
    rho = _held_out_rho(planted, [Term("driver", 1), Term("decoy_a", 0), Term("noise_a", 0)])
    assert min(rho) > 0.5, rho


def test_surrogate_waits_for_enough_examples() -> None:
    sur = Surrogate(seed=0, min_train=20)
    sur.add(np.zeros((10, 3)), [1.0] * 9 + [float("nan")])
    assert sur.seen == 9 and not sur.fit() and not sur.ready
    with pytest.raises(RuntimeError, match="not been fit"):
        sur.predict(np.zeros((1, 3)))


def test_screen_keeps_the_top_share_and_explores() -> None:
    pred = np.arange(20, dtype=float)
    kept = screen(pred, keep=0.25, explore=0.1, rng=random.Random(0))
    assert set(range(15, 20)) <= set(kept) and len(kept) == 7
    assert kept == screen(pred, keep=0.25, explore=0.1, rng=random.Random(0))


def test_spearman_matches_known_values() -> None:
    assert spearman([1, 2, 3, 4], [10, 20, 30, 40]) == pytest.approx(1.0)
    assert spearman([1, 2, 3, 4], [4, 3, 2, 1]) == pytest.approx(-1.0)
    assert np.isnan(spearman([1, 1, 1], [1, 2, 3]))


def test_quantiles_rank_with_ties() -> None:
    q = quantiles(np.array([3.0, 1.0, 1.0, -100.0, 5.0]))
    assert q.tolist() == pytest.approx([0.75, 0.375, 0.375, 0.0, 1.0])
    assert quantiles(np.array([2.0])).tolist() == [0.0]


def _fit_predict(y: np.ndarray, ranks: bool) -> np.ndarray:
    rng = np.random.default_rng(3)
    x = rng.uniform(size=(300, 3))
    sur = Surrogate(seed=0, min_train=50, ranks=ranks)
    sur.add(x, list(y(x)))
    assert sur.fit()
    return sur.predict(rng.uniform(size=(100, 3)))


def test_rank_target_ignores_the_scale_of_the_score_tail() -> None:
    # The same order with a huge negative tail (as turnover penalties give) must not change
    # what the rank-trained surrogate predicts; the raw-score one is pulled by the tail.
    def plain(x: np.ndarray) -> np.ndarray:
        return x[:, 0] - 0.5 * x[:, 1]

    def tailed(x: np.ndarray) -> np.ndarray:
        v = plain(x)
        return np.where(v < 0.0, v * 500.0, v)

    assert np.array_equal(_fit_predict(plain, True), _fit_predict(tailed, True))
    raw_plain, raw_tailed = _fit_predict(plain, False), _fit_predict(tailed, False)
    assert not np.allclose(raw_plain, raw_tailed)


def test_optimistic_bound_is_mean_plus_spread_and_seeded() -> None:
    rng = np.random.default_rng(5)
    x = rng.uniform(size=(200, 3))
    y = list(x[:, 0] + 0.3 * rng.standard_normal(200))
    probe = rng.uniform(size=(50, 3))
    runs = []
    for _ in range(2):
        sur = Surrogate(seed=2, min_train=50, members=4, kappa=1.5)
        sur.add(x, y)
        assert sur.fit()
        runs.append(sur.optimistic(probe))
    (mean, bound), (mean2, bound2) = runs
    assert np.array_equal(mean, mean2) and np.array_equal(bound, bound2)
    assert np.allclose(mean, sur.predict(probe))
    assert (bound >= mean).all() and (bound > mean).any()
    single = Surrogate(seed=2, min_train=50, members=1)
    single.add(x, y)
    assert single.fit()
    m1, b1 = single.optimistic(probe)
    assert np.array_equal(m1, b1)


def test_surrogate_refuses_bad_ensemble() -> None:
    with pytest.raises(ValueError, match="members"):
        Surrogate(seed=0, members=0)
    with pytest.raises(ValueError, match="kappa"):
        Surrogate(seed=0, kappa=-1.0)


def test_optimistic_ranks_known_phenotypes_last() -> None:
    # Rows whose trailing phenotype columns repeat an evaluated row's are ranked below every
    # novel row (bound -inf) but keep their mean prediction; novelty=False leaves them alone.
    rng = np.random.default_rng(7)
    width = len(PHENO) + 2
    x = rng.uniform(size=(120, width))
    y = list(x[:, -1])
    probe = rng.uniform(size=(6, width))
    probe[:2, -len(PHENO) :] = x[:2, -len(PHENO) :]  # new structure, known positions
    for novelty in (True, False):
        sur = Surrogate(seed=0, min_train=50, members=2, novelty=novelty)
        sur.add(x, y)
        assert sur.fit()
        mean, bound = sur.optimistic(probe)
        assert np.isfinite(mean).all()
        assert np.isneginf(bound[:2]).all() == novelty and np.isfinite(bound[2:]).all()
