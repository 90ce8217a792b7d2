"""Venue input fuzzed from real recorded messages: public and private WS frames through the
client's frame entry (public data on into the engine's market feed), and REST replies served
over loopback HTTP to the real client. Only the documented errors escape (BybitError from a REST
call); a WS frame never raises and never makes an event handler fail."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
from collections.abc import Coroutine, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

import pytest
from fuzzx import FUZZ, mutated
from hypothesis import given
from hypothesis import strategies as st
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from nexusforge.market.instruments import Instrument
from nexusforge.nexus.executions import parse_ws_message
from nexusforge.nexus.market_feed import MarketFeed
from nexusforge.nexus.venues.bybit import BybitConfig, BybitPrivateWs, BybitPublicWs, Credentials
from nexusforge.nexus.venues.bybit.errors import BybitError, BybitProtocolError
from nexusforge.nexus.venues.bybit.public_ws import BookUpdate, TradeBatch
from nexusforge.nexus.venues.bybit.ratelimit import RateLimiter
from nexusforge.nexus.venues.bybit.rest import BybitRestClient

T = TypeVar("T")
BYBIT = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "bybit"
pytestmark = pytest.mark.skipif(not BYBIT.is_dir(), reason="shared/data/bybit not present")
SYMBOL = "BTCUSDT"
PUBLIC_TOPICS = [f"orderbook.1.{SYMBOL}", f"publicTrade.{SYMBOL}", f"tickers.{SYMBOL}",
                 f"kline.5.{SYMBOL}"]  # fmt: skip
INSTRUMENT = Instrument(SYMBOL, Decimal("0.1"), Decimal("0.001"), Decimal("0.001"),
                        Decimal(100), Decimal(100), Decimal(5))  # fmt: skip


def _compact(path: Path) -> bytes:
    """One recorded message on one line, as it comes off the socket."""
    return json.dumps(json.loads(path.read_bytes()), separators=(",", ":")).encode()


def _seeds(folder: str) -> list[bytes]:
    if not BYBIT.is_dir():
        return [b"{}"]
    # the recording's v3-era trade topic, renamed to the v5 one the client subscribes
    return [_compact(p).replace(b'"trade.linear.', b'"publicTrade.')
            for p in sorted((BYBIT / folder).glob("*.json"))]  # fmt: skip


PUBLIC = _seeds("ws_public")
PONG = b'{"op":"pong","args":["1"]}'
PRIVATE = _seeds("ws_private")


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """Skip formatting thousands of expected warnings (the logging is tested elsewhere)."""
    logger = logging.getLogger("nexusforge")
    level = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        logger.setLevel(level)


def frames(seeds: list[bytes]) -> st.SearchStrategy[list[bytes]]:
    """A short session: real frames, some byte-mutated, in any order."""
    one = st.sampled_from(seeds).flatmap(lambda s: st.one_of(st.just(s), mutated(s)))
    return st.lists(one, min_size=1, max_size=5)


class FeedSink:
    """What the engine does with public events: the book and features of the market feed."""

    def __init__(self) -> None:
        self.feed = MarketFeed(INSTRUMENT)

    def __call__(self, event: object) -> None:
        if isinstance(event, BookUpdate) and event.symbol == SYMBOL:
            self.feed.on_book(event)
            self.feed.mid()
        elif isinstance(event, TradeBatch):
            self.feed.on_trades(event)


class WsLoopback:
    """A websocket server on loopback and one real client connected to it, on an event loop in
    a background thread; `push` sends frames down the live socket and waits until the client
    has read them. The server confirms auth (private) and ignores subscribes."""

    def __init__(self, make_client: Any) -> None:
        self.loop = asyncio.new_event_loop()
        threading.Thread(target=self.loop.run_forever, daemon=True).start()
        self._conn: ServerConnection | None = None
        self._connected = asyncio.Event()
        self.server = self.run(self._start())
        port = self.server.sockets[0].getsockname()[1]
        base = BybitConfig.custom(port=port)
        # no heartbeat or data timeouts: a fuzz session sends what it sends
        cfg = BybitConfig(rest_url=base.rest_url, public_ws_url=base.public_ws_url,
                          private_ws_url=base.private_ws_url, trade_ws_url=base.trade_ws_url,
                          ping_interval_s=3600.0, data_timeouts_s={}, reconnect_min_s=0.01,
                          reconnect_max_s=0.05)  # fmt: skip
        self.client = make_client(cfg)
        self.run(self._connect())

    async def _start(self) -> Server:
        # no keepalive pings: their payload comes from the global `random`, which hypothesis
        # watches while it draws
        return await serve(
            self._handler, "127.0.0.1", 0, max_size=None, compression=None, ping_interval=None
        )

    async def _connect(self) -> None:
        self.client.start()
        await asyncio.wait_for(self._connected.wait(), 10)

    async def _handler(self, conn: ServerConnection) -> None:
        self._conn = conn
        async for message in conn:
            if '"op":"auth"' in str(message):
                await conn.send(json.dumps({"op": "auth", "success": True, "ret_msg": "",
                                            "conn_id": "fuzz"}))  # fmt: skip
            if '"op":"subscribe"' in str(message):
                self._connected.set()

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout=60)

    def push(self, frames: list[bytes]) -> None:
        self.run(self._push(frames))

    async def _push(self, frames: list[bytes]) -> None:
        assert self._conn is not None
        target = self.client.stats.messages + len(frames) + 1
        self.client._pong.clear()
        try:
            for frame in [*frames, PONG]:  # frames are read in order: the pong comes last
                await self._conn.send(frame)  # a binary frame, as a venue may send
            await asyncio.wait_for(self.client._pong.wait(), 20)
        except (ConnectionClosed, TimeoutError):
            await asyncio.sleep(0.05)
            task = self.client._task
            if task is not None and task.done():
                task.result()  # the client died: raise what killed it
            raise
        while self.client.stats.messages < target:  # a mutated frame was a pong too
            await asyncio.sleep(0.001)
        assert self.client.stats.disconnects == 0, "the fuzz frames dropped the session"


_WS: dict[str, WsLoopback] = {}


def ws(kind: str) -> WsLoopback:
    if kind not in _WS:
        if kind == "public":
            _WS[kind] = WsLoopback(lambda cfg: BybitPublicWs(cfg, PUBLIC_TOPICS, FeedSink()))
        else:
            _WS[kind] = WsLoopback(
                lambda cfg: BybitPrivateWs(cfg, Credentials("k", "s"), PrivateSink())
            )
    return _WS[kind]


class PrivateSink:
    """Collects fills; every execId must arrive once."""

    def __init__(self) -> None:
        self.exec_ids: list[str] = []

    def __call__(self, event: object) -> None:
        self.exec_ids += [x.execId for x in getattr(event, "executions", [])]


@FUZZ
@given(frames(PUBLIC))
def test_public_frames_never_raise(batch: list[bytes]) -> None:
    lb = ws("public")
    with quiet():
        lb.push(batch)
    assert lb.client.stats.handler_errors == 0


@FUZZ
@given(frames(PRIVATE))
def test_private_frames_never_raise(batch: list[bytes]) -> None:
    lb = ws("private")
    with quiet():
        lb.push(batch)
    assert lb.client.stats.handler_errors == 0
    ids = lb.client._on_event.exec_ids
    assert len(ids) == len(set(ids))  # each fill delivered once, mutated or not


def test_the_real_frames_reach_the_typed_path() -> None:
    """Unmutated, the recordings parse into events (else the fuzz above tests nothing)."""
    events: list[Any] = []
    public = WsLoopback(lambda cfg: BybitPublicWs(cfg, PUBLIC_TOPICS, events.append))
    private = WsLoopback(lambda cfg: BybitPrivateWs(cfg, Credentials("k", "s"), events.append))
    public.push(PUBLIC)
    private.push(PRIVATE)
    kinds = {type(e).__name__ for e in events}
    assert {"ExecutionEvent", "OrderEvent", "BookUpdate", "TradeBatch", "TickerUpdate"} <= kinds
    assert public.client.stats.malformed == private.client.stats.malformed == 0


# ---- REST: a loopback HTTP server answers every call with the reply under test ----


def http_reply(status: int, headers: list[tuple[str, str]], body: bytes) -> bytes:
    lines = [f"HTTP/1.1 {status} X", f"content-length: {len(body)}"]
    lines += [f"{k}: {v}" for k, v in headers]
    return "\r\n".join(lines).encode("latin-1") + b"\r\n\r\n" + body


TIME_BODY = json.dumps({"retCode": 0, "retMsg": "OK",
                        "result": {"timeSecond": "1700000000",
                                   "timeNano": "1700000000000000000"}}).encode()  # fmt: skip
TIME_REPLY = http_reply(200, [], TIME_BODY)


class Loopback:
    """An HTTP/1.1 server and the real REST client on one event loop in a background thread."""

    def __init__(self) -> None:
        self.reply = b""
        self.loop = asyncio.new_event_loop()
        threading.Thread(target=self.loop.run_forever, daemon=True).start()
        server = self.run(asyncio.start_server(self._serve, "127.0.0.1", 0))
        port = server.sockets[0].getsockname()[1]
        cfg = BybitConfig.custom(port=port)
        self.client = self.run(self._client(BybitConfig(
            rest_url=cfg.rest_url, public_ws_url=cfg.public_ws_url,
            private_ws_url=cfg.private_ws_url, trade_ws_url=cfg.trade_ws_url,
            max_retries=0, http_timeout_s=5.0,
        )))  # fmt: skip

    async def _client(self, cfg: BybitConfig) -> BybitRestClient:
        return BybitRestClient(cfg, Credentials("k", "s"))

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout=30)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError):
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                               if line.lower().startswith(b"content-length:")), 0)  # fmt: skip
                await reader.readexactly(length)
                writer.write(TIME_REPLY if b"/v5/market/time" in head else self.reply)
                await writer.drain()
        writer.close()


def _envelope(path: Path) -> bytes:
    """A recorded reply as the venue sends it (some recordings hold only the `result`)."""
    doc = json.loads(path.read_bytes())
    if "retCode" not in doc:
        doc = {"retCode": 0, "retMsg": "OK", "result": doc, "retExtInfo": {}, "time": 1}
    return json.dumps(doc, separators=(",", ":")).encode()


def _rest_seeds() -> dict[str, tuple[str, bytes]]:
    """Recorded replies by file, with the client call that reads that endpoint."""
    calls = {"instruments": "instruments", "orderbook": "orderbook", "klines": "klines",
             "executions": "executions", "execution-list": "executions",
             "orders": "open_orders", "open-orders": "open_orders", "positions": "positions",
             "position-info": "positions", "wallet": "wallet", "cancel-order": "cancel",
             "amend-order": "cancel", "create-order": "cancel"}  # fmt: skip
    out = {}
    for path in sorted((BYBIT / "rest").glob("*.json")) if BYBIT.is_dir() else []:
        name = path.stem.replace("_", "-")
        call = next((c for key, c in calls.items() if key in name), None)
        if call is not None:
            out[path.name] = (call, _envelope(path))
    return out


REST = _rest_seeds()
LIMIT_HEADERS = ["x-bapi-limit", "x-bapi-limit-status", "x-bapi-limit-reset-timestamp",
                 "retry-after", "content-type"]  # fmt: skip


def header_value() -> st.SearchStrategy[str]:
    """Any latin-1 text on one line (as httpx decodes it), or a huge integer."""
    line = st.binary(max_size=14).map(lambda b: b.replace(b"\r", b" ").replace(b"\n", b" "))
    return line.map(lambda b: b.decode("latin-1")) | st.integers(-(2**70), 2**70).map(str)


HEADERS = st.lists(st.tuples(st.sampled_from(LIMIT_HEADERS), header_value()), max_size=3)


def reply_case(name: str) -> st.SearchStrategy[tuple[str, bytes]]:
    call, body = REST[name]
    return st.tuples(st.just(call), st.one_of(st.just(body), mutated(body)))


async def call(client: BybitRestClient, name: str) -> object:
    client.limiter = RateLimiter(client.clock)  # a header of the last reply must not stall this
    if name == "instruments":
        return await client.instruments(SYMBOL)
    if name == "orderbook":
        return await client.orderbook(SYMBOL)
    if name == "klines":
        return await client.klines(SYMBOL, "1")
    if name == "executions":
        return await client.executions(symbol=SYMBOL)
    if name == "open_orders":
        return await client.open_orders(SYMBOL)
    if name == "positions":
        return await client.positions(SYMBOL)
    if name == "wallet":
        return await client.wallet_balance()
    return await client.cancel_order(SYMBOL, order_link_id="nf00-fuzz-1")


_LOOPBACK: list[Loopback] = []


def loopback() -> Loopback:
    if not _LOOPBACK:
        _LOOPBACK.append(Loopback())
    return _LOOPBACK[0]


@FUZZ
@given(
    st.sampled_from(sorted(REST)).flatmap(reply_case),
    st.sampled_from([200, 200, 200, 200, 403, 404, 429, 500, 502]),
    HEADERS,
)
def test_rest_replies_raise_only_bybit_errors(
    case: tuple[str, bytes], status: int, headers: list[tuple[str, str]]
) -> None:
    name, body = case
    lb = loopback()
    lb.reply = http_reply(status, headers, body)
    with quiet(), contextlib.suppress(BybitError):
        lb.run(call(lb.client, name))


def test_the_real_rest_replies_parse() -> None:
    """Unmutated, every reply captured off the wire reads without error (the fuzz is not
    vacuous); the hirokisan files were re-serialised by a Go client (SOURCES.md), so a shape it
    changed (its orderbook levels are objects) is a protocol error, not a crash."""
    lb = loopback()
    assert {c for c, _ in REST.values()} >= {"instruments", "executions", "open_orders",
                                              "positions", "wallet", "cancel"}  # fmt: skip
    parsed = 0
    for name, (which, body) in sorted(REST.items()):
        lb.reply = http_reply(200, [], body)
        if name.startswith("hirokisan"):
            with contextlib.suppress(BybitProtocolError):
                lb.run(call(lb.client, which))
            continue
        assert lb.run(call(lb.client, which)) is not None, name
        parsed += 1
    assert parsed >= 10


# ---- regressions: what the fuzz found ----


def test_a_frame_of_invalid_utf8_is_skipped_and_the_stream_lives_on() -> None:
    """Found by the fuzz: msgspec raises UnicodeDecodeError (not DecodeError) for bad UTF-8 in
    a string, which ended the client's connection loop for good."""
    bad = b'{"topic":"orderbook.1.BTCUS\x81","type":"delta","data":{}}'
    for lb in (ws("public"), ws("private")):
        before = lb.client.stats.malformed
        lb.push([bad, *(PUBLIC if lb is ws("public") else PRIVATE)[:1]])
        assert lb.client.stats.malformed == before + 1
        assert lb.client.stats.disconnects == 0 and not lb.client._task.done()


@pytest.mark.parametrize(
    ("status", "headers", "body", "error"),
    [
        (200, [], b'{"retCode":0,"retMsg":"\x80","result":{}}', "unreadable reply"),
        (200, [], b'{"retCode":0,"retMsg":"OK","result":{"list":[{"coin":"\xff"}]}}', "shape"),
        (200, [("x-bapi-limit-reset-timestamp", "\xb2")],
         b'{"retCode":10006,"retMsg":"Too many visits","result":{}}', "10006"),
    ],
)  # fmt: skip
def test_replies_the_fuzz_found_are_bybit_errors(
    status: int, headers: list[tuple[str, str]], body: bytes, error: str
) -> None:
    """Bad UTF-8 in a reply (was a UnicodeDecodeError) and a superscript digit in the reset
    header of a 10006 ("²".isdigit() is True, int("²") raises) are typed errors."""
    lb = loopback()
    lb.reply = http_reply(status, headers, body)
    with pytest.raises(BybitError, match=error):
        lb.run(call(lb.client, "wallet"))


def test_a_candle_with_a_non_integer_start_is_a_protocol_error() -> None:
    row = '["17x","1","2","0.5","1.5","10","15"]'
    lb = loopback()
    lb.reply = http_reply(
        200, [], b'{"retCode":0,"retMsg":"OK","result":{"list":[%s]}}' % row.encode()
    )
    with pytest.raises(BybitProtocolError, match="candle start"):
        lb.run(call(lb.client, "klines"))


def test_an_execution_row_with_bad_utf8_is_a_skipped_row() -> None:
    """Found by atheris: bad UTF-8 inside one row of an execution message escaped the row
    parser as UnicodeDecodeError; now that row is skipped and the others are kept."""
    frame = (BYBIT / "ws_private/nautilus_ws_account_execution.json").read_bytes()
    bad = frame.replace(b'"execType": "Trade"', b'"execType": "Tr\x84de"')
    assert bad != frame
    parsed = parse_ws_message(bad)
    assert len(parsed.skipped) == 1 and not parsed.rows
    assert len(parse_ws_message(frame).rows) == 1


def test_a_page_cursor_that_cannot_be_signed_is_a_protocol_error() -> None:
    """Found at 100,000 inputs: a space in the venue's nextPageCursor made the next page's
    signed query raise ValueError out of the client."""
    body = (b'{"retCode":0,"retMsg":"OK","result":{"nextPageCursor":" 1%3A2","category":"linear",'
            b'"list":[{"orderId":"1"}]}}')  # fmt: skip
    lb = loopback()
    lb.reply = http_reply(200, [], body)
    with pytest.raises(BybitProtocolError, match="nextPageCursor"):
        lb.run(call(lb.client, "open_orders"))
