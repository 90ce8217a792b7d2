"""Benchmark: the Nexus engine's latency from a book message to an order, and its market-data rate.

Data: the real Bybit 2021 public capture (`shared/data/bybit/market/bybit_legacy_v2_linear_ws_
20210417.txt`, LTCUSDT book + trades, eight symbols) replayed as fast as possible and looping by
the local exchange (`nexusforge exchange serve`, its own process, loopback).

1. tick-to-order: the engine trades LTCUSDT with six short-window strategies (decision round at
   most every 20 ms); for every round that sends orders, the time from the book message's
   arrival in the engine (the public stream's callback, after the frame is decoded) to the first
   order request handed to the REST client: book -> features -> six models -> plan_round ->
   journal (SQLite WAL, synchronous=FULL by default: an fsync per intent) -> request. p50/p99
   in µs. `--sync NORMAL` (WAL: durable across a process crash, not a power cut) for comparison.
2. market-data throughput: LTCUSDT frames captured from the exchange's public websocket, then
   pushed through the engine's full path (envelope decode, Bybit book rules, Rust book, streaming
   features, six models' signals) without the socket: messages/s. Baseline, same run: the same
   frames applied to the Rust book alone (`apply_json`).
Last line: `RESULT tick_to_order_p50_us=<a> tick_to_order_p99_us=<b> md_msgs_per_s=<c>`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from websockets.asyncio.client import connect

import nexusforge
from nexusforge.market.book import OrderBook
from nexusforge.nexus.config import load_config
from nexusforge.nexus.engine import Engine
from nexusforge.nexus.market_feed import MarketFeed
from nexusforge.nexus.run import venue_config
from nexusforge.nexus.venues.bybit import BybitPublicWs, BybitRestClient, Credentials
from nexusforge.nexus.venues.bybit.public_ws import _BookState

SHARED = Path(os.environ.get("NEXUSFORGE_SHARED", Path(__file__).resolve().parents[2] / "shared"))
LEGACY = SHARED / "data/bybit/market/bybit_legacy_v2_linear_ws_20210417.txt"
KEY, SECRET = "bench", "bench-secret"
SYMBOL = "LTCUSDT"
TOPICS = [f"orderbook.50.{SYMBOL}", f"publicTrade.{SYMBOL}"]


def _e(op: str, *args: object, **extra: object) -> dict[str, object]:
    return {"op": op, "args": list(args), **extra}


STRATEGIES = {
    "imb1": _e("clip", _e("mul", _e("ema", {"col": "imb_1"}, k=3), {"const": 2.0}), params=[-1, 1]),
    "imb5": _e("clip", _e("ema", {"col": "imb_5"}, k=5), params=[-1.0, 1.0]),
    "imb10": _e("clip", {"col": "imb_10"}, params=[-1.0, 1.0]),
    "anti_imb1": _e("neg", _e("clip", {"col": "imb_1"}, params=[-1.0, 1.0])),
    "micro": _e("tanh", _e("ema", {"col": "microprice_dev_bps"}, k=4)),
    "ofi": _e("tanh", {"col": "ofi_1s"}),
}


def write_files(folder: Path, port: int, sync: str = "FULL") -> tuple[Path, Path]:
    """The exchange's TOML (key, no rate limits, fast looping replay) and the engine's TOML."""
    ex = folder / "exchange.toml"
    ex.write_text(
        f'[[keys]]\nkey = "{KEY}"\nsecret = "{SECRET}"\n'
        "[rate_limits]\norder_write = 100000\norder_read = 100000\naccount_read = 100000\n"
        f'[replay]\nfiles = ["{LEGACY}"]\nspeed = 0.0\nloop = true\n'
    )
    lines = ["[engine]", f'symbol = "{SYMBOL}"', 'journal = "journal.sqlite"',
             "round_interval_s = 0.02", f'journal_synchronous = "{sync}"',
             "[venue]", 'kind = "custom"', f"port = {port}"]  # fmt: skip
    for name, expr in STRATEGIES.items():
        path = folder / f"{name}.json"
        path.write_text(json.dumps({"schema": 1, "expr": expr}))
        lines += ["[[models]]", f'name = "{name}"', f'strategy = "{path}"']
    engine = folder / "engine.toml"
    engine.write_text("\n".join(lines) + "\n")
    return ex, engine


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def wait_up(port: int) -> None:
    for _ in range(200):
        try:
            async with BybitRestClient(venue_config(load_config(None), port)) as rest:
                await rest.sync_time()
                return
        except Exception:
            await asyncio.sleep(0.1)
    raise RuntimeError("the local exchange did not start")


async def capture(port: int, n: int) -> list[bytes]:
    """Raw LTCUSDT frames as the public websocket sends them (the replay loops)."""
    frames: list[bytes] = []
    async with connect(f"ws://127.0.0.1:{port}/v5/public/linear", max_size=None) as ws:
        await ws.send(json.dumps({"op": "subscribe", "args": TOPICS}))
        async for frame in ws:
            raw = frame.encode() if isinstance(frame, str) else frame
            if b'"topic"' in raw[:40]:
                frames.append(raw)
            if len(frames) >= n:
                return frames
    return frames


async def tick_to_order(engine_cfg: Path, port: int, seconds: float) -> Engine:
    cfg = load_config(engine_cfg)
    engine = Engine(cfg, venue_config(cfg, port), Credentials(KEY, SECRET))
    await engine.run(seconds)
    return engine


async def md_throughput(
    engine: Engine, frames: list[bytes], min_s: float
) -> tuple[float, float, int]:
    """Frames through the engine's market-data path (no rounds): messages per wall second and
    per CPU second of this process, passes made."""
    cfg = load_config(None)
    fresh = Engine(engine.config, venue_config(cfg, 1), Credentials(KEY, SECRET))
    assert engine.instrument is not None
    fresh.instrument = engine.instrument
    fresh.feed = MarketFeed(engine.instrument)
    fresh._setup_models()  # models + ledgers from the (already written) journal
    fresh._last_round = time.monotonic() + 1e9  # market data only: no decision rounds
    ws = BybitPublicWs(fresh.venue, TOPICS, fresh._on_public)
    passes, t0, c0 = 0, time.perf_counter(), time.process_time()
    while True:
        ws._books = {TOPICS[0]: _BookState()}  # what a (re)subscribe does; frames start anew
        for frame in frames:
            await ws._dispatch(frame)
        passes += 1
        if time.perf_counter() - t0 >= min_s:
            break
    rate = passes * len(frames) / (time.perf_counter() - t0)
    cpu_rate = passes * len(frames) / (time.process_time() - c0)
    assert ws.stats.malformed == 0 and fresh.state.md_messages == passes * len(frames)
    await fresh.rest.aclose()
    fresh.journal.close()
    return rate, cpu_rate, passes


def book_only(frames: list[bytes], tick: float, min_s: float) -> float:
    books = [f for f in frames if b'"orderbook' in f[:40]]
    passes, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < min_s:
        b = OrderBook(tick)
        for f in books:
            b.apply_json([f], "bybit")
        passes += 1
    return passes * len(books) / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=float, default=20.0, help="engine trading time")
    ap.add_argument("--frames", type=int, default=20_000, help="frames for the throughput part")
    ap.add_argument("--sync", default="FULL", help="journal synchronous mode (FULL or NORMAL)")
    args = ap.parse_args()
    print(f"python {platform.python_version()} on {platform.machine()} {platform.system()}, "
          f"nexusforge {nexusforge.__version__}, {os.cpu_count()} cpus")  # fmt: skip
    print(f"data: {LEGACY.name} ({SYMBOL}), replayed at full speed, looping")
    print(f"load average at start: {os.getloadavg()[0]:.1f}; journal synchronous={args.sync}")
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        ex_cfg, engine_cfg = write_files(Path(tmp), port, args.sync)
        cmd = [sys.executable, "-m", "nexusforge.cli", "exchange", "serve", "--port", str(port),
               "--config", str(ex_cfg)]  # fmt: skip
        server = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            asyncio.run(wait_up(port))
            frames = asyncio.run(capture(port, args.frames))
            engine = asyncio.run(tick_to_order(engine_cfg, port, args.seconds))
            rate, cpu_rate, passes = asyncio.run(md_throughput(engine, frames, 3.0))
        finally:
            server.terminate()
            server.wait(10)
    assert engine.instrument is not None
    base = book_only(frames, float(engine.instrument.tick_size), 2.0)
    us = np.asarray(engine.router.latencies_ns, dtype=np.float64) / 1e3
    cpu = np.asarray(engine.router.cpu_latencies_ns, dtype=np.float64) / 1e3
    p50, p99 = float(np.percentile(us, 50)), float(np.percentile(us, 99))
    print(f"tick-to-order: {len(us)} rounds with orders in {args.seconds:.0f} s; "
          f"p50 {p50:.0f} µs, p99 {p99:.0f} µs, max {us.max():.0f} µs wall; "
          f"CPU time of the engine thread in between: p50 {np.percentile(cpu, 50):.0f} µs, "
          f"p99 {np.percentile(cpu, 99):.0f} µs")  # fmt: skip
    print(f"engine: {engine.state.rounds} rounds, {engine.state.orders_sent} orders, "
          f"{engine.state.fills} fills, {engine.state.md_messages} md messages live")  # fmt: skip
    print(f"market-data path: {len(frames)} frames x {passes} passes: {rate:,.0f} msgs/s wall, "
          f"{cpu_rate:,.0f} msgs per CPU second (baseline, Rust book alone on the book frames: "
          f"{base:,.0f} msgs/s)")  # fmt: skip
    print(f"RESULT tick_to_order_p50_us={p50:.0f} tick_to_order_p99_us={p99:.0f} "
          f"md_msgs_per_s={rate:.0f}")  # fmt: skip


if __name__ == "__main__":
    main()
