"""Python and Rust cost models give the same numbers on random fills (hypothesis)."""

from __future__ import annotations

import math
import re

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from nexusforge.errors import CoreInputError, DataError
from nexusforge.market.costs import CostModel, FillCost, split_depth

FIELDS = FillCost.__slots__
# (bid, ask, mid, (bids, asks))
Book = tuple[float, float, float, tuple[np.ndarray, np.ndarray]]

rates = st.floats(0.0, 0.001)
models = st.builds(
    CostModel,
    maker_fee=st.floats(-0.0002, 0.001),
    taker_fee=rates,
    impact_eta=st.one_of(st.just(0.0), st.floats(0.0, 3.0)),
    impact_gamma=st.one_of(st.just(0.0), st.floats(0.0, 3.0)),
)


@st.composite
def books(draw: st.DrawFn) -> Book:
    """(bid, ask, mid, depth): increasing ask ladder, decreasing bid ladder, NaN padding."""
    bid = draw(st.floats(0.01, 1e5))
    spread = draw(st.floats(0.0, 0.01)) * bid
    ask = bid + spread
    mid = draw(st.sampled_from([bid, ask, (bid + ask) / 2]))

    def ladder(start: float, sign: float) -> np.ndarray:
        n = draw(st.integers(0, 8))
        steps = draw(st.lists(st.floats(0.0, 0.002), min_size=n, max_size=n))
        qtys = draw(st.lists(st.floats(0.0, 1e4), min_size=n, max_size=n))
        px = start * (1 + sign * np.cumsum(np.asarray(steps, dtype=np.float64)))
        out = np.column_stack([px, np.asarray(qtys, dtype=np.float64)]).reshape(-1, 2)
        pad = np.full((draw(st.integers(0, 2)), 2), np.nan)
        return np.vstack([out, pad])

    return bid, ask, mid, (ladder(bid, -1.0), ladder(ask, 1.0))


def _both(
    model: CostModel, side: str, qty: float, book: Book, sigma: float, volume: float, maker: bool
) -> tuple[FillCost | DataError, FillCost | CoreInputError]:
    bid, ask, mid, depth = book
    liq = "maker" if maker else "taker"
    try:
        py = model.price_fill(
            side, qty, mid, bid, ask, depth=depth, sigma=sigma, volume=volume, liquidity=liq
        )
    except DataError as exc:
        py = exc
    try:
        sign = 1 if side == "buy" else -1
        rs = model.to_core().price_fill(
            sign, qty, mid, bid, ask, split_depth(depth), sigma, volume, maker
        )
    except CoreInputError as exc:
        return py, exc
    return py, FillCost(*rs)


def _close(a: float, b: float) -> bool:
    return a == b or abs(a - b) <= 1e-12 * max(abs(a), abs(b))


@given(
    models,
    st.sampled_from(["buy", "sell"]),
    st.one_of(st.just(0.0), st.floats(0.0, 5e4)),
    books(),
    st.floats(0.0, 0.1),
    st.floats(1e-3, 1e7),
    st.booleans(),
)
def test_python_equals_rust(
    model: CostModel,
    side: str,
    qty: float,
    book: Book,
    sigma: float,
    volume: float,
    maker: bool,
) -> None:
    py, rs = _both(model, side, qty, book, sigma, volume, maker)
    assert isinstance(py, FillCost) and isinstance(rs, FillCost)
    for name in FIELDS:
        assert _close(getattr(py, name), getattr(rs, name)), (name, py, rs)
    # every component is accounted for: move from mid plus fee is the total
    s = 1.0 if side == "buy" else -1.0
    move = s * (py.price - book[2]) * qty + py.fee
    assert math.isclose(py.total, move, rel_tol=1e-9, abs_tol=1e-9 * max(1.0, qty * book[2]))
    assert py.fee * np.sign(model.fee_rate("maker" if maker else "taker")) >= 0
    if not maker:
        assert py.spread >= 0 and py.slippage >= -1e-9 * qty * book[2] and py.impact_temp >= 0


@given(
    st.sampled_from(["buy", "sell"]),
    st.sampled_from([-1.0, math.nan, math.inf]),
    st.sampled_from(["qty", "mid", "best_bid", "sigma", "volume"]),
)
def test_bad_input_rejected_by_both(side: str, bad: float, where: str) -> None:
    vals = {"qty": 1.0, "mid": 100.05, "best_bid": 100.0, "sigma": 0.01, "volume": 100.0}
    vals[where] = bad
    book = (vals["best_bid"], 100.1, vals["mid"], (np.empty((0, 2)), np.empty((0, 2))))
    py, rs = _both(CostModel(), side, vals["qty"], book, vals["sigma"], vals["volume"], False)
    assert isinstance(py, DataError) and isinstance(rs, CoreInputError)
    # the same message; numbers print differently (Rust "-1", "NaN"; Python "-1.0", "nan")
    assert _words(str(py)) == _words(str(rs))


def _words(msg: str) -> str:
    return re.sub(r"-?(\d+(\.\d*)?(e-?\d+)?|inf|nan)", "#", msg.lower())
