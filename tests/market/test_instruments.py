import json
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nexusforge.errors import DataError
from nexusforge.market.instruments import Rounding, parse_instrument, parse_instruments_response


@pytest.fixture
def instruments(shared_data: Path):
    body = json.loads(
        (shared_data / "bybit/rest/nautilus_http_get_instruments_linear.json").read_text()
    )
    return parse_instruments_response(body)


def test_parses_real_instruments_info(instruments) -> None:
    btc = instruments["BTCUSDT"]
    assert btc.tick_size == Decimal("0.5")
    assert btc.qty_step == Decimal("0.001")
    assert btc.max_market_qty == Decimal("50.0")
    assert instruments["ETHUSDT"].tick_size == Decimal("0.05")


def test_docs_example_instruments_info() -> None:
    path = Path(__file__).resolve().parents[3] / "shared/docs/bybit-v5-examples"
    body = json.loads((path / "rest_market_instruments-info_linear.json").read_text())
    btc = parse_instruments_response(body)["BTCUSDT"]
    assert btc.tick_size == Decimal("0.10")


def test_rounding_directions(instruments) -> None:
    eth = instruments["ETHUSDT"]
    assert eth.round_price(Decimal("2000.03")) == Decimal("2000.05")
    assert eth.round_price(Decimal("2000.03"), Rounding.DOWN) == Decimal("2000.00")
    assert eth.round_qty(Decimal("0.019")) == Decimal("0.01")
    assert eth.round_qty(Decimal("0.011"), Rounding.UP) == Decimal("0.02")


def test_order_problems(instruments) -> None:
    btc = instruments["BTCUSDT"]
    assert btc.order_problem(Decimal("30000.5"), Decimal("0.001")) is None
    assert "tick size" in (btc.order_problem(Decimal("30000.3"), Decimal("0.001")) or "")
    assert "below minimum" in (btc.order_problem(Decimal("30000"), Decimal("0")) or "")
    assert "above maximum" in (
        btc.order_problem(Decimal("30000"), Decimal("60"), market=True) or ""
    )
    assert "notional" in (btc.order_problem(Decimal("1"), Decimal("0.001")) or "")


@given(st.decimals(min_value=Decimal("0.01"), max_value=Decimal("1e6"), places=6))
def test_rounded_price_is_on_grid_and_close(price: Decimal) -> None:
    rule = parse_instrument(
        {
            "symbol": "X",
            "priceFilter": {"tickSize": "0.05"},
            "lotSizeFilter": {"qtyStep": "0.01", "minOrderQty": "0.01", "maxOrderQty": "10"},
        }
    )
    for mode in Rounding:
        snapped = rule.round_price(price, mode)
        assert snapped % Decimal("0.05") == 0
        assert abs(snapped - price) <= Decimal("0.05")
    assert rule.round_price(price, Rounding.DOWN) <= price <= rule.round_price(price, Rounding.UP)


@pytest.mark.parametrize(
    "item",
    [
        {"symbol": "X"},
        {"symbol": "X", "priceFilter": {"tickSize": "0"}, "lotSizeFilter": {}},
        {
            "symbol": "X",
            "priceFilter": {"tickSize": 0.5},
            "lotSizeFilter": {"qtyStep": "1", "minOrderQty": "1", "maxOrderQty": "1"},
        },
        {
            "symbol": "X",
            "priceFilter": {"tickSize": "abc"},
            "lotSizeFilter": {"qtyStep": "1", "minOrderQty": "1", "maxOrderQty": "1"},
        },
    ],
)
def test_bad_instrument_items_raise_data_error(item) -> None:
    with pytest.raises(DataError, match="instrument X"):
        parse_instrument(item)


def test_error_response() -> None:
    with pytest.raises(DataError, match="retCode=10001"):
        parse_instruments_response({"retCode": 10001, "retMsg": "params error"})


def test_infer_tick_size_from_real_book_prices(shared_data: Path) -> None:
    import zipfile

    from nexusforge.market.instruments import infer_tick_size

    path = shared_data / "bybit/market/bybit_XRPUSDT_ob500_2024-12-01_head50.data.zip"
    with zipfile.ZipFile(path) as zf:
        first = json.loads(zf.read(zf.namelist()[0]).splitlines()[0])
    prices = [float(p) for p, _ in first["data"]["b"] + first["data"]["a"]]
    assert infer_tick_size(prices) == 0.0001


def test_infer_tick_size_needs_two_prices() -> None:
    from nexusforge.market.instruments import infer_tick_size

    with pytest.raises(DataError, match="tick size"):
        infer_tick_size([1.0, 1.0])
