"""`nexusforge data record` as a user runs it: a real process against a local v5 feed."""

from __future__ import annotations

import asyncio
import json
import sys
import zipfile
from pathlib import Path

import pytest
from websockets.asyncio.server import ServerConnection, serve

from nexusforge.data.schema import BOOK_EVENTS
from nexusforge.data.store import Store


def _ob500_lines(shared: Path) -> list[str]:
    archive = shared / "bybit/market/bybit_XRPUSDT_ob500_2024-12-01_head50.data.zip"
    with zipfile.ZipFile(archive) as zf:
        return zf.read(zf.namelist()[0]).decode().splitlines()


@pytest.mark.slow
def test_record_command_writes_the_store(shared_data: Path, tmp_path: Path) -> None:
    lines = _ob500_lines(shared_data)

    async def handler(ws: ServerConnection) -> None:
        request = json.loads(await ws.recv())
        ack = {"success": True, "ret_msg": "", "conn_id": "c", "req_id": request.get("req_id", "")}
        await ws.send(json.dumps({**ack, "op": "subscribe"}))
        for line in lines:
            await ws.send(line)
        await ws.wait_closed()

    async def scenario() -> tuple[int, str]:
        async with serve(handler, "127.0.0.1", 0) as server:
            port = server.sockets[0].getsockname()[1]
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "nexusforge.cli", "data", "record",
                "--url", f"ws://127.0.0.1:{port}", "--symbol", "XRPUSDT", "--depth", "500",
                "--out", str(tmp_path / "rec"), "--max-messages", str(len(lines)),
                "--duration", "30",
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
            )  # fmt: skip
            out, _ = await asyncio.wait_for(proc.communicate(), timeout=60)
            return proc.returncode or 0, out.decode()

    code, output = asyncio.run(scenario())
    assert code == 0, output
    assert f"recorded {len(lines)} messages" in output
    book = Store(tmp_path / "rec").scan(BOOK_EVENTS).collect()
    assert book.height == 3_966  # level rows of the 50 archive messages, as ingest gives
    assert book["update_id"].n_unique() == len(lines)
