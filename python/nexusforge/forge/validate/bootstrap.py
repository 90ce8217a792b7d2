"""Monte Carlo resampling of a strategy's per-bar returns: stationary (Politis & Romano 1994)
and circular block bootstraps, and trade-order shuffles, giving distributions of the Sharpe
ratio, the maximum drawdown and the probability of ruin.

Block resampling keeps the serial dependence inside each block; trade-order shuffles keep
every trade's return and only change their order, so they move the drawdown, never the end.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import partial

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
CHUNK_VALUES = 2_000_000  # resampled values held at once (16 MB)
SCHEMES = ("stationary", "circular", "trades")


def stationary_indices(n: int, mean_block: float, rng: np.random.Generator) -> npt.NDArray[np.intp]:
    """Indices of one stationary-bootstrap path: blocks of geometric length (mean
    `mean_block`) starting at uniform positions, wrapping around the end."""
    if n < 1 or mean_block < 1.0:
        raise ValueError("n must be >= 1 and mean_block >= 1")
    restart = rng.random(n) < 1.0 / mean_block
    restart[0] = True
    starts = rng.integers(0, n, size=n)
    # Position t continues the block begun at the last restart s: index = start_s + (t - s).
    last = np.maximum.accumulate(np.where(restart, np.arange(n), 0))
    return np.asarray((starts[last] + np.arange(n) - last) % n, dtype=np.intp)


def circular_indices(n: int, block: int, rng: np.random.Generator) -> npt.NDArray[np.intp]:
    """Indices of one circular block bootstrap path: fixed-length blocks, wrapping around."""
    if n < 1 or block < 1:
        raise ValueError("n and block must be >= 1")
    k = -(-n // block)
    starts = rng.integers(0, n, size=k)
    idx = (starts[:, None] + np.arange(block)[None, :]) % n
    return np.asarray(idx.ravel()[:n], dtype=np.intp)


def trade_returns(returns: npt.ArrayLike, position: npt.ArrayLike) -> FloatArray:
    """Compounded return of each trade (a run of bars with one position sign) and of each
    flat stretch; their product equals the whole path's."""
    r = np.asarray(returns, dtype=np.float64)
    side = np.sign(np.nan_to_num(np.asarray(position, dtype=np.float64)))
    if r.shape != side.shape:
        raise ValueError("returns and position must have one value per bar")
    if r.size == 0:
        return np.empty(0)
    cut = np.flatnonzero(np.diff(side) != 0) + 1
    return np.array([np.prod(1.0 + seg) - 1.0 for seg in np.split(r, cut)])


def max_drawdown(returns: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Maximum peak-to-trough loss (a fraction) of each row of compounded returns."""
    eq = np.cumprod(1.0 + np.atleast_2d(returns), axis=1)
    peak = np.maximum.accumulate(np.maximum(eq, 1.0), axis=1)
    return np.asarray((1.0 - eq / peak).max(axis=1))


def sharpe(returns: npt.NDArray[np.float64], periods_per_year: float) -> npt.NDArray[np.float64]:
    """Annualised Sharpe of each row (0 where a row has no variance)."""
    r = np.atleast_2d(returns)
    sd = r.std(axis=1, ddof=1)
    safe = np.where(sd > 0.0, sd, 1.0)
    return np.asarray(np.where(sd > 0.0, r.mean(axis=1) / safe, 0.0) * np.sqrt(periods_per_year))


@dataclass(frozen=True)
class MonteCarlo:
    """Resampled paths' Sharpe, max drawdown and ruin flags, with the observed values."""

    scheme: str
    sharpe: FloatArray
    max_drawdown: FloatArray
    ruined: npt.NDArray[np.bool_]
    observed_sharpe: float
    observed_drawdown: float

    @property
    def ruin_probability(self) -> float:
        """Share of paths whose equity fell to the ruin level."""
        return float(self.ruined.mean())

    def summary(self) -> dict[str, float]:
        """Quantiles of the distributions and the ruin probability, for reports and files."""
        q = (0.05, 0.5, 0.95)
        sr, dd = np.quantile(self.sharpe, q), np.quantile(self.max_drawdown, q)
        return {
            "sharpe_p05": float(sr[0]), "sharpe_p50": float(sr[1]), "sharpe_p95": float(sr[2]),
            "drawdown_p05": float(dd[0]), "drawdown_p50": float(dd[1]),
            "drawdown_p95": float(dd[2]), "ruin_probability": self.ruin_probability,
            "prob_sharpe_le_0": float(np.mean(self.sharpe <= 0.0)),
        }  # fmt: skip


def monte_carlo(
    returns: npt.ArrayLike,
    *,
    periods_per_year: float,
    scheme: str = "stationary",
    paths: int = 1000,
    block: float = 50.0,
    ruin_drawdown: float = 0.5,
    position: npt.ArrayLike | None = None,
    seed: int = 0,
) -> MonteCarlo:
    """Resample `returns` `paths` times; ruin = a drawdown of at least `ruin_drawdown`.
    The "trades" scheme needs `position` (per bar) to cut the path into trades."""
    r = np.asarray(returns, dtype=np.float64)
    r = np.nan_to_num(r, nan=0.0)
    if scheme not in SCHEMES:
        raise ValueError(f"scheme must be one of {SCHEMES}")
    if r.size < 2 or paths < 1 or not 0.0 < ruin_drawdown <= 1.0:
        raise ValueError("need >= 2 returns, paths >= 1 and ruin_drawdown in (0, 1]")
    rng = np.random.default_rng(seed)
    if scheme == "trades":
        if position is None:
            raise ValueError("the trades scheme needs the position per bar")
        # Annualise with the trades' own rate, so the Sharpe stays comparable to the bars'.
        tr = trade_returns(r, position)
        sims = (rng.permutation(tr) for _ in range(paths))
        ppy = periods_per_year * tr.size / r.size
    else:
        pick = (
            partial(stationary_indices, mean_block=float(block))
            if scheme == "stationary"
            else partial(circular_indices, block=max(1, round(block)))
        )
        sims = (r[pick(r.size, rng=rng)] for _ in range(paths))
        ppy = periods_per_year
    srs, dds = [], []
    # Paths in chunks: a 1000-path matrix of a year of 5 m bars would be ~1 GB of float64.
    for chunk in _chunks(sims, max(1, CHUNK_VALUES // max(r.size, 1))):
        srs.append(sharpe(chunk, ppy))
        dds.append(max_drawdown(chunk))
    dd = np.concatenate(dds)
    return MonteCarlo(scheme, np.concatenate(srs), dd, dd >= ruin_drawdown,
                      float(sharpe(r, periods_per_year)[0]), float(max_drawdown(r)[0]))  # fmt: skip


def _chunks(rows: Iterable[FloatArray], size: int) -> Iterator[FloatArray]:
    """Consecutive rows stacked `size` at a time (the last chunk may be shorter)."""
    batch: list[FloatArray] = []
    for row in rows:
        batch.append(row)
        if len(batch) == size:
            yield np.stack(batch)
            batch = []
    if batch:
        yield np.stack(batch)
