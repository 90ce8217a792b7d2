"""The order-entry WS client against a scripted `/v5/trade` peer: auth gate, routing, no replay."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from bybit_peer import PeerConn, WsPeer, accept_auth, config, credentials, wait_until

from nexusforge.nexus.venues.bybit import (
    BybitInsufficientBalanceError,
    BybitTradeWs,
    OrderRequest,
)
from nexusforge.nexus.venues.bybit.errors import BybitAmbiguousError, BybitTransportError


def order(link: str) -> OrderRequest:
    return OrderRequest("BTCUSDT", "Buy", "Limit", Decimal("0.001"), link, Decimal("50000.0"))


def reply(req: dict[str, Any], code: int = 0, data: Any = None) -> dict[str, Any]:
    if data is None:
        data = {
            "orderId": f"o-{req['args'][0].get('orderLinkId')}",
            "orderLinkId": req["args"][0].get("orderLinkId", ""),
        }
    return {
        "reqId": req["reqId"],
        "retCode": code,
        "retMsg": "OK" if code == 0 else "no",
        "op": req["op"],
        "data": data if code == 0 else {},
        "retExtInfo": {},
        "header": {"X-Bapi-Limit": "10"},
        "connId": "c",
    }


def run(
    script: Callable[[PeerConn], Awaitable[None]],
    body: Callable[[BybitTradeWs, WsPeer], Awaitable[None]],
) -> WsPeer:
    peer = WsPeer(script, private=True)

    async def main() -> None:
        async with peer.running():
            client = BybitTradeWs(config(ws_port=peer.port), credentials())
            client.start()
            try:
                await body(client, peer)
            finally:
                await client.stop()

    asyncio.run(main())
    assert not peer.errors, peer.errors
    return peer


def test_orders_are_routed_by_req_id_and_errors_typed() -> None:
    async def script(conn: PeerConn) -> None:
        await accept_auth(conn, trade=True)
        first, second, third = [await conn.next() for _ in range(3)]
        assert first["op"] == "order.create" and int(first["header"]["X-BAPI-TIMESTAMP"]) > 0
        assert first["args"] == [
            {
                "category": "linear",
                "symbol": "BTCUSDT",
                "side": "Buy",
                "orderType": "Limit",
                "qty": "0.001",
                "price": "50000.0",
                "orderLinkId": "t-1",
                "positionIdx": 0,
            }
        ]
        # Replies out of order: each reaches its own request.
        await conn.send(reply(third, data={"orderId": 7}))  # malformed ack
        await conn.send(reply(second, code=110007))
        await conn.send(reply(first))
        amend = await conn.next()
        assert amend["op"] == "order.amend" and amend["args"][0]["price"] == "1.5"
        await conn.send(reply(amend))
        cancel = await conn.next()
        assert cancel["op"] == "order.cancel"
        await conn.send(reply(cancel))
        await asyncio.sleep(5)

    async def body(client: BybitTradeWs, peer: WsPeer) -> None:
        results = await asyncio.gather(
            client.create_order(order("t-1")),
            client.create_order(order("t-2")),
            client.create_order(order("t-3")),
            return_exceptions=True,
        )
        assert results[0].orderLinkId == "t-1"  # type: ignore[union-attr]
        assert isinstance(results[1], BybitInsufficientBalanceError)
        assert isinstance(results[2], BybitAmbiguousError)
        amended = await client.amend_order("BTCUSDT", order_link_id="t-1", price=Decimal("1.5"))
        assert amended.orderLinkId == "t-1"
        assert (await client.cancel_order("BTCUSDT", order_link_id="t-1")).orderId == "o-t-1"

    run(script, body)


def test_chaos_02_orders_wait_for_reauth_and_are_never_replayed() -> None:
    async def script(conn: PeerConn) -> None:
        if len(conn.peer.conns) == 1:
            await accept_auth(conn, trade=True)
            await conn.next()  # the order arrives; the socket dies before the reply
            conn.ws.transport.abort()
            return
        await accept_auth(conn, trade=True, delay_s=0.3)
        await conn.send(reply(await conn.next()))
        await asyncio.sleep(5)

    async def body(client: BybitTradeWs, peer: WsPeer) -> None:
        with pytest.raises(BybitTransportError):
            await client.create_order(order("lost-1"))
        ack = await client.create_order(order("next-2"))  # waits for the new socket's auth
        assert ack.orderLinkId == "next-2"
        await wait_until(lambda: len(peer.conns) == 2)

    peer = run(script, body)
    second = peer.conns[1]
    assert second.authed_at is not None
    assert [m["op"] for _, m in second.log] == ["auth", "order.create"]
    assert all(t >= second.authed_at for t, _ in second.log[1:])
    links = [m["args"][0]["orderLinkId"] for m in peer.all_frames if m.get("op") == "order.create"]
    assert links == ["lost-1", "next-2"]  # the lost order was not sent again


def test_refused_auth_sends_no_order(shared_data: Path) -> None:
    async def script(conn: PeerConn) -> None:
        await accept_auth(conn, trade=True, success=len(conn.peer.conns) > 1)
        if len(conn.peer.conns) > 1:
            await conn.send(reply(await conn.next()))
        await asyncio.sleep(5)

    async def body(client: BybitTradeWs, peer: WsPeer) -> None:
        assert (await client.create_order(order("after-1"))).orderLinkId == "after-1"

    peer = run(script, body)
    assert [m["op"] for _, m in peer.conns[0].log] == ["auth"]
