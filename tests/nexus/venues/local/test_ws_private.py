"""`/v5/private` and `/v5/trade`: auth, topics, pushes after fills, and the injected faults."""

from __future__ import annotations

import time
from collections.abc import Iterator
from decimal import Decimal

import pytest
from localx import Signed, Ws, ok, ws_auth_args
from websockets.exceptions import ConnectionClosed

from nexusforge.nexus.venues.local import LocalExchange

TOPICS = ["execution", "order", "position", "wallet"]


def now_ms() -> int:
    return time.time_ns() // 1_000_000


@pytest.fixture
def private(exchange: LocalExchange) -> Iterator[Ws]:
    client = Ws(exchange.ws_private_url)
    assert client.auth()["success"] is True
    client.send({"op": "subscribe", "req_id": "sub", "args": TOPICS})
    assert client.recv()["success"] is True
    yield client
    client.close()


def test_auth_failures(exchange: LocalExchange) -> None:
    ws = Ws(exchange.ws_private_url)
    ws.send({"op": "subscribe", "args": ["execution"]})
    assert ws.recv()["success"] is False  # not authorised yet
    ws.send({"op": "auth", "args": ws_auth_args(now_ms() + 5000, secret="wrong")})
    assert ws.recv()["success"] is False
    ws.send({"op": "auth", "args": ws_auth_args(now_ms() - 1)})
    assert ws.recv()["success"] is False  # expired
    ws.send({"op": "auth", "args": ws_auth_args(now_ms() + 5000, key="nobody")})
    assert ws.recv()["success"] is False
    reply = ws.auth()
    assert (reply["op"], reply["success"], reply["ret_msg"]) == ("auth", True, "")
    assert ws.auth()["success"] is False  # repeat auth
    ws.send({"op": "ping", "req_id": "p"})
    pong = ws.recv()
    assert pong["op"] == "pong" and pong["req_id"] == "p" and pong["args"][0].isdigit()
    ws.close()


def test_fill_pushes_execution_order_position_wallet(private: Ws, client: Signed) -> None:
    order = ok(client.order(symbol="XRPUSDT", side="Buy", orderType="Market", qty="40",
                            orderLinkId="m-7"))  # fmt: skip
    frames = [f for f in private.quiet(0.5) if "topic" in f]
    assert [f["topic"] for f in frames] == TOPICS  # in the venue's order
    for frame in frames:
        assert isinstance(frame["creationTime"], int) and frame["id"]
    [fill] = frames[0]["data"]
    assert (fill["orderId"], fill["orderLinkId"], fill["execQty"]) == (
        order["orderId"],
        "m-7",
        "40",
    )
    [state] = frames[1]["data"]
    assert (state["orderStatus"], state["cumExecQty"], state["category"]) == (
        "Filled",
        "40",
        "linear",
    )
    [position] = frames[2]["data"]
    assert (position["side"], position["size"], position["positionIdx"]) == ("Buy", "40", 0)
    [wallet] = frames[3]["data"]
    rest = ok(client.get("/v5/execution/list", category="linear", symbol="XRPUSDT"))["list"]
    assert [r["execId"] for r in rest] == [fill["execId"]]
    assert Decimal(wallet["totalWalletBalance"]) == Decimal(100000) - Decimal(fill["execFee"])


def test_categorised_topics_and_unsubscribe(exchange: LocalExchange, client: Signed) -> None:
    ws = Ws(exchange.ws_private_url)
    ws.auth()
    ws.send({"op": "subscribe", "args": ["execution.linear"]})
    ws.recv()
    ok(client.order(symbol="XRPUSDT", side="Buy", orderType="Market", qty="10"))
    assert ws.until("execution.linear")["data"][0]["execQty"] == "10"
    ws.send({"op": "unsubscribe", "args": ["execution.linear"]})
    assert ws.recv()["op"] == "unsubscribe"
    ok(client.order(symbol="XRPUSDT", side="Buy", orderType="Market", qty="10"))
    assert [f for f in ws.quiet(0.3) if "topic" in f] == []
    ws.close()


def test_duplicate_execution_fault(exchange: LocalExchange, private: Ws, client: Signed) -> None:
    exchange.duplicate_next_executions(1)
    ok(client.order(symbol="XRPUSDT", side="Buy", orderType="Market", qty="10"))
    executions = [f for f in private.quiet(0.5) if f.get("topic") == "execution"]
    assert len(executions) == 2 and executions[0] == executions[1]
    ok(client.order(symbol="XRPUSDT", side="Buy", orderType="Market", qty="10"))
    assert len([f for f in private.quiet(0.5) if f.get("topic") == "execution"]) == 1


def test_drop_private_connections_fault(
    exchange: LocalExchange, private: Ws, client: Signed
) -> None:
    assert exchange.drop_private_connections() == 1
    with pytest.raises(ConnectionClosed):
        private.recv(timeout=2)
    ok(client.order(symbol="XRPUSDT", side="Buy", orderType="Market", qty="10"))
    rows = ok(client.get("/v5/execution/list", category="linear", symbol="XRPUSDT"))["list"]
    assert len(rows) == 1  # nothing lost: the fill is recoverable over REST


def test_pause_keeps_answering_pings(exchange: LocalExchange) -> None:
    exchange.resume_market()
    public = Ws(exchange.ws_public_url)
    public.send({"op": "subscribe", "args": ["orderbook.50.XRPUSDT"]})
    public.recv()
    public.until("orderbook.50.XRPUSDT")
    exchange.pause_market()
    public.quiet(0.1)  # what was already on its way
    public.send({"op": "ping"})
    assert public.recv()["ret_msg"] == "pong"
    assert [f for f in public.quiet(0.5) if "topic" in f] == []
    public.close()


def test_fail_next_requests_fault(exchange: LocalExchange, client: Signed) -> None:
    exchange.fail_next_requests(2, code=10016)
    assert client.public("/v5/market/time")["retCode"] == 10016
    assert client.get("/v5/position/list", category="linear", symbol="XRPUSDT")["retCode"] == 10016
    assert client.public("/v5/market/time")["retCode"] == 0


def test_trade_websocket_order_entry(exchange: LocalExchange, client: Signed) -> None:
    ws = Ws(exchange.ws_trade_url)
    request = {"reqId": "q1", "header": {"X-BAPI-TIMESTAMP": now_ms()}, "op": "order.create",
               "args": [{"category": "linear", "symbol": "XRPUSDT", "side": "Buy",
                         "orderType": "Limit", "qty": "10", "price": "1.9"}]}  # fmt: skip
    ws.send(request)
    assert ws.recv()["retCode"] == 10003  # not authorised
    reply = ws.auth()
    assert (reply["op"], reply["retCode"]) == ("auth", 0)
    ws.send(request)
    created = ws.recv()
    assert (created["reqId"], created["retCode"], created["op"]) == ("q1", 0, "order.create")
    assert created["header"]["X-Bapi-Limit"] == "10"
    order_id = created["data"]["orderId"]
    [order] = ok(client.get("/v5/order/realtime", category="linear", orderId=order_id))["list"]
    assert order["orderStatus"] == "New"
    stale = request | {"reqId": "q2", "header": {"X-BAPI-TIMESTAMP": str(now_ms() - 60_000)}}
    ws.send(stale)
    assert ws.recv()["retCode"] == 10002
    cancel = {"category": "linear", "symbol": "XRPUSDT", "orderId": order_id}
    ws.send({"reqId": "q3", "header": {"X-BAPI-TIMESTAMP": now_ms()}, "op": "order.cancel",
             "args": [cancel]})  # fmt: skip
    assert ws.recv()["retCode"] == 0
    ws.send({"op": "ping"})
    pong = ws.recv()
    assert (pong["op"], pong["retCode"]) == ("pong", 0)
    ws.close()
