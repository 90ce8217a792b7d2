"""Async Bybit v5 REST client (httpx): signed requests, typed replies, safe retries.

Retries happen only where they cannot double anything: reads, and refusals the venue makes before
processing (10002 after a time re-sync, 10006 after the reset time, a connection never opened).
An order create that fails ambiguously (timeout, 10016, HTTP 5xx) is never blindly re-sent: it is
looked up by its orderLinkId and re-sent only if the venue has no such order (and a duplicate id
is refused by the venue with 110072, so even a race cannot create two orders).
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Mapping
from decimal import Decimal
from typing import Any, TypeVar

import httpx
import msgspec

from nexusforge.errors import DataError
from nexusforge.market.instruments import Instrument, parse_instrument
from nexusforge.nexus.venues.bybit.clock import Clock, SystemClock
from nexusforge.nexus.venues.bybit.config import BybitConfig
from nexusforge.nexus.venues.bybit.errors import (
    BybitAmbiguousError,
    BybitBannedError,
    BybitDuplicateOrderLinkIdError,
    BybitError,
    BybitProtocolError,
    BybitRateLimitError,
    BybitRetryableError,
    BybitServerError,
    BybitTimestampError,
    BybitTransportError,
    BybitUnreachableError,
    CredentialsError,
    error_for,
    http_error_for,
)
from nexusforge.nexus.venues.bybit.keys import Credentials
from nexusforge.nexus.venues.bybit.models import (
    BybitCancelAll,
    BybitEnvelope,
    BybitExecution,
    BybitKline,
    BybitKlineResult,
    BybitOrder,
    BybitOrderAck,
    BybitOrderbook,
    BybitPage,
    BybitPosition,
    BybitServerTime,
    BybitWallet,
)
from nexusforge.nexus.venues.bybit.orders import OrderRequest, check_order_link_id
from nexusforge.nexus.venues.bybit.ratelimit import EndpointClass, RateLimiter
from nexusforge.nexus.venues.bybit.schema import SchemaWatch
from nexusforge.nexus.venues.bybit.signing import TimeSync, body_bytes, query_string, rest_signature

log = logging.getLogger(__name__)

T = TypeVar("T", bound=msgspec.Struct)
MAX_PAGES = 200
_ENVELOPE = msgspec.json.Decoder(BybitEnvelope)


class BybitRestClient:
    """The Bybit v5 REST API for one account (credentials optional for market data)."""

    def __init__(
        self,
        config: BybitConfig,
        credentials: Credentials | None = None,
        *,
        clock: Clock | None = None,
        limiter: RateLimiter | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        watch: SchemaWatch | None = None,
    ) -> None:
        self.config = config
        self._credentials = credentials
        self.clock = clock or SystemClock()
        self.time = TimeSync(self.clock)
        self.limiter = limiter or RateLimiter(self.clock)
        self.watch = watch or SchemaWatch(config.position_mode)
        self.errors: Counter[int] = Counter()
        self.retries = 0
        self._http = httpx.AsyncClient(
            base_url=config.rest_url, timeout=config.http_timeout_s, transport=transport
        )

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._http.aclose()

    async def __aenter__(self) -> BybitRestClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # ---- market data (public) ----

    async def sync_time(self) -> int:
        """Measure the server-time offset from /v5/market/time; returns it in ms."""
        sent = self.clock.wall_ms()
        reply = await self._get("/v5/market/time", {}, BybitServerTime, EndpointClass.PUBLIC)
        offset = self.time.update(reply.ms(), sent, self.clock.wall_ms())
        log.info("bybit server time offset %+d ms", offset)
        return offset

    async def instruments(self, symbol: str | None = None) -> dict[str, Instrument]:
        """Trading rules by symbol (all linear instruments, or one)."""
        params = {"category": self.config.category, "symbol": symbol, "limit": 1000}
        found: dict[str, Instrument] = {}
        for item in await self._pages("/v5/market/instruments-info", params, EndpointClass.PUBLIC):
            try:
                inst = parse_instrument(item)
            except DataError as exc:
                self.watch.bad_records["Instrument"] += 1
                log.error("bybit instruments-info: skipped %s", exc)
                continue
            found[inst.symbol] = inst
        return found

    async def orderbook(self, symbol: str, limit: int = 50) -> BybitOrderbook:
        """A book snapshot (bids descending, asks ascending)."""
        params = {"category": self.config.category, "symbol": symbol, "limit": limit}
        return await self._get("/v5/market/orderbook", params, BybitOrderbook, EndpointClass.PUBLIC)

    async def klines(
        self,
        symbol: str,
        interval: str,
        *,
        start_ms: int | None = None,
        end_ms: int | None = None,
        limit: int = 200,
    ) -> list[BybitKline]:
        """Candles oldest first (Bybit sends newest first)."""
        params = {
            "category": self.config.category,
            "symbol": symbol,
            "interval": interval,
            "start": start_ms,
            "end": end_ms,
            "limit": limit,
        }
        result = await self._get("/v5/market/kline", params, BybitKlineResult, EndpointClass.PUBLIC)
        rows = [BybitKline(_start_ms(r[0], "/v5/market/kline"), *r[1:]) for r in result.rows]
        return sorted(rows, key=lambda k: k.start_ms)

    # ---- orders (authenticated) ----

    async def create_order(self, request: OrderRequest) -> BybitOrderAck:
        """Place an order; an ambiguous failure is resolved by orderLinkId, never re-sent blind."""
        params = request.params(self.config.category, self.config.position_mode)
        try:
            return await self._post_order("/v5/order/create", params)
        except BybitAmbiguousError as exc:
            log.warning(
                "bybit create %s ambiguous (%s): resolving by orderLinkId",
                request.order_link_id,
                exc,
            )
            return await self._resolve_create(request, params, exc)

    async def amend_order(
        self,
        symbol: str,
        *,
        order_id: str | None = None,
        order_link_id: str | None = None,
        qty: Decimal | None = None,
        price: Decimal | None = None,
    ) -> BybitOrderAck:
        """Change the qty and/or price of an open order."""
        params = self._order_ref(symbol, order_id, order_link_id)
        params.update(qty=qty, price=price)
        return await self._post_order("/v5/order/amend", params)

    async def cancel_order(
        self, symbol: str, *, order_id: str | None = None, order_link_id: str | None = None
    ) -> BybitOrderAck:
        """Cancel one order (110001 when it is unknown or already closed)."""
        params = self._order_ref(symbol, order_id, order_link_id)
        return await self._post_order("/v5/order/cancel", params)

    async def cancel_all(self, symbol: str) -> list[BybitOrderAck]:
        """Cancel every open order on `symbol`; returns the acks of the cancelled ones."""
        params = {"category": self.config.category, "symbol": symbol}
        result = await self._call(
            "POST",
            "/v5/order/cancel-all",
            params,
            BybitCancelAll,
            EndpointClass.CANCEL_ALL,
            auth=True,
            idempotent=True,  # cancelling all twice leaves the same state
        )
        return list(result.acks)

    async def open_orders(
        self,
        symbol: str | None = None,
        *,
        order_id: str | None = None,
        order_link_id: str | None = None,
        recently_closed: bool = False,
    ) -> list[BybitOrder]:
        """Open orders (or, with `recently_closed`, up to 500 recently closed ones), all pages."""
        params = {
            "category": self.config.category,
            "symbol": symbol,
            "settleCoin": None if symbol else "USDT",
            "orderId": order_id,
            "orderLinkId": order_link_id,
            "openOnly": 1 if recently_closed else 0,
            "limit": 50,
        }
        items = await self._pages("/v5/order/realtime", params, EndpointClass.ORDER_READ, auth=True)
        return self.watch.convert(items, BybitOrder, "order/realtime")

    async def find_order(self, symbol: str, order_link_id: str) -> BybitOrder | None:
        """The order with this orderLinkId, open or recently closed; None when there is none."""
        check_order_link_id(order_link_id)
        for closed in (False, True):
            found = await self.open_orders(
                symbol, order_link_id=order_link_id, recently_closed=closed
            )
            for order in found:
                if order.orderLinkId == order_link_id:
                    return order
        return None

    async def executions(
        self,
        *,
        symbol: str | None = None,
        start_ms: int | None = None,
        end_ms: int | None = None,
        order_link_id: str | None = None,
        exec_type: str | None = None,
    ) -> list[BybitExecution]:
        """Fills in [start_ms, end_ms] (window ≤ 7 days), every page, as the venue sorts them."""
        params = {
            "category": self.config.category,
            "symbol": symbol,
            "startTime": start_ms,
            "endTime": end_ms,
            "orderLinkId": order_link_id,
            "execType": exec_type,
            "limit": 100,
        }
        items = await self._pages("/v5/execution/list", params, EndpointClass.ORDER_READ, auth=True)
        return self.watch.convert(items, BybitExecution, "execution/list")

    async def positions(self, symbol: str | None = None) -> list[BybitPosition]:
        """Position rows of one symbol (a flat row included) or all non-zero USDT positions."""
        params = {
            "category": self.config.category,
            "symbol": symbol,
            "settleCoin": None if symbol else "USDT",
            "limit": 200,
        }
        items = await self._pages("/v5/position/list", params, EndpointClass.ACCOUNT, auth=True)
        rows = self.watch.convert(items, BybitPosition, "position/list")
        for row in rows:
            self.watch.check_position_idx(row.positionIdx, row.symbol, "position/list")
        return rows

    async def wallet_balance(
        self, coin: str | None = None, account_type: str = "UNIFIED"
    ) -> list[BybitWallet]:
        """Wallet accounts (one for a unified account)."""
        params = {"accountType": account_type, "coin": coin}
        page = await self._call(
            "GET",
            "/v5/account/wallet-balance",
            params,
            BybitPage,
            EndpointClass.ACCOUNT,
            auth=True,
            idempotent=True,
        )
        return self.watch.convert(page.items, BybitWallet, "wallet-balance")

    # ---- plumbing ----

    def _order_ref(
        self, symbol: str, order_id: str | None, order_link_id: str | None
    ) -> dict[str, object]:
        if order_id is None and order_link_id is None:
            raise ValueError("give order_id or order_link_id")
        if order_link_id is not None:
            check_order_link_id(order_link_id)
        return {
            "category": self.config.category,
            "symbol": symbol,
            "orderId": order_id,
            "orderLinkId": order_link_id,
        }

    async def _post_order(self, path: str, params: Mapping[str, object]) -> BybitOrderAck:
        return await self._call(
            "POST",
            path,
            params,
            BybitOrderAck,
            EndpointClass.ORDER_WRITE,
            auth=True,
            idempotent=False,
        )

    async def _resolve_create(
        self, request: OrderRequest, params: Mapping[str, object], first: BybitAmbiguousError
    ) -> BybitOrderAck:
        for _ in range(self.config.max_retries + 1):
            try:
                found = await self.find_order(request.symbol, request.order_link_id)
                if found is not None:
                    log.info(
                        "bybit create %s had landed as %s", request.order_link_id, found.orderId
                    )
                    return BybitOrderAck(found.orderId, found.orderLinkId)
                log.info("bybit create %s had not landed: sending it again", request.order_link_id)
                return await self._post_order("/v5/order/create", params)
            except BybitDuplicateOrderLinkIdError:
                continue  # it landed between our lookup and the resend: look again
            except (BybitAmbiguousError, BybitRetryableError) as exc:
                log.warning("bybit create %s still unresolved: %s", request.order_link_id, exc)
        raise first

    async def _get(
        self, path: str, params: Mapping[str, object], kind: type[T], cls: EndpointClass
    ) -> T:
        return await self._call("GET", path, params, kind, cls, auth=False, idempotent=True)

    async def _pages(
        self, path: str, params: Mapping[str, object], cls: EndpointClass, *, auth: bool = False
    ) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        cursor: str | None = None
        for _ in range(MAX_PAGES):
            page = await self._call(
                "GET",
                path,
                {**params, "cursor": cursor},
                BybitPage,
                cls,
                auth=auth,
                idempotent=True,
            )
            items.extend(page.items)
            if not page.nextPageCursor or page.nextPageCursor == cursor or not page.items:
                return items
            cursor = _cursor(page.nextPageCursor, path)
        raise BybitProtocolError(-1, f"more than {MAX_PAGES} pages", path)

    async def _call(
        self,
        method: str,
        path: str,
        params: Mapping[str, object],
        kind: type[T],
        cls: EndpointClass,
        *,
        auth: bool,
        idempotent: bool,
    ) -> T:
        """Send with bounded retries; each retry waits (rate-limit reset, backoff), never spins."""
        if auth and not self.time.synced:
            await self.sync_time()
        attempt = 0
        while True:
            await self.limiter.acquire(cls)
            sent_at = self.clock.monotonic()
            try:
                result = await self._send(method, path, params, cls, auth=auth)
                self.limiter.on_success(cls)
                return _decode(result, kind, path)
            except BybitError as exc:
                self.errors[exc.code] += 1
                if attempt >= self.config.max_retries or not await self._recover(
                    exc, cls, idempotent, sent_at
                ):
                    raise
            attempt += 1
            self.retries += 1

    async def _recover(
        self, exc: BybitError, cls: EndpointClass, idempotent: bool, sent_at: float
    ) -> bool:
        """Prepare a retry after `exc`; False when the request must not be retried."""
        if isinstance(exc, BybitTimestampError):
            log.warning(
                "bybit 10002 on %s (offset %+d ms): re-syncing time",
                exc.endpoint,
                self.time.offset_ms,
            )
            await self.clock.sleep(self.limiter.policy.min_wait_s)
            await self.sync_time()
            return True
        if isinstance(exc, BybitRateLimitError):
            self.limiter.on_rate_limited(cls, exc.reset_ms, self.time.now_ms())
            return True
        if isinstance(exc, BybitBannedError):
            self.limiter.on_banned()
            return False
        if isinstance(exc, BybitServerError):
            self.limiter.on_server_error(sent_at)
            return idempotent
        if isinstance(exc, BybitUnreachableError | BybitRetryableError):
            await self.clock.sleep(self.limiter.policy.min_wait_s)
            return True
        if isinstance(exc, BybitTransportError):
            await self.clock.sleep(self.limiter.policy.min_wait_s)
            return idempotent
        return False

    async def _send(
        self,
        method: str,
        path: str,
        params: Mapping[str, object],
        cls: EndpointClass,
        *,
        auth: bool,
    ) -> msgspec.Raw:
        """One HTTP exchange; returns the raw `result` or raises the typed error."""
        headers: dict[str, str] = {}
        if method == "GET":
            query = query_string(params)
            url, payload, content = (f"{path}?{query}" if query else path), query.encode(), None
        else:
            content = body_bytes(params)
            url, payload = path, content
            headers["Content-Type"] = "application/json"
        if auth:
            headers.update(self._auth_headers(payload))
        try:
            response = await self._http.request(method, url, content=content, headers=headers)
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            raise BybitUnreachableError(-1, f"{type(exc).__name__}: {exc}", path) from None
        except httpx.HTTPError as exc:
            raise BybitTransportError(-1, f"{type(exc).__name__}: {exc}", path) from None
        self.limiter.observe(cls, response.headers, self.time.now_ms())
        if response.status_code != 200:
            raise http_error_for(response.status_code, response.text, path)
        try:
            envelope = _ENVELOPE.decode(response.content)
        except (msgspec.DecodeError, UnicodeDecodeError) as exc:  # bad UTF-8 is the latter
            raise BybitProtocolError(-1, f"unreadable reply: {exc}", path) from None
        if envelope.retCode != 0:
            raise self._error(envelope, response.headers, path)
        return envelope.result

    def _auth_headers(self, payload: bytes) -> dict[str, str]:
        if self._credentials is None:
            raise CredentialsError(f"{self.config.rest_url}: this endpoint needs credentials")
        timestamp, window = str(self.time.now_ms()), str(self.config.recv_window_ms)
        return {
            "X-BAPI-API-KEY": self._credentials.api_key,
            "X-BAPI-TIMESTAMP": timestamp,
            "X-BAPI-RECV-WINDOW": window,
            "X-BAPI-SIGN": rest_signature(self._credentials, timestamp, window, payload),
            "X-BAPI-SIGN-TYPE": "2",
        }

    def _error(self, envelope: BybitEnvelope, headers: httpx.Headers, path: str) -> BybitError:
        error = error_for(envelope.retCode, envelope.retMsg, path)
        if isinstance(error, BybitRateLimitError):
            reset = headers.get("x-bapi-limit-reset-timestamp")
            # isdecimal, not isdigit: int() refuses a superscript digit such as a latin-1 "²"
            error.reset_ms = int(reset) if reset and reset.strip().isdecimal() else None
        return error


def _cursor(raw: str, path: str) -> str:
    """The venue's page cursor, which goes back in a signed query (found by the fuzz: a space in
    it was a ValueError from the signer)."""
    try:
        query_string({"cursor": raw})
    except ValueError:
        why = f"nextPageCursor {raw[:80]!r} cannot be sent back"
        raise BybitProtocolError(-1, why, path) from None
    return raw


def _start_ms(raw: str, path: str) -> int:
    if not raw.strip().isdecimal():
        raise BybitProtocolError(-1, f"candle start {raw!r} is not an integer (ms)", path)
    return int(raw)


def _decode(raw: msgspec.Raw, kind: type[T], path: str) -> T:
    try:
        return msgspec.json.decode(raw, type=kind)
    except (msgspec.DecodeError, msgspec.ValidationError, UnicodeDecodeError) as exc:
        raise BybitProtocolError(-1, f"unexpected result shape: {exc}", path) from None
