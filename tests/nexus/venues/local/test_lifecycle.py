"""Running in the caller's event loop, a looping replay at full speed, and malformed frames."""

from __future__ import annotations

import asyncio
import json
import time
from decimal import Decimal
from pathlib import Path

import httpx
import websockets
from localx import Ws, config

import nexusforge.nexus.venues.local as local
from nexusforge.nexus.venues.local import LocalExchange
from nexusforge.nexus.venues.local.market.replay import ReplayMarket


def test_public_api_is_exported() -> None:
    public = {n for n in dir(local) if not n.startswith("_")}
    assert set(local.__all__) <= public
    assert "LocalExchange" in local.__all__ and "ExchangeConfig" in local.__all__


def test_async_context_in_the_running_loop(shared_data: Path) -> None:
    async def scenario() -> tuple[int, str, int]:
        async with LocalExchange(config(shared_data)) as ex:
            ex.step_market(1)
            async with httpx.AsyncClient(base_url=ex.rest_url) as http:
                book = (
                    await http.get("/v5/market/orderbook?category=linear&symbol=XRPUSDT")
                ).json()
            async with websockets.connect(ex.ws_public_url) as ws:
                await ws.send(json.dumps({"op": "subscribe", "args": ["orderbook.1.XRPUSDT"]}))
                ack = json.loads(await ws.recv())
                snap = json.loads(await asyncio.wait_for(ws.recv(), 5))
            port = ex.port
        return book["retCode"], snap["type"] if ack["success"] else "no ack", port

    code, kind, port = asyncio.run(scenario())
    assert (code, kind) == (0, "snapshot") and port > 0


def test_looping_replay_keeps_the_published_book_consistent(shared_data: Path) -> None:
    cfg = config(shared_data, start_paused=False, speed=0.0)
    with LocalExchange(cfg) as ex:
        ws = Ws(ex.ws_public_url)
        ws.send({"op": "subscribe", "args": ["orderbook.50.XRPUSDT"]})
        ws.recv()
        snapshot = ws.until("orderbook.50.XRPUSDT")
        book = {s: {p: q for p, q in snapshot["data"][s]} for s in ("b", "a")}
        last_u = snapshot["data"]["u"]
        deadline = time.monotonic() + 1.0
        deltas = 0
        while time.monotonic() < deadline:
            message = ws.until("orderbook.50.XRPUSDT")
            data = message["data"]
            assert message["type"] == "delta" and data["u"] == last_u + 1
            last_u = data["u"]
            for side in ("b", "a"):
                for price, size in data[side]:
                    if size == "0":
                        del book[side][price]  # KeyError: a delete of an unknown level
                    else:
                        book[side][price] = size
            deltas += 1
        ws.close()
        market = ex.market
        assert isinstance(market, ReplayMarket)
        laps = market.laps
    assert laps >= 2 and deltas > 50  # the 50-message recording played several times
    assert all(len(side) == 50 for side in book.values())
    bids = sorted(map(Decimal, book["b"]), reverse=True)
    asks = sorted(map(Decimal, book["a"]))
    assert bids[0] < asks[0]


def test_malformed_frames_are_counted_not_fatal(exchange: LocalExchange) -> None:
    ws = Ws(exchange.ws_public_url)
    ws.conn.send("{not json")
    assert ws.recv()["success"] is False
    ws.conn.send("[1, 2]")
    assert ws.recv()["success"] is False
    ws.send({"op": "dance"})
    assert ws.recv()["success"] is False
    ws.send({"op": "ping"})
    assert ws.recv()["ret_msg"] == "pong"  # the connection is still served
    ws.close()
    assert exchange.malformed_frames == 2
