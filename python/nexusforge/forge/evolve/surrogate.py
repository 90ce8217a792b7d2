"""Surrogate-assisted evolution: cheap features of an expression, a LightGBM oracle trained
online on every fully evaluated individual, and the screening step.

Features are structural (size, depth, warm-up, operator and terminal counts, window lengths)
and phenotypic: the expression's positions on a small fixed reference sample of training rows
(level, spread, long/short share, turnover) and a cheap proxy fitness there (the positions'
correlation with the forward return, and their cost-adjusted mean return). The reference
sample comes from the first training window only, so screening never sees test or trade rows.

Screening ranks offspring by an upper confidence bound (ensemble mean + spread of predicted
fitness quantile) and ranks last those whose positions on the reference rows repeat an
evaluated individual's: without that, the oracle kept sending phenotypic clones of the current
best (and flat trees) to full evaluation, and the population locked in.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
import polars as pl

from nexusforge.forge.evolve.neighbours import Neighbours
from nexusforge.forge.evolve.neighbours import features as neighbour_features
from nexusforge.forge.evolve.primitives import Term
from nexusforge.strategy.expr import PRIMITIVES, Call, Col, Const, Expr, depth, size, warmup
from nexusforge.strategy.vector import evaluate

_OPS = tuple(sorted(PRIMITIVES))
_F64 = npt.NDArray[np.float64]
PHENO = ("pos_mean", "pos_std", "long_share", "short_share", "nan_share", "turnover", "ic",
         "proxy_ret")  # fmt: skip


class Vectorizer:
    """Turns expressions into fixed-length feature rows."""

    def __init__(
        self, terms: Sequence[Term], ref: pl.DataFrame, ref_fwd: npt.ArrayLike,
        cost_per_turn: float = 0.0006,
    ) -> None:  # fmt: skip
        self.terms = tuple(dict.fromkeys(terms))
        self._term_index = {t: i for i, t in enumerate(self.terms)}
        self.ref = ref
        self.ref_fwd = np.asarray(ref_fwd, dtype=np.float64)
        self.cost = cost_per_turn

    @property
    def names(self) -> tuple[str, ...]:
        """Feature names, in column order."""
        base = ("size", "depth", "warmup", "consts", "win_min", "win_max", "win_mean")
        return (*base, *(f"op_{o}" for o in _OPS), *(f"t_{t.name}" for t in self.terms), *PHENO)

    def transform(self, exprs: Sequence[Expr]) -> npt.NDArray[np.float64]:
        """One feature row per expression."""
        return self.transform_signed(exprs)[0]

    def transform_signed(self, exprs: Sequence[Expr]) -> tuple[_F64, _F64]:
        """Feature rows and each expression's signature: its positions on the reference rows,
        centred and scaled to unit norm, so the dot product of two signatures is their
        correlation (a flat or undefined position series gives the zero vector)."""
        rows, sigs = [], []
        for e in exprs:
            pos = evaluate(e, self.ref)
            rows.append([*self._structure(e), *self._phenotype(pos)])
            sigs.append(_signature(pos))
        width = self.ref.height
        x = np.array(rows, dtype=float).reshape(len(rows), len(self.names))
        return x, np.array(sigs, dtype=float).reshape(len(sigs), width)

    def _structure(self, e: Expr) -> list[float]:
        ops = dict.fromkeys(_OPS, 0)
        terms = [0.0] * len(self.terms)
        wins: list[int] = []
        consts = 0

        def walk(n: Expr) -> None:
            nonlocal consts
            if isinstance(n, Const):
                consts += 1
                return
            term = _as_term(n)
            if term is not None:
                if term in self._term_index:
                    terms[self._term_index[term]] += 1
                return
            assert isinstance(n, Call)
            ops[n.op] += 1
            if n.k is not None:
                wins.append(n.k)
            for a in n.args:
                walk(a)

        walk(e)
        w = wins or [0]
        head = [size(e), depth(e), warmup(e), consts, min(w), max(w), sum(w) / len(w)]
        return [*map(float, head), *map(float, ops.values()), *terms]

    def _phenotype(self, pos: npt.NDArray[np.float64]) -> list[float]:
        ok = np.isfinite(pos)
        nan_share = 1.0 - ok.mean()
        if ok.sum() < 10:
            return [0.0, 0.0, 0.0, 0.0, nan_share, 0.0, 0.0, 0.0]
        p = np.where(ok, pos, 0.0)
        turn = float(np.abs(np.diff(p)).mean())
        both = ok & np.isfinite(self.ref_fwd)
        ic = _corr(pos[both], self.ref_fwd[both])
        gross = float(np.nanmean(p[:-1] * np.nan_to_num(self.ref_fwd[1:])))
        long_share, short_share = float((p > 0.05).mean()), float((p < -0.05).mean())
        proxy = gross - self.cost * turn
        level, spread = float(p.mean()), float(p.std())
        return [level, spread, long_share, short_share, nan_share, turn, ic, proxy]


def _as_term(n: Expr) -> Term | None:
    if isinstance(n, Col):
        return Term(n.name, 0)
    if isinstance(n, Call) and n.op == "lag" and isinstance(n.args[0], Col) and n.k is not None:
        return Term(n.args[0].name, n.k)
    return None


def _signature(pos: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    p = np.where(np.isfinite(pos), pos, 0.0)
    p = p - p.mean()
    norm = float(np.linalg.norm(p))
    return p / norm if norm > 1e-12 else np.zeros_like(p)


def _corr(a: npt.NDArray[np.float64], b: npt.NDArray[np.float64]) -> float:
    if a.size < 3 or a.std() == 0.0 or b.std() == 0.0:
        return 0.0
    return float(np.corrcoef(a, b)[0, 1])


def spearman(a: npt.ArrayLike, b: npt.ArrayLike) -> float:
    """Spearman rank correlation (average ranks for ties); NaN when undefined."""
    x = pl.Series(np.asarray(a, dtype=float)).rank("average").to_numpy()
    y = pl.Series(np.asarray(b, dtype=float)).rank("average").to_numpy()
    if x.size < 3 or x.std() == 0.0 or y.std() == 0.0:
        return math.nan
    return float(np.corrcoef(x, y)[0, 1])


def _phenotype_key(row: npt.NDArray[np.float64]) -> tuple[float, ...]:
    # Rows come from `Vectorizer.transform`: the phenotype is the last len(PHENO) columns.
    return tuple(np.round(row[-len(PHENO) :], 9).tolist())


def quantiles(y: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Each value's average rank scaled to [0, 1] (0 the lowest); ties share a rank."""
    if y.size < 2:
        return np.zeros(y.size)
    r = pl.Series(y).rank("average").to_numpy().astype(np.float64)
    return (r - 1.0) / (y.size - 1)


class Surrogate:
    """A LightGBM regressor of fitness quantile from expression features, refit on all seen.

    It learns each example's rank among everything seen (0 worst, 1 best), not the raw score:
    screening only needs the order, and raw scores have a tail of huge negative values
    (turnover penalties of -30 to -170) that a squared loss spends its splits on, leaving the
    top, where screening decides, poorly resolved. `members` models on different row
    subsamples give a spread; `optimistic` ranks by mean + `kappa` x spread (an upper
    confidence bound), so offspring unlike anything seen are not screened out as if known.

    With signatures (`Vectorizer.transform_signed`), each row also gets neighbour features:
    how close its positions are to the `neighbours` most correlated evaluated individuals and
    their fitness quantiles (phenotypic nearest neighbours, the strongest cheap predictor of a
    GP offspring's fitness).
    """

    def __init__(
        self, seed: int, min_train: int = 40, trees: int = 150, ranks: bool = True,
        members: int = 4, kappa: float = 1.0, novelty: bool = True, neighbours: int = 5,
    ) -> None:  # fmt: skip
        if members < 1 or kappa < 0.0 or neighbours < 1:
            raise ValueError("need members >= 1, kappa >= 0 and neighbours >= 1")
        self.seed, self.min_train, self.trees, self.ranks = seed, min_train, trees, ranks
        self.members, self.kappa, self.novelty = members, kappa, novelty
        self._phenotypes: set[tuple[float, ...]] = set()
        self._x: list[npt.NDArray[np.float64]] = []
        self._y: list[float] = []
        self._signed: bool | None = None
        self._near = Neighbours(neighbours)
        self._quantile = np.zeros(0)
        self._models: list[object] = []

    @property
    def seen(self) -> int:
        """Fully evaluated individuals the surrogate has learned from."""
        return len(self._y)

    @property
    def ready(self) -> bool:
        """True once it has enough examples and has been fit."""
        return bool(self._models)

    def add(self, x: _F64, y: Sequence[float], sig: _F64 | None = None) -> None:
        """Learn from one batch of fully evaluated individuals (non-finite scores skipped);
        `sig` (their signatures) must be given with every batch or with none."""
        if self._signed is not None and self._signed != (sig is not None):
            raise ValueError("give signatures with every batch or with none")
        self._signed = sig is not None
        keep = [i for i, v in enumerate(y) if math.isfinite(v)]
        for i in keep:
            self._x.append(x[i])
            self._y.append(float(y[i]))
        for row in x:
            self._phenotypes.add(_phenotype_key(row))
        if sig is not None and keep:
            self._near.add(np.asarray(sig, dtype=np.float64)[keep])

    def fit(self) -> bool:
        """Refit on everything seen; False while there are too few examples."""
        if self.seen < self.min_train:
            return False
        from lightgbm import LGBMRegressor

        y = np.asarray(self._y)
        self._quantile = quantiles(y)
        x = self._inputs(np.vstack(self._x), *self._near.stored())
        target = self._quantile if self.ranks else y
        models: list[object] = []
        for m in range(self.members):
            model = LGBMRegressor(
                n_estimators=self.trees, learning_rate=0.05, num_leaves=15, min_child_samples=5,
                subsample=0.8, subsample_freq=1, colsample_bytree=0.8,
                random_state=self.seed * 1009 + m, deterministic=True, force_row_wise=True,
                n_jobs=1, verbose=-1,
            )  # fmt: skip
            model.fit(x, target)
            models.append(model)
        self._models = models
        return True

    def _inputs(self, x: _F64, sim: npt.NDArray[np.float64], idx: npt.NDArray[np.int64]) -> _F64:
        if not self._signed:
            return x
        return np.hstack([x, neighbour_features(sim, idx, self._quantile)])

    def _each(self, x: _F64, sig: _F64 | None) -> _F64:
        if not self._models:
            raise RuntimeError("the surrogate has not been fit yet")
        if self._signed and sig is None:
            raise ValueError("this surrogate learned from signatures: pass them to predict")
        if self._signed:
            x = self._inputs(x, *self._near.query(np.asarray(sig, dtype=np.float64)))
        return np.array([m.predict(x) for m in self._models], dtype=np.float64)  # type: ignore[attr-defined]

    def predict(self, x: _F64, sig: _F64 | None = None) -> _F64:
        """Predicted fitness quantile (raw fitness with `ranks=False`) per row; needs `ready`."""
        return np.asarray(self._each(x, sig).mean(axis=0))

    def distance(self, sig: _F64) -> _F64:
        """1 - the highest correlation with an evaluated individual's positions, per row;
        0 for a flat position series (its score is all but known) and 1 before any data."""
        sig = np.atleast_2d(np.asarray(sig, dtype=np.float64))
        sim, _ = self._near.query(sig)
        closest = np.where(np.isfinite(sim[:, 0]), sim[:, 0], 0.0)
        flat = np.linalg.norm(sig, axis=1) == 0.0
        return np.where(flat, 0.0, 1.0 - closest)

    def optimistic(self, x: _F64, sig: _F64 | None = None) -> tuple[_F64, _F64]:
        """(mean prediction, mean + kappa x spread across members) per row; needs `ready`."""
        each = self._each(x, sig)
        mean = each.mean(axis=0)
        bound = mean + self.kappa * each.std(axis=0)
        if self.novelty:
            # Same positions on the reference rows as an evaluated individual: its score is
            # all but known, so a full evaluation would teach nothing; rank it last.
            seen = np.array([_phenotype_key(r) in self._phenotypes for r in x], dtype=bool)
            bound = np.where(seen, -np.inf, bound)
        return mean, bound


def screen(
    predicted: npt.NDArray[np.float64], keep: float, explore: float, rng: random.Random,
    distance: npt.NDArray[np.float64] | None = None,
) -> list[int]:  # fmt: skip
    """Indices to evaluate fully: the top `keep` share by prediction plus an `explore` share
    drawn from the rest (so the surrogate keeps learning where it is unsure): uniformly, or
    with `distance` (each row's phenotypic distance to the nearest evaluated individual) with
    chances in proportion to it, so exploration goes where the surrogate has no data."""
    n = predicted.size
    n_top = max(1, math.ceil(keep * n))
    order = np.argsort(-predicted, kind="stable")
    top = [int(i) for i in order[:n_top]]
    rest = [int(i) for i in order[n_top:]]
    n_explore = min(len(rest), math.ceil(explore * n))
    if distance is None:
        return sorted(top + rng.sample(rest, n_explore))
    # Weighted sampling without replacement (Efraimidis-Spirakis keys u ** (1 / w)), seeded.
    keys = [rng.random() ** (1.0 / max(float(distance[i]), 1e-6)) for i in rest]
    picks = sorted(range(len(rest)), key=lambda j: -keys[j])[:n_explore]
    return sorted(top + [rest[j] for j in picks])
