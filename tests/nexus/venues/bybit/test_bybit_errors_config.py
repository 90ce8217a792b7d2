"""retCode → typed error mapping, endpoint config and order validation."""

from __future__ import annotations

from decimal import Decimal

import pytest

from nexusforge.errors import ConfigError, VenueError
from nexusforge.nexus.venues.bybit import BybitConfig, OrderRequest, PositionMode
from nexusforge.nexus.venues.bybit import errors as E
from nexusforge.nexus.venues.bybit.orders import check_order_link_id

BRIEF_CODES = {
    10001: E.BybitRequestError,
    10002: E.BybitTimestampError,
    10003: E.BybitAuthError,
    10004: E.BybitAuthError,
    10005: E.BybitAuthError,
    10006: E.BybitRateLimitError,
    10010: E.BybitAuthError,
    10014: E.BybitRequestError,
    10016: E.BybitServerError,
    10017: E.BybitRequestError,
    10029: E.BybitRequestError,
    110001: E.BybitOrderNotFoundError,
    110003: E.BybitOrderError,
    110004: E.BybitInsufficientBalanceError,
    110045: E.BybitInsufficientBalanceError,
    110007: E.BybitInsufficientBalanceError,
    110012: E.BybitInsufficientBalanceError,
    110044: E.BybitInsufficientBalanceError,
    110008: E.BybitOrderClosedError,
    110010: E.BybitOrderClosedError,
    110017: E.BybitOrderError,
    110020: E.BybitOrderError,
    110072: E.BybitDuplicateOrderLinkIdError,
    110079: E.BybitOrderBusyError,
    110094: E.BybitOrderError,
}


@pytest.mark.parametrize(("code", "cls"), sorted(BRIEF_CODES.items()))
def test_every_brief_code_has_its_class(code: int, cls: type[E.BybitError]) -> None:
    err = E.error_for(code, "venue says no", "/v5/x")
    assert type(err) is cls and err.code == code and isinstance(err, VenueError)
    assert "venue says no" in str(err) and "/v5/x" in str(err)


def test_what_the_caller_may_do() -> None:
    assert isinstance(E.error_for(10002, ""), E.BybitRetryableError)
    assert isinstance(E.error_for(10006, ""), E.BybitRetryableError)
    assert isinstance(E.error_for(10016, ""), E.BybitAmbiguousError)
    assert not isinstance(E.error_for(110001, ""), E.BybitRetryableError | E.BybitAmbiguousError)
    assert type(E.error_for(110999, "")) is E.BybitOrderError
    assert type(E.error_for(12345, "")) is E.BybitError
    assert type(E.error_for(10001, "position idx not match position mode")) is (
        E.BybitPositionIdxError
    )


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (403, E.BybitBannedError),
        (401, E.BybitAuthError),
        (429, E.BybitRateLimitError),
        (502, E.BybitServerError),
        (404, E.BybitRequestError),
    ],
)
def test_http_status_mapping(status: int, cls: type[E.BybitError]) -> None:
    assert type(E.http_error_for(status, "x" * 500)) is cls


def test_configs() -> None:
    main, test = BybitConfig.mainnet(), BybitConfig.testnet()
    assert main.rest_url == "https://api.bybit.com"
    assert test.private_ws_url == "wss://stream-testnet.bybit.com/v5/private"
    local = BybitConfig.custom(port=8931)
    assert local.rest_url == "http://127.0.0.1:8931"
    assert local.public_ws_url == "ws://127.0.0.1:8931/v5/public/linear"
    assert local.data_timeout_for("orderbook.50.BTCUSDT") == 10.0
    assert local.data_timeout_for("publicTrade.BTCUSDT") is None
    with pytest.raises(ConfigError, match="rest_url"):
        BybitConfig("ftp://x", "ws://h/a", "ws://h/b", "ws://h/c")
    with pytest.raises(ConfigError, match="port"):
        BybitConfig.custom(port=0)
    with pytest.raises(ConfigError, match="recv_window"):
        BybitConfig.custom(port=1, tls=True).__class__(
            "http://h", "ws://h/a", "ws://h/b", "ws://h/c", recv_window_ms=0
        )


def test_order_request_validation_and_params() -> None:
    req = OrderRequest(
        "BTCUSDT", "Sell", "Limit", Decimal("0.010"), "m3-000042", Decimal("65000.1")
    )
    params = req.params("linear", PositionMode.ONE_WAY)
    assert params["qty"] == "0.010" and params["price"] == "65000.1"
    assert params["positionIdx"] == 0 and params["reduceOnly"] is None
    assert req.params("linear", PositionMode.HEDGE)["positionIdx"] == 2
    closing = OrderRequest("BTCUSDT", "Sell", "Market", Decimal(1), "m3-43", reduce_only=True)
    assert closing.params("linear", PositionMode.HEDGE)["positionIdx"] == 1
    for bad in ("", "x" * 37, "has space", "semi;colon"):
        with pytest.raises(ValueError, match="orderLinkId"):
            check_order_link_id(bad)
    with pytest.raises(ValueError, match="price"):
        OrderRequest("BTCUSDT", "Buy", "Limit", Decimal(1), "a")
    with pytest.raises(ValueError, match="qty"):
        OrderRequest("BTCUSDT", "Buy", "Market", Decimal(0), "a")
    with pytest.raises(ValueError, match="side"):
        OrderRequest("BTCUSDT", "buy", "Market", Decimal(1), "a")
