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


def _sharpe(block: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    mu = block.mean(axis=0)
    sd = block.std(axis=0, ddof=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.where(sd > 0.0, mu / np.where(sd > 0.0, sd, 1.0), 0.0)
    return np.asarray(out, dtype=np.float64)


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
    m = np.nan_to_num(m[: size * blocks], nan=0.0)  # drop the remainder so blocks are even
    parts = [m[i * size : (i + 1) * size] for i in range(blocks)]
    n = m.shape[1]
    logits, is_best, oos_best = [], [], []
    for chosen in itertools.combinations(range(blocks), blocks // 2):
        rest = [i for i in range(blocks) if i not in chosen]
        sr_is = _sharpe(np.concatenate([parts[i] for i in chosen]))
        sr_oos = _sharpe(np.concatenate([parts[i] for i in rest]))
        best = int(np.argmax(sr_is))
        # Ties share the average rank, so a constant column never looks like a winner.
        omega = stats.rankdata(sr_oos)[best] / (n + 1)
        logits.append(math.log(omega / (1.0 - omega)))
        is_best.append(sr_is[best])
        oos_best.append(sr_oos[best])
    lg = np.asarray(logits)
    return PboResult(float(np.mean(lg <= 0.0)), lg, np.asarray(is_best), np.asarray(oos_best),
                     blocks, n)  # fmt: skip
