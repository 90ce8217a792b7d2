"""The official Bybit SDK, pybit 5.x, unmodified, against the local exchange.

pybit is pointed at loopback exactly as the protocol brief says: `HTTP.endpoint` after
construction, and the module URL constants patched before a WebSocket is built.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pybit._websocket_trading as wt
import pybit.unified_trading as ut
import pytest
from localx import KEY, SECRET, config
from pybit.exceptions import InvalidRequestError
from pybit.unified_trading import HTTP, WebSocket, WebSocketTrading

from nexusforge.nexus.venues.local import LocalExchange, RateLimits

SYMBOL = "XRPUSDT"
# websocket-client leaves the socket of a connection the server closed for the garbage
# collector; that is pybit's dependency, not the exchange, so it is not an error here.
pytestmark = pytest.mark.filterwarnings(
    "ignore:Exception ignored in. <socket.socket:pytest.PytestUnraisableExceptionWarning"
)


def wait_for(condition: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.02)


@pytest.fixture
def ex(shared_data: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalExchange]:
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    cfg = config(shared_data, rate_limits=RateLimits(order_write=2))
    with LocalExchange(cfg) as exchange:
        exchange.step_market(1)
        base = f"ws://127.0.0.1:{exchange.port}"
        monkeypatch.setattr(ut, "PUBLIC_WSS", base + "/v5/public/{CHANNEL_TYPE}")
        monkeypatch.setattr(ut, "PRIVATE_WSS", base + "/v5/private")
        monkeypatch.setattr(wt, "TRADE_WSS", base + "/v5/trade")
        yield exchange


@pytest.fixture
def http(ex: LocalExchange) -> Iterator[HTTP]:
    session = HTTP(testnet=False, api_key=KEY, api_secret=SECRET)
    session.endpoint = ex.rest_url
    yield session
    session.client.close()


def test_market_data_over_rest(ex: LocalExchange, http: HTTP) -> None:
    server = int(http.get_server_time()["result"]["timeSecond"])
    assert abs(server - time.time()) < 5
    [info] = http.get_instruments_info(category="linear", symbol=SYMBOL)["result"]["list"]
    assert (info["priceFilter"]["tickSize"], info["lotSizeFilter"]["qtyStep"]) == ("0.0001", "1")
    book = http.get_orderbook(category="linear", symbol=SYMBOL, limit=5)["result"]
    assert [Decimal(p) for p, _ in book["a"]] == [lv.price for lv in ex.levels(SYMBOL, "Sell", 5)]
    http.place_order(category="linear", symbol=SYMBOL, side="Buy", orderType="Market", qty="20")
    bars = http.get_kline(category="linear", symbol=SYMBOL, interval="1")["result"]["list"]
    assert len(bars) == 1 and bars[0][5] == "20"
    ticker = http.get_tickers(category="linear", symbol=SYMBOL)["result"]["list"][0]
    assert ticker["volume24h"] == "20"


def test_orders_over_rest(ex: LocalExchange, http: HTTP) -> None:
    placed = http.place_order(category="linear", symbol=SYMBOL, side="Buy", orderType="Limit",
                              qty=30, price=1.9, orderLinkId="py-1")  # fmt: skip
    order_id = placed["result"]["orderId"]
    [open_order] = http.get_open_orders(category="linear", symbol=SYMBOL)["result"]["list"]
    assert (open_order["orderId"], open_order["price"], open_order["qty"]) == (
        order_id,
        "1.9",
        "30",
    )
    http.amend_order(category="linear", symbol=SYMBOL, orderId=order_id, price="1.91")
    http.cancel_order(category="linear", symbol=SYMBOL, orderId=order_id)
    assert http.get_open_orders(category="linear", symbol=SYMBOL)["result"]["list"] == []
    with pytest.raises(InvalidRequestError) as err:
        http.cancel_order(category="linear", symbol=SYMBOL, orderId=order_id)
    assert err.value.status_code == 110001
    http.place_order(category="linear", symbol=SYMBOL, side="Sell", orderType="Market", qty="15")
    [position] = http.get_positions(category="linear", symbol=SYMBOL)["result"]["list"]
    assert (position["side"], position["size"]) == ("Sell", "15")
    fills = http.get_executions(category="linear", symbol=SYMBOL)["result"]["list"]
    wallet = http.get_wallet_balance(accountType="UNIFIED")["result"]["list"][0]
    paid = sum(Decimal(f["execFee"]) for f in fills)
    assert Decimal(wallet["totalWalletBalance"]) == Decimal(100000) - paid


def test_rate_limit_is_retried_by_pybit(shared_data: Path) -> None:
    # One order write per second: the second and third get 10006 and pybit sleeps until
    # X-Bapi-Limit-Reset-Timestamp, then retries successfully.
    with LocalExchange(config(shared_data, rate_limits=RateLimits(order_write=1))) as ex:
        ex.step_market(1)
        http = HTTP(testnet=False, api_key=KEY, api_secret=SECRET)
        http.endpoint = ex.rest_url
        for price in ("1.81", "1.82", "1.83"):
            http.place_order(category="linear", symbol=SYMBOL, side="Buy", orderType="Limit",
                             qty="10", price=price)  # fmt: skip
        orders = http.get_open_orders(category="linear", symbol=SYMBOL)["result"]["list"]
        http.client.close()
        throttled = ex.rest.ret_codes[10006]
    assert len(orders) == 3 and throttled >= 1


def test_public_orderbook_stream(ex: LocalExchange) -> None:
    books: list[dict[str, Any]] = []
    ws = WebSocket(testnet=False, channel_type="linear")
    try:
        ws.orderbook_stream(50, SYMBOL, books.append)
        wait_for(lambda: len(books) >= 1)
        first_u = books[-1]["data"]["u"]
        ex.step_market(49)  # deltas; pybit merges them into its copy
        wait_for(lambda: books[-1]["data"]["u"] > first_u)
        expected_u = ex.public.books[f"orderbook.50.{SYMBOL}"].u
        wait_for(lambda: books[-1]["data"]["u"] == expected_u)
    finally:
        ws.exit()
    data = books[-1]["data"]
    bids = sorted(((Decimal(p), Decimal(q)) for p, q in data["b"]), reverse=True)
    asks = sorted((Decimal(p), Decimal(q)) for p, q in data["a"])
    assert bids == [(lv.price, lv.qty) for lv in ex.levels(SYMBOL, "Buy", 50)]
    assert asks == [(lv.price, lv.qty) for lv in ex.levels(SYMBOL, "Sell", 50)]


def test_private_stream_receives_executions_and_orders(ex: LocalExchange, http: HTTP) -> None:
    executions: list[dict[str, Any]] = []
    orders: list[dict[str, Any]] = []
    ws = WebSocket(testnet=False, channel_type="private", api_key=KEY, api_secret=SECRET)
    try:
        ws.execution_stream(executions.append)
        ws.order_stream(orders.append)
        # both topics subscribed before the order (a fill before that is pushed to no one)
        wait_for(lambda: any(len(c.topics) >= 2 for c in ex.private.connections))
        placed = http.place_order(category="linear", symbol=SYMBOL, side="Buy",
                                  orderType="Market", qty="25", orderLinkId="py-m")  # fmt: skip
        wait_for(lambda: bool(executions) and bool(orders))
        old = {c.conn_id for c in ex.private.connections}
        ex.drop_private_connections()  # pybit reconnects, re-auths and resubscribes
        wait_for(
            lambda: any(
                len(c.topics) >= 2 and c.conn_id not in old for c in ex.private.connections
            ),
            timeout=10,
        )
        http.place_order(category="linear", symbol=SYMBOL, side="Sell", orderType="Market",
                         qty="25")  # fmt: skip
        wait_for(lambda: len(executions) >= 2)
    finally:
        ws.exit()
        gc.collect()  # the dropped connection's socket is reclaimed here, inside this test
    [fill] = executions[0]["data"]
    assert fill["orderId"] == placed["result"]["orderId"] and fill["orderLinkId"] == "py-m"
    rest = http.get_executions(category="linear", symbol=SYMBOL)["result"]["list"]
    assert {f["execId"] for f in rest} == {m["data"][0]["execId"] for m in executions}
    assert orders[0]["data"][0]["orderStatus"] == "Filled"


def test_trade_websocket(ex: LocalExchange, http: HTTP, caplog: pytest.LogCaptureFixture) -> None:
    """An order over the trade WebSocket, answered with its orderId.

    pybit registers a request's callback only after sending it, so on a loaded machine a
    loopback reply can beat the registration and pybit drops it ("unregistered reqId"): such
    an attempt is retried with a new order; the exchange must answer every one."""
    replies: list[dict[str, Any]] = []
    ws = WebSocketTrading(testnet=False, api_key=KEY, api_secret=SECRET)
    try:
        wait_for(lambda: bool(ws.auth))
        for attempt in range(3):
            caplog.clear()
            ws.place_order(replies.append, category="linear", symbol=SYMBOL, side="Buy",
                           orderType="Limit", qty="10", price="1.9",
                           orderLinkId=f"trade-ws-{attempt}")  # fmt: skip
            wait_for(lambda: bool(replies) or "unregistered reqId" in caplog.text)
            if replies:
                break
    finally:
        ws.exit()
    assert replies and replies[0]["retCode"] == 0 and replies[0]["op"] == "order.create"
    orders = http.get_open_orders(category="linear", symbol=SYMBOL)["result"]["list"]
    assert len(orders) == attempt + 1  # every attempt reached the book
    assert replies[0]["data"]["orderId"] in {o["orderId"] for o in orders}
