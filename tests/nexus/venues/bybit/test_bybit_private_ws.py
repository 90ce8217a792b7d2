"""The private stream client against scripted loopback peers (WS + REST): auth, recovery, drift."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from bybit_peer import (
    Fault,
    PeerConn,
    RestPeer,
    WsPeer,
    accept_auth,
    config,
    credentials,
    execution,
    now_ms,
    serve_rest,
    wait_until,
)

from nexusforge.nexus.venues.bybit import (
    AccountDrift,
    BybitPrivateWs,
    BybitRestClient,
    ExecIdSet,
    ExecutionEvent,
    OrderEvent,
    PositionEvent,
    StreamStatus,
    WalletEvent,
    recover_executions,
)
from nexusforge.nexus.venues.bybit.clock import SystemClock
from nexusforge.nexus.venues.bybit.ratelimit import LimitPolicy, RateLimiter

TOPICS = ["execution", "order", "position", "wallet"]


def wrap(topic: str, *items: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": f"msg-{time.monotonic_ns()}",
        "topic": topic,
        "creationTime": now_ms(),
        "data": list(items),
    }


async def subscribed(conn: PeerConn, **auth: Any) -> None:
    await accept_auth(conn, **auth)
    sub = await conn.next()
    assert sub["op"] == "subscribe" and sub["args"] == TOPICS
    await conn.send(
        {"success": True, "ret_msg": "", "op": "subscribe", "conn_id": "c", "req_id": sub["req_id"]}
    )


def run(
    data: Path,
    script: Callable[[PeerConn], Awaitable[None]],
    done: Callable[[BybitPrivateWs, list[Any]], bool],
    *,
    rest_peer: RestPeer | None = None,
    since_ms: int | None = None,
    during: Callable[[BybitPrivateWs], Awaitable[None]] | None = None,
) -> tuple[BybitPrivateWs, list[Any], WsPeer, RestPeer]:
    events: list[Any] = []
    peer = WsPeer(script, private=True)
    rest_peer = rest_peer or RestPeer(data)

    async def main() -> BybitPrivateWs:
        async with peer.running(), serve_rest(rest_peer) as port:
            cfg = config(rest_port=port, ws_port=peer.port)
            clock = SystemClock()
            policy = LimitPolicy(min_wait_s=0.01, server_error_base_s=0.01)
            rest = BybitRestClient(
                cfg, credentials(), clock=clock, limiter=RateLimiter(clock, policy=policy)
            )
            client = BybitPrivateWs(cfg, credentials(), events.append, rest=rest, since_ms=since_ms)
            client.start()
            try:
                if during is not None:
                    await during(client)
                await wait_until(lambda: done(client, events), timeout=4.0)
            finally:
                await client.stop()
                await rest.aclose()
            return client

    client = asyncio.run(main())
    assert not peer.errors, peer.errors
    return client, events, peer, rest_peer


def fills(events: list[Any]) -> list[tuple[str, bool]]:
    return [
        (ex.execId, e.recovered)
        for e in events
        if isinstance(e, ExecutionEvent)
        for ex in e.executions
    ]


def test_real_private_messages_parse(shared_data: Path) -> None:
    folder = shared_data / "bybit/ws_private"
    files = sorted(
        p for p in folder.glob("*.json") if json.loads(p.read_text()).get("topic") in TOPICS
    )
    assert len(files) >= 20

    async def script(conn: PeerConn) -> None:
        await subscribed(conn)
        for path in files:
            await conn.send(path.read_text())
        fast = folder / "nautilus_ws_account_execution_fast.json"
        await conn.send(fast.read_text())  # execution.fast: not subscribed, counted
        await asyncio.sleep(5)

    client, events, _, _ = run(
        shared_data, script, lambda c, e: c.stats.unknown >= 1 and len(e) >= len(files) + 2
    )
    assert sum(client.watch.bad_records.values()) == 0
    assert client.watch.position_idx_mismatches == 0
    kinds = {type(e) for e in events}
    assert {ExecutionEvent, OrderEvent, PositionEvent, WalletEvent} <= kinds
    raw = json.loads((folder / "hirokisan_private-v5-execution.json").read_text())["data"][0]
    (ex,) = [
        x
        for e in events
        if isinstance(e, ExecutionEvent)
        for x in e.executions
        if x.execId == raw["execId"]
    ]
    assert ex.execPrice == Decimal(raw["execPrice"]) and ex.execFee == Decimal(raw["execFee"])
    adl = [
        x
        for e in events
        if isinstance(e, ExecutionEvent)
        for x in e.executions
        if x.execType == "AdlTrade"
    ]
    assert adl and not adl[0].is_trade


def test_chaos_01_fills_missed_across_reconnect_are_recovered_once(shared_data: Path) -> None:
    rest_peer = RestPeer(shared_data)
    t0 = now_ms() - 5_000
    e1, e2, e3, e4 = (execution(f"ex-{i}", t0 + i * 100) for i in range(1, 5))
    rest_peer.executions = [e1, e2]
    rest_peer.inject("/v5/execution/list", Fault(code=10016))  # recovery must retry

    async def script(conn: PeerConn) -> None:
        await subscribed(conn)
        if len(conn.peer.conns) == 1:
            await conn.send(wrap("execution", e1))
            await conn.send(wrap("execution", e2))
            await asyncio.sleep(0.1)
            rest_peer.executions += [e3, e4]  # filled while the socket is down
            conn.ws.transport.abort()
            return
        await asyncio.sleep(0.3)
        await conn.send(wrap("execution", e4))  # late WS copy of a recovered fill
        await conn.send(wrap("execution", execution("ex-5", t0 + 500)))
        await asyncio.sleep(5)

    client, events, peer, _ = run(
        shared_data, script, lambda c, e: len(fills(e)) == 5, rest_peer=rest_peer
    )
    assert fills(events) == [
        ("ex-1", False),
        ("ex-2", False),
        ("ex-3", True),
        ("ex-4", True),
        ("ex-5", False),
    ]
    assert client.duplicates == 1 and client.recovered == 2
    assert client.last_exec is not None and client.last_exec.exec_id == "ex-5"
    listed = rest_peer.requests_to("/v5/execution/list")
    assert [s.answer for s in listed[:2]] == [10016, 0]  # the read was retried
    assert "startTime=" in listed[-1].query
    assert any(isinstance(e, OrderEvent) and e.recovered for e in events)
    assert len(peer.conns) == 2


def test_chaos_01_first_fill_missed_while_down_is_recovered_despite_errors(
    shared_data: Path,
) -> None:
    rest_peer = RestPeer(shared_data)
    rest_peer.inject("/v5/execution/list", *[Fault(code=10016)] * 6)

    async def script(conn: PeerConn) -> None:
        await subscribed(conn)
        if len(conn.peer.conns) == 1:
            await asyncio.sleep(0.05)
            # No fill seen yet on this client; one happens while the socket is down.
            rest_peer.executions.append(execution("first", now_ms()))
            conn.ws.transport.abort()
            return
        await asyncio.sleep(5)

    client, events, _, _ = run(
        shared_data, script, lambda c, e: len(fills(e)) == 1, rest_peer=rest_peer
    )
    assert fills(events) == [("first", True)]
    assert client.recovery_failures == 1  # one pass exhausted the REST retries; the next won
    assert [s.answer for s in rest_peer.requests_to("/v5/execution/list")][-1] == 0


def test_recovery_on_first_connect_from_journal_mark(shared_data: Path) -> None:
    rest_peer = RestPeer(shared_data)
    t0 = now_ms() - 60_000
    rest_peer.executions = [execution("old", t0 - 3_600_000), execution("new", t0 + 10)]

    async def script(conn: PeerConn) -> None:
        await subscribed(conn)
        await asyncio.sleep(5)

    _, events, _, _ = run(
        shared_data, script, lambda c, e: len(fills(e)) >= 1, rest_peer=rest_peer, since_ms=t0
    )
    assert fills(events) == [("new", True)]


def test_recover_executions_walks_seven_day_windows(shared_data: Path) -> None:
    rest_peer = RestPeer(shared_data)
    now = now_ms()
    day = 24 * 3600 * 1000
    rest_peer.executions = [execution(f"w{i}", now - i * day) for i in (9, 8, 3, 0)]

    async def main() -> list[str]:
        async with serve_rest(rest_peer) as port:
            rest = BybitRestClient(config(rest_port=port), credentials())
            async with rest:
                seen = ExecIdSet()
                assert seen.add("w3")  # already applied before
                got = await recover_executions(rest, now - 10 * day, seen)
                again = await recover_executions(rest, now - 10 * day, seen)
                assert again == []
                return [e.execId for e in got]

    assert asyncio.run(main()) == ["w9", "w8", "w0"]
    windows = rest_peer.requests_to("/v5/execution/list")
    assert len(windows) >= 4 and all(s.answer == 0 for s in windows)  # every window ≤ 7 days


def test_chaos_02_nothing_sent_before_reauthentication(shared_data: Path) -> None:
    extra = {"op": "subscribe", "req_id": "late", "args": ["dcp"]}

    async def script(conn: PeerConn) -> None:
        n = len(conn.peer.conns)
        if n == 1:
            await subscribed(conn)
            await asyncio.sleep(0.1)
            conn.ws.transport.abort()
            return
        if n == 2:  # slow auth that ends in a refusal: nothing else may arrive here
            await accept_auth(conn, success=False, delay_s=0.4)
            await asyncio.sleep(0.3)
            await conn.ws.close()
            return
        await accept_auth(conn, delay_s=0.4)  # slower than the 0.2 s heartbeat
        while True:
            msg = await conn.next(timeout=3)
            if msg.get("req_id") == "late":
                break
        await asyncio.sleep(5)

    sent: list[bool] = []

    async def during(client: BybitPrivateWs) -> None:
        await client.wait_ready()
        await wait_until(lambda: not client.authenticated)  # the first socket is gone
        await client.send(extra)  # must wait for a confirmed re-auth
        await asyncio.sleep(0.1)
        sent.append(True)

    client, events, peer, _ = run(shared_data, script, lambda c, e: bool(sent), during=during)
    assert len(peer.conns) == 3
    refused = peer.conns[1]
    assert [m["op"] for _, m in refused.log] == ["auth"]  # no ping, no subscribe, no replay
    accepted = peer.conns[2]
    assert accepted.log[0][1]["op"] == "auth"
    assert accepted.authed_at is not None
    assert all(t >= accepted.authed_at for t, _ in accepted.log[1:])
    assert sum(m.get("req_id") == "late" for m in peer.all_frames) == 1
    assert client.auth_failures == 1
    assert any(isinstance(e, StreamStatus) and e.kind == "auth_failed" for e in events)


def test_chaos_10_account_and_schema_drift(
    shared_data: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="nexusforge")
    good = execution("d-1", now_ms(), venueAddedField="x")
    broken = execution("d-2", now_ms())
    del broken["execPrice"]

    async def script(conn: PeerConn) -> None:
        await subscribed(conn)
        await conn.send(wrap("execution", broken, good))
        hedge_row = {
            "symbol": "BTCUSDT",
            "side": "Buy",
            "size": "0.01",
            "positionIdx": 1,
            "avgPrice": "50000",
        }
        await conn.send(wrap("position", hedge_row))
        await conn.send(wrap("execution", execution("d-3", now_ms(), venueAddedField="y")))
        await asyncio.sleep(5)

    client, events, _, _ = run(
        shared_data,
        script,
        lambda c, e: len(fills(e)) == 2 and any(isinstance(x, PositionEvent) for x in e),
    )
    assert [i for i, _ in fills(events)] == ["d-1", "d-3"]
    assert client.watch.bad_records["BybitExecution"] == 1
    (drift,) = [e for e in events if isinstance(e, AccountDrift)]
    assert drift.position_idx == 1 and drift.symbol == "BTCUSDT"
    text = caplog.text
    assert "d-2" in text and "execPrice" in text  # the skipped fill is named, with why
    assert "one_way" in text and "positionIdx 1" in text
    assert text.count("venueAddedField") == 1  # a new field is reported once


def test_malformed_private_frames_are_not_fatal(shared_data: Path) -> None:
    async def script(conn: PeerConn) -> None:
        await subscribed(conn)
        await conn.send("]]")
        await conn.send(json.dumps({"topic": "execution", "data": {"not": "a list"}}))
        await conn.send(json.dumps({"topic": "execution", "data": [1, "x"]}))
        await conn.send(json.dumps({"topic": "greeks", "data": []}))
        await conn.send(wrap("execution", execution("ok-1", now_ms())))
        await asyncio.sleep(5)

    client, _events, peer, _ = run(shared_data, script, lambda c, e: len(fills(e)) == 1)
    assert client.stats.malformed == 2 and client.stats.unknown == 1
    assert client.watch.bad_records["BybitExecution"] == 2
    assert len(peer.conns) == 1
