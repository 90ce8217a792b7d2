"""The public stream client against a scripted WS peer: book rules, staleness, bad frames."""

from __future__ import annotations

import asyncio
import json
import zipfile
from collections.abc import Awaitable, Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

from bybit_peer import PeerConn, WsPeer, config, wait_until

from nexusforge.market.book import OrderBook
from nexusforge.nexus.venues.bybit import (
    BookUpdate,
    BybitPublicWs,
    KlineUpdate,
    StreamStatus,
    TickerUpdate,
    TradeBatch,
)

BOOK = "orderbook.50.BTCUSDT"


def book_msg(kind: str, u: int, bids: list[list[str]] | None = None, topic: str = BOOK) -> str:
    data = {"s": "BTCUSDT", "b": bids or [["100.0", "1"]], "a": [["100.5", "2"]], "u": u, "seq": u}
    return json.dumps({"topic": topic, "type": kind, "ts": u, "data": data, "cts": u})


async def ack(conn: PeerConn) -> dict[str, Any]:
    """Read one subscribe request and acknowledge it the linear way (echoing req_id)."""
    msg = await conn.next()
    assert msg["op"] == "subscribe", msg
    await conn.send(
        {"success": True, "ret_msg": "", "conn_id": "c", "req_id": msg["req_id"], "op": "subscribe"}
    )
    return msg


def run(
    script: Callable[[PeerConn], Awaitable[None]],
    topics: list[str],
    done: Callable[[BybitPublicWs, list[Any]], bool],
    **cfg: object,
) -> tuple[BybitPublicWs, list[Any], WsPeer]:
    events: list[Any] = []
    peer = WsPeer(script)

    async def main() -> BybitPublicWs:
        async with peer.running():
            client = BybitPublicWs(config(ws_port=peer.port, **cfg), topics, events.append)
            client.start()
            try:
                await wait_until(lambda: done(client, events), timeout=4.0)
            finally:
                await client.stop()
            return client

    client = asyncio.run(main())
    assert not peer.errors, peer.errors  # the peer's own checks of what the client sent
    return client, events, peer


def books(events: list[Any]) -> list[BookUpdate]:
    return [e for e in events if isinstance(e, BookUpdate)]


def test_real_ob500_capture_applies_in_sequence(shared_data: Path) -> None:
    zipped = shared_data / "bybit/market/bybit_XRPUSDT_ob500_2024-12-01_head50.data.zip"
    with zipfile.ZipFile(zipped) as zf:
        lines = zf.read(zf.namelist()[0]).splitlines()

    async def script(conn: PeerConn) -> None:
        sub = await ack(conn)
        assert sub["args"] == ["orderbook.500.XRPUSDT"]
        for line in lines:
            await conn.send(line.decode())
        await asyncio.sleep(5)

    client, events, _ = run(script, ["orderbook.500.XRPUSDT"], lambda c, e: len(books(e)) == 50)
    updates = books(events)
    assert updates[0].snapshot and not any(u.snapshot for u in updates[1:])
    assert client.book_stats.gaps == 0 and client.book_stats.deltas == 49
    # Rebuilding the book from the events equals the Rust book fed the raw capture.
    bids: dict[Decimal, Decimal] = {}
    asks: dict[Decimal, Decimal] = {}
    for u in updates:
        for side, levels in ((bids, u.bids), (asks, u.asks)):
            if u.snapshot:
                side.clear()
            for price, size in levels:
                if Decimal(size) == 0:
                    side.pop(Decimal(price), None)
                else:
                    side[Decimal(price)] = Decimal(size)
    rust = OrderBook(0.0001)
    rust.apply_json(lines, "bybit")
    best_bid, best_ask = rust.best_bid(), rust.best_ask()
    assert best_bid is not None and best_ask is not None
    assert float(max(bids)) == best_bid.price and float(bids[max(bids)]) == best_bid.qty
    assert float(min(asks)) == best_ask.price and float(asks[min(asks)]) == best_ask.qty
    # The frames the events carry feed the Rust book to the same state.
    from_events = OrderBook(0.0001)
    frames = [u.frame.encode() if isinstance(u.frame, str) else u.frame for u in updates]
    assert from_events.apply_json(frames, "bybit") == 0
    for got, want in zip(from_events.depth(50), rust.depth(50), strict=True):
        assert (got == want).all()


def test_real_captured_ticker_kline_and_trade_messages(shared_data: Path) -> None:
    folder = shared_data / "bybit/ws_public"
    ticker = json.loads((folder / "nautilus_ws_ticker_linear.json").read_text())
    kline = (folder / "nautilus_ws_kline.json").read_text()
    trade = json.loads((folder / "nautilus_ws_public_trade.json").read_text())
    topics = ["tickers.BTCUSDT", "kline.5.BTCUSDT", "publicTrade.BTCUSDT"]

    async def script(conn: PeerConn) -> None:
        await ack(conn)
        await conn.send(json.dumps(ticker))
        delta = {
            "topic": "tickers.BTCUSDT",
            "type": "delta",
            "ts": 1,
            "cs": 2,
            "data": {"symbol": "BTCUSDT", "lastPrice": "17300.00"},
        }
        await conn.send(json.dumps(delta))
        await conn.send(kline)
        await conn.send(json.dumps(trade))  # the fixture's legacy topic: not subscribed
        trade["topic"] = "publicTrade.BTCUSDT"
        await conn.send(json.dumps(trade))
        await asyncio.sleep(5)

    client, events, _ = run(script, topics, lambda c, e: any(isinstance(x, TradeBatch) for x in e))
    tickers = [e for e in events if isinstance(e, TickerUpdate)]
    assert tickers[1].fields["lastPrice"] == "17300.00"
    assert tickers[1].fields["bid1Price"] == ticker["data"]["bid1Price"]  # merged, not replaced
    (kl,) = [e for e in events if isinstance(e, KlineUpdate)]
    assert kl.candles[0].close == Decimal("16677") and kl.candles[0].confirm is False
    (tb,) = [e for e in events if isinstance(e, TradeBatch)]
    assert tb.trades[0].S == "Buy" and tb.trades[0].p == Decimal("27451.00")
    assert client.stats.unknown == 1


def test_deltas_before_snapshot_are_dropped() -> None:
    async def script(conn: PeerConn) -> None:
        await ack(conn)
        await conn.send(book_msg("delta", 9))
        await conn.send(book_msg("snapshot", 10))
        await conn.send(book_msg("delta", 11))
        await asyncio.sleep(5)

    client, events, _ = run(script, [BOOK], lambda c, e: len(books(e)) == 2)
    assert [u.update_id for u in books(events)] == [10, 11]
    assert client.book_stats.deltas_before_snapshot == 1


def test_update_id_gap_resubscribes_for_a_fresh_snapshot() -> None:
    async def script(conn: PeerConn) -> None:
        await ack(conn)
        for kind, u in (("snapshot", 10), ("delta", 11), ("delta", 13), ("delta", 14)):
            await conn.send(book_msg(kind, u))
        unsub = await conn.next()
        assert unsub == {"op": "unsubscribe", "req_id": unsub["req_id"], "args": [BOOK]}
        await ack(conn)
        await conn.send(book_msg("delta", 15))  # still before the new snapshot: dropped
        await conn.send(book_msg("snapshot", 40))
        await conn.send(book_msg("delta", 41))
        await asyncio.sleep(5)

    client, events, peer = run(script, [BOOK], lambda c, e: len(books(e)) == 4)
    assert [u.update_id for u in books(events)] == [10, 11, 40, 41]
    assert client.book_stats.gaps == 1 and client.book_stats.deltas_before_snapshot == 2
    assert len(peer.conns) == 1  # resolved without a reconnect


def test_depth_one_repeats_same_update_id() -> None:
    topic = "orderbook.1.BTCUSDT"

    async def script(conn: PeerConn) -> None:
        await ack(conn)
        for _ in range(3):
            await conn.send(book_msg("snapshot", 7, topic=topic))
        await asyncio.sleep(5)

    client, _events, _ = run(script, [topic], lambda c, e: len(books(e)) == 3)
    assert client.book_stats.gaps == 0


def test_chaos_07_silent_stale_socket_resubscribes_then_reconnects() -> None:
    async def script(conn: PeerConn) -> None:
        await ack(conn)
        await conn.send(book_msg("snapshot", 10))
        if len(conn.peer.conns) == 1:
            # Silent: pings are still answered (by the pump), data has stopped, the
            # resubscribe is acknowledged but nothing follows.
            unsub = await conn.next(timeout=3)
            assert unsub["op"] == "unsubscribe"
            await ack(conn)
        await asyncio.sleep(5)

    client, events, peer = run(script, [BOOK], lambda c, e: len(books(e)) == 2)
    assert client.stats.stale_resubscribes >= 1 and client.stats.stale_reconnects >= 1
    assert client.stats.pongs >= 1  # the socket was alive all along
    assert len(peer.conns) == 2
    assert [u.snapshot for u in books(events)] == [True, True]
    assert any(isinstance(e, StreamStatus) and e.kind == "stale" for e in events)


def test_chaos_07_resubscribe_revives_a_stale_topic() -> None:
    async def script(conn: PeerConn) -> None:
        await ack(conn)
        await conn.send(book_msg("snapshot", 10))
        assert (await conn.next(timeout=3))["op"] == "unsubscribe"
        await ack(conn)
        await conn.send(book_msg("snapshot", 50))
        for u in range(51, 60):
            await conn.send(book_msg("delta", u))
            await asyncio.sleep(0.05)
        await asyncio.sleep(5)

    client, _events, peer = run(script, [BOOK], lambda c, e: len(books(e)) == 11)
    assert len(peer.conns) == 1 and client.stats.stale_reconnects == 0


def test_dropped_socket_reconnects_and_requires_a_new_snapshot() -> None:
    async def script(conn: PeerConn) -> None:
        await ack(conn)
        if len(conn.peer.conns) == 1:
            await conn.send(book_msg("snapshot", 10))
            await conn.send(book_msg("delta", 11))
            conn.ws.transport.abort()  # mid-stream, no close frame
            return
        await conn.send(book_msg("delta", 12))  # carries on from before: must be dropped
        await conn.send(book_msg("snapshot", 100))
        await conn.send(book_msg("delta", 101))
        await asyncio.sleep(5)

    client, events, peer = run(script, [BOOK], lambda c, e: len(books(e)) == 4)
    assert [u.update_id for u in books(events)] == [10, 11, 100, 101]
    assert client.book_stats.deltas_before_snapshot == 1 and len(peer.conns) == 2
    assert peer.conns[1].log[0][1]["args"] == [BOOK]  # resubscribed on the new socket


def test_malformed_and_unknown_frames_are_counted_not_fatal() -> None:
    async def script(conn: PeerConn) -> None:
        await ack(conn)
        await conn.send("{not json")
        await conn.send(json.dumps({"topic": BOOK, "type": "snapshot", "data": {"s": 1}}))
        await conn.send(
            json.dumps(
                {"topic": BOOK, "type": "weird", "data": {"s": "BTCUSDT", "b": [], "a": [], "u": 1}}
            )
        )
        await conn.send(json.dumps({"hello": "world"}))
        await conn.send(json.dumps({"op": "subscribe", "success": False, "ret_msg": "bad"}))
        await conn.send(b"\xff\xfe")
        await conn.send(book_msg("snapshot", 5))
        await asyncio.sleep(5)

    client, _events, peer = run(script, [BOOK], lambda c, e: len(books(e)) == 1)
    assert client.stats.malformed == 4
    assert client.stats.unknown == 1 and client.stats.rejected_ops == 1
    assert len(peer.conns) == 1


def test_missing_pongs_reconnect() -> None:
    async def script(conn: PeerConn) -> None:
        conn.answer_pings = len(conn.peer.conns) > 1
        await ack(conn)
        await conn.send(book_msg("snapshot", 1))
        await asyncio.sleep(5)

    client, _events, peer = run(script, [BOOK], lambda c, e: len(books(e)) == 2, data_timeouts_s={})
    assert client.stats.ping_timeouts == 1 and len(peer.conns) == 2
