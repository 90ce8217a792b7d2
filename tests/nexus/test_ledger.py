"""Ledgers: hand-computed average cost, flips, fees, funding, forced fills, idempotence, order."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nexusforge.errors import LedgerError
from nexusforge.nexus import ledger as ledger_mod
from nexusforge.nexus.executions import ExecId, Execution, parse_ws_message
from nexusforge.nexus.ledger import Book, Ledger, LedgerState

D = Decimal
SYMBOL = "BTCUSDT"


def fill(
    i: int,
    side: int,
    qty: str,
    price: str,
    fee: str = "0",
    *,
    t: int | None = None,
    exec_type: str = "Trade",
    link: str = "",
) -> Execution:
    return Execution(
        exec_id=ExecId(f"e{i:05d}"),
        symbol=SYMBOL,
        exec_type=exec_type,
        side=side,
        price=D(price),
        qty=D(qty),
        fee=D(fee),
        exec_time_ms=1_000 + i if t is None else t,
        order_link_id=link,
    )


def test_average_cost_by_hand() -> None:
    lg = Ledger("m0", SYMBOL, D(1000))
    assert lg.apply(fill(1, 1, "1", "100", "0.055"))
    assert lg.apply(fill(2, 1, "1", "110", "0.0605"))
    assert lg.state.avg_entry == D(105) and lg.state.cost_basis == D(210)
    assert lg.apply(fill(3, -1, "0.5", "120", "0.033"))  # close half at 120: +7.5
    s = lg.state
    assert (s.inventory, s.realized, s.cost_basis) == (D("1.5"), D("7.5"), D("157.5"))
    assert s.fees == D("0.1485")
    assert s.cash == D(1000) - 100 - 110 + 60 - D("0.1485")
    assert s.unrealized(D(100)) == D("-7.5")
    assert s.equity(D(100)) == D(1000) + s.realized + s.unrealized(D(100)) - s.fees


def test_flip_through_zero_opens_at_the_fill_price() -> None:
    lg = Ledger("m0", SYMBOL, D(0))
    lg.apply(fill(1, 1, "2", "100"))
    lg.apply(fill(2, -1, "5", "90"))  # close 2 at 90 (−20), open 3 short at 90
    s = lg.state
    assert (s.inventory, s.realized, s.cost_basis, s.avg_entry) == (D(-3), D(-20), D(-270), D(90))
    lg.apply(fill(3, 1, "3", "80"))  # close the short at 80: +30
    s = lg.state
    assert (s.inventory, s.cost_basis, s.realized, s.avg_entry) == (D(0), D(0), D(10), D(0))


def test_duplicates_are_ignored_and_counted() -> None:
    lg = Ledger("m0", SYMBOL, D(500))
    e = fill(1, 1, "0.3", "100", "0.1")
    assert lg.apply(e) and not lg.apply(e) and not lg.apply(e)
    assert lg.duplicates == 2 and lg.inventory == D("0.3") and lg.state.fees == D("0.1")


def test_funding_changes_cash_only() -> None:
    lg = Ledger("m0", SYMBOL, D(500))
    lg.apply(fill(1, 1, "1", "100"))
    lg.apply(fill(2, 1, "1", "101", "0.0101", exec_type="Funding"))
    lg.apply(fill(3, 1, "1", "101", "-0.02", exec_type="Funding"))  # received
    s = lg.state
    assert (s.inventory, s.cost_basis, s.funding) == (D(1), D(100), D("-0.0099"))
    assert s.cash == D(400) - D("-0.0099") and s.fees == 0


def test_unknown_exec_types_are_never_applied(shared_data: Path) -> None:
    lg = Ledger("m0", SYMBOL, D(100))
    assert not lg.apply(fill(1, 1, "1", "100", exec_type="Delivery"))
    assert not lg.apply(fill(2, 1, "1", "100", exec_type="NewThing"))
    assert lg.ignored == 2 and lg.state == LedgerState(cash=D(100))


def test_real_adl_message_is_applied_and_flagged(shared_data: Path) -> None:
    raw = (shared_data / "bybit/ws_private/nautilus_ws_account_execution_adl.json").read_bytes()
    (adl,) = parse_ws_message(raw).rows
    lg = Ledger("m0", SYMBOL, D(0))
    lg.apply(fill(1, 1, "0.5", "95000"))
    assert lg.apply(adl)
    assert lg.inventory == 0 and lg.forced_fills == [adl.exec_id]
    assert lg.state.realized == D("0.5") * (D("95850.0") - 95000)


def test_wrong_symbol_is_an_error() -> None:
    lg = Ledger("m0", "ETHUSDT", D(0))
    with pytest.raises(LedgerError, match="BTCUSDT"):
        lg.apply(fill(1, 1, "1", "1"))


# --- order independence ------------------------------------------------------------------

PRICES = st.integers(1, 20_000).map(lambda n: D(n) / 100)
QTYS = st.integers(1, 500).map(lambda n: D(n) / 1000)
FEES = st.integers(-50, 200).map(lambda n: D(n) / 10_000)


@st.composite
def fill_streams(draw: st.DrawFn) -> list[Execution]:
    n = draw(st.integers(1, 60))
    out = []
    for i in range(n):
        kind = draw(st.sampled_from(["Trade"] * 6 + ["Funding", "AdlTrade", "UNKNOWN"]))
        t = draw(st.integers(0, 30))  # few distinct times: many ties broken by execId
        out.append(
            fill(
                i,
                draw(st.sampled_from([1, -1])),
                str(draw(QTYS)),
                str(draw(PRICES)),
                str(draw(FEES)),
                t=t,
                exec_type=kind,
            )
        )
    return out


CAPITAL = D(10_000)


def _final(rows: list[Execution], capital: Decimal = CAPITAL) -> LedgerState:
    lg = Ledger("m", SYMBOL, capital)
    for e in rows:
        lg.apply(e)
    return lg.state


@given(fill_streams(), st.randoms(use_true_random=False), st.data())
def test_any_permutation_with_duplicates_gives_the_same_ledger(
    rows: list[Execution], rnd: object, data: st.DataObject
) -> None:
    canonical = _final(sorted(rows, key=lambda e: e.sort_key))
    shuffled = data.draw(st.permutations(rows))
    dups = data.draw(st.lists(st.sampled_from(rows), max_size=20))
    mixed = list(shuffled)
    for d in dups:
        mixed.insert(data.draw(st.integers(0, len(mixed))), d)
    assert _final(mixed) == canonical


@given(fill_streams(), st.permutations(range(60)))
def test_sums_are_exact_and_equity_identity_holds(rows: list[Execution], perm: list[int]) -> None:
    lg = Ledger("m", SYMBOL, D(10_000))
    order = [rows[i] for i in perm if i < len(rows)]
    for e in order:
        lg.apply(e)
    s = lg.state
    applied = [e for e in rows if e.exec_type != "UNKNOWN"]
    trades = [e for e in applied if e.exec_type != "Funding"]
    assert s.inventory == sum((e.signed_qty for e in trades), D(0))
    assert s.fees == sum((e.fee for e in trades), D(0))
    assert s.funding == sum((e.fee for e in applied if e.exec_type == "Funding"), D(0))
    mark = D("123.45")
    assert s.equity(mark) == D(10_000) + s.realized + s.unrealized(mark) - s.fees - s.funding
    if s.inventory == 0:
        assert s.cost_basis == 0


def test_late_fill_replays_past_checkpoints(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ledger_mod, "CHECKPOINT_EVERY", 4)
    rows = [fill(i, 1 if i % 3 else -1, "0.01", str(100 + i % 7)) for i in range(40)]
    late = rows.pop(5)
    lg = Ledger("m", SYMBOL, D(0))
    for e in rows:
        lg.apply(e)
    lg.apply(late)
    assert lg.state == _final(sorted([*rows, late], key=lambda e: e.sort_key), D(0))
    assert [e.exec_id for e in lg.fills] == sorted(e.exec_id for e in lg.fills)


# --- book ---------------------------------------------------------------------------------


def _owner(link: str) -> str | None:
    return {"a": "m0", "b": "m1", "c": "m2"}.get(link)


def test_book_routes_by_link_and_checks_the_venue_position() -> None:
    book = Book(SYMBOL, {"m0": D(1000), "m1": D(1000), "m2": D(1000)}, _owner)
    book.apply(fill(1, 1, "0.5", "100", link="a"))
    book.apply(fill(2, -1, "0.2", "101", link="b"))
    book.apply(fill(3, 1, "0.1", "99", link="manual-order"))  # nobody's: orphan
    assert not book.apply(fill(1, 1, "0.5", "100", link="a"))
    assert book.duplicates == 1 and book.orphan_fills == 1
    assert book.ledger("m0").inventory == D("0.5") and book.ledger("m1").inventory == D("-0.2")
    assert book.orphan.inventory == D("0.1")
    assert book.check(D("0.4")) is None
    alert = book.check(D("0.3"))
    assert alert is not None and alert.difference == D("-0.1") and alert.orphan == D("0.1")
    assert alert.by_model == {"m0": D("0.5"), "m1": D("-0.2"), "m2": D(0)}
    with pytest.raises(LedgerError):
        book.ledger("m9")


def test_book_splits_funding_exactly_by_signed_inventory() -> None:
    book = Book(SYMBOL, {"m0": D(1000), "m1": D(1000), "m2": D(1000)}, _owner)
    book.apply(fill(1, 1, "0.3", "100", link="a"))
    book.apply(fill(2, 1, "0.4", "100", link="b"))
    book.apply(fill(3, -1, "0.2", "100", link="c"))
    # net 0.5 long pays 1.0: m0 0.6, m1 0.8, m2 receives 0.4
    funding = fill(4, 1, "0.5", "100", "1", exec_type="Funding")
    assert book.apply(funding) and not book.apply(funding)
    paid = {m: book.ledger(m).state.funding for m in ("m0", "m1", "m2")}
    assert paid == {"m0": D("0.6"), "m1": D("0.8"), "m2": D("-0.4")}
    thirds = Book(SYMBOL, {"m0": D(0), "m1": D(0), "m2": D(0)}, _owner)
    for i, link in enumerate("abc"):
        thirds.apply(fill(i, 1, "1", "100", link=link))
    thirds.apply(fill(9, 1, "3", "100", "1", exec_type="Funding"))
    shares = [thirds.ledger(m).state.funding for m in ("m0", "m1", "m2")]
    assert sum(shares) == 1 and max(shares) - min(shares) <= D("1e-12")


@given(fill_streams(), st.permutations(range(60)))
def test_book_sum_equals_net_fills_in_any_order(rows: list[Execution], perm: list[int]) -> None:
    links = ["a", "b", "c", "zz"]
    routed = [
        Execution(**{**_fields(e), "order_link_id": links[i % 4]})
        for i, e in enumerate(rows)
        if e.exec_type != "Funding"
    ]
    book = Book(SYMBOL, {"m0": D(0), "m1": D(0), "m2": D(0)}, _owner)
    book.apply_all([routed[i] for i in perm if i < len(routed)] + routed[:3])
    venue = sum((e.signed_qty for e in routed if e.exec_type != "UNKNOWN"), D(0))
    assert book.check(venue) is None


def _fields(e: Execution) -> dict[str, object]:
    return {f: getattr(e, f) for f in e.__struct_fields__}


def test_real_messages_through_a_book(shared_data: Path) -> None:
    path = shared_data / "bybit/ws_private/nautilus_ws_account_execution.json"
    (sell,) = parse_ws_message(path.read_bytes()).rows
    book = Book("BTCUSDT", {"m0": D(50_000)}, lambda lk: "m0" if lk.startswith("test") else None)
    assert book.apply(sell)
    lg = book.ledger("m0")
    assert lg.inventory == D("-0.5")
    assert lg.state.cash == D(50_000) + D("47950.05") - D("26.3725275")
    assert book.check(D("-0.5")) is None


def test_compaction_keeps_the_state_and_bounds_memory(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ledger_mod, "CHECKPOINT_EVERY", 8)
    rows = [fill(i, 1 if i % 4 else -1, "0.01", str(100 + i % 5), "0.001") for i in range(100)]
    lg = Ledger("m", SYMBOL, D(0))
    for e in rows[:90]:
        lg.apply(e)
    before = lg.state
    assert lg.compact(1_000 + 50) == 48 and lg.state == before and len(lg.fills) == 42
    assert lg.compact(0) == 0
    late = rows[95]  # an ordinary late fill inside the kept window: still canonical
    for e in [*rows[90:95], late, *rows[96:]]:
        lg.apply(e)
    assert lg.state == _final(rows, D(0)) and lg.late_beyond_horizon == 0
    assert not lg.apply(rows[3])  # a compacted fill is still a duplicate
    ancient = fill(10_000, 1, "0.5", "90", "0.01", t=5)
    assert lg.apply(ancient) and lg.late_beyond_horizon == 1
    s = lg.state
    assert s.inventory == _final([*rows, ancient], D(0)).inventory
    assert s.cash == _final([*rows, ancient], D(0)).cash


def test_slot_router_reads_our_link_ids_only() -> None:
    from nexusforge.nexus.ledger import slot_router
    from nexusforge.nexus.order_ids import make

    route = slot_router({0: "m0", 5: "m5"})
    assert route(make(5, "r", 9)) == "m5" and route(make(0, "r", 1)) == "m0"
    assert route(make(7, "r", 1)) is None and route("") is None and route("nf05") is None
