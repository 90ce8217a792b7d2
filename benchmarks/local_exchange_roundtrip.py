"""Benchmark: the local Bybit-v5 exchange as a client sees it, on loopback.

Data: the real Bybit XRPUSDT ob500 recording (`shared/data/bybit/market/...head50.data.zip`).
Measured from a client on the same machine (the exchange on its own thread):
- REST order round trip: a signed POST /v5/order/create (a resting limit) then /v5/order/cancel,
  each timed (`--orders` pairs, keep-alive httpx client);
- websocket order entry: `order.create` on /v5/trade until its reply;
- market data: `nexusforge exchange serve` in its own process replays the recording as fast as
  possible (`speed 0`, looping) to one `orderbook.50` subscriber: book messages received per
  second over `--seconds`.
Baseline, same run: GET /v5/market/time (no auth, no venue work): the HTTP floor of the same
server and client, so `rest_vs_floor` is what the venue itself adds.
Last line: `RESULT rest_order_p50_us=<a> rest_order_p99_us=<b> http_floor_p50_us=<c>
ws_order_p50_us=<d> book_msgs_per_s=<e>`.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np
from websockets.sync.client import connect

import nexusforge
from nexusforge.nexus.venues.local import ApiKey, ExchangeConfig, LocalExchange, RateLimits, Secret

KEY, SECRET = "bench", "bench-secret"
UNLIMITED = RateLimits(order_write=1_000_000, order_read=1_000_000, account_read=1_000_000)
XRP = "bybit/market/bybit_XRPUSDT_ob500_2024-12-01_head50.data.zip"


def shared_data() -> Path:
    root = os.environ.get("NEXUSFORGE_SHARED")
    base = Path(root) if root else Path(__file__).resolve().parents[1].parent / "shared"
    return base / "data"


def signed_post(http: httpx.Client, path: str, params: dict[str, object]) -> dict[str, object]:
    body = json.dumps(params)
    stamp = str(time.time_ns() // 1_000_000)
    sign = hmac.new(SECRET.encode(), f"{stamp}{KEY}5000{body}".encode(), hashlib.sha256)
    headers = {"X-BAPI-API-KEY": KEY, "X-BAPI-TIMESTAMP": stamp, "X-BAPI-RECV-WINDOW": "5000",
               "X-BAPI-SIGN": sign.hexdigest(), "Content-Type": "application/json"}  # fmt: skip
    reply: dict[str, object] = http.post(path, content=body, headers=headers).json()
    if reply["retCode"] != 0:
        raise SystemExit(f"request failed: {reply}")
    return reply


def rest_orders(ex: LocalExchange, n: int) -> tuple[list[float], list[float]]:
    """Create+cancel latencies (µs) and the /v5/market/time floor (µs)."""
    order_us, floor_us = [], []
    with httpx.Client(base_url=ex.rest_url) as http:
        for i in range(n):
            t0 = time.perf_counter()
            made = signed_post(http, "/v5/order/create", {
                "category": "linear", "symbol": "XRPUSDT", "side": "Buy", "orderType": "Limit",
                "qty": "10", "price": "1.9", "orderLinkId": f"b-{i}"})  # fmt: skip
            t1 = time.perf_counter()
            result = made["result"]
            assert isinstance(result, dict)
            signed_post(http, "/v5/order/cancel", {"category": "linear", "symbol": "XRPUSDT",
                                                   "orderId": result["orderId"]})  # fmt: skip
            t2 = time.perf_counter()
            http.get("/v5/market/time")
            t3 = time.perf_counter()
            order_us += [(t1 - t0) * 1e6, (t2 - t1) * 1e6]
            floor_us.append((t3 - t2) * 1e6)
    return order_us, floor_us


def ws_orders(ex: LocalExchange, n: int) -> list[float]:
    out = []
    with connect(ex.ws_trade_url) as ws:
        expires = time.time_ns() // 1_000_000 + 10_000
        sign = hmac.new(SECRET.encode(), f"GET/realtime{expires}".encode(), hashlib.sha256)
        ws.send(json.dumps({"op": "auth", "args": [KEY, expires, sign.hexdigest()]}))
        ws.recv()
        for i in range(n):
            order = {"category": "linear", "symbol": "XRPUSDT", "side": "Buy",
                     "orderType": "Limit", "qty": "10", "price": "1.8"}  # fmt: skip
            header = {"X-BAPI-TIMESTAMP": time.time_ns() // 10**6}
            request = {"reqId": f"w{i}", "header": header, "op": "order.create", "args": [order]}
            t0 = time.perf_counter()
            ws.send(json.dumps(request))
            reply = json.loads(ws.recv())
            out.append((time.perf_counter() - t0) * 1e6)
            if reply["retCode"] != 0:
                raise SystemExit(f"ws order failed: {reply}")
    return out


def book_rate(data: Path, seconds: float, workdir: Path) -> float:
    """Book messages/s from `nexusforge exchange serve` (its own process) to one subscriber."""
    config = workdir / "exchange.toml"
    config.write_text(
        f'[[keys]]\nkey = "{KEY}"\nsecret = "{SECRET}"\n'
        f'[replay]\nfiles = ["{data / XRP}"]\nspeed = 0\n'
    )
    cmd = [sys.executable, "-m", "nexusforge.cli", "exchange", "serve", "--port", "0",
           "--config", str(config), "--duration", str(seconds + 20)]  # fmt: skip
    with subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True) as server:
        assert server.stdout is not None
        url = server.stdout.readline().split()[-1].replace("http://", "ws://")
        with connect(f"{url}/v5/public/linear") as ws:
            ws.send(json.dumps({"op": "subscribe", "args": ["orderbook.50.XRPUSDT"]}))
            ws.recv()
            ws.recv(timeout=5)  # the snapshot
            count, start = 0, time.perf_counter()
            while time.perf_counter() - start < seconds:
                ws.recv(timeout=5)
                count += 1
            rate = count / (time.perf_counter() - start)
        server.terminate()
        server.wait(timeout=20)
    return rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--orders", type=int, default=500)
    parser.add_argument("--seconds", type=float, default=3.0)
    args = parser.parse_args()
    data = shared_data()
    print(f"machine: {platform.machine()} {platform.processor() or ''} cpus={os.cpu_count()}")
    print(f"python {sys.version.split()[0]}, nexusforge {nexusforge.__version__}, "
          f"httpx {httpx.__version__}")  # fmt: skip
    cfg = ExchangeConfig(keys=(ApiKey(KEY, Secret(SECRET)),), replay_files=(data / XRP,),
                         start_paused=True, rate_limits=UNLIMITED)  # fmt: skip
    with LocalExchange(cfg) as ex:
        ex.step_market(1)
        order_us, floor_us = rest_orders(ex, args.orders)
        ws_us = ws_orders(ex, args.orders)
    with tempfile.TemporaryDirectory() as tmp:
        rate = book_rate(data, args.seconds, Path(tmp))
    p50, p99 = np.percentile(order_us, [50, 99])
    floor = float(np.percentile(floor_us, 50))
    ws50 = float(np.percentile(ws_us, 50))
    print(f"REST create/cancel: p50 {p50:.0f} µs, p99 {p99:.0f} µs over {len(order_us)} requests")
    print(f"baseline GET /v5/market/time: p50 {floor:.0f} µs (rest_vs_floor {p50 / floor:.2f}x)")
    print(f"WS order.create: p50 {ws50:.0f} µs; book messages to one subscriber: {rate:.0f}/s")
    print(f"RESULT rest_order_p50_us={p50:.0f} rest_order_p99_us={p99:.0f} "
          f"http_floor_p50_us={floor:.0f} ws_order_p50_us={ws50:.0f} "
          f"book_msgs_per_s={rate:.0f}")  # fmt: skip


if __name__ == "__main__":
    main()
