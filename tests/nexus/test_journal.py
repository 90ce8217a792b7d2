"""Journal on a real SQLite file: WAL, schema, idempotent records, rebuild after kill -9, and the
restart-reconciliation chaos scenarios 3, 4 and 5 of issue 11."""

from __future__ import annotations

import dataclasses
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import msgspec
import pytest

from nexusforge.errors import JournalError, MalformedMessageError
from nexusforge.market.instruments import Instrument
from nexusforge.nexus.executions import ExecId, Execution, parse_rest_page, parse_ws_message
from nexusforge.nexus.intents import OrderIntent
from nexusforge.nexus.journal import (
    Journal,
    OrderOutcome,
    VenueOrder,
    adoption,
    apply_plan,
    order_outcome,
    parse_venue_order,
    reconcile,
    status,
)
from nexusforge.nexus.ledger import Book, slot_router
from nexusforge.nexus.order_ids import ENGINE_SLOT, OrderLinkId, make
from nexusforge.nexus.watchtower import flatten_plan

D = Decimal
SYMBOL = "BTCUSDT"
NAMES = {0: "m0", 1: "m1", 2: "m2"}


def _fill(
    i: int, side: int, qty: str, price: str, link: str = "", *, fee: str = "0", kind: str = "Trade"
) -> Execution:
    return Execution(
        exec_id=ExecId(f"j{i:06d}"),
        symbol=SYMBOL,
        exec_type=kind,
        side=side,
        price=D(price),
        qty=D(qty),
        fee=D(fee),
        exec_time_ms=1_700_000_000_000 + i,
        order_link_id=link,
    )


_owner = slot_router(NAMES)


def _journal(path: Path) -> Journal:
    j = Journal(path)
    for slot, name in NAMES.items():
        j.record_model(slot, name, SYMBOL, D(10_000))
    return j


def _states(book: Book) -> dict[str, object]:
    return {m: lg.state for m, lg in [*book.ledgers.items(), ("orphan", book.orphan)]}


# --- the file ---------------------------------------------------------------------------------


def test_wal_schema_and_reopen(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    with _journal(path) as j:
        run_id = j.run_id
        assert j._db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    with Journal(path) as j:
        assert j.run_id == run_id and [m.name for m in j.models()] == ["m0", "m1", "m2"]
    db = sqlite3.connect(path)
    db.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    db.commit()
    db.close()
    with pytest.raises(JournalError, match="schema version 99"):
        Journal(path)
    junk = tmp_path / "junk.sqlite"
    junk.write_bytes(b"this is not a database at all" * 100)
    with pytest.raises(JournalError):
        Journal(junk)
    other = tmp_path / "other.sqlite"
    db = sqlite3.connect(other)
    db.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    db.execute("INSERT INTO meta VALUES ('app', 'someone-else')")
    db.commit()
    db.close()
    with pytest.raises(JournalError, match="not a NexusForge journal"):
        Journal(other)


def test_foreign_databases_are_never_touched(tmp_path: Path) -> None:
    path = tmp_path / "theirs.sqlite"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE prices (t INTEGER, p REAL)")
    db.commit()
    db.close()
    before = path.read_bytes()
    with pytest.raises(JournalError, match="no meta table"):
        Journal(path)
    assert path.read_bytes() == before  # no tables added, not switched to WAL


def test_read_only_view_while_the_engine_writes(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    with pytest.raises(JournalError, match="no journal"):
        Journal(path, readonly=True)
    with _journal(path) as writer:
        writer.record_execution(_fill(1, 1, "0.25", "100", make(1, "r", 1)), "ws")
        with Journal(path, readonly=True) as reader:
            assert reader.run_id == writer.run_id
            assert reader.rebuild()[SYMBOL].ledger("m1").inventory == D("0.25")
            with pytest.raises(JournalError, match="read-only"):
                reader.record_weight(1, D("0.5"))
        writer.record_execution(_fill(2, 1, "0.25", "100", make(1, "r", 2)), "ws")


def test_records_and_reads(tmp_path: Path) -> None:
    with _journal(tmp_path / "j.sqlite") as j:
        j.record_state(0, "shadow", "active", "promoted")
        j.record_state(0, "active", "dead", "sudden death")
        j.record_state(1, "shadow", "active", "start")
        j.record_weight(0, D("0.25"))
        j.record_weight(0, D("0.4"))
        j.record_kill(0, "sudden_death", "equity -3 <= 0")
        j.record_kill(None, "kill_switch", "kill file")
        assert j.latest_states() == {0: "dead", 1: "active"}
        assert j.latest_weights() == {0: D("0.4")}
        assert j.kill_events() == [
            (0, "sudden_death", "equity -3 <= 0"),
            (None, "kill_switch", "kill file"),
        ]
        with pytest.raises(JournalError):
            j.record_execution(_fill(1, 1, "1", "1"), "carrier-pigeon")
        with pytest.raises(JournalError):
            Journal(tmp_path / "x.sqlite", synchronous="OFF")


def test_rebuild_equals_the_live_book_to_the_last_decimal(
    tmp_path: Path, shared_data: Path
) -> None:
    rng = random.Random(3)
    live = Book(SYMBOL, {n: D(10_000) for n in NAMES.values()}, _owner)
    with _journal(tmp_path / "j.sqlite") as j:
        alloc = j.allocator(block=16)
        for i in range(300):
            link = alloc.next(rng.randrange(4))  # slot 3 is nobody's: orphan
            kind = rng.choice(["Trade"] * 8 + ["Funding", "BustTrade"])
            e = _fill(i, rng.choice([1, -1]), f"0.{rng.randrange(1, 999):03d}", "30000.5", link,
                      fee=f"{rng.randrange(-5, 30)}.0033", kind=kind)  # fmt: skip
            if j.record_execution(e, "ws"):
                live.apply(e)
            if rng.random() < 0.2:  # the same row again from REST recovery
                assert not j.record_execution(e, "rest")
        (real,) = parse_ws_message(
            (shared_data / "bybit/ws_private/nautilus_ws_account_execution.json").read_bytes()
        ).rows
        assert j.record_execution(real, "ws") and live.apply(real)
        rebuilt = j.rebuild()[SYMBOL]
    assert _states(rebuilt) == _states(live)
    assert rebuilt.total_inventory() == live.total_inventory()


def test_sequence_blocks_survive_reopen(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    seen: set[str] = set()
    for _ in range(4):
        with Journal(path) as j:
            alloc = j.allocator(block=5)
            for k in range(7):
                link = alloc.next(k % 3)
                assert link not in seen
                seen.add(link)
    assert len(seen) == 28


# --- kill -9 in the middle of a stream of writes ------------------------------------------------

WRITER_ROWS = 100_000


def _kill_stream(seed: int, n: int) -> list[Execution]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        slot = rng.randrange(4)
        kind = "Funding" if rng.random() < 0.05 else "Trade"
        qty = f"{rng.randrange(1, 5000)}e-3"
        price = f"{rng.randrange(2_000_000, 4_000_000)}e-2"
        out.append(
            _fill(i, rng.choice([1, -1]), qty, price, make(slot, "kill", i), fee="0.01", kind=kind)
        )
    return out


def _writer_main(path: str, seed: int) -> None:
    j = _journal(Path(path))
    for i, e in enumerate(_kill_stream(seed, WRITER_ROWS)):
        j.record_execution(e, "ws")
        print(i, flush=True)  # printed only after the commit returned


def test_rebuild_after_sigkill_mid_stream(tmp_path: Path) -> None:
    path = tmp_path / "killed.sqlite"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    log = tmp_path / "writer.log"
    printed = -1
    with (
        log.open("wb") as err,
        subprocess.Popen(
            [sys.executable, __file__, str(path), "11"], stdout=subprocess.PIPE, stderr=err, env=env
        ) as proc,
    ):
        assert proc.stdout is not None
        for line in proc.stdout:
            printed = int(line)
            if printed >= 150:
                break
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    assert printed >= 150, log.read_text()
    with Journal(path) as j:
        rows = list(j.executions())
        rebuilt = j.rebuild()[SYMBOL]
    expected = _kill_stream(11, len(rows))
    assert len(rows) > printed and len(rows) < WRITER_ROWS  # every acknowledged commit is there
    assert rows == expected
    direct = Book(SYMBOL, {n: D(10_000) for n in NAMES.values()}, _owner)
    direct.apply_all(expected)
    assert _states(rebuilt) == _states(direct)


# --- issue 11, scenario 3: restart reconciliation ---------------------------------------


def _venue_order(link: str, side: str, qty: str, leaves: str, status: str = "New") -> VenueOrder:
    return parse_venue_order(
        {
            "orderId": f"oid-{link}",
            "orderLinkId": link,
            "symbol": SYMBOL,
            "side": side,
            "qty": qty,
            "leavesQty": leaves,
            "cumExecQty": str(D(qty) - D(leaves)),
            "orderStatus": status,
        }
    )


def _intent(link: str, slot: int, side: int, qty: str) -> OrderIntent:
    return OrderIntent(OrderLinkId(link), slot, SYMBOL, side, D(qty), False)


def test_chaos_03_restart_never_synthesizes_fills_and_keeps_working_orders(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    a, b, c = make(0, "r", 1), make(0, "r", 2), make(1, "r", 3)
    with _journal(path) as j:
        for intent in (_intent(a, 0, 1, "0.6"), _intent(b, 0, 1, "0.4"), _intent(c, 1, -1, "0.2")):
            j.record_intent(intent)
        f1 = _fill(1, 1, "0.6", "100", a)
        j.record_execution(f1, "ws")
        j.record_ack(a, status="Filled", order_id="o1", cum_exec_qty=D("0.6"))
        # crash: b filled at the venue but its fill never reached us; c was sent, never acked
    with Journal(path) as j:
        book = j.rebuild()[SYMBOL]
        assert book.ledger("m0").inventory == D("0.6")
        f2 = _fill(2, 1, "0.4", "101", b)
        rest = [f2, f1, f2]  # REST returns the known fill again, and a duplicate
        working = [_venue_order(c, "Sell", "0.2", "0.2")]
        plan = reconcile(j, book, working, D(1), rest)
        assert plan.apply == (f2,)  # only what is missing, once: no synthetic fill
        assert [o.order_link_id for o in plan.working] == [c]  # not dropped although never acked
        assert plan.closed == ((b, OrderOutcome.FILLED),)
        assert plan.orphan_position == 0 and plan.clean
        for e in plan.apply:
            assert j.record_execution(e, "rest")
            book.apply(e)
        assert book.ledger("m0").inventory == D(1) and book.check(D(1)) is None
        # the same fill arriving late on the WS must not double the position
        assert not j.record_execution(f2, "ws") and not book.apply(f2)
        assert book.ledger("m0").inventory == D(1)
        assert j.rebuild()[SYMBOL].ledger("m0").state == book.ledger("m0").state


def test_chaos_03_history_outside_the_lookback_is_orphaned_not_invented(tmp_path: Path) -> None:
    with _journal(tmp_path / "j.sqlite") as j:
        j.record_execution(_fill(1, 1, "0.6", "100", make(0, "r", 1)), "ws")
        book = j.rebuild()[SYMBOL]
        # the venue says 1.0 long; the missing 0.4 is older than the 7-day REST window
        plan = reconcile(j, book, [], D(1), [])
        assert plan.apply == () and plan.orphan_position == D("0.4") and not plan.clean
        assert book.ledger("m0").inventory == D("0.6")  # no model got a fill it never had
        alert = book.check(D(1))
        assert alert is not None and alert.difference == D("0.4")
        # adopt it into the orphan ledger (at the venue's avgPrice), then flatten it there
        assert apply_plan(j, book, plan, D(1), D("99.5"), 1_700_000_100_000) is None
        assert book.orphan.inventory == D("0.4") and book.orphan.state.cost_basis == D("39.8")
        assert book.ledger("m0").inventory == D("0.6")
        assert apply_plan(j, book, reconcile(j, book, [], D(1), []), D(1), D("99.5"), 7) is None
        assert len(book.orphan.forced_fills) == 1  # adopting again finds nothing to adopt
        instrument = Instrument(SYMBOL, D("0.5"), D("0.001"), D("0.001"), D(100), D(50), D(5))
        plan_out = flatten_plan(ENGINE_SLOT, SYMBOL, D("0.4"), D(1), instrument, j.allocator().next)
        (order,) = plan_out.intents
        assert order.reduce_only and order.side == -1 and order.qty == D("0.4")
        j.record_intent(order)
        sold = _fill(50, -1, "0.4", "101", order.order_link_id, fee="0.0222")
        assert j.record_execution(sold, "ws") and book.apply(sold)
        assert book.orphan.inventory == 0 and book.check(D("0.6")) is None
        assert _states(j.rebuild()[SYMBOL]) == _states(book)


def test_adoption_rows() -> None:
    assert adoption(SYMBOL, D(0), D(100), 1, "r") is None
    row = adoption(SYMBOL, D("-0.3"), D(100), 5, "r")
    assert row is not None and (row.side, row.qty, row.order_link_id) == (-1, D("0.3"), "")
    assert row.forced
    with pytest.raises(JournalError, match="average price"):
        adoption(SYMBOL, D("0.3"), D(0), 5, "r")


# --- issue 11, scenario 4: non-trade and duplicate executions -----------------------------------


def test_chaos_04_funding_adl_bust_and_duplicate_exec_ids(
    tmp_path: Path, shared_data: Path
) -> None:
    ws = shared_data / "bybit/ws_private"
    (adl,) = parse_ws_message((ws / "nautilus_ws_account_execution_adl.json").read_bytes()).rows
    link = make(0, "r", 1)
    with _journal(tmp_path / "j.sqlite") as j:
        book = j.rebuild()[SYMBOL]
        rows = [
            _fill(1, 1, "1.5", "95000", link),
            _fill(2, 1, "1.5", "95100", fee="2.5", kind="Funding"),  # cash only
            adl,  # forced, no orderLinkId: applied to the orphan ledger, flagged
            _fill(3, -1, "0.1", "94000", fee="0", kind="BustTrade"),
            _fill(4, 1, "9", "1", kind="Settle"),  # not handled: counted, never a trade
        ]
        for e in rows + rows[::-1]:  # every row twice, the second time reversed (WS + REST)
            if j.record_execution(e, "ws"):
                book.apply(e)
        m0 = book.ledger("m0")
        assert m0.inventory == D("1.5") and m0.state.funding == D("2.5")
        assert book.orphan.inventory == D("-0.6") and book.orphan.forced_fills == [
            adl.exec_id,
            "j000003",
        ]
        assert book.orphan.ignored == 1 and book.check(D("0.9")) is None
        assert len(j.exec_ids()) == 5
        assert _states(j.rebuild()[SYMBOL]) == _states(book)


def test_chaos_04_order_link_ids_stay_unique_over_long_runs(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    seen: set[str] = set()
    for _restart in range(3):
        with Journal(path) as j:
            alloc = j.allocator(block=4096)
            for k in range(20_000):
                seen.add(alloc.next(k % 6))
    assert len(seen) == 60_000
    with Journal(path) as j:
        link = j.allocator().next(0)
        j.record_intent(_intent(link, 0, 1, "1"))
        with pytest.raises(JournalError, match="used before"):
            j.record_intent(_intent(link, 0, -1, "2"))


# --- issue 11, scenario 5: venue order state that lies or vanishes ----------------------


def test_chaos_05_order_not_found_after_fill_cancelled_empty_and_orphans(
    tmp_path: Path, shared_data: Path
) -> None:
    filled, empty, partial, live = (make(2, "r", k) for k in range(4))
    with _journal(tmp_path / "j.sqlite") as j:
        for link in (filled, empty, partial, live):
            j.record_intent(_intent(link, 2, 1, "0.5"))
            j.record_ack(link, status="New", order_id=f"o-{link}")
        j.record_execution(_fill(1, 1, "0.2", "100", partial), "ws")
        book = j.rebuild()[SYMBOL]
        # cancel(filled) answered 110001 "order not found": its fill shows up in the REST pull
        f = _fill(2, 1, "0.5", "100", filled)
        realtime = shared_data / "bybit/rest/nautilus_http_get_orders_realtime.json"
        body = json.loads(realtime.read_text())
        foreign = [parse_venue_order(o) for o in body["result"]["list"]]  # not our ids
        foreign = [dataclasses.replace(o, symbol=SYMBOL) for o in foreign]
        venue_orders = [_venue_order(live, "Buy", "0.5", "0.5"), *foreign]
        plan = reconcile(j, book, venue_orders, D("0.9"), [f])
        assert dict(plan.closed) == {
            filled: OrderOutcome.FILLED,
            empty: OrderOutcome.CANCELLED_EMPTY,  # cancelled with zero filled: no ledger change
            partial: OrderOutcome.CANCELLED_PARTIAL,
        }
        assert [o.order_link_id for o in plan.working] == [live]
        assert [o.order_link_id for o in plan.foreign_orders] == ["client-open-1", "client-open-2"]
        assert plan.orphan_position == D("0.2")  # 0.9 at the venue − 0.2 − 0.5 ours
        for link, outcome in plan.closed:
            j.record_ack(link, status=outcome.value)
        assert [i.order_link_id for i in j.open_intents()] == [live]
        assert order_outcome(D("0.5"), D(0), open_at_venue=True) is OrderOutcome.WORKING


@pytest.mark.parametrize(
    "change",
    [
        {"side": "Up"},
        {"qty": "x"},
        {"qty": 0.1},  # a float would be inexact
        {"qty": "NaN"},
        {"leavesQty": "-1"},
        {"reduceOnly": "maybe"},
        {"reduceOnly": [1]},
        {"orderStatus": None} | {"orderId": None},
    ],
)
def test_venue_order_parsing_errors(shared_data: Path, change: dict[str, object]) -> None:
    path = shared_data / "bybit/rest/nautilus_http_get_orders_realtime.json"
    item = json.loads(path.read_text())["result"]["list"][0]
    assert parse_venue_order(item).qty == D("0.010")
    assert parse_venue_order(item | {"reduceOnly": "true"}).reduce_only
    bad = {k: v for k, v in (item | change).items() if v is not None}
    with pytest.raises(MalformedMessageError):
        parse_venue_order(bad)
    with pytest.raises(MalformedMessageError):
        parse_venue_order([item])  # type: ignore[arg-type]


def test_rest_recovery_window_starts_at_the_last_venue_execution(tmp_path: Path) -> None:
    with _journal(tmp_path / "j.sqlite") as j:
        assert j.last_exec_time_ms() is None
        j.record_execution(_fill(5, 1, "1", "1"), "ws")
        internal = msgspec.structs.replace(_fill(9, 1, "1", "1"), exec_type="Internal")
        j.record_execution(internal, "internal")
        assert j.last_exec_time_ms() == 1_700_000_000_005 == j.last_exec_time_ms(SYMBOL)
        page = parse_rest_page({"retCode": 0, "result": {"list": [], "nextPageCursor": ""}})
        assert page.rows == ()


def test_one_message_is_one_commit_and_duplicates_inside_it_count_once(tmp_path: Path) -> None:
    a, b = _fill(1, 1, "1", "10"), _fill(2, -1, "0.5", "11")
    with _journal(tmp_path / "j.sqlite") as j:
        assert j.record_executions([a, b, a], "ws") == [True, True, False]
        assert j.record_executions([b], "rest") == [False]
        assert [e.exec_id for e in j.executions()] == ["j000001", "j000002"]
        with pytest.raises(JournalError):
            j.record_executions([a], "nowhere")
        assert len(j.exec_ids()) == 2


def test_status_lines_from_the_journal(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    with _journal(path) as j:
        j.record_state(1, "shadow", "active", "start")
        j.record_weight(1, D("0.5"))
        j.record_execution(_fill(1, 1, "0.2", "100", make(1, "r", 1), fee="0.011"), "ws")
        j.record_execution(_fill(2, 1, "0.2", "110", make(1, "r", 2), fee="0.0121"), "ws")
    with Journal(path, readonly=True) as reader:
        lines = {line.name: line for line in status(reader, {SYMBOL: D(120)})}
        no_mark = status(reader, {})
    m1 = lines["m1"]
    assert (m1.state, m1.weight, m1.inventory, m1.avg_entry) == (
        "active",
        D("0.5"),
        D("0.4"),
        D(105),
    )
    assert m1.fees == D("0.0231") and m1.equity == D(10_000) - 42 - D("0.0231") + 48
    assert lines["m0"].state == "unknown" and lines["m0"].inventory == 0
    assert all(line.equity is None for line in no_mark)


if __name__ == "__main__":
    _writer_main(sys.argv[1], int(sys.argv[2]))
