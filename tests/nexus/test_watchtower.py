"""Watchtower: equity marks, Sudden Death and kill level, flatten plans and retries, kill switch."""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import signal
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nexusforge.errors import ConfigError
from nexusforge.market.instruments import Instrument, parse_instruments_response
from nexusforge.nexus.executions import ExecId, Execution
from nexusforge.nexus.intents import WorkingOrder, internal_fills
from nexusforge.nexus.ledger import Book, Ledger
from nexusforge.nexus.order_ids import ENGINE_SLOT, OrderLinkId, make, slot_of
from nexusforge.nexus.watchtower import (
    KillSwitch,
    Liquidation,
    LiquidationOutcome,
    RetryPolicy,
    Watchtower,
    WatchtowerConfig,
    flatten_all,
    flatten_plan,
)

D = Decimal
SYMBOL = "BTCUSDT"


@pytest.fixture(scope="module")
def btc(shared_data: Path) -> Instrument:
    path = shared_data / "bybit/rest/nautilus_http_get_instruments_linear.json"
    return parse_instruments_response(json.loads(path.read_text()))["BTCUSDT"]


def _link_ids() -> Callable[[int], OrderLinkId]:
    seq = itertools.count()
    return lambda slot: make(slot, "w", next(seq))


def _fill(i: int, side: int, qty: str, price: str, fee: str = "0", link: str = "") -> Execution:
    return Execution(
        exec_id=ExecId(f"w{i}"),
        symbol=SYMBOL,
        exec_type="Trade",
        side=side,
        price=D(price),
        qty=D(qty),
        fee=D(fee),
        exec_time_ms=i,
        order_link_id=link,
    )


def test_marks_peak_drawdown_and_sudden_death() -> None:
    lg = Ledger("m0", SYMBOL, D(1000))
    lg.apply(_fill(1, 1, "1", "1000", "0.55"))  # all-in long 1 at 1000
    wt = Watchtower()
    up = wt.mark(lg, D(1100))
    assert (up.equity, up.peak, up.drawdown, up.death) == (D("1099.45"), D("1099.45"), 0, None)
    down = wt.mark(lg, D(1050), mark_price=D(600))  # the venue's mark wins over the mid
    assert down.price == D(600) and down.drawdown == D(500) and down.death is None
    assert down.drawdown_fraction == D(500) / D("1099.45")
    dead = wt.mark(lg, D(1), mark_price=D("0.55"))
    assert dead.equity == 0 and dead.death is not None and "sudden death" in dead.death
    assert wt.mark(lg, D(1)).death is None and "m0" in wt.dead  # reported once


def test_earlier_kill_level() -> None:
    lg = Ledger("m1", SYMBOL, D(1000))
    lg.apply(_fill(1, -1, "1", "1000"))
    wt = Watchtower(WatchtowerConfig(kill_fraction=D("0.25")))
    assert wt.mark(lg, D(1700)).death is None  # equity 300
    mark = wt.mark(lg, D(1750))  # equity 250 = 25 % of capital
    assert mark.death is not None and "kill level" in mark.death
    with pytest.raises(ConfigError):
        WatchtowerConfig(kill_fraction=D(1))
    with pytest.raises(ConfigError):
        wt.mark(lg, D(0))


def test_flatten_plan_chunks_and_reduce_only(btc: Instrument) -> None:
    plan = flatten_plan(3, SYMBOL, D("120.5"), D("130"), btc, _link_ids())
    assert [i.qty for i in plan.intents] == [D(50), D(50), D("20.5")]
    assert all(i.side == -1 and i.reduce_only and i.reason == "flatten" for i in plan.intents)
    assert {slot_of(i.order_link_id) for i in plan.intents} == {3} and plan.dust == 0
    # the account is net short because of another model: a reduce-only buy would be refused
    plan = flatten_plan(3, SYMBOL, D("-0.4"), D("0.2"), btc, _link_ids())
    assert [(i.side, i.qty, i.reduce_only) for i in plan.intents] == [(1, D("0.4"), False)]


def test_liquidation_retries_until_flat(btc: Instrument) -> None:
    link_id = _link_ids()
    liq = Liquidation(2, SYMBOL, started_s=10.0, policy=RetryPolicy(0.5, 2.0, 2.0))
    first = liq.step(10.0, D("0.7"), D("0.7"), [], btc, link_id)
    assert [i.qty for i in first] == [D("0.7")] and liq.attempts == 1
    working = [WorkingOrder(first[0].order_link_id, -1, D("0.7"))]
    assert liq.step(10.1, D("0.7"), D("0.7"), working, btc, link_id) == []  # order in flight
    # partial fill, order gone: wait for the backoff, then re-plan the rest only
    assert liq.step(10.2, D("0.3"), D("0.3"), [], btc, link_id) == []
    second = liq.step(10.5, D("0.3"), D("0.3"), [], btc, link_id)
    assert [i.qty for i in second] == [D("0.3")] and liq.attempts == 2
    assert liq.step(11.0, D("0.3"), D("0.3"), [], btc, link_id) == []  # next delay is 1 s
    assert len(liq.step(11.5, D("0.3"), D("0.3"), [], btc, link_id)) == 1
    assert liq.step(12.0, D(0), D(0), [], btc, link_id) == []
    assert liq.outcome is LiquidationOutcome.FLAT and liq.finished_s == 12.0
    assert "flat after 3 attempt(s) in 2.000s" in liq.describe()
    assert liq.step(13.0, D(1), D(1), [], btc, link_id) == []  # finished stays finished
    assert [RetryPolicy().delay(n) for n in (1, 2, 3, 10)] == [0.25, 0.5, 1.0, 5.0]


def test_liquidation_of_dust_is_recorded(btc: Instrument) -> None:
    inst = Instrument("X", D("0.1"), D("0.001"), D("0.01"), D(100), D(50), D(0))
    liq = Liquidation(1, "X", started_s=0.0)
    assert liq.step(0.0, D("0.004"), D("0.004"), [], inst, _link_ids()) == []
    assert liq.outcome is LiquidationOutcome.DUST and liq.residual == D("0.004")


@given(st.lists(st.integers(-80_000, 80_000), min_size=1, max_size=7))
def test_flatten_all_brings_every_ledger_and_the_account_to_zero(units: list[int]) -> None:
    btc = Instrument(SYMBOL, D("0.5"), D("0.001"), D("0.001"), D(100), D(50), D(5))
    slots = [*range(len(units) - 1), ENGINE_SLOT]
    names = {s: f"m{s}" for s in slots if s != ENGINE_SLOT}

    def owner(link: str) -> str | None:
        slot = slot_of(link)
        return None if slot is None else names.get(slot)

    book = Book(SYMBOL, {n: D(10_000) for n in names.values()}, owner)
    link_id = _link_ids()
    for i, (slot, u) in enumerate(zip(slots, units, strict=True)):
        if u:
            qty = str(D(abs(u)) / 1000)
            book.apply(_fill(i, 1 if u > 0 else -1, qty, "100", link=link_id(slot)))
    ledgers = {s: book.ledger(names[s]) if s in names else book.orphan for s in slots}
    inventories = {s: lg.inventory for s, lg in ledgers.items()}
    account = sum(inventories.values(), D(0))
    plan = flatten_all(SYMBOL, inventories, D("100.25"), btc, link_id)
    # every order reduces the account: same direction, total exactly the account's net
    assert all(i.side * account < 0 and i.reduce_only for i in plan.intents)
    assert sum((i.signed_qty for i in plan.intents), D(0)) == -account and plan.dust == 0
    n = 1000
    for c in plan.crosses:
        for leg in internal_fills(c, SYMBOL, n, link_id):
            book.apply(leg)
    for i in plan.intents:
        n += 1
        book.apply(_fill(n, i.side, str(i.qty), "100.5", link=i.order_link_id))
    assert book.total_inventory() == 0
    assert all(lg.inventory == 0 for lg in [*book.ledgers.values(), book.orphan])


def test_kill_switch_file_method_and_signals(tmp_path: Path) -> None:
    ks = KillSwitch(tmp_path / "KILL")
    assert ks.check() is None
    (tmp_path / "KILL").write_text("")
    assert ks.check() == f"kill file {tmp_path / 'KILL'}"
    ks.trigger("dashboard")  # the first reason stays
    assert ks.check() == f"kill file {tmp_path / 'KILL'}"
    button = KillSwitch()
    button.trigger("dashboard button")
    assert button.check() == "dashboard button"

    sig = KillSwitch()
    restore = sig.install_signal_handlers()
    try:
        os.kill(os.getpid(), signal.SIGUSR1)
        assert sig.check() == "signal SIGUSR1"
    finally:
        restore()
    assert signal.getsignal(signal.SIGUSR1) is signal.SIG_DFL


def test_kill_switch_on_an_asyncio_loop() -> None:
    async def main() -> str | None:
        ks = KillSwitch()
        remove = ks.install_signal_handlers(asyncio.get_running_loop(), [signal.SIGUSR1])
        try:
            os.kill(os.getpid(), signal.SIGUSR1)
            for _ in range(100):
                if ks.check() is not None:
                    break
                await asyncio.sleep(0.01)
            return ks.check()
        finally:
            remove()

    assert asyncio.run(main()) == "signal SIGUSR1"


def test_one_liquidation_per_slot_with_the_configured_retry() -> None:
    wt = Watchtower(WatchtowerConfig(retry=RetryPolicy(first_delay_s=1.0)))
    liq = wt.liquidate(4, SYMBOL, now_s=5.0)
    assert wt.liquidate(4, SYMBOL, now_s=9.0) is liq and liq.started_s == 5.0
    assert liq.policy.delay(1) == 1.0 and wt.liquidations == {4: liq}


def test_sudden_death_to_flat_within_two_simulated_seconds(btc: Instrument, tmp_path: Path) -> None:
    """An adverse price path kills a leveraged long; its liquidation (with one partial fill and
    a retry) brings the ledger and the venue position to flat, journaled at every step."""
    from nexusforge.nexus.journal import Journal
    from nexusforge.nexus.ledger import slot_router

    journal = Journal(tmp_path / "j.sqlite")
    journal.record_model(0, "m0", SYMBOL, D(500))
    book = Book(SYMBOL, {"m0": D(500)}, slot_router({0: "m0"}))
    lg = book.ledger("m0")
    alloc = journal.allocator()
    entry = _fill(1, 1, "0.3", "20000", "3.3", link=alloc.next(0))
    assert journal.record_execution(entry, "ws") and book.apply(entry)
    venue = D("0.3")
    wt = Watchtower(WatchtowerConfig(retry=RetryPolicy(first_delay_s=0.2)))
    t, dead_at, n = 0.0, None, 1
    for mid in (19_800, 19_500, 19_000, 18_500, 18_300, 18_200):  # 100 ms apart
        t += 0.1
        mark = wt.mark(lg, D(mid))
        if mark.death is not None:
            journal.record_state(0, "active", "dead", mark.death)
            dead_at = t
            break
    assert dead_at is not None and lg.equity(D(18_300)) <= 0
    liq = wt.liquidate(0, SYMBOL, dead_at)
    partial = True
    while liq.outcome is LiquidationOutcome.PENDING:
        for intent in liq.step(t, lg.inventory, venue, [], btc, alloc.next):
            journal.record_intent(intent)
            qty = intent.qty / 3 if partial else intent.qty  # the first order fills a third
            partial = False
            n += 1
            fill = _fill(
                n, intent.side, str(btc.round_qty(qty)), "18250", "1", intent.order_link_id
            )
            assert journal.record_execution(fill, "ws") and book.apply(fill)
            venue += fill.signed_qty
            journal.record_ack(intent.order_link_id, status="Cancelled", cum_exec_qty=fill.qty)
        t += 0.05
        assert t - dead_at < 2.0, liq.describe()
    journal.record_kill(0, "sudden_death", liq.describe())
    assert liq.outcome is LiquidationOutcome.FLAT and liq.attempts == 2
    assert lg.inventory == 0 and venue == 0 and book.check(venue) is None
    assert journal.latest_states() == {0: "dead"} and journal.open_intents() == []
    assert journal.kill_events()[0][2].startswith("flat after 2 attempt(s)")
    journal.close()
