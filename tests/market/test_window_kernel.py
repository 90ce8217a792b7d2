"""The Rust `trailing_max_min` kernel against its definition and the streaming window deques."""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given
from hypothesis import strategies as st

from nexusforge._core import CoreInputError, trailing_max_min
from nexusforge.market.features import _Window


def naive(
    ts: npt.NDArray[np.int64], values: npt.NDArray[np.float64], w: int
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Rows j ≤ i with ts[j] > ts[i] − w, NaN skipped, by brute force."""
    hi, lo = np.full(len(ts), np.nan), np.full(len(ts), np.nan)
    for i in range(len(ts)):
        seen = [values[j] for j in range(i + 1) if ts[j] > ts[i] - w and not math.isnan(values[j])]
        if seen:
            hi[i], lo[i] = max(seen), min(seen)
    return hi, lo


def streaming(
    ts: npt.NDArray[np.int64], values: npt.NDArray[np.float64], w: int
) -> tuple[list[float], list[float]]:
    """The deques `FeatureStream` keeps: push trade prices (non-NaN), then expire."""
    win, hi, lo = _Window(w), [], []
    for t, v in zip(ts.tolist(), values.tolist(), strict=True):
        if not math.isnan(v):
            win.push_price(t, v)
        win.expire(t)
        hi.append(win.maxq[0][1] if win.maxq else math.nan)
        lo.append(win.minq[0][1] if win.minq else math.nan)
    return hi, lo


rows = st.lists(
    st.tuples(
        st.integers(0, 30),
        st.one_of(st.just(math.nan), st.integers(0, 6).map(float), st.floats(-1e3, 1e3)),
    ),
    max_size=80,
)


@given(rows=rows, w=st.integers(1, 50))
def test_equals_definition_and_streaming(rows: list[tuple[int, float]], w: int) -> None:
    ts = np.cumsum([d for d, _ in rows], dtype=np.int64)
    values = np.array([v for _, v in rows], dtype=np.float64)
    hi, lo = trailing_max_min(ts, values, w)
    nhi, nlo = naive(ts, values, w)
    shi, slo = streaming(ts, values, w)
    np.testing.assert_array_equal(hi, nhi)
    np.testing.assert_array_equal(lo, nlo)
    np.testing.assert_array_equal(hi, np.array(shi))
    np.testing.assert_array_equal(lo, np.array(slo))


def test_ties_never_see_later_rows() -> None:
    ts = np.array([10, 10, 10, 20], dtype=np.int64)
    hi, lo = trailing_max_min(ts, np.array([5.0, 7.0, 3.0, np.nan]), 5)
    np.testing.assert_array_equal(hi, [5.0, 7.0, 7.0, np.nan])
    np.testing.assert_array_equal(lo, [5.0, 5.0, 3.0, np.nan])


def test_bad_input_is_rejected() -> None:
    with pytest.raises(CoreInputError, match="never decrease"):
        trailing_max_min(np.array([2, 1], dtype=np.int64), np.ones(2), 5)
    with pytest.raises(CoreInputError, match="rows"):
        trailing_max_min(np.array([1, 2], dtype=np.int64), np.ones(3), 5)
    with pytest.raises(CoreInputError, match="positive"):
        trailing_max_min(np.array([1], dtype=np.int64), np.ones(1), 0)
    with pytest.raises(CoreInputError, match="contiguous"):
        trailing_max_min(np.arange(4, dtype=np.int64)[::2], np.ones(2), 5)
