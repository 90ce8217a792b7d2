"""The engine end to end against the local exchange over loopback sockets, real SQLite journal.

Every check compares with what the VENUE reports (/v5/execution/list by orderLinkId and
/v5/position/list), never with the engine's own numbers alone.
"""

from __future__ import annotations

import asyncio
import dataclasses
import sqlite3
from decimal import Decimal
from pathlib import Path

import pytest
from enginex import (
    KEY,
    SECRET,
    drive,
    exchange_config,
    expected_states,
    fetch_venue,
    journal_states,
    write_config,
)

from nexusforge.nexus.config import load_config
from nexusforge.nexus.engine import Engine, Summary
from nexusforge.nexus.run import venue_config
from nexusforge.nexus.status import nexus_status
from nexusforge.nexus.venues.bybit import Credentials
from nexusforge.nexus.venues.local import LocalExchange

ZERO = Decimal(0)


def run_engine(cfg_path: Path, ex: LocalExchange, script: object, timeout_s: float) -> Summary:
    """Runs the engine until `script(engine, ex)` returns (or `timeout_s`)."""

    async def main() -> Summary:
        cfg = load_config(cfg_path)
        engine = Engine(cfg, venue_config(cfg), Credentials(KEY, SECRET))
        return await drive(engine, lambda: script(engine, ex), timeout_s)  # type: ignore[operator]

    return asyncio.run(main())


async def wait_for(cond: object, timeout_s: float = 15.0, what: object = "") -> None:
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout_s
    while not cond():  # type: ignore[operator]
        assert loop.time() < end, f"condition not reached in time: {what}"
        await asyncio.sleep(0.05)


def assert_ledgers_equal_venue(journal: Path, port: int) -> Decimal:
    venue, position = fetch_venue(port)
    want, want_orphan = expected_states(journal, venue)
    got, got_orphan = journal_states(journal)
    assert got == want  # every model, every field, to the last decimal
    assert got_orphan.state == want_orphan.state
    total = sum((s.inventory for s in got.values()), ZERO) + got_orphan.inventory
    assert total == position
    return position


@pytest.mark.slow
def test_six_models_trade_and_survive_private_drops(
    shared_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Six models trade; execution messages are duplicated and the private WS is killed twice
    mid-fill-stream; afterwards every ledger equals the venue's executions by orderLinkId and
    the sum equals the position."""
    cfg_path = write_config(tmp_path, 0)

    async def script(engine: Engine, ex: LocalExchange) -> None:
        await wait_for(lambda: engine.state.fills >= 10)
        await asyncio.to_thread(ex.duplicate_next_executions, 20)  # each sent twice
        for _ in range(2):
            assert await asyncio.to_thread(ex.drop_private_connections) >= 1
            await asyncio.sleep(1.0)
        await wait_for(lambda: engine.private is not None and engine.private.stats.connects >= 3)
        after_drops = engine.state.fills
        # fills go on over the new session (30 s: a loaded 2-core CI box trades slowly)
        await wait_for(
            lambda: engine.state.fills >= after_drops + 20 and engine.state.private_ready,
            30.0,
            what=engine.state,
        )
        assert engine.private is not None and engine.private.duplicates > 0  # dupes arrived

    with LocalExchange(exchange_config(shared_data)) as ex:
        write_config(tmp_path, ex.port)
        summary = run_engine(cfg_path, ex, script, 90)
        position = assert_ledgers_equal_venue(tmp_path / "journal.sqlite", ex.port)
        monkeypatch.setenv("NEXUSFORGE_BYBIT_API_KEY", KEY)
        monkeypatch.setenv("NEXUSFORGE_BYBIT_API_SECRET", SECRET)
        report = asyncio.run(nexus_status(load_config(cfg_path)))
    assert summary.reconciled and summary.venue_position == position
    assert all(m.fills > 0 for m in summary.models), summary.models
    assert report.reconciled is True and report.venue_position == position
    assert {m.name: m.inventory for m in report.models} == {
        m.name: m.inventory for m in summary.models
    }


@pytest.mark.slow
def test_kill_switch_flattens_every_model(shared_data: Path, tmp_path: Path) -> None:
    async def script(engine: Engine, ex: LocalExchange) -> None:
        await wait_for(
            lambda: engine.state.fills >= 20 and engine.state.ledgers_total != 0, what=engine.state
        )
        (tmp_path / "kill.now").touch()
        await wait_for(lambda: engine.state.kill is not None)

        def flat() -> bool:
            flat_books = all(m.ledger.inventory == 0 for m in engine.models)
            return flat_books and not engine.router.inflight

        await wait_for(flat, what=engine.state)

    with LocalExchange(exchange_config(shared_data)) as ex:
        cfg_path = write_config(tmp_path, ex.port)
        summary = run_engine(cfg_path, ex, script, 40)
        position = assert_ledgers_equal_venue(tmp_path / "journal.sqlite", ex.port)
    assert position == 0 and summary.reconciled
    assert all(m.inventory == 0 for m in summary.models)


@pytest.mark.slow
def test_sudden_death_flattens_the_model_and_it_trades_no_more(
    shared_data: Path, tmp_path: Path
) -> None:
    """A kill level just under capital: the first fee kills a model; it is journaled DEAD,
    flattened with reduce-side orders until flat, and sends nothing but flatten orders after."""

    def settled(engine: Engine) -> bool:
        dead = [m for m in engine.models if m.state.value == "dead"]
        liqs = engine.watch.liquidations
        done = all(liqs[m.slot].outcome.value != "pending" for m in dead if m.slot in liqs)
        return len(dead) >= 3 and done and not engine.router.inflight

    async def script(engine: Engine, ex: LocalExchange) -> None:
        await wait_for(lambda: settled(engine), 30, what=engine.state)
        await asyncio.sleep(0.5)  # the ticker journals each liquidation's outcome

    with LocalExchange(exchange_config(shared_data)) as ex:
        cfg_path = write_config(tmp_path, ex.port, kill_fraction="0.9999999")
        summary = run_engine(cfg_path, ex, script, 45)
        assert_ledgers_equal_venue(tmp_path / "journal.sqlite", ex.port)
    dead = {m.slot for m in summary.models if m.state == "dead"}
    assert len(dead) >= 3
    assert all(m.inventory == 0 for m in summary.models if m.slot in dead)
    with sqlite3.connect(tmp_path / "journal.sqlite") as db:
        deaths = dict(db.execute("SELECT slot, id FROM model_states WHERE to_state = 'dead'"))
        kills = db.execute("SELECT slot, kind, detail FROM kill_events").fetchall()
        after = db.execute(
            "SELECT i.slot, i.reason FROM order_intents i JOIN model_states s ON s.slot = i.slot "
            "AND s.to_state = 'dead' WHERE i.ts_ms > s.ts_ms"
        ).fetchall()
    assert set(deaths) == dead
    assert {s for s, k, _ in kills if k == "sudden_death"} == dead
    assert all("flat" in d for s, k, d in kills if k == "flatten" and s in dead)
    assert all(reason == "flatten" for _, reason in after)  # no trading after death


@pytest.mark.slow
def test_position_mismatch_alerts_and_pauses_until_it_agrees(
    shared_data: Path, tmp_path: Path
) -> None:
    """The venue's position moves with no execution (a venue that lies): after the next check
    the engine raises the alert and sends nothing new; once the venue agrees it trades again."""
    lot = Decimal("0.1")

    def tamper(ex: LocalExchange, qty: Decimal) -> None:
        def move() -> None:
            pos = ex.venue.account.position("LTCUSDT")
            pos.size += qty

        ex._call(move)  # the exchange's own thread-safe admin path (runs on its loop)

    async def script(engine: Engine, ex: LocalExchange) -> None:
        await wait_for(lambda: engine.state.fills >= 10, what=engine.state)
        await asyncio.to_thread(tamper, ex, lot)
        await wait_for(lambda: engine.state.alert is not None, 20, what=engine.state)
        assert "difference" in str(engine.state.alert) and engine.state.paused is not None
        await asyncio.sleep(0.3)  # orders already in flight settle
        sent = engine.state.orders_sent
        await asyncio.sleep(1.5)
        assert engine.state.orders_sent == sent  # paused: nothing new
        await asyncio.to_thread(tamper, ex, -lot)
        await wait_for(lambda: engine.state.alert is None, 20, what=engine.state)
        await wait_for(lambda: engine.state.orders_sent > sent, 20, what=engine.state)

    with LocalExchange(exchange_config(shared_data)) as ex:
        cfg_path = write_config(tmp_path, ex.port, check_interval_s=0.3)
        summary = run_engine(cfg_path, ex, script, 60)
        assert_ledgers_equal_venue(tmp_path / "journal.sqlite", ex.port)
    assert summary.reconciled


@pytest.mark.slow
def test_refused_orders_back_off_instead_of_looping(shared_data: Path, tmp_path: Path) -> None:
    """An account far smaller than the models think (110007 insufficient balance): each
    refusal is journaled and the slot waits 1, 2, 4 … s, so refusals stay few."""

    async def script(engine: Engine, ex: LocalExchange) -> None:
        await wait_for(lambda: engine.router.stats.rejected >= 3, what=engine.router.stats)
        await asyncio.sleep(4.0)

    cfg = dataclasses.replace(exchange_config(shared_data), initial_balance=Decimal(1))
    with LocalExchange(cfg) as ex:
        cfg_path = write_config(tmp_path, ex.port)
        summary = run_engine(cfg_path, ex, script, 40)
        assert_ledgers_equal_venue(tmp_path / "journal.sqlite", ex.port)
    with sqlite3.connect(tmp_path / "journal.sqlite") as db:
        codes = [c for (c,) in db.execute("SELECT ret_code FROM venue_acks WHERE ret_code != 0")]
    assert codes and set(codes) == {110007}
    # ~5 s of 0.2 s rounds would be ~25 tries per slot without the backoff; with it, <= 4
    assert len(codes) <= 4 * 6, len(codes)
    # no venue fill; internal crosses (fee-free, netting to zero) may still move models
    assert summary.reconciled and summary.fills == 0 and summary.ledgers_total == 0
