"""The recorder against a real websockets server on 127.0.0.1 that replays recorded Bybit
messages (the ob500 archive lines and the ws_public samples), drops the connection once
mid-stream, and re-sends a book snapshot after the reconnect, as Bybit does."""

from __future__ import annotations

import asyncio
import json
import time
import zipfile
from pathlib import Path

import polars as pl
import pytest
from websockets.asyncio.server import ServerConnection, serve

from nexusforge.data.ingest import ingest
from nexusforge.data.recorder import RecorderConfig, record
from nexusforge.data.schema import BOOK_EVENTS, QUOTES, TABLES, TRADES
from nexusforge.data.store import Store
from nexusforge.market.events import FLAG_BEGIN, FLAG_SNAPSHOT

DROP_AFTER = 30


def _recorded_messages(shared: Path) -> list[str]:
    """ob500 lines (1 snapshot + 49 deltas) then the v5 public samples, one line each."""
    archive = shared / "bybit/market/bybit_XRPUSDT_ob500_2024-12-01_head50.data.zip"
    with zipfile.ZipFile(archive) as z:
        lines = z.read(z.namelist()[0]).decode().splitlines()
    samples = sorted((shared / "bybit/ws_public").glob("*.json"))
    return lines + [json.dumps(json.loads(p.read_text()), separators=(",", ":")) for p in samples]


class ReplayServer:
    """Acks subscriptions, answers pings, replays messages; drops connection 1 after N."""

    def __init__(self, messages: list[str]) -> None:
        self.messages = messages
        self.sent: list[str] = []
        self.subscriptions: list[list[str]] = []
        self.pings = 0
        self.connections = 0
        self._pinged = asyncio.Event()

    async def handler(self, ws: ServerConnection) -> None:
        self.connections += 1
        request = json.loads(await ws.recv())
        assert request["op"] == "subscribe"
        self.subscriptions.append(request["args"])
        ack = {
            "success": True,
            "ret_msg": "",
            "conn_id": "c",
            "req_id": request["req_id"],
            "op": "subscribe",
        }
        await ws.send(json.dumps(ack))
        listener = asyncio.create_task(self._listen(ws))
        if self.connections == 1:
            await self._send(ws, self.messages[:DROP_AFTER])
            await asyncio.wait_for(self._pinged.wait(), timeout=5)
            ws.transport.abort()  # a dropped connection: no close frame
        else:
            await self._send(ws, [self.messages[0], *self.messages[DROP_AFTER:]])
            await asyncio.wait_for(ws.wait_closed(), timeout=10)  # until the recorder is done
        listener.cancel()

    async def _send(self, ws: ServerConnection, messages: list[str]) -> None:
        for k, message in enumerate(messages):
            await ws.send(message)
            self.sent.append(message)
            if k % 8 == 7:
                await asyncio.sleep(0.01)

    async def _listen(self, ws: ServerConnection) -> None:
        async for raw in ws:
            if json.loads(raw).get("op") == "ping":
                self.pings += 1
                self._pinged.set()
                await ws.send(
                    json.dumps(
                        {
                            "success": True,
                            "ret_msg": "pong",
                            "conn_id": "c",
                            "req_id": "",
                            "op": "ping",
                        }
                    )
                )


def _table(store: Store, table: str) -> pl.DataFrame:
    frame = store.scan(table).collect().drop("local_ts", strict=False)
    return frame.sort(frame.columns)


@pytest.mark.slow
def test_recorder_matches_ingest_of_the_same_messages(shared_data: Path, tmp_path: Path) -> None:
    messages = _recorded_messages(shared_data)
    server = ReplayServer(messages)
    total = len(messages) + 1  # the re-sent snapshot after the reconnect
    started = time.time_ns()

    async def scenario() -> object:
        async with serve(server.handler, "127.0.0.1", 0) as srv:
            port = srv.sockets[0].getsockname()[1]
            config = RecorderConfig(
                url=f"ws://127.0.0.1:{port}", symbol="XRPUSDT", store=tmp_path / "rec", depth=500,
                max_messages=total, duration_s=20, flush_messages=16, flush_seconds=0.2,
                ping_interval_s=0.05, backoff_min_s=0.05,
            )  # fmt: skip
            return await record(config)

    stats = asyncio.run(scenario())
    assert (
        server.subscriptions
        == [["orderbook.500.XRPUSDT", "publicTrade.XRPUSDT", "tickers.XRPUSDT"]] * 2
    )
    assert server.pings >= 1 and server.connections == 2
    assert stats.connects == 2 and stats.messages == total  # type: ignore[attr-defined]
    assert stats.flushes >= 4  # type: ignore[attr-defined]

    replay = tmp_path / "sent.ndjson"
    replay.write_text("\n".join(server.sent) + "\n")
    expected = Store(tmp_path / "expected")
    ingest(replay, expected)
    recorded = Store(tmp_path / "rec")
    assert len(recorded.files(BOOK_EVENTS)) == stats.flushes  # type: ignore[attr-defined]
    for table in TABLES:
        assert _table(recorded, table).equals(_table(expected, table)), table
    assert {TRADES, QUOTES, BOOK_EVENTS} <= set(recorded.tables())

    book = recorded.scan(BOOK_EVENTS).filter(pl.col("symbol") == "XRPUSDT").collect()
    starts = book.filter((pl.col("flags") & FLAG_BEGIN) != 0)
    assert starts.height == 51
    assert starts.filter((pl.col("flags") & FLAG_SNAPSHOT) != 0).height == 2
    local = recorded.scan(TRADES).collect().get_column("local_ts")
    assert local.min() >= started and local.max() <= time.time_ns()  # type: ignore[operator]
