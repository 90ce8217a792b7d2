"""`/v5/public/linear`: acks, pongs, book snapshot then consecutive deltas, trades, tickers."""

from __future__ import annotations

import time
from collections.abc import Iterator
from decimal import Decimal

import pytest
from localx import Signed, Ws, ok

from nexusforge.nexus.venues.local import LocalExchange


@pytest.fixture
def ws(exchange: LocalExchange) -> Iterator[Ws]:
    client = Ws(exchange.ws_public_url)
    yield client
    client.close()


def subscribe(ws: Ws, *topics: str, req_id: str = "r-1") -> dict[str, object]:
    ws.send({"op": "subscribe", "req_id": req_id, "args": list(topics)})
    ack = ws.recv()
    time.sleep(0.05)  # the server starts a topic a few ms after its ack (pybit's preference)
    return ack


def apply(book: dict[str, dict[Decimal, Decimal]], data: dict[str, object]) -> None:
    for side in ("b", "a"):
        levels = data[side]
        assert isinstance(levels, list)
        for price, size in levels:
            if Decimal(size) == 0:
                assert Decimal(price) in book[side], "delete of a level never published"
                del book[side][Decimal(price)]
            else:
                book[side][Decimal(price)] = Decimal(size)


def test_ping_and_subscribe_acks(ws: Ws) -> None:
    ws.send({"op": "ping", "req_id": "p1"})
    pong = ws.recv()
    assert (pong["op"], pong["ret_msg"], pong["success"], pong["req_id"]) == (
        "ping", "pong", True, "p1",
    )  # fmt: skip
    ack = subscribe(ws, "publicTrade.XRPUSDT", req_id="abc")
    assert ack == {"success": True, "ret_msg": "", "conn_id": ack["conn_id"], "req_id": "abc",
                   "op": "subscribe"}  # fmt: skip
    bad = subscribe(ws, "orderbook.7.XRPUSDT")
    assert bad["success"] is False and "req_id" not in bad
    assert subscribe(ws, "publicTrade.NOPE")["success"] is False


def test_book_snapshot_then_consecutive_deltas_rebuild_the_book(
    exchange: LocalExchange, ws: Ws
) -> None:
    assert subscribe(ws, "orderbook.50.XRPUSDT")["success"] is True
    snapshot = ws.until("orderbook.50.XRPUSDT")
    assert snapshot["type"] == "snapshot"
    book: dict[str, dict[Decimal, Decimal]] = {"b": {}, "a": {}}
    apply(book, snapshot["data"])
    assert len(book["b"]) == len(book["a"]) == 50
    last_u = snapshot["data"]["u"]
    exchange.step_market(49)  # the rest of the recording
    deltas = [m for m in ws.quiet(1.0) if m.get("topic") == "orderbook.50.XRPUSDT"]
    assert deltas and all(m["type"] == "delta" for m in deltas)
    for message in deltas:
        data = message["data"]
        assert data["u"] == last_u + 1 and set(data) >= {"s", "b", "a", "u", "seq"}
        last_u = data["u"]
        apply(book, data)
        assert len(book["b"]) <= 50 and len(book["a"]) <= 50
    expected_b = {lv.price: lv.qty for lv in exchange.levels("XRPUSDT", "Buy", 50)}
    expected_a = {lv.price: lv.qty for lv in exchange.levels("XRPUSDT", "Sell", 50)}
    assert book == {"b": expected_b, "a": expected_a}


def test_depth_one_sends_snapshots_only(exchange: LocalExchange, ws: Ws) -> None:
    subscribe(ws, "orderbook.1.XRPUSDT")
    first = ws.until("orderbook.1.XRPUSDT")
    exchange.step_market(20)  # the top of book moves at message 8 and 18
    later = [m for m in ws.quiet(0.5) if m.get("topic") == "orderbook.1.XRPUSDT"]
    assert later and all(m["type"] == "snapshot" for m in [first, *later])
    top = later[-1]["data"]
    assert len(top["b"]) == len(top["a"]) == 1
    assert Decimal(top["b"][0][0]) == exchange.levels("XRPUSDT", "Buy", 1)[0].price


def test_unsubscribe_stops_the_topic(exchange: LocalExchange, ws: Ws) -> None:
    subscribe(ws, "orderbook.50.XRPUSDT", req_id="s1")
    ws.until("orderbook.50.XRPUSDT")
    ws.send({"op": "unsubscribe", "req_id": "s1", "args": ["orderbook.50.XRPUSDT"]})
    ack = ws.recv()
    assert (ack["op"], ack["success"], ack["req_id"]) == ("unsubscribe", True, "s1")
    exchange.step_market(30)
    assert [m for m in ws.quiet(0.3) if m.get("topic")] == []


def test_public_trade_and_ticker(exchange: LocalExchange, ws: Ws, client: Signed) -> None:
    subscribe(ws, "publicTrade.XRPUSDT", "tickers.XRPUSDT")
    snap = ws.until("tickers.XRPUSDT")
    assert snap["type"] == "snapshot" and snap["data"]["symbol"] == "XRPUSDT"
    best = exchange.levels("XRPUSDT", "Sell", 1)[0]
    assert snap["data"]["ask1Price"] == str(best.price.normalize())
    ok(client.order(symbol="XRPUSDT", side="Buy", orderType="Market", qty="25"))
    trade = ws.until("publicTrade.XRPUSDT")
    [item] = trade["data"]
    assert (item["S"], item["v"], Decimal(item["p"]), item["s"]) == ("Buy", "25", best.price,
                                                                      "XRPUSDT")  # fmt: skip
    delta = ws.until("tickers.XRPUSDT")
    assert delta["type"] == "delta" and delta["data"]["volume24h"] == "25"
    assert delta["data"]["symbol"] == "XRPUSDT" and "bid1Price" not in delta["data"]


def test_kline_topic_follows_trades(ws: Ws, client: Signed) -> None:
    subscribe(ws, "kline.1.XRPUSDT")
    ok(client.order(symbol="XRPUSDT", side="Buy", orderType="Market", qty="25"))
    [bar] = ws.until("kline.1.XRPUSDT")["data"]
    assert bar["confirm"] is False and bar["volume"] == "25" and bar["interval"] == "1"
    assert bar["end"] - bar["start"] == 59_999


def test_lost_book_message_fault_shows_as_a_u_gap(exchange: LocalExchange, ws: Ws) -> None:
    subscribe(ws, "orderbook.50.XRPUSDT")
    u0 = ws.until("orderbook.50.XRPUSDT")["data"]["u"]
    exchange.lose_next_book_messages(1)
    exchange.step_market(3)
    us = [m["data"]["u"] for m in ws.quiet(0.5) if m.get("topic") == "orderbook.50.XRPUSDT"]
    assert us and us[0] == u0 + 2 and us == list(range(u0 + 2, u0 + 2 + len(us)))
    ws.send({"op": "unsubscribe", "args": ["orderbook.50.XRPUSDT"]})
    ws.recv()
    subscribe(ws, "orderbook.50.XRPUSDT")  # what a client does on a gap: a fresh snapshot
    again = ws.until("orderbook.50.XRPUSDT")
    assert again["type"] == "snapshot" and again["data"]["u"] == us[-1]
