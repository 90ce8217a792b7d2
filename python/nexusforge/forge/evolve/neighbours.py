"""Nearest evaluated individuals in phenotype space, for the surrogate's neighbour features.

A signature is an expression's positions on the reference rows, centred and scaled to unit
norm, so a dot product is a correlation. Every stored individual keeps its `k` most correlated
other stored individuals (leave-one-out), updated as batches arrive, so a training row's
neighbours mean the same as a new offspring's: the closest evaluated individuals other than
itself. Each batch costs one (batch x stored) product.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

_F64 = npt.NDArray[np.float64]
_I64 = npt.NDArray[np.int64]
WIDTH = 4  # columns `features` returns


class Neighbours:
    """The `k` most correlated stored signatures of every stored and every queried row."""

    def __init__(self, k: int) -> None:
        if k < 1:
            raise ValueError("need k >= 1 neighbours")
        self.k = k
        self._sig: _F64 | None = None
        self._sim = np.empty((0, k))
        self._idx = np.empty((0, k), dtype=np.int64)

    def __len__(self) -> int:
        return 0 if self._sig is None else int(self._sig.shape[0])

    def add(self, sig: _F64) -> None:
        """Store a batch of signatures; every stored row's neighbour list is refreshed."""
        sig = np.atleast_2d(np.asarray(sig, dtype=np.float64))
        n0, b = len(self), sig.shape[0]
        if self._sig is not None and sig.shape[1] != self._sig.shape[1]:
            raise ValueError("signatures must all have the same length")
        stored = sig if self._sig is None else np.vstack([self._sig, sig])
        cross = sig @ stored.T  # (b, n0 + b)
        cross[np.arange(b), n0 + np.arange(b)] = -np.inf  # a row is not its own neighbour
        new_sim, new_idx = _top(cross, np.arange(n0 + b, dtype=np.int64), self.k)
        if n0:
            old_sim = np.hstack([self._sim, cross[:, :n0].T])
            old_idx = np.hstack([self._idx, np.broadcast_to(n0 + np.arange(b), (n0, b))])
            self._sim, self._idx = _top_rows(old_sim, old_idx, self.k)
        self._sim = np.vstack([self._sim, new_sim])
        self._idx = np.vstack([self._idx, new_idx])
        self._sig = stored

    def stored(self) -> tuple[_F64, _I64]:
        """(similarity, index) of each stored row's neighbours, most similar first."""
        return self._sim, self._idx

    def query(self, sig: _F64) -> tuple[_F64, _I64]:
        """(similarity, index) of the stored rows closest to each queried signature."""
        sig = np.atleast_2d(np.asarray(sig, dtype=np.float64))
        if self._sig is None:
            return _empty(sig.shape[0], self.k)
        return _top(sig @ self._sig.T, np.arange(len(self), dtype=np.int64), self.k)


def features(sim: _F64, idx: _I64, quantile: _F64) -> _F64:
    """Per row: the closest neighbour's similarity and fitness quantile, the best quantile
    among the neighbours and their similarity-weighted mean quantile (0 where none)."""
    ok = idx >= 0
    q = np.where(ok, quantile[np.where(ok, idx, 0)], 0.0)
    w = np.where(ok, np.clip(sim, 0.0, 1.0), 0.0)
    total = w.sum(axis=1)
    wmean = np.divide((w * q).sum(axis=1), total, out=np.zeros_like(total), where=total > 0)
    first = np.where(ok[:, 0], sim[:, 0], 0.0)
    return np.column_stack([first, q[:, 0], q.max(axis=1), wmean])


def _top(sims: _F64, cols: _I64, k: int) -> tuple[_F64, _I64]:
    return _top_rows(sims, np.broadcast_to(cols, sims.shape), k)


def _top_rows(sims: _F64, idx: npt.NDArray[np.int64], k: int) -> tuple[_F64, _I64]:
    # Stable sort on -similarity: ties go to the earlier-stored row, so results are seeded.
    order = np.argsort(-sims, axis=1, kind="stable")[:, :k]
    sim = np.take_along_axis(sims, order, axis=1)
    top = np.take_along_axis(np.asarray(idx), order, axis=1).astype(np.int64)
    pad = k - sim.shape[1]
    if pad > 0:
        sim = np.hstack([sim, np.full((sim.shape[0], pad), -np.inf)])
        top = np.hstack([top, np.full((top.shape[0], pad), -1, dtype=np.int64)])
    top = np.where(np.isfinite(sim), top, -1)
    return np.where(np.isfinite(sim), sim, -np.inf), top


def _empty(n: int, k: int) -> tuple[_F64, _I64]:
    return np.full((n, k), -np.inf), np.full((n, k), -1, dtype=np.int64)
