"""Scripted Bybit v5 protocol peers on loopback for the client tests (REST and WebSocket).

They speak the brief's protocol (`shared/docs/bybit-v5.md`): the REST peer verifies every signed
request from the brief's rules (its own HMAC, not the client's code), keeps orders and fills, and
serves real captured payloads from `shared/data/bybit/`; faults (retCodes, HTTP errors, delays,
clock skew) are scripted per path. The WS peer runs a test-provided coroutine per connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import itertools
import json
import time
from collections import defaultdict, deque
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from websockets.asyncio.server import ServerConnection, serve

from nexusforge.nexus.venues.bybit import BybitConfig, Credentials

API_KEY = "peer-key-7f3a"
API_SECRET = "peer-secret-Zq81xK5v0bN4"


def credentials() -> Credentials:
    return Credentials(API_KEY, API_SECRET)


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def hmac_hex(message: str | bytes) -> str:
    raw = message.encode() if isinstance(message, str) else message
    return hmac.new(API_SECRET.encode(), raw, hashlib.sha256).hexdigest()


def config(rest_port: int = 9, ws_port: int = 9, **overrides: Any) -> BybitConfig:
    fast = {
        "recv_window_ms": 5000,
        "http_timeout_s": 2.0,
        "max_retries": 3,
        "ping_interval_s": 0.2,
        "pong_timeout_s": 1.0,
        "auth_timeout_s": 1.0,
        "reconnect_min_s": 0.02,
        "reconnect_max_s": 0.1,
        "stale_check_s": 0.05,
        "data_timeouts_s": {"orderbook": 0.4, "tickers": 0.4},
    }
    fast.update(overrides)
    ws = f"ws://127.0.0.1:{ws_port}"
    return BybitConfig(
        rest_url=f"http://127.0.0.1:{rest_port}",
        public_ws_url=f"{ws}/v5/public/linear",
        private_ws_url=f"{ws}/v5/private",
        trade_ws_url=f"{ws}/v5/trade",
        **fast,
    )


def envelope(result: Any, code: int = 0, msg: str = "OK") -> dict[str, Any]:
    return {"retCode": code, "retMsg": msg, "result": result, "retExtInfo": {}, "time": now_ms()}


# ---------------------------------------------------------------- REST peer


@dataclass
class Fault:
    """What the peer does instead of (or after) handling one request."""

    code: int = 0  # a retCode to answer with
    status: int = 200  # an HTTP status to answer with
    delay_s: float = 0.0  # sleep before answering (a timeout for a short client timeout)
    apply: bool = False  # handle the request first (the effect lands, the reply is lost)
    headers: dict[str, str] = field(default_factory=dict)
    msg: str = "injected"


@dataclass
class Seen:
    """One request as the peer received it."""

    method: str
    path: str
    query: str
    body: bytes
    at_ms: int
    answer: int = 0
    signed: bool = False


class RestPeer:
    """A Bybit v5 REST peer with orders, fills and scripted faults."""

    def __init__(self, data: Path) -> None:
        self.data = data
        self.skew_ms = 0
        self.faults: dict[str, deque[Fault]] = defaultdict(deque)
        self.seen: list[Seen] = []
        self.orders: dict[str, dict[str, Any]] = {}
        self.executions: list[dict[str, Any]] = []
        self.positions: list[dict[str, Any]] = []
        self.page_size = 2
        self.limit_status: int | None = None
        self._ids = itertools.count(1)
        self.app = Starlette(routes=[Route("/{path:path}", self._route, methods=["GET", "POST"])])

    def server_ms(self) -> int:
        return now_ms() + self.skew_ms

    def inject(self, path: str, *faults: Fault) -> None:
        self.faults[path].extend(faults)

    def requests_to(self, path: str) -> list[Seen]:
        return [s for s in self.seen if s.path == path]

    def real(self, name: str) -> Any:
        return json.loads((self.data / "bybit" / "rest" / name).read_text())

    async def _route(self, request: Request) -> Response:
        path = "/" + request.path_params["path"]
        body = await request.body()
        query = request.scope["query_string"].decode()
        seen = Seen(request.method, path, query, body, now_ms())
        self.seen.append(seen)
        fault = self.faults[path].popleft() if self.faults[path] else None
        if fault is not None and fault.delay_s:
            await asyncio.sleep(fault.delay_s)
        if fault is not None and not fault.apply:
            return self._fault_reply(seen, fault)
        if path.startswith(("/v5/order", "/v5/execution", "/v5/position", "/v5/account")):
            refused = self._verify(request, query, body)
            if refused is not None:
                seen.answer = refused
                return self._reply(envelope({}, refused, "auth refused"))
            seen.signed = True
        params = dict(parse_qsl(query)) if request.method == "GET" else json.loads(body or b"{}")
        code, result = self._handle(path, params)
        if fault is not None:
            return self._fault_reply(seen, fault)
        seen.answer = code
        return self._reply(envelope(result if code == 0 else {}, code, "OK" if code == 0 else "no"))

    def _fault_reply(self, seen: Seen, fault: Fault) -> Response:
        seen.answer = fault.code or fault.status
        if fault.status != 200:
            return Response("injected failure", status_code=fault.status)
        # Only the headers the fault names: a test can leave the reset header out.
        return JSONResponse(envelope({}, fault.code, fault.msg), headers=fault.headers)

    def _reply(self, body: dict[str, Any], headers: dict[str, str] | None = None) -> Response:
        base = {"X-Bapi-Limit": "10", "X-Bapi-Limit-Reset-Timestamp": str(self.server_ms())}
        if self.limit_status is not None:
            base["X-Bapi-Limit-Status"] = str(self.limit_status)
        return JSONResponse(body, headers={**base, **(headers or {})})

    def _verify(self, request: Request, query: str, body: bytes) -> int | None:
        """The brief's §2.4 server algorithm, written independently of the client."""
        h = request.headers
        key, ts, window, sign = (
            h.get("x-bapi-api-key"),
            h.get("x-bapi-timestamp"),
            h.get("x-bapi-recv-window", "5000"),
            h.get("x-bapi-sign"),
        )
        if key != API_KEY or ts is None or sign is None:
            return 10003
        server = self.server_ms()
        if not server - int(window) <= int(ts) < server + 1000:
            return 10002
        payload = query.encode() if request.method == "GET" else body
        expected = hmac_hex(f"{ts}{key}{window}".encode() + payload)
        return None if hmac.compare_digest(expected, sign) else 10004

    def _handle(self, path: str, p: dict[str, Any]) -> tuple[int, Any]:
        handlers: dict[str, Callable[[dict[str, Any]], tuple[int, Any]]] = {
            "/v5/market/time": lambda _: (
                0,
                {
                    "timeSecond": str(self.server_ms() // 1000),
                    "timeNano": str(self.server_ms() * 10**6),
                },
            ),
            "/v5/market/instruments-info": lambda _: (
                0,
                self.real("nautilus_http_get_instruments_linear.json")["result"],
            ),
            "/v5/market/orderbook": lambda _: (
                0,
                self.real("nautilus_http_get_orderbook.json")["result"],
            ),
            "/v5/market/kline": lambda _: (
                0,
                self.real("nautilus_http_get_klines_linear.json")["result"],
            ),
            "/v5/order/create": self._create,
            "/v5/order/cancel": self._cancel,
            "/v5/order/amend": self._amend,
            "/v5/order/cancel-all": self._cancel_all,
            "/v5/order/realtime": self._realtime,
            "/v5/execution/list": self._executions,
            "/v5/position/list": lambda _: (0, {"list": self.positions, "category": "linear"}),
            "/v5/account/wallet-balance": lambda _: (
                0,
                self.real("nautilus_http_get_wallet_balance.json")["result"],
            ),
        }
        handler = handlers.get(path)
        return (10017, {}) if handler is None else handler(p)

    def _create(self, p: dict[str, Any]) -> tuple[int, Any]:
        link = p.get("orderLinkId", "")
        if link and any(o["orderLinkId"] == link for o in self.orders.values()):
            return 110072, {}
        order_id = f"peer-{next(self._ids)}"
        self.orders[order_id] = {
            "orderId": order_id,
            "orderLinkId": link,
            "symbol": p["symbol"],
            "side": p["side"],
            "orderType": p["orderType"],
            "price": p.get("price", ""),
            "qty": p["qty"],
            "orderStatus": "New",
            "positionIdx": p.get("positionIdx", 0),
            "cumExecQty": "0",
            "cumExecValue": "0",
            "createdTime": str(now_ms()),
            "updatedTime": str(now_ms()),
        }
        return 0, {"orderId": order_id, "orderLinkId": link}

    def _find(self, p: dict[str, Any]) -> dict[str, Any] | None:
        for order in self.orders.values():
            if order["orderStatus"] not in ("New", "PartiallyFilled"):
                continue
            if p.get("orderId") == order["orderId"] or (
                "orderId" not in p and p.get("orderLinkId") == order["orderLinkId"]
            ):
                return order
        return None

    def _cancel(self, p: dict[str, Any]) -> tuple[int, Any]:
        order = self._find(p)
        if order is None:
            return 110001, {}
        order["orderStatus"] = "Cancelled"
        return 0, {"orderId": order["orderId"], "orderLinkId": order["orderLinkId"]}

    def _amend(self, p: dict[str, Any]) -> tuple[int, Any]:
        order = self._find(p)
        if order is None:
            return 110001, {}
        for key in ("qty", "price"):
            if key in p:
                order[key] = p[key]
        return 0, {"orderId": order["orderId"], "orderLinkId": order["orderLinkId"]}

    def _cancel_all(self, p: dict[str, Any]) -> tuple[int, Any]:
        done = []
        for order in self.orders.values():
            if order["symbol"] == p["symbol"] and order["orderStatus"] == "New":
                order["orderStatus"] = "Cancelled"
                done.append({"orderId": order["orderId"], "orderLinkId": order["orderLinkId"]})
        return 0, {"list": done, "success": "1"}

    def _realtime(self, p: dict[str, Any]) -> tuple[int, Any]:
        open_only = p.get("openOnly", "0") == "0"
        rows = [
            o
            for o in self.orders.values()
            if (o["orderStatus"] in ("New", "PartiallyFilled")) == open_only
            and p.get("orderLinkId", o["orderLinkId"]) == o["orderLinkId"]
            and p.get("symbol", o["symbol"]) == o["symbol"]
        ]
        return 0, {"list": rows, "nextPageCursor": "", "category": "linear"}

    def _executions(self, p: dict[str, Any]) -> tuple[int, Any]:
        start, end = int(p.get("startTime", 0)), int(p.get("endTime", 2**62))
        if end - start > 7 * 24 * 3600 * 1000:
            return 10001, {}
        rows = sorted(
            (e for e in self.executions if start <= int(e["execTime"]) <= end),
            key=lambda e: int(e["execTime"]),
            reverse=True,
        )
        # A Bybit-like cursor: percent-encoded, sent back verbatim by the client.
        offset = int(p["cursor"].split(":")[1].split(",")[0]) if p.get("cursor") else 0
        size = min(int(p.get("limit", 50)), self.page_size)
        page = rows[offset : offset + size]
        more = offset + size < len(rows)
        cursor = f"page%3A{offset + size}%2Cx" if more else ""
        return 0, {"list": page, "nextPageCursor": cursor, "category": "linear"}


def execution(exec_id: str, exec_time_ms: int, **fields: Any) -> dict[str, Any]:
    """An execution record with the fields Bybit sends (strings for numbers)."""
    row = {
        "category": "linear",
        "symbol": "BTCUSDT",
        "execId": exec_id,
        "orderId": "o-" + exec_id,
        "orderLinkId": "m1-1",
        "side": "Buy",
        "execPrice": "95900.1",
        "execQty": "0.001",
        "execValue": "95.9001",
        "execFee": "0.052745055",
        "feeRate": "0.00055",
        "feeCurrency": "USDT",
        "execType": "Trade",
        "execTime": str(exec_time_ms),
        "isMaker": False,
        "orderType": "Market",
        "leavesQty": "0",
        "closedSize": "",
        "markPrice": "95901.48",
        "seq": 1,
    }
    row.update(fields)
    return row


@contextlib.asynccontextmanager
async def serve_rest(peer: RestPeer) -> AsyncIterator[int]:
    """Run `peer` on an ephemeral loopback port; yields the port."""
    cfg = uvicorn.Config(
        peer.app, host="127.0.0.1", port=0, log_level="error", lifespan="off", ws="none"
    )
    server = uvicorn.Server(cfg)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.005)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield port
    finally:
        server.should_exit = True
        await task


# ---------------------------------------------------------------- WebSocket peer


class PeerConn:
    """One accepted WS connection: frames in a queue, JSON pings answered unless told not to."""

    def __init__(self, ws: ServerConnection, peer: WsPeer) -> None:
        self.ws = ws
        self.peer = peer
        self.frames: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.log: list[tuple[float, dict[str, Any]]] = []
        self.answer_pings = True
        self.authed_at: float | None = None

    async def pump(self) -> None:
        with contextlib.suppress(Exception):
            async for raw in self.ws:
                msg = json.loads(raw)
                self.log.append((time.monotonic(), msg))
                self.peer.all_frames.append(msg)
                if msg.get("op") == "ping":
                    if self.answer_pings:
                        await self.send(self.peer.pong(msg))
                    continue
                await self.frames.put(msg)

    async def next(self, timeout: float = 2.0) -> dict[str, Any]:
        return await asyncio.wait_for(self.frames.get(), timeout)

    async def send(self, msg: dict[str, Any] | str | bytes) -> None:
        await self.ws.send(msg if isinstance(msg, str | bytes) else json.dumps(msg))


class WsPeer:
    """A WS server running `script(conn)` for every connection; `conns` in connection order."""

    def __init__(self, script: Callable[[PeerConn], Awaitable[None]], *, private: bool = False):
        self.script = script
        self.private = private
        self.conns: list[PeerConn] = []
        self.all_frames: list[dict[str, Any]] = []
        self.errors: list[Exception] = []
        self.port = 0

    def pong(self, ping: dict[str, Any]) -> dict[str, Any]:
        if self.private:
            return {
                "req_id": ping.get("req_id", ""),
                "op": "pong",
                "args": [str(now_ms())],
                "conn_id": "c",
            }
        return {
            "success": True,
            "ret_msg": "pong",
            "conn_id": "c",
            "req_id": ping.get("req_id", ""),
            "op": "ping",
        }

    async def _handle(self, ws: ServerConnection) -> None:
        conn = PeerConn(ws, self)
        self.conns.append(conn)
        pump = asyncio.create_task(conn.pump())
        script = asyncio.create_task(self.script(conn))
        await pump  # the connection is gone: the script has nothing left to talk to
        script.cancel()
        (outcome,) = await asyncio.gather(script, return_exceptions=True)
        if isinstance(outcome, Exception):
            self.errors.append(outcome)

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[WsPeer]:
        async with serve(self._handle, "127.0.0.1", 0) as server:
            self.port = next(iter(server.sockets)).getsockname()[1]
            yield self


async def accept_auth(
    conn: PeerConn, *, success: bool = True, delay_s: float = 0.0, trade: bool = False
) -> None:
    """Read the auth request, check it per the brief (§7.1), answer after `delay_s`."""
    msg = await conn.next()
    assert msg["op"] == "auth", msg
    key, expires, sig = msg["args"]
    assert key == API_KEY
    assert isinstance(expires, int) and expires > now_ms()
    assert sig == hmac_hex(f"GET/realtime{expires}")
    await asyncio.sleep(delay_s)
    conn.authed_at = time.monotonic()
    if trade:  # the order-entry socket answers with retCode (brief §8)
        code, text = (0, "OK") if success else (10004, "denied")
        await conn.send({"retCode": code, "retMsg": text, "op": "auth", "connId": "c"})
        return
    await conn.send(
        {"success": success, "ret_msg": "" if success else "denied", "op": "auth", "conn_id": "c"}
    )


async def wait_until(check: Callable[[], bool], timeout: float = 3.0) -> None:
    """Poll `check` until true; fails the test after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.01)
