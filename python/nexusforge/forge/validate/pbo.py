"""Probability of Backtest Overfitting by combinatorially symmetric cross-validation (CSCV;
Bailey, Borwein, López de Prado and Zhu, 2017).

The (period × strategy) return matrix is cut into S even blocks of consecutive rows. For each
of the C(S, S/2) ways to pick half the blocks as in-sample (the rest out-of-sample), the
strategy with the best in-sample Sharpe is found and its out-of-sample rank among all
strategies taken as omega = rank / (N + 1) (rank 1 = worst); the logit is log(omega / (1 -
omega)). PBO is the share of splits whose logit is <= 0: the in-sample winner did no better
than the out-of-sample median.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import stats  # type: ignore[import-untyped]

MAX_SPLITS = 12_870  # C(16, 8)
FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class PboResult:
    """PBO, the logits of every split, and the IS vs OOS Sharpe of each split's winner."""

    pbo: float
    logits: npt.NDArray[np.float64]
    is_sharpe: npt.NDArray[np.float64]
    oos_sharpe: npt.NDArray[np.float64]
    blocks: int
    strategies: int

    @property
    def prob_oos_loss(self) -> float:
        """Share of splits where the in-sample winner lost money out of sample."""
        return float(np.mean(self.oos_sharpe < 0.0))

    @property
    def degradation_slope(self) -> float:
        """Slope of OOS on IS Sharpe of the winners (negative: the more IS, the less OOS)."""
        if np.ptp(self.is_sharpe) == 0.0:
            return math.nan
        return float(np.polyfit(self.is_sharpe, self.oos_sharpe, 1)[0])


def _split_sharpes(
    sums: FloatArray, squares: FloatArray, mask: FloatArray, rows: int
) -> FloatArray:
    """Sharpe of every strategy over the blocks picked by each row of `mask` (split ×
    block), from per-block sums and sums of squares; no variance -> 0."""
    total, sq = mask @ sums, mask @ squares
    mean = total / rows
    var = (sq - rows * mean**2) / (rows - 1)
    # Cancellation leaves a constant column a variance of ~1e-16 of its square, not 0.
    flat = var <= 1e-12 * sq / rows
    sd = np.sqrt(np.where(flat, 1.0, var))
    return np.asarray(np.where(flat, 0.0, mean / sd))


def pbo(returns: npt.ArrayLike, blocks: int = 16) -> PboResult:
    """CSCV over a (period × strategy) matrix of per-period returns with `blocks` even blocks."""
    m = np.asarray(returns, dtype=np.float64)
    if m.ndim != 2 or m.shape[1] < 2:
        raise ValueError(f"returns must be (periods, strategies>=2), got shape {m.shape}")
    if blocks < 2 or blocks % 2 or math.comb(blocks, blocks // 2) > MAX_SPLITS:
        raise ValueError("blocks must be even, >= 2 and at most 16")
    size = m.shape[0] // blocks
    if size < 2:
        raise ValueError(f"{m.shape[0]} periods cannot fill {blocks} blocks of >= 2 rows")
    n = m.shape[1]
    # Drop the remainder so blocks are even; per-block sums make every split a matrix product.
    parts = np.nan_to_num(m[: size * blocks], nan=0.0).reshape(blocks, size, n)
    sums, squares = parts.sum(axis=1), (parts**2).sum(axis=1)
    mask = np.zeros((math.comb(blocks, blocks // 2), blocks))
    for i, chosen in enumerate(itertools.combinations(range(blocks), blocks // 2)):
        mask[i, list(chosen)] = 1.0
    half = size * blocks // 2
    sr_is = _split_sharpes(sums, squares, mask, half)
    sr_oos = _split_sharpes(sums, squares, 1.0 - mask, half)
    best = np.argmax(sr_is, axis=1)
    pick = np.arange(mask.shape[0])
    # Ties share the average rank, so a constant column never looks like a winner.
    omega = stats.rankdata(sr_oos, axis=1)[pick, best] / (n + 1)
    logits = np.log(omega / (1.0 - omega))
    return PboResult(float(np.mean(logits <= 0.0)), logits, sr_is[pick, best],
                     sr_oos[pick, best], blocks, n)  # fmt: skip
