"""The REST client against a scripted Bybit peer on loopback: signatures, data, errors, retries."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Awaitable, Callable
from decimal import Decimal
from pathlib import Path

import pytest
from bybit_peer import Fault, RestPeer, config, credentials, execution, now_ms, serve_rest

from nexusforge.nexus.venues.bybit import (
    BybitAmbiguousError,
    BybitBannedError,
    BybitInsufficientBalanceError,
    BybitOrderNotFoundError,
    BybitRateLimitError,
    BybitRestClient,
    BybitTimestampError,
    CredentialsError,
    OrderRequest,
)
from nexusforge.nexus.venues.bybit.clock import SystemClock
from nexusforge.nexus.venues.bybit.errors import BybitPositionIdxError
from nexusforge.nexus.venues.bybit.ratelimit import EndpointClass, LimitPolicy, RateLimiter

FAST = LimitPolicy(min_wait_s=0.01, default_reset_s=0.05, server_error_base_s=0.01, ban_s=0.05)


def run(
    data: Path, body: Callable[[RestPeer, BybitRestClient], Awaitable[None]], **cfg: object
) -> RestPeer:
    peer = RestPeer(data)

    async def main() -> None:
        async with serve_rest(peer) as port:
            clock = SystemClock()
            client = BybitRestClient(
                config(rest_port=port, **cfg),
                credentials(),
                clock=clock,
                limiter=RateLimiter(clock, policy=FAST),
            )
            async with client:
                await body(peer, client)

    asyncio.run(main())
    return peer


def order(link: str = "m1-000001", **kw: object) -> OrderRequest:
    fields: dict[str, object] = {
        "symbol": "BTCUSDT",
        "side": "Buy",
        "order_type": "Limit",
        "qty": Decimal("0.001"),
        "price": Decimal("50000.0"),
        "order_link_id": link,
    }
    fields.update(kw)
    return OrderRequest(**fields)  # type: ignore[arg-type]


def test_market_data_from_real_payloads(shared_data: Path) -> None:
    async def body(peer: RestPeer, client: BybitRestClient) -> None:
        rules = await client.instruments()
        raw = peer.real("nautilus_http_get_instruments_linear.json")["result"]["list"]
        assert sorted(rules) == sorted(item["symbol"] for item in raw)
        for item in raw:
            inst = rules[item["symbol"]]
            assert inst.tick_size == Decimal(item["priceFilter"]["tickSize"])
            assert inst.qty_step == Decimal(item["lotSizeFilter"]["qtyStep"])
        book = await client.orderbook("BTCUSDT")
        assert book.b[0][0] > book.a[0][0] - Decimal(1000) and book.s == "BTCUSDT"
        assert all(isinstance(p, Decimal) for p, _ in book.b + book.a)
        bars = await client.klines("BTCUSDT", "1")
        assert bars and [b.start_ms for b in bars] == sorted(b.start_ms for b in bars)
        # Public endpoints carry no auth headers and are not signed.
        assert not any(s.signed for s in peer.seen if s.path.startswith("/v5/market"))

    run(shared_data, body)


def test_signed_requests_verified_by_peer(shared_data: Path) -> None:
    async def body(peer: RestPeer, client: BybitRestClient) -> None:
        ack = await client.create_order(order())
        assert ack.orderLinkId == "m1-000001"
        await client.amend_order("BTCUSDT", order_link_id="m1-000001", price=Decimal("50010.0"))
        assert [o.orderLinkId for o in await client.open_orders("BTCUSDT")] == ["m1-000001"]
        await client.cancel_order("BTCUSDT", order_id=ack.orderId)
        assert await client.open_orders("BTCUSDT") == []
        wallet = await client.wallet_balance()
        assert wallet[0].accountType == "UNIFIED"

    peer = run(shared_data, body)
    signed = [s for s in peer.seen if not s.path.startswith("/v5/market")]
    assert signed and all(s.signed and s.answer == 0 for s in signed)
    assert peer.orders["peer-1"]["price"] == "50010.0"


def test_unknown_order_and_balance_errors_are_typed(shared_data: Path) -> None:
    async def body(peer: RestPeer, client: BybitRestClient) -> None:
        with pytest.raises(BybitOrderNotFoundError) as missing:
            await client.cancel_order("BTCUSDT", order_link_id="nope")
        assert missing.value.code == 110001
        peer.inject("/v5/order/create", Fault(code=110007, msg="ab not enough for new order"))
        with pytest.raises(BybitInsufficientBalanceError, match="110007"):
            await client.create_order(order("m1-2"))
        peer.inject(
            "/v5/order/create", Fault(code=10001, msg="position idx not match position mode")
        )
        with pytest.raises(BybitPositionIdxError):
            await client.create_order(order("m1-3"))

    peer = run(shared_data, body)
    assert len(peer.requests_to("/v5/order/create")) == 2  # refusals are never retried
    assert peer.orders == {}


def test_execution_list_follows_cursor_pages(shared_data: Path) -> None:
    t0 = now_ms() - 10_000

    async def body(peer: RestPeer, client: BybitRestClient) -> None:
        peer.executions = [execution(f"e{i}", t0 + i) for i in range(7)]
        rows = await client.executions(start_ms=t0, end_ms=t0 + 100)
        assert sorted(r.execId for r in rows) == [f"e{i}" for i in range(7)]
        assert rows[0].execQty == Decimal("0.001") and rows[0].execFee == Decimal("0.052745055")

    peer = run(shared_data, body)
    pages = peer.requests_to("/v5/execution/list")
    assert len(pages) == 4  # 7 rows, 2 per page
    assert "cursor=page%3A2%2Cx" in pages[1].query  # the venue's cursor, sent back verbatim


def test_chaos_08_clock_drift_resyncs_and_retries(shared_data: Path) -> None:
    async def body(peer: RestPeer, client: BybitRestClient) -> None:
        await client.sync_time()
        peer.skew_ms = 30_000  # the venue's clock jumps 30 s ahead: beyond recv_window
        assert (await client.wallet_balance())[0].accountType == "UNIFIED"
        assert abs(client.time.offset_ms - 30_000) < 1000

    peer = run(shared_data, body)
    answers = [s.answer for s in peer.requests_to("/v5/account/wallet-balance")]
    assert answers == [10002, 0]
    assert len(peer.requests_to("/v5/market/time")) == 2  # initial sync + one re-sync


def test_chaos_08_persistent_10002_is_bounded(shared_data: Path) -> None:
    async def body(peer: RestPeer, client: BybitRestClient) -> None:
        await client.sync_time()
        peer.inject("/v5/account/wallet-balance", *[Fault(code=10002)] * 10)
        with pytest.raises(BybitTimestampError):
            await client.wallet_balance()

    peer = run(shared_data, body, max_retries=2)
    assert len(peer.requests_to("/v5/account/wallet-balance")) == 3  # 1 + max_retries
    assert len(peer.requests_to("/v5/market/time")) == 3


def test_chaos_09_rate_limit_waits_for_reset_header(shared_data: Path) -> None:
    async def body(peer: RestPeer, client: BybitRestClient) -> None:
        reset = peer.server_ms() + 400
        hdr = {"X-Bapi-Limit-Reset-Timestamp": str(reset), "X-Bapi-Limit-Status": "0"}
        peer.inject("/v5/order/realtime", Fault(code=10006, headers=hdr))
        await client.open_orders("BTCUSDT")
        retry = peer.requests_to("/v5/order/realtime")[1]
        # It waited for the venue's reset as its clock estimate sees it (peer and client share
        # the machine's clock, so the measured offset is exactly the estimate's error).
        assert retry.at_ms >= reset - max(client.time.offset_ms, 0) - 2
        assert client.limiter.waited_s >= 0.25

    peer = run(shared_data, body)
    assert [s.answer for s in peer.requests_to("/v5/order/realtime")] == [10006, 0]


def test_chaos_09_repeated_10006_backs_off_and_gives_up(shared_data: Path) -> None:
    async def body(peer: RestPeer, client: BybitRestClient) -> None:
        peer.inject("/v5/order/realtime", *[Fault(code=10006)] * 10)  # no reset header
        with pytest.raises(BybitRateLimitError):
            await client.open_orders("BTCUSDT")

    peer = run(shared_data, body, max_retries=2)
    times = [s.at_ms for s in peer.requests_to("/v5/order/realtime")]
    assert len(times) == 3
    # No reset header: each retry waits at least the default reset time (never a tight loop).
    assert all(b - a >= 45 for a, b in itertools.pairwise(times))


def test_chaos_09_ban_and_server_errors_back_off_hard(shared_data: Path) -> None:
    async def body(peer: RestPeer, client: BybitRestClient) -> None:
        peer.inject("/v5/order/realtime", Fault(status=403))
        with pytest.raises(BybitBannedError):
            await client.open_orders("BTCUSDT")
        assert client.limiter.wait_time(EndpointClass.ACCOUNT) > 0
        await asyncio.sleep(0.06)
        peer.inject("/v5/position/list", Fault(code=10016), Fault(status=502))
        assert await client.positions("BTCUSDT") == []

    peer = run(shared_data, body)
    assert len(peer.requests_to("/v5/order/realtime")) == 1  # a ban is never retried
    times = [s.at_ms for s in peer.requests_to("/v5/position/list")]
    assert [s.answer for s in peer.requests_to("/v5/position/list")] == [10016, 502, 0]
    # Each retry waited at least its doubling back-off (10 ms, then 20 ms).
    assert times[1] - times[0] >= 9 and times[2] - times[1] >= 19


def test_create_landed_but_reply_lost_is_resolved_by_order_link_id(shared_data: Path) -> None:
    async def body(peer: RestPeer, client: BybitRestClient) -> None:
        peer.inject("/v5/order/create", Fault(code=10016, apply=True))
        ack = await client.create_order(order("m2-000007"))
        assert ack.orderId == "peer-1"

    peer = run(shared_data, body)
    assert len(peer.orders) == 1  # not created twice
    assert len(peer.requests_to("/v5/order/create")) == 1


def test_create_timeout_without_effect_is_resent_once(shared_data: Path) -> None:
    async def body(peer: RestPeer, client: BybitRestClient) -> None:
        peer.inject("/v5/order/create", Fault(delay_s=0.6, code=10016))
        ack = await client.create_order(order("m3-000001"))
        assert ack.orderLinkId == "m3-000001"

    peer = run(shared_data, body, http_timeout_s=0.3)
    assert len(peer.orders) == 1
    assert len(peer.requests_to("/v5/order/create")) == 2


def test_ambiguous_create_that_stays_unresolved_raises(shared_data: Path) -> None:
    async def body(peer: RestPeer, client: BybitRestClient) -> None:
        peer.inject("/v5/order/create", *[Fault(code=10016)] * 10)
        with pytest.raises(BybitAmbiguousError):
            await client.create_order(order("m4-000001"))

    peer = run(shared_data, body, max_retries=1)
    assert peer.orders == {}
    assert len(peer.requests_to("/v5/order/create")) == 3  # first + one resend per resolve round


def test_cancel_all_and_positions(shared_data: Path) -> None:
    async def body(peer: RestPeer, client: BybitRestClient) -> None:
        for i in range(3):
            await client.create_order(order(f"m5-{i}"))
        cancelled = await client.cancel_all("BTCUSDT")
        assert sorted(a.orderLinkId for a in cancelled) == ["m5-0", "m5-1", "m5-2"]
        peer.positions = [
            {
                "symbol": "BTCUSDT",
                "side": "Sell",
                "size": "0.003",
                "positionIdx": 0,
                "avgPrice": "50000",
                "newField": 1,
            }
        ]
        (pos,) = await client.positions("BTCUSDT")
        assert pos.signed_size == Decimal("-0.003") and pos.avg_price == Decimal(50000)
        assert "newField" in client.watch.new_fields["BybitPosition"]

    run(shared_data, body)


def test_private_endpoint_without_credentials_is_refused_locally(shared_data: Path) -> None:
    peer = RestPeer(shared_data)

    async def main() -> None:
        async with serve_rest(peer) as port, BybitRestClient(config(rest_port=port)) as client:
            assert (await client.orderbook("BTCUSDT")).s == "BTCUSDT"
            with pytest.raises(CredentialsError, match="needs credentials"):
                await client.positions("BTCUSDT")

    asyncio.run(main())
    assert not peer.requests_to("/v5/position/list")  # nothing unsigned went out
