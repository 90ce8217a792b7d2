"""One assert for parity tests: same columns and rows, numbers within `atol`, NaN alike."""

from __future__ import annotations

import numpy as np
import polars as pl


def _as_float(s: pl.Series) -> np.ndarray:
    """Float view of a numeric column with nulls read as NaN."""
    return s.cast(pl.Float64).fill_null(float("nan")).to_numpy()


def assert_frames_match(a: pl.DataFrame, b: pl.DataFrame, atol: float = 1e-9) -> None:
    """Raise AssertionError naming the first column and row where `a` and `b` differ.

    Integer columns must be equal; float columns within `atol`, with NaN (or null) exactly where
    the other frame has NaN (or null); other columns equal.
    """
    if a.columns != b.columns:
        raise AssertionError(f"columns differ: {a.columns} != {b.columns}")
    if a.height != b.height:
        raise AssertionError(f"row counts differ: {a.height} != {b.height}")
    for name in a.columns:
        sa, sb = a[name], b[name]
        if sa.dtype.is_integer() and sb.dtype.is_integer():
            bad = np.flatnonzero(sa.to_numpy() != sb.to_numpy())
            if bad.size:
                i = int(bad[0])
                raise AssertionError(f"{name}[{i}]: {sa[i]} != {sb[i]} ({bad.size} rows)")
        elif sa.dtype.is_numeric() and sb.dtype.is_numeric():
            _check_floats(name, _as_float(sa), _as_float(sb), atol)
        elif not sa.equals(sb, check_dtypes=False):
            raise AssertionError(f"column {name} differs")


def _check_floats(name: str, x: np.ndarray, y: np.ndarray, atol: float) -> None:
    nx, ny = np.isnan(x), np.isnan(y)
    bad = np.flatnonzero(nx != ny)
    if bad.size:
        i = int(bad[0])
        raise AssertionError(
            f"{name}[{i}]: NaN in one frame only ({x[i]} vs {y[i]}; {bad.size} rows)"
        )
    with np.errstate(invalid="ignore"):
        diff = np.where(nx, 0.0, np.abs(x - y))
    inf_bad = np.flatnonzero(np.isinf(x) & (x != y))
    if inf_bad.size:
        i = int(inf_bad[0])
        raise AssertionError(f"{name}[{i}]: {x[i]} != {y[i]}")
    diff = np.where(np.isinf(x), 0.0, diff)
    worst = int(np.argmax(diff)) if diff.size else 0
    if diff.size and diff[worst] > atol:
        raise AssertionError(
            f"{name}[{worst}]: |{x[worst]} - {y[worst]}| = {diff[worst]:.3g} > {atol:g}"
        )


def max_abs_diff(a: pl.DataFrame, b: pl.DataFrame) -> float:
    """Largest |a − b| over the shared numeric columns, NaN places ignored."""
    worst = 0.0
    for name in a.columns:
        if name in b.columns and a[name].dtype.is_numeric():
            x, y = _as_float(a[name]), _as_float(b[name])
            ok = ~(np.isnan(x) | np.isnan(y))
            if ok.any():
                worst = max(worst, float(np.max(np.abs(x[ok] - y[ok]))))
    return worst
