"""Phenotypic neighbours for the surrogate: the incremental leave-one-out index matches a brute
force search, neighbour features carry fitness that structure alone does not, and a screened GP run
stays seeded."""

from __future__ import annotations

import random

import numpy as np
import pytest

from nexusforge.forge.evolve.gp import Evaluated, Evolution, GpConfig, SurrogateConfig
from nexusforge.forge.evolve.neighbours import Neighbours, features
from nexusforge.forge.evolve.primitives import Term, build_pset
from nexusforge.forge.evolve.surrogate import Surrogate, Vectorizer, screen, spearman
from nexusforge.forge.evolve.table import TARGET, ResearchTable


def _unit(rng: np.random.Generator, n: int, d: int = 12) -> np.ndarray:
    v = rng.standard_normal((n, d))
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def _brute(sig: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    sims = sig @ sig.T
    np.fill_diagonal(sims, -np.inf)
    order = np.argsort(-sims, axis=1, kind="stable")[:, :k]
    return np.take_along_axis(sims, order, axis=1), order


def test_incremental_index_equals_leave_one_out_brute_force() -> None:
    rng = np.random.default_rng(1)
    sig = _unit(rng, 57)
    near = Neighbours(k=4)
    for lo, hi in ((0, 9), (9, 10), (10, 33), (33, 57)):  # batches of 9, 1, 23, 24
        near.add(sig[lo:hi])
    sim, idx = near.stored()
    want_sim, want_idx = _brute(sig, 4)
    assert np.allclose(sim, want_sim) and np.array_equal(idx, want_idx)
    probe = _unit(rng, 5)
    qsim, qidx = near.query(probe)
    all_sims = probe @ sig.T
    assert np.array_equal(qidx[:, 0], all_sims.argmax(axis=1))
    assert np.allclose(qsim[:, 0], all_sims.max(axis=1))


def test_too_few_stored_rows_are_padded_and_featurised_as_none() -> None:
    near = Neighbours(k=3)
    s0, i0 = near.query(np.ones((2, 4)) / 2.0)
    assert np.isneginf(s0).all() and (i0 == -1).all()
    near.add(np.eye(4)[:2])
    sim, idx = near.stored()
    assert idx.tolist() == [[1, -1, -1], [0, -1, -1]]
    f = features(sim, idx, np.array([0.25, 1.0]))
    # similarity 0 to the only neighbour, its quantile, best quantile, weighted mean 0 (w=0)
    assert f.tolist() == [[0.0, 1.0, 1.0, 0.0], [0.0, 0.25, 0.25, 0.0]]
    with pytest.raises(ValueError, match="same length"):
        near.add(np.ones((1, 5)))
    with pytest.raises(ValueError, match="k >= 1"):
        Neighbours(k=0)


def test_neighbour_features_weight_quantiles_by_similarity() -> None:
    sim = np.array([[0.9, 0.3, -0.5]])
    idx = np.array([[2, 0, 1]])
    q = np.array([0.2, 0.6, 1.0])
    f = features(sim, idx, q)[0]
    assert f[0] == 0.9 and f[1] == 1.0 and f[2] == 1.0
    assert f[3] == pytest.approx((0.9 * 1.0 + 0.3 * 0.2) / 1.2)


def _clustered(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    # Fitness is set by which of 12 behaviours (signature clusters) a row belongs to; the
    # structural features are noise, so only the neighbours can tell.
    centres = _unit(np.random.default_rng(99), 12, d=40)
    value = np.linspace(-1.0, 1.0, 12)
    c = rng.integers(0, 12, n)
    sig = centres[c] + 0.15 * rng.standard_normal((n, 40))
    sig /= np.linalg.norm(sig, axis=1, keepdims=True)
    return rng.uniform(size=(n, 10)), sig, value[c] + 0.05 * rng.standard_normal(n)


def test_neighbour_features_find_what_structure_misses() -> None:
    rng = np.random.default_rng(4)
    x, sig, y = _clustered(rng, 360)
    signed, plain = Surrogate(seed=0, min_train=50), Surrogate(seed=0, min_train=50)
    for lo in range(0, 300, 60):  # five generations' batches
        signed.add(x[lo : lo + 60], list(y[lo : lo + 60]), sig[lo : lo + 60])
        plain.add(x[lo : lo + 60], list(y[lo : lo + 60]))
    assert signed.fit() and plain.fit()
    rho_signed = spearman(signed.predict(x[300:], sig[300:]), y[300:])
    rho_plain = spearman(plain.predict(x[300:]), y[300:])
    assert rho_signed > 0.8 and abs(rho_plain) < 0.3, (rho_signed, rho_plain)
    again = Surrogate(seed=0, min_train=50)
    for lo in range(0, 300, 60):
        again.add(x[lo : lo + 60], list(y[lo : lo + 60]), sig[lo : lo + 60])
    assert again.fit()
    assert np.array_equal(again.predict(x[300:], sig[300:]), signed.predict(x[300:], sig[300:]))


def test_signatures_with_every_batch_or_none() -> None:
    rng = np.random.default_rng(2)
    x, sig, y = _clustered(rng, 120)
    sur = Surrogate(seed=0, min_train=50)
    sur.add(x[:60], list(y[:60]), sig[:60])
    with pytest.raises(ValueError, match="every batch"):
        sur.add(x[60:], list(y[60:]))
    sur.add(x[60:], list(y[60:]), sig[60:])
    assert sur.fit()
    with pytest.raises(ValueError, match="pass them"):
        sur.predict(x[:3])
    with pytest.raises(ValueError, match="neighbours"):
        Surrogate(seed=0, neighbours=0)


def test_screened_run_with_neighbours_is_seeded(planted: ResearchTable) -> None:
    terms = [Term("driver", 1), Term("noise_a", 0)]
    pset = build_pset(terms)
    ref = planted.frame.tail(400)
    vec = Vectorizer(terms, ref.select(planted.features), ref[TARGET].to_numpy())
    rows = planted.frame.select(planted.features).tail(1500)
    fwd = planted.frame[TARGET].to_numpy()[-1500:]

    def evaluate(keys: list[str]) -> Evaluated:
        # A cheap real score: correlation of positions with the next return on 1,500 rows.
        from nexusforge.strategy import codec
        from nexusforge.strategy.vector import evaluate as run_expr

        s = []
        for k in keys:
            p = np.nan_to_num(run_expr(codec.loads(k), rows))
            s.append(0.0 if p.std() == 0.0 else float(np.corrcoef(p, np.nan_to_num(fwd))[0, 1]))
        arr = np.array(s)
        return Evaluated(arr, np.zeros_like(arr), np.zeros((len(keys), 1)))

    cfg = GpConfig(population=40, generations=4)
    sur = SurrogateConfig(min_train=20, ref_rows=400)
    runs = [Evolution(pset, cfg, evaluate, 3, sur, vec).run() for _ in range(2)]
    a, b = ([(r.expr_json, repr(r.predicted)) for r in res.records] for res in runs)
    assert a == b
    assert sum(s.skipped for s in runs[0].stats) > 0
    assert any(np.isfinite(r.predicted) for r in runs[0].records)


def test_exploration_by_distance_prefers_unexplored_phenotypes() -> None:
    # Rows 10..19 are outside the kept top; half of them are far from anything evaluated.
    pred = np.arange(20, dtype=float)[::-1].copy()
    far = np.array([0.0] * 10 + [1.0, 0.0] * 5)
    picks = []
    for seed in range(200):
        kept = screen(pred, keep=0.5, explore=0.1, rng=random.Random(seed), distance=far)
        assert set(range(10)) <= set(kept) and len(kept) == 12
        picks.extend(i for i in kept if i >= 10)
    share_far = np.mean([far[i] > 0 for i in picks])
    assert share_far > 0.95, share_far
    again = screen(pred, 0.5, 0.1, random.Random(3), far)
    assert again == screen(pred, 0.5, 0.1, random.Random(3), far)


def test_distance_is_one_minus_the_closest_correlation() -> None:
    rng = np.random.default_rng(8)
    x, sig, y = _clustered(rng, 80)
    sur = Surrogate(seed=0, min_train=50)
    assert sur.distance(sig[:2]).tolist() == [1.0, 1.0]  # nothing evaluated yet
    sur.add(x[:60], list(y[:60]), sig[:60])
    probe = np.vstack([sig[60:70], np.zeros((1, sig.shape[1]))])
    d = sur.distance(probe)
    assert np.allclose(d[:10], 1.0 - (sig[60:70] @ sig[:60].T).max(axis=1))
    assert d[10] == 0.0  # a flat position series is no exploration
    assert np.allclose(sur.distance(sig[:5]), 0.0)  # evaluated rows are at distance 0
