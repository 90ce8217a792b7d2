"""Variational Mode Decomposition (VMD) of a price series, and causal features built from it.

`vmd` decomposes one signal the way the reference `vmdpy.VMD` does (same algorithm, same
mirror extension, convergence test and iteration cap; it returns vmdpy's final state, modes and
centre frequencies of the last-but-one iterate). An odd-length signal loses its last sample, as
in vmdpy.

`vmd_features` and `VmdStream` never decompose the whole series: at each anchor t (every
`stride`-th index from the first full window, counted from the start of the series, so appending
data never changes an earlier value) they decompose the trailing window ending at t and record
each mode's value at t and its centre frequency (cycles per sample), modes sorted by centre
frequency ascending. Rows between anchors hold the latest anchor's values; rows before the first
full window are NaN, and so is every row whose window holds a NaN or an infinity. The window
must be even: vmdpy would drop its newest sample otherwise. An all-zero window converges at once
and reports zero modes at the starting centre frequencies, as vmdpy does.

Both faces call the same Rust code on the same window, so they agree to the last bit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from nexusforge import _core
from nexusforge.errors import ConfigError, CoreInputError, DataError

FloatArray = npt.NDArray[np.float64]

# Shortest (even) signal or window decomposed; must equal `MIN_LEN` in rust/src/vmd/mod.rs.
MIN_LEN = 8


@dataclass(frozen=True, slots=True)
class VmdResult:
    """One decomposition: `modes` (k × n), final centre frequencies `omega` (k), update count."""

    modes: FloatArray
    omega: FloatArray
    iterations: int


@dataclass(frozen=True, slots=True)
class VmdFeatureConfig:
    """Settings of the trailing-window VMD features; checked on construction."""

    window: int = 128
    stride: int = 1
    k: int = 3
    alpha: float = 2000.0
    tol: float = 1e-7
    max_iter: int = 500

    def __post_init__(self) -> None:
        _check_params(self.k, self.alpha, 0.0, self.tol, self.max_iter)
        _check_int("stride", self.stride, 1)
        _check_int("window", self.window, min_len(self.k))
        if self.window % 2:
            raise ConfigError(
                "window must be even (vmdpy would drop an odd window's newest sample), "
                f"got {self.window}"
            )

    def names(self) -> list[str]:
        """Feature names, in the order of `vmd_features`' keys."""
        return feature_names(self.k)


def min_len(k: int) -> int:
    """Shortest even signal (or window) that `k` modes can be decomposed from."""
    return max(MIN_LEN, 2 * k)


def feature_names(k: int) -> list[str]:
    """`vmd_mode{i}` then `vmd_freq{i}` for each mode i, slowest first."""
    return [f"vmd_mode{i}" for i in range(k)] + [f"vmd_freq{i}" for i in range(k)]


def vmd(
    signal: npt.ArrayLike,
    k: int = 3,
    alpha: float = 2000.0,
    tau: float = 0.0,
    dc: bool = False,
    init: int = 1,
    tol: float = 1e-7,
    max_iter: int = 500,
) -> VmdResult:
    """Decompose `signal` into `k` modes (vmdpy's `VMD(f, alpha, tau, K, DC, init, tol)`)."""
    _check_params(k, alpha, tau, tol, max_iter)
    if not isinstance(dc, bool):
        raise ConfigError(f"dc must be a bool, got {dc!r}")
    if isinstance(init, bool) or init not in (0, 1):
        raise ConfigError(
            f"init must be 0 (zeros) or 1 (uniform); random init is not supported, got {init!r}"
        )
    x = _as_series(signal, "signal")
    if not np.all(np.isfinite(x)):
        raise DataError("signal holds NaN or infinite values")
    if len(x) - len(x) % 2 < min_len(k):
        raise DataError(f"signal needs at least {min_len(k)} samples for k={k}, got {len(x)}")
    try:
        modes, omega, iterations = _core.vmd_decompose(
            x, k, float(alpha), float(tau), dc, init, float(tol), max_iter
        )
    except CoreInputError as exc:
        raise ConfigError(str(exc)) from exc
    return VmdResult(modes=modes, omega=omega, iterations=iterations)


def vmd_features(
    log_price: npt.ArrayLike,
    window: int = 128,
    stride: int = 1,
    k: int = 3,
    alpha: float = 2000.0,
    tol: float = 1e-7,
    max_iter: int = 500,
    threads: int | None = None,
) -> dict[str, FloatArray]:
    """Trailing-window VMD features of `log_price`, one value per input row (see module doc).

    `threads` defaults to the machine's available parallelism; results do not depend on it.
    """
    cfg = VmdFeatureConfig(window, stride, k, alpha, tol, max_iter)
    if threads is not None:
        _check_int("threads", threads, 1)
    x = _as_series(log_price, "log_price")
    try:
        last, freq = _core.vmd_trailing(
            x,
            cfg.window,
            cfg.stride,
            cfg.k,
            float(cfg.alpha),
            float(cfg.tol),
            cfg.max_iter,
            threads,
        )
    except CoreInputError as exc:
        raise ConfigError(str(exc)) from exc
    columns = [np.ascontiguousarray(last[:, i]) for i in range(k)]
    columns += [np.ascontiguousarray(freq[:, i]) for i in range(k)]
    return dict(zip(cfg.names(), columns, strict=True))


class VmdStream:
    """Streaming `vmd_features`: feed one log price at a time, get the newest row back."""

    def __init__(
        self,
        window: int = 128,
        stride: int = 1,
        k: int = 3,
        alpha: float = 2000.0,
        tol: float = 1e-7,
        max_iter: int = 500,
    ) -> None:
        self.config = VmdFeatureConfig(window, stride, k, alpha, tol, max_iter)
        cfg = self.config
        self._inner = _core.VmdStreamCore(
            cfg.window, cfg.stride, cfg.k, float(cfg.alpha), float(cfg.tol), cfg.max_iter
        )

    def update(self, x: float) -> tuple[FloatArray, FloatArray]:
        """Add the newest log price; returns (mode values, centre frequencies), NaN until warm."""
        try:
            value = float(x)
        except (TypeError, ValueError) as exc:
            raise DataError(f"VmdStream.update needs a number, got {x!r}") from exc
        return self._inner.update(value)

    @property
    def seen(self) -> int:
        """Number of prices fed so far."""
        return self._inner.seen


def _as_series(values: npt.ArrayLike, name: str) -> FloatArray:
    """A 1-D contiguous float64 view of `values` (no copy when it already is one)."""
    try:
        x = np.ascontiguousarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise DataError(f"{name} must be numeric: {exc}") from exc
    if x.ndim != 1:
        raise DataError(f"{name} must be one-dimensional, got shape {x.shape}")
    return x


def _check_params(k: int, alpha: float, tau: float, tol: float, max_iter: int) -> None:
    _check_int("k", k, 1)
    _check_int("max_iter", max_iter, 2)
    _check_float("alpha", alpha, positive=True)
    _check_float("tau", tau, positive=False)
    _check_float("tol", tol, positive=False)


def _check_int(name: str, value: object, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise ConfigError(f"{name} must be an integer, got {value!r}")
    if value < minimum:
        raise ConfigError(f"{name} must be >= {minimum}, got {value}")


def _check_float(name: str, value: object, *, positive: bool) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise ConfigError(f"{name} must be a number, got {value!r}")
    v = float(value)
    if not math.isfinite(v) or v < 0 or (positive and v == 0):
        bound = "> 0" if positive else ">= 0"
        raise ConfigError(f"{name} must be finite and {bound}, got {value}")


__all__ = [
    "MIN_LEN",
    "VmdFeatureConfig",
    "VmdResult",
    "VmdStream",
    "feature_names",
    "min_len",
    "vmd",
    "vmd_features",
]
