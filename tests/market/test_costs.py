"""Cost model on hand-computable fills, a real Bybit book and bad input."""

from __future__ import annotations

import math
import zipfile
from pathlib import Path

import numpy as np
import pytest

from nexusforge.errors import ConfigError, CoreInputError, DataError
from nexusforge.market.book import OrderBook, parse_book_messages
from nexusforge.market.costs import BYBIT_FEE_TIERS, CostModel, split_depth

FLAT = CostModel(impact_eta=0.0, impact_gamma=0.0)


@pytest.fixture(scope="module")
def xrp_book(shared_data: Path) -> OrderBook:
    """The XRPUSDT ob500 book after the archive's snapshot and 49 deltas."""
    path = shared_data / "bybit/market/bybit_XRPUSDT_ob500_2024-12-01_head50.data.zip"
    with zipfile.ZipFile(path) as zf:
        lines = zf.read(zf.namelist()[0]).splitlines()
    parsed = parse_book_messages([ln for ln in lines if ln.strip()], "bybit")
    book = OrderBook(tick_size=0.0001)
    book.apply(parsed.rows)
    assert book.is_valid
    return book


def test_default_is_bybit_vip0() -> None:
    model = CostModel()
    assert (model.maker_fee, model.taker_fee) == (0.0002, 0.00055)
    assert CostModel.bybit_tier("VIP0").taker_fee == 0.00055
    assert CostModel.bybit_tier("VIP3").maker_fee == BYBIT_FEE_TIERS["VIP3"][0]
    with pytest.raises(ConfigError, match="VIP9"):
        CostModel.bybit_tier("VIP9")


def test_fee_only_at_mid() -> None:
    # locked quotes at the mid: nothing but the fee (Bybit's example execValue * feeRate)
    c = FLAT.price_fill("buy", 1.0, 47950.05, 47950.05, 47950.05)
    assert c.price == 47950.05
    assert c.fee == pytest.approx(26.3725275, rel=1e-12)
    assert (c.spread, c.slippage, c.impact_temp, c.impact_perm) == (0.0, 0.0, 0.0, 0.0)
    assert c.total == c.fee


def test_taker_crosses_half_spread() -> None:
    c = FLAT.price_fill("sell", 4.0, 100.05, 100.0, 100.1)
    assert c.price == 100.0
    assert c.spread == pytest.approx(4 * 0.05, rel=1e-12)
    assert c.fee == pytest.approx(4 * 100.0 * 0.00055, rel=1e-12)
    assert c.total == pytest.approx(0.2 + 0.22, rel=1e-12)


def test_maker_earns_half_spread_at_maker_fee() -> None:
    c = FLAT.price_fill("buy", 2.0, 100.05, 100.0, 100.1, liquidity="maker")
    assert c.price == 100.0
    assert c.spread == pytest.approx(-0.1, rel=1e-12)
    assert c.fee == pytest.approx(2 * 100.0 * 0.0002, rel=1e-12)


def test_square_root_impact() -> None:
    model = CostModel(maker_fee=0.0, taker_fee=0.0, impact_eta=0.8, impact_gamma=0.3)
    c = model.price_fill("buy", 25.0, 200.0, 200.0, 200.0, sigma=0.01, volume=10_000.0)
    unit = 0.8 * 0.01 * math.sqrt(25.0 / 10_000.0) * 200.0  # 0.08 per unit
    assert c.price == pytest.approx(200.0 + unit, rel=1e-12)
    assert c.impact_temp == pytest.approx(25.0 * unit, rel=1e-12)
    assert c.impact_perm == pytest.approx(0.3 * 0.01 * 25.0 / 10_000.0 * 200.0, rel=1e-12)
    # quadrupling size doubles the per-unit temporary impact and quadruples the permanent one
    c4 = model.price_fill("buy", 100.0, 200.0, 200.0, 200.0, sigma=0.01, volume=10_000.0)
    assert c4.impact_temp / 100.0 == pytest.approx(2 * unit, rel=1e-12)
    assert c4.impact_perm == pytest.approx(4 * c.impact_perm, rel=1e-12)


def test_walk_two_levels_of_the_real_xrp_book(xrp_book: OrderBook) -> None:
    bids, asks = xrp_book.depth(5)
    (a0, q0), (a1, _) = asks[0], asks[1]
    qty = q0 + 100.0  # all of the best ask and 100 from the next level
    bid, mid = bids[0, 0], xrp_book.mid()
    assert mid is not None
    c = FLAT.price_fill("buy", qty, mid, bid, a0, depth=(bids, asks))
    expected_avg = (q0 * a0 + 100.0 * a1) / qty
    assert c.price == pytest.approx(expected_avg, rel=1e-12)
    assert c.price == pytest.approx(xrp_book.cost_to_buy(qty).avg_price, rel=1e-12)
    assert c.slippage == pytest.approx(100.0 * (a1 - a0), rel=1e-9)
    assert c.spread == pytest.approx(qty * (a0 - mid), rel=1e-9)
    assert c.fee == pytest.approx(0.00055 * (q0 * a0 + 100.0 * a1), rel=1e-12)
    assert c.book_short_qty == 0.0
    # the identity every report relies on: price move from mid plus fee is the total
    assert c.total == pytest.approx((c.price - mid) * qty + c.fee, rel=1e-9)


def test_sell_walk_agrees_with_the_book_and_rust(xrp_book: OrderBook) -> None:
    bids, asks = xrp_book.depth(50)
    qty = float(bids[:3, 1].sum()) + 1.0
    mid = xrp_book.mid()
    assert mid is not None
    c = FLAT.price_fill("sell", qty, mid, bids[0, 0], asks[0, 0], depth=(bids, asks))
    assert c.price == pytest.approx(xrp_book.cost_to_sell(qty).avg_price, rel=1e-12)
    rust = FLAT.to_core().price_fill(
        -1, qty, mid, bids[0, 0], asks[0, 0], split_depth((bids, asks)), 0.0, 1.0, False
    )
    assert rust[0] == c.price and rust[4] == c.slippage


def test_thin_book_reports_short_qty() -> None:
    asks = np.array([[10.0, 1.0], [10.5, 1.0], [np.nan, np.nan]])
    c = FLAT.price_fill("buy", 5.0, 9.95, 9.9, 10.0, depth=(np.empty((0, 2)), asks))
    assert c.book_short_qty == 3.0
    assert c.price == pytest.approx((10.0 + 4 * 10.5) / 5.0, rel=1e-12)


def test_zero_qty_costs_nothing() -> None:
    c = CostModel().price_fill("sell", 0.0, 100.05, 100.0, 100.1, sigma=0.02, volume=0.0)
    assert c.total == 0.0 and c.notional == 0.0 and c.impact_perm == 0.0
    assert c.price == 100.0


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"qty": -1.0}, "qty"),
        ({"qty": math.nan}, "qty"),
        ({"mid": math.nan}, "quotes"),
        ({"best_bid": 100.2, "mid": 100.15}, "crossed"),
        ({"mid": 101.0}, "outside"),
        ({"sigma": math.nan}, "sigma"),
        ({"volume": 0.0}, "volume"),
        ({"side": "long"}, "side"),
    ],
)
def test_bad_input_is_a_clear_error(kwargs: dict[str, object], match: str) -> None:
    args: dict[str, object] = {
        "side": "buy",
        "qty": 1.0,
        "mid": 100.05,
        "best_bid": 100.0,
        "best_ask": 100.1,
        "sigma": 0.01,
        "volume": 1000.0,
    }
    args.update(kwargs)
    with pytest.raises(DataError, match=match):
        CostModel().price_fill(**args)  # type: ignore[arg-type]


def test_bad_levels_and_config() -> None:
    unordered = np.array([[10.2, 1.0], [10.1, 1.0]])
    with pytest.raises(DataError, match="out of order"):
        FLAT.price_fill("buy", 2.0, 10.05, 10.0, 10.1, depth=(np.empty((0, 2)), unordered))
    with pytest.raises(CoreInputError, match="out of order"):
        FLAT.to_core().price_fill(
            1, 2.0, 10.05, 10.0, 10.1, split_depth((np.empty((0, 2)), unordered)), 0.0, 1.0, False
        )
    with pytest.raises(ConfigError, match="taker_fee"):
        CostModel(taker_fee=math.inf)
    with pytest.raises(ConfigError, match="impact_eta"):
        CostModel(impact_eta=-0.1)
    with pytest.raises(CoreInputError, match="maker_fee"):
        CostModel().to_core().__class__(0.5, 0.0, 0.0, 0.0, 0, 0.0)
