"""End to end: the Bybit client against the local Bybit-compatible exchange (nexus/venues/local).

The exchange replays the real XRPUSDT ob500 recording; orders fill against that book. These
tests show the client and the local venue agree on the protocol: signing, typed replies,
book streams, fills on the private stream, and fills recovered over REST after a drop.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from bybit_peer import API_KEY, API_SECRET, credentials, wait_until

from nexusforge.nexus.venues.bybit import (
    BookUpdate,
    BybitConfig,
    BybitOrderNotFoundError,
    BybitPrivateWs,
    BybitPublicWs,
    BybitRestClient,
    BybitTradeWs,
    ExecutionEvent,
    OrderRequest,
)
from nexusforge.nexus.venues.bybit.ratelimit import LimitPolicy
from nexusforge.nexus.venues.local import ApiKey, ExchangeConfig, LocalExchange, Secret

XRP = "bybit/market/bybit_XRPUSDT_ob500_2024-12-01_head50.data.zip"


def venue_config(shared_data: Path) -> ExchangeConfig:
    return ExchangeConfig(
        keys=(ApiKey(API_KEY, Secret(API_SECRET)),),
        replay_files=(shared_data / XRP,),
        start_paused=True,
    )


def client_config(port: int) -> BybitConfig:
    base = BybitConfig.custom(port=port)
    return BybitConfig(
        rest_url=base.rest_url,
        public_ws_url=base.public_ws_url,
        private_ws_url=base.private_ws_url,
        trade_ws_url=base.trade_ws_url,
        reconnect_min_s=0.02,
        reconnect_max_s=0.1,
        ping_interval_s=0.5,
        pong_timeout_s=1.0,
    )


def run(
    shared_data: Path, body: Callable[[LocalExchange, BybitRestClient], Awaitable[None]]
) -> None:
    async def main() -> None:
        async with LocalExchange(venue_config(shared_data)) as ex:
            ex.step_market(1)  # the recording's first snapshot: the book is valid
            async with BybitRestClient(client_config(ex.port), credentials()) as rest:
                await body(ex, rest)

    asyncio.run(main())


def buy(
    link: str, qty: Decimal, kind: str = "Market", price: Decimal | None = None
) -> OrderRequest:
    return OrderRequest("XRPUSDT", "Buy", kind, qty, link, price)


def test_rest_round_trip_against_local_exchange(shared_data: Path) -> None:
    async def body(ex: LocalExchange, rest: BybitRestClient) -> None:
        await rest.sync_time()
        assert abs(rest.time.offset_ms) < 1000
        inst = (await rest.instruments("XRPUSDT"))["XRPUSDT"]
        book = await rest.orderbook("XRPUSDT", limit=50)
        assert book.b[0][0] < book.a[0][0]
        resting = inst.round_price(book.b[0][0] - 50 * inst.tick_size)
        qty = inst.round_qty(Decimal(10))
        ack = await rest.create_order(buy("e2e-rest-1", qty, "Limit", resting))
        (open_order,) = await rest.open_orders("XRPUSDT")
        assert open_order.orderId == ack.orderId and open_order.qty == qty
        await rest.cancel_order("XRPUSDT", order_link_id="e2e-rest-1")
        assert await rest.open_orders("XRPUSDT") == []
        with pytest.raises(BybitOrderNotFoundError):
            await rest.cancel_order("XRPUSDT", order_link_id="e2e-rest-1")
        await rest.create_order(buy("e2e-rest-2", qty))
        fills = await rest.executions(symbol="XRPUSDT")
        assert sum(f.execQty for f in fills if f.orderLinkId == "e2e-rest-2") == qty
        (pos,) = [p for p in await rest.positions("XRPUSDT") if p.size]
        assert pos.signed_size == qty
        assert (await rest.wallet_balance())[0].coin

    run(shared_data, body)


def test_public_book_stream_from_local_exchange(shared_data: Path) -> None:
    async def body(ex: LocalExchange, rest: BybitRestClient) -> None:
        events: list[Any] = []
        ws = BybitPublicWs(client_config(ex.port), ["orderbook.50.XRPUSDT"], events.append)
        ws.start()
        try:
            await wait_until(lambda: any(isinstance(e, BookUpdate) for e in events))
            for _ in range(20):
                ex.step_market(1)
                await asyncio.sleep(0.01)
            await wait_until(lambda: ws.book_stats.deltas >= 5)
        finally:
            await ws.stop()
        assert ws.book_stats.gaps == 0 and ws.stats.malformed == 0
        assert ws.book_stats.snapshots == 1  # one subscription, one snapshot, then deltas

    run(shared_data, body)


def test_fills_stream_and_recovery_after_drop_match_venue(shared_data: Path) -> None:
    async def body(ex: LocalExchange, rest: BybitRestClient) -> None:
        events: list[Any] = []
        private = BybitPrivateWs(client_config(ex.port), credentials(), events.append, rest=rest)
        private.start()
        try:
            await private.wait_ready()
            qty = Decimal(10)
            await rest.create_order(buy("e2e-f-1", qty))
            await wait_until(lambda: private.last_exec is not None)
            ex.drop_private_connections()
            await rest.create_order(buy("e2e-f-2", qty))  # filled while the stream is down
            await wait_until(lambda: private.stats.connects >= 2 and len(delivered(events)) >= 2)
            await rest.create_order(buy("e2e-f-3", qty))
            venue = {f.execId for f in await rest.executions(symbol="XRPUSDT")}
            await wait_until(lambda: set(delivered(events)) == venue)
        finally:
            await private.stop()
        ids = delivered(events)
        assert len(ids) == len(set(ids)) == 3  # every venue fill exactly once
        assert private.stats.connects >= 2 and private.auth_failures == 0

    run(shared_data, body)


def test_order_entry_websocket_against_local_exchange(shared_data: Path) -> None:
    async def body(ex: LocalExchange, rest: BybitRestClient) -> None:
        cfg = client_config(ex.port)
        events: list[Any] = []
        private = BybitPrivateWs(cfg, credentials(), events.append, rest=rest)
        trade = BybitTradeWs(cfg, credentials(), rest=rest)
        private.start()
        trade.start()
        try:
            await private.wait_ready()
            ack = await trade.create_order(buy("e2e-t-1", Decimal(10)))
            assert ack.orderLinkId == "e2e-t-1" and ack.orderId
            await wait_until(lambda: len(delivered(events)) == 1)
            with pytest.raises(BybitOrderNotFoundError):
                await trade.cancel_order("XRPUSDT", order_link_id="e2e-t-1")  # already filled
        finally:
            await trade.stop()
            await private.stop()
        fills = [x for e in events if isinstance(e, ExecutionEvent) for x in e.executions]
        assert fills[0].orderLinkId == "e2e-t-1" and fills[0].execQty == Decimal(10)

    run(shared_data, body)


def test_local_exchange_faults_are_absorbed(shared_data: Path) -> None:
    """The venue's own fault injection: duplicated executions and injected 10016/10006."""

    async def body(ex: LocalExchange, rest: BybitRestClient) -> None:
        rest.limiter.policy = LimitPolicy(
            min_wait_s=0.01, server_error_base_s=0.01, default_reset_s=0.02
        )
        events: list[Any] = []
        private = BybitPrivateWs(client_config(ex.port), credentials(), events.append, rest=rest)
        private.start()
        try:
            await private.wait_ready()
            ex.duplicate_next_executions(2)
            await rest.create_order(buy("e2e-d-1", Decimal(10)))
            await rest.create_order(buy("e2e-d-2", Decimal(10)))
            await wait_until(lambda: len(delivered(events)) == 2 and private.duplicates == 2)
            ex.fail_next_requests(2, code=10016)
            assert [p.symbol for p in await rest.positions("XRPUSDT")] == ["XRPUSDT"]
            ex.fail_next_requests(1, code=10006, message="Too many visits")
            assert await rest.open_orders("XRPUSDT") == []
        finally:
            await private.stop()
        assert rest.errors[10016] == 2 and rest.errors[10006] == 1
        assert sorted(delivered(events)) == sorted(set(delivered(events)))

    run(shared_data, body)


def delivered(events: list[Any]) -> list[str]:
    return [x.execId for e in events if isinstance(e, ExecutionEvent) for x in e.executions]
