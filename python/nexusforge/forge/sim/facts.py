"""Stylized facts of a market: pure functions on numpy arrays, the same for real and simulated data.

Each function takes plain arrays (returns, signs, top-of-book samples) and returns a number or a
small frozen fit; none reads files or runs the simulator. Undefined statistics (too few points,
no variance) are NaN, never an exception, so one thin seed does not sink a fidelity report; input
of the wrong shape raises `DataError`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from nexusforge.errors import DataError

FloatArray = npt.NDArray[np.float64]
Array = npt.ArrayLike


def _finite_1d(name: str, values: Array) -> FloatArray:
    """`values` as a 1-D float array with non-finite entries dropped."""
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim != 1:
        raise DataError(f"{name} must be 1-D, got shape {arr.shape}")
    return arr[np.isfinite(arr)]


def log_returns(prices: Array) -> FloatArray:
    """log(p[t] / p[t-1]) of a positive price series (non-positive prices raise)."""
    p = np.asarray(prices, dtype=np.float64)
    if p.ndim != 1:
        raise DataError(f"prices must be 1-D, got shape {p.shape}")
    if np.any(~(p > 0)):
        raise DataError("prices must be finite and > 0")
    return np.diff(np.log(p))


# ---- heavy tails ----


def hill_tail_index(values: Array, fraction: float) -> float:
    """Hill estimator of the tail index of |values| from the top `fraction` of the sample."""
    if not 0 < fraction < 0.5:
        raise DataError(f"fraction must be in (0, 0.5), got {fraction}")
    x = np.sort(np.abs(_finite_1d("values", values)))[::-1]
    x = x[x > 0]
    k = math.floor(fraction * len(x))
    if k < 2 or k >= len(x):
        return math.nan
    logs = np.log(x[:k]) - math.log(x[k])
    mean = float(logs.mean())
    return 1.0 / mean if mean > 0 else math.nan


def hill_tail_index_band(values: Array, lo: float = 0.025, hi: float = 0.05) -> float:
    """Mean Hill estimate over every tail size k from `lo`·n to `hi`·n (a flat Hill-plot band)."""
    x = np.sort(np.abs(_finite_1d("values", values)))[::-1]
    x = x[x > 0]
    k_lo, k_hi = math.floor(lo * len(x)), math.floor(hi * len(x))
    if k_lo < 2 or k_hi >= len(x):
        return math.nan
    logs = np.log(x[: k_hi + 1])
    ks = np.arange(k_lo, k_hi + 1)
    # Mean of the top-k logs minus log x[k], for all k at once via a cumulative sum.
    top_mean = np.cumsum(logs)[ks - 1] / ks
    gaps = top_mean - logs[ks]
    return float(np.mean(1.0 / gaps[gaps > 0])) if np.any(gaps > 0) else math.nan


def excess_kurtosis(values: Array) -> float:
    """Sample excess kurtosis m4 / m2² − 3 (0 for a normal law)."""
    x = _finite_1d("values", values)
    if len(x) < 4:
        return math.nan
    d = x - x.mean()
    m2 = float(np.mean(d * d))
    return float(np.mean(d**4)) / (m2 * m2) - 3.0 if m2 > 0 else math.nan


# ---- autocorrelation ----


def autocorrelation(values: Array, max_lag: int) -> FloatArray:
    """Sample autocorrelation at lags 1..max_lag (biased estimator, FFT); NaN when constant."""
    if max_lag < 1:
        raise DataError(f"max_lag must be >= 1, got {max_lag}")
    x = _finite_1d("values", values)
    n = len(x)
    out = np.full(max_lag, np.nan)
    if n < 2:
        return out
    d = x - x.mean()
    size = 1 << math.ceil(math.log2(2 * n))
    spec = np.fft.rfft(d, size)
    acov = np.fft.irfft(spec * np.conj(spec), size)[: min(max_lag, n - 1) + 1]
    if acov[0] <= 0:
        return out
    out[: len(acov) - 1] = acov[1:] / acov[0]
    return out


@dataclass(frozen=True, slots=True)
class PowerLawFit:
    """y ≈ prefactor · x^(−exponent), fitted by least squares in log-log over `points` points."""

    exponent: float
    prefactor: float
    r2: float
    points: int


def power_law_decay(lags: Array, acf: Array, min_points: int = 5) -> PowerLawFit:
    """Fit acf ≈ c·lag^(−exponent) on the lags where the ACF is positive."""
    x = np.asarray(lags, dtype=np.float64)
    y = np.asarray(acf, dtype=np.float64)
    if x.shape != y.shape or x.ndim != 1:
        raise DataError(f"lags and acf must be 1-D of one length, got {x.shape} and {y.shape}")
    keep = np.isfinite(y) & (y > 0) & (x > 0)
    if int(keep.sum()) < min_points:
        return PowerLawFit(math.nan, math.nan, math.nan, int(keep.sum()))
    slope, intercept, r2 = _ols(np.log(x[keep]), np.log(y[keep]))
    return PowerLawFit(-slope, math.exp(intercept), r2, int(keep.sum()))


def _ols(x: FloatArray, y: FloatArray) -> tuple[float, float, float]:
    """Slope, intercept and R² of y on x."""
    xm, ym = x.mean(), y.mean()
    sxx = float(np.sum((x - xm) ** 2))
    syy = float(np.sum((y - ym) ** 2))
    if sxx <= 0:
        return math.nan, math.nan, math.nan
    slope = float(np.sum((x - xm) * (y - ym))) / sxx
    intercept = float(ym - slope * xm)
    r2 = 1.0 - float(np.sum((y - intercept - slope * x) ** 2)) / syy if syy > 0 else math.nan
    return slope, intercept, r2


def log_spaced_lags(max_lag: int, count: int = 40) -> npt.NDArray[np.int64]:
    """Distinct integer lags 1..max_lag spaced evenly in log, so long lags do not dominate a fit."""
    return np.unique(np.round(np.geomspace(1, max_lag, count)).astype(np.int64))


def acf_power_law(
    values: Array, max_lag: int, min_lag: int = 1, min_share: float = 0.0
) -> PowerLawFit:
    """Power-law decay exponent of the ACF of `values` over lags min_lag..max_lag (log-spaced).

    With `min_share`, the fit is NaN unless at least that share of the lags has a positive ACF:
    a "decay" fitted on the few lags where noise happens to be positive is no power law.
    """
    acf = autocorrelation(values, max_lag)
    lags = log_spaced_lags(max_lag)
    lags = lags[lags >= min_lag]
    fit = power_law_decay(lags, acf[lags - 1])
    if fit.points < min_share * len(lags):
        return PowerLawFit(math.nan, math.nan, math.nan, fit.points)
    return fit


def return_acf_inside_share(returns: Array, lags: tuple[int, int] = (2, 20)) -> float:
    """Share of lags in [lo, hi] whose return ACF lies within ±2/√T (0.95 expected for iid)."""
    lo, hi = lags
    if not 1 <= lo <= hi:
        raise DataError(f"lags must satisfy 1 <= lo <= hi, got {lags}")
    r = _finite_1d("returns", returns)
    if len(r) <= hi + 1:
        return math.nan
    acf = autocorrelation(r, hi)[lo - 1 :]
    if np.any(np.isnan(acf)):
        return math.nan
    return float(np.mean(np.abs(acf) <= 2.0 / math.sqrt(len(r))))


def abs_return_acf_min(returns: Array, max_lag: int = 120) -> float:
    """Smallest ACF of |r| over lags 1..max_lag (> 0 means volatility clusters at every lag)."""
    r = _finite_1d("returns", returns)
    if len(r) <= 2 * max_lag:
        return math.nan
    return float(np.min(autocorrelation(np.abs(r), max_lag)))


# ---- impact and order flow ----


@dataclass(frozen=True, slots=True)
class ImpactFit:
    """I/σ ≈ Y·(Q/V)^exponent fitted in log-log over meta-orders spanning `decades` of Q/V."""

    exponent: float
    prefactor: float
    r2: float
    decades: float
    points: int


def impact_law(q_over_v: Array, impact_over_sigma: Array, bins: int = 12) -> ImpactFit:
    """Fit the meta-order impact law on (Q/V, I/σ) pairs, averaging I/σ in log-spaced Q/V bins.

    Impacts are signed in the direction of the meta-order; averaging both coordinates within bins
    first keeps the fit on the mean impact (what the square-root law states), and only bins with
    a positive mean enter the log-log fit.
    """
    q = np.asarray(q_over_v, dtype=np.float64)
    i = np.asarray(impact_over_sigma, dtype=np.float64)
    if q.shape != i.shape or q.ndim != 1:
        raise DataError(f"Q/V and I/σ must be 1-D of one length, got {q.shape} and {i.shape}")
    ok = np.isfinite(q) & np.isfinite(i) & (q > 0)
    q, i = q[ok], i[ok]
    if len(q) < 3:
        return ImpactFit(math.nan, math.nan, math.nan, 0.0, len(q))
    decades = float(math.log10(q.max() / q.min()))
    edges = np.geomspace(q.min(), q.max() * (1 + 1e-12), bins + 1)
    which = np.clip(np.searchsorted(edges, q, side="right") - 1, 0, bins - 1)
    xs, ys = [], []
    for b in range(bins):
        sel = which == b
        if sel.any() and i[sel].mean() > 0:
            xs.append(float(q[sel].mean()))
            ys.append(float(i[sel].mean()))
    if len(xs) < 3:
        return ImpactFit(math.nan, math.nan, math.nan, decades, len(q))
    slope, intercept, r2 = _ols(np.log(np.asarray(xs)), np.log(np.asarray(ys)))
    return ImpactFit(slope, math.exp(intercept), r2, decades, len(q))


def order_flow_imbalance(
    bid_px: Array, bid_qty: Array, ask_px: Array, ask_qty: Array
) -> FloatArray:
    """Per-update order-flow imbalance e[t] of Cont, Kukanov & Stoikov (2014); e[0] = 0.

    Bid side adds the new bid size when the bid rises or stays, and removes the old size when it
    falls or stays; the ask side mirrors it with the opposite sign.
    """
    b, bq, a, aq = (np.asarray(v, dtype=np.float64) for v in (bid_px, bid_qty, ask_px, ask_qty))
    if not (b.shape == bq.shape == a.shape == aq.shape) or b.ndim != 1:
        raise DataError("top-of-book arrays must be 1-D of one length")
    e = np.zeros(len(b))
    if len(b) < 2:
        return e
    bid_in = np.where(b[1:] >= b[:-1], bq[1:], 0.0)
    bid_out = np.where(b[1:] <= b[:-1], bq[:-1], 0.0)
    ask_in = np.where(a[1:] <= a[:-1], aq[1:], 0.0)
    ask_out = np.where(a[1:] >= a[:-1], aq[:-1], 0.0)
    e[1:] = bid_in - bid_out - ask_in + ask_out
    return e


def bucket_sums(ts: Array, values: Array, bucket: int) -> tuple[FloatArray, FloatArray]:
    """Sum `values` per time bucket of width `bucket` (same unit as ts); (bucket start, sum)."""
    t = np.asarray(ts, dtype=np.int64)
    v = np.asarray(values, dtype=np.float64)
    if t.shape != v.shape or t.ndim != 1:
        raise DataError("ts and values must be 1-D of one length")
    if bucket <= 0:
        raise DataError(f"bucket must be > 0, got {bucket}")
    if len(t) == 0:
        return np.zeros(0), np.zeros(0)
    key = t // bucket
    start, idx = np.unique(key, return_inverse=True)
    return (start * bucket).astype(np.float64), np.bincount(idx, weights=v).astype(np.float64)


@dataclass(frozen=True, slots=True)
class LinearFit:
    """y ≈ intercept + slope·x with its R²."""

    slope: float
    intercept: float
    r2: float
    points: int


def ofi_regression(ofi: Array, price_change: Array) -> LinearFit:
    """Regress the mid-price change on the order-flow imbalance of the same intervals."""
    x = np.asarray(ofi, dtype=np.float64)
    y = np.asarray(price_change, dtype=np.float64)
    if x.shape != y.shape or x.ndim != 1:
        raise DataError(f"ofi and price_change must be 1-D of one length: {x.shape}, {y.shape}")
    ok = np.isfinite(x) & np.isfinite(y)
    if int(ok.sum()) < 3:
        return LinearFit(math.nan, math.nan, math.nan, int(ok.sum()))
    slope, intercept, r2 = _ols(x[ok], y[ok])
    return LinearFit(slope, intercept, r2, int(ok.sum()))


def taker_orders(key: Array, sign: Array, qty: Array) -> tuple[FloatArray, FloatArray]:
    """Merge consecutive prints with one key (timestamp or taker order id) and one aggressor
    side into one taker order; returns (sign, total qty) per order.

    A market order that walks several makers prints one trade per maker; its sign counted once
    per print would inflate the short-lag sign autocorrelation.
    """
    t = np.asarray(key, dtype=np.int64)
    s = np.asarray(sign, dtype=np.float64)
    q = np.asarray(qty, dtype=np.float64)
    if not (t.shape == s.shape == q.shape) or t.ndim != 1:
        raise DataError("key, sign and qty must be 1-D of one length")
    if len(t) == 0:
        return np.zeros(0), np.zeros(0)
    new = np.ones(len(t), dtype=bool)
    new[1:] = (t[1:] != t[:-1]) | (s[1:] != s[:-1])
    order = np.cumsum(new) - 1
    return s[new], np.bincount(order, weights=q).astype(np.float64)


# ---- distributions ----


def ks_distance(a: Array, b: Array) -> float:
    """Two-sample Kolmogorov–Smirnov distance sup |F_a − F_b| (ties handled exactly)."""
    x = np.sort(_finite_1d("a", a))
    y = np.sort(_finite_1d("b", b))
    if len(x) == 0 or len(y) == 0:
        return math.nan
    grid = np.concatenate([x, y])
    fx = np.searchsorted(x, grid, side="right") / len(x)
    fy = np.searchsorted(y, grid, side="right") / len(y)
    return float(np.max(np.abs(fx - fy)))


# ---- the observations a fidelity check needs, from one market ----


@dataclass(frozen=True)
class MarketSample:
    """What the stylized facts are computed on, from one real or simulated market.

    `ofi` and `mid_change` are per interval (same length); spread is in ticks and depth is the
    mean of bid and ask quantity at the touch, in base units; `sources` names where each came from.
    """

    returns_1m: FloatArray
    trade_qty: FloatArray
    trade_sign: FloatArray
    spread_ticks: FloatArray
    top_depth: FloatArray
    ofi: FloatArray
    mid_change: FloatArray
    sources: dict[str, str]
