"""Both sources against the real ledger code: the journal tail equals a full rebuild after every
append, states, weights, kills and orphans become views and alerts; the live source reads the
engine's own objects and only trips the kill switch."""

from __future__ import annotations

import hashlib
from decimal import Decimal
from pathlib import Path

import pytest
from dashboard_fixtures import MODELS, SYMBOL, T0, new_session

from nexusforge.errors import JournalError, NexusError
from nexusforge.nexus.dashboard import DashboardSource, JournalSource, LiveSource
from nexusforge.nexus.executions import ExecId, Execution
from nexusforge.nexus.intents import OrderIntent
from nexusforge.nexus.journal import Journal, status
from nexusforge.nexus.ledger import Book, slot_router
from nexusforge.nexus.model import ModelState, TradingModel, load_champion
from nexusforge.nexus.order_ids import make
from nexusforge.nexus.venues.bybit.ws_connection import StreamStatus, WsStats
from nexusforge.nexus.watchtower import KillSwitch

D = Decimal


def test_tail_equals_a_full_rebuild_after_every_append(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    session = new_session(path)
    source = JournalSource(path)
    assert isinstance(source, DashboardSource)
    trades = [(0, 1, "0.010", "50000"), (1, -1, "0.030", "50010"), (0, -1, "0.025", "50100"),
              (2, 1, "0.002", "49990"), (1, 1, "0.030", "49900")]  # fmt: skip
    for slot, side, qty, price in trades:
        session.trade(slot, side, qty, price)
        snap = source.snapshot()
        want = {s.name: s for s in status(Journal(path, readonly=True), {SYMBOL: D(price)})}
        for m in snap.models:
            w = want[m.name]
            assert (m.inventory, m.realized, m.fees, m.equity) == (
                w.inventory, w.realized, w.fees, w.equity,
            )  # fmt: skip
            assert m.unrealized == m.equity - m.capital - m.realized + m.fees
    views = {m.name: m for m in snap.models}
    assert [f.exec_id for f in views["book_imbalance"].recent_fills] == ["e000003", "e000001"]
    assert views["book_imbalance"].recent_orders[0].status == "Filled"
    assert views["book_imbalance"].recent_orders[0].filled == D("0.025")
    assert views["flow_pressure"].fills == 2 and views["flow_pressure"].orders == 2
    # equity points at each fill's time; the peak and drawdown follow the curve
    series = views["flow_pressure"].equity_series
    assert [t for t, _ in series] == [T0 + 1000 * i for i in range(1, 6)]
    assert views["flow_pressure"].peak == max(D(10_000), *(v for _, v in series))
    assert views["flow_pressure"].drawdown == views["flow_pressure"].peak - series[-1][1]
    assert snap.marks == ((SYMBOL, D("49900")),)
    session.journal.close()


def test_states_weights_kills_and_orphans(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    session = new_session(path)
    j = session.journal
    source = JournalSource(path)
    first = source.snapshot()
    assert len(first.weight_history) == 1  # the three start rows are one CWO round
    assert dict(first.weight_history[0].weights) == {n: D("0.3") for n in MODELS.values()}
    j.record_state(1, "active", "dead", "sudden death: equity -2 <= 0")
    j.record_kill(1, "sudden_death", "equity -2 <= 0")
    j.record_kill(None, "kill_switch", "kill file nexus.kill")
    orphan = Execution(exec_id=ExecId("adl1"), symbol=SYMBOL, exec_type="AdlTrade", side=-1,
                       price=D(50_000), qty=D("0.5"), fee=D(0), exec_time_ms=T0)  # fmt: skip
    j.record_execution(orphan, "ws")
    snap = source.snapshot()
    assert {m.name: m.state for m in snap.models}["flow_pressure"] == "dead"
    assert snap.kill_switch.tripped and snap.kill_switch.reason == "kill file nexus.kill"
    assert snap.kill_switch.armable is False
    texts = [a.text for a in snap.alerts]
    assert texts[0] == "kill_switch (account): kill file nexus.kill"
    assert "flow_pressure dead: sudden death: equity -2 <= 0" in texts
    assert snap.reconciliation.status == "alert" and "-0.5" in snap.reconciliation.detail
    with pytest.raises(NexusError):
        source.trigger_kill("no")
    j.close()


def test_fills_complete_an_order_whose_ack_lags(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    j = new_session(path).journal
    link = make(0, j.run_id, 900)
    j.record_intent(OrderIntent(link, 0, SYMBOL, 1, D("0.3"), False, "target"))
    j.record_ack(link, status="New", order_id="o1")
    source = JournalSource(path)
    for i, (qty, total) in enumerate((("0.1", "0.1"), ("0.2", "0.3"))):
        e = Execution(exec_id=ExecId(f"p{i}"), symbol=SYMBOL, exec_type="Trade", side=1,
                      price=D(100), qty=D(qty), fee=D(0), exec_time_ms=T0 + i,
                      order_link_id=link)  # fmt: skip
        j.record_execution(e, "ws")
        (order,) = source.snapshot().models[0].recent_orders
        assert order.filled == D(total)
    assert (order.status, order.filled) == ("Filled", D("0.3"))
    j.record_ack(link, status="PartiallyFilled", order_id="o1")  # a stale update arriving late
    assert source.snapshot().models[0].recent_orders[0].status == "Filled"
    j.close()


def test_reads_never_write_and_a_late_model_replays(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    session = new_session(path)
    session.trade(0, 1, "0.010", "50000")
    session.journal.close()
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    source = JournalSource(path)
    source.snapshot()
    assert hashlib.sha256(path.read_bytes()).hexdigest() == digest
    j = Journal(path)
    j.record_model(3, "late", SYMBOL, D(500))
    snap = source.snapshot()
    assert [m.name for m in snap.models] == [*MODELS.values(), "late"]
    assert snap.models[0].fills == 1  # replayed from the start, nothing lost or doubled
    with pytest.raises(JournalError):
        JournalSource(tmp_path / "missing.sqlite")
    j.close()


def _live() -> tuple[LiveSource, Book, KillSwitch]:
    owner = slot_router(MODELS)
    book = Book(SYMBOL, {n: D(1000) for n in MODELS.values()}, owner)
    models = [
        TradingModel(s, n, SYMBOL, load_champion(n), book.ledger(n), ModelState.ACTIVE)
        for s, n in MODELS.items()
    ]
    clock = iter(range(T0, T0 + 10**9, 1000))
    kill = KillSwitch()
    return LiveSource(models, {SYMBOL: book}, kill, clock_ms=lambda: next(clock)), book, kill


class _Stream:
    def __init__(self) -> None:
        self.url = "ws://127.0.0.1:1/v5/public/linear"
        self.stats = WsStats()


def test_live_source_reads_the_engines_objects() -> None:
    source, book, kill = _live()
    stream = _Stream()
    source.add_stream("public", stream)
    link = make(1, "abcdefghij", 0)
    source.on_intent(OrderIntent(link, 1, SYMBOL, 1, D("0.1"), False, "target"))
    e = Execution(exec_id=ExecId("x1"), symbol=SYMBOL, exec_type="Trade", side=1, price=D(100),
                  qty=D("0.1"), fee=D("0.01"), exec_time_ms=T0, order_link_id=link)  # fmt: skip
    assert book.apply(e)
    source.on_fill(1, e)
    source.on_ack(link, "Filled")
    source.on_mark(SYMBOL, D(110))
    source.on_stream_status("public", StreamStatus("connected", stream.url))
    source.on_book(SYMBOL, False)
    stream.stats.messages, stream.stats.connects = 10, 2
    source.latency("tick_to_order").observe(0.0004)
    source.on_reconcile(SYMBOL, book.check(D("0.2")))
    snap = source.snapshot()
    m = {v.name: v for v in snap.models}["flow_pressure"]
    assert (m.inventory, m.equity, m.unrealized, m.fees) == (
        D("0.1"),
        D("1000.99"),
        D(1),
        D("0.01"),
    )
    assert m.recent_orders[0].status == "Filled" and m.recent_fills[0].exec_id == "x1"
    assert m.equity_series[-1][1] == D("1000.99")
    (venue,) = snap.venues
    assert venue.connected and venue.book_valid is False and venue.reconnects == 1
    assert snap.latencies[0].count == 1
    assert snap.reconciliation.status == "alert"
    assert [a.level for a in snap.alerts] == ["critical", "warning"]
    source.on_reconcile(SYMBOL, None)
    assert source.snapshot().reconciliation.status == "ok"
    source.on_weights()
    assert snap.kill_switch == snap.kill_switch.__class__(False, None, armable=True)
    source.trigger_kill("test")
    assert kill.check() == "test" and source.snapshot().kill_switch.tripped


def test_catching_up_in_slices_ends_where_one_read_does(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    session = new_session(path)
    for i in range(40):
        session.trade(i % 3, 1 if i % 4 < 2 else -1, "0.003", str(50_000 + 7 * (i % 11)))
    whole = JournalSource(path).snapshot()
    sliced = JournalSource(path)
    slices = 1
    while not sliced.refresh(max_rows=7):
        slices += 1
    assert slices == 80 // 7 + 1  # the longest table, venue_acks: two rows per trade
    got = sliced.snapshot(refresh=False)
    for a, b in zip(whole.models, got.models, strict=True):
        assert (a.inventory, a.realized, a.fees, a.equity, a.fills, a.orders) == (
            b.inventory, b.realized, b.fees, b.equity, b.fills, b.orders,
        )  # fmt: skip
    session.journal.close()
