"""Calibrate the square-root impact coefficient from candles (a rough proxy, not a trade study).

Per bar t: y = |log return| / sigma and x = sqrt(volume / mean volume), with sigma and the mean
volume taken over the `window` bars before t (no look-ahead). An OLS fit y = a + eta * x keeps the
intercept `a` for the volatility that comes with no volume, so `eta` is how much extra move a
bar's volume share brings: the square-root law's coefficient if volume were all one metaorder.
Candle volume mixes every trader's flow and returns carry news, so read `eta` as an order of
magnitude for `CostModel.impact_eta`, not a measurement of our own impact.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from nexusforge.errors import DataError

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class ImpactFit:
    """Result of `calibrate_impact`."""

    eta: float  # slope of |r| / sigma on sqrt(volume share)
    intercept: float
    r2: float
    n_used: int
    n_skipped: int  # bars with no history, zero sigma or zero mean volume


def fit_line(x: FloatArray, y: FloatArray) -> tuple[float, float, float]:
    """OLS y = a + b * x: (b, a, r2)."""
    if len(x) != len(y) or len(x) < 3:
        raise DataError(f"need >= 3 matched points, got {len(x)} and {len(y)}")
    xm, ym = float(x.mean()), float(y.mean())
    dx, dy = x - xm, y - ym
    sxx = float(dx @ dx)
    if sxx == 0.0:
        raise DataError("x has no spread; cannot fit a slope")
    b = float(dx @ dy) / sxx
    a = ym - b * xm
    resid = dy - b * dx
    syy = float(dy @ dy)
    r2 = 1.0 - float(resid @ resid) / syy if syy > 0.0 else 1.0
    return b, a, r2


def _trailing_mean(v: FloatArray, window: int) -> FloatArray:
    """Mean of v[t - window : t] for t >= window (so index t sees only the past); NaN before."""
    c = np.concatenate(([0.0], np.cumsum(v)))
    out = np.full(len(v), np.nan)
    out[window:] = (c[window:-1] - c[: len(v) - window]) / window
    return out


def calibrate_impact(close: npt.ArrayLike, volume: npt.ArrayLike, window: int = 288) -> ImpactFit:
    """Fit the impact coefficient from bar closes and base volumes (see the module docstring)."""
    px = np.asarray(close, dtype=np.float64)
    vol = np.asarray(volume, dtype=np.float64)
    if px.ndim != 1 or px.shape != vol.shape:
        raise DataError(
            f"close and volume must be 1-D and equal length, got {px.shape} and {vol.shape}"
        )
    if window < 2 or len(px) < window + 4:
        raise DataError(
            f"need window >= 2 and more than window + 3 bars, got {window} and {len(px)}"
        )
    if not (
        np.isfinite(px).all() and (px > 0).all() and np.isfinite(vol).all() and (vol >= 0).all()
    ):
        raise DataError("close must be finite and > 0, volume finite and >= 0")
    r = np.diff(np.log(px))
    v = vol[1:]
    mean_r = _trailing_mean(r, window)
    sigma = np.sqrt(np.maximum(_trailing_mean(r * r, window) - mean_r * mean_r, 0.0))
    adv = _trailing_mean(v, window)
    ok = np.isfinite(sigma) & (sigma > 0) & np.isfinite(adv) & (adv > 0)
    x = np.sqrt(v[ok] / adv[ok])
    y = np.abs(r[ok]) / sigma[ok]
    eta, intercept, r2 = fit_line(x, y)
    return ImpactFit(eta, intercept, r2, int(ok.sum()), int(len(r) - ok.sum()))


__all__ = ["ImpactFit", "calibrate_impact", "fit_line"]
