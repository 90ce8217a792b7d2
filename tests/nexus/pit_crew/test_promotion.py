"""Hot swap invariants (hypothesis): whatever the fill stream and the moment of the swap, every
venue fill lands in exactly one ledger once, Σ ledgers == Σ fills, the challenger inherits the
slot's position at the mark, and the decision is journaled before the state changes."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pitcrew_fixtures import EDGE, FLAT, INSTRUMENT, SYMBOL, EdgeMarket, expr_of

from nexusforge.errors import StateTransitionError
from nexusforge.market.costs import CostModel
from nexusforge.market.features import FeatureConfig
from nexusforge.nexus import order_ids
from nexusforge.nexus.executions import ExecId, Execution
from nexusforge.nexus.journal import Journal
from nexusforge.nexus.ledger import Book, slot_router
from nexusforge.nexus.market_feed import MarketFeed
from nexusforge.nexus.model import ModelEvent, ModelState, TradingModel
from nexusforge.nexus.pit_crew import (
    DecisionLog,
    MarketStats,
    Shadow,
    Verdict,
    hot_swap,
    market_view,
)

CAPITAL = Decimal(10_000)
NAMES = {0: "a", 1: "b", 2: "c"}
RUN = order_ids.new_run_id()

fills = st.lists(
    st.tuples(
        st.integers(0, 2),
        st.sampled_from([1, -1]),
        st.integers(1, 50).map(lambda q: Decimal(q) / 10),
        st.integers(900, 1100).map(lambda p: Decimal(p) / 10),
    ),
    max_size=40,
)


def execution(n: int, slot: int, side: int, qty: Decimal, price: Decimal) -> Execution:
    return Execution(
        exec_id=ExecId(f"e{n:05d}"), symbol=SYMBOL, exec_type="Trade", side=side, price=price,
        qty=qty, fee=Decimal("0.01"), exec_time_ms=1_000 + n,
        order_link_id=order_ids.make(slot, RUN, n),
    )  # fmt: skip


def world() -> tuple[Book, list[TradingModel], Shadow]:
    book = Book(SYMBOL, {n: CAPITAL for n in NAMES.values()}, slot_router(NAMES))
    models = [
        TradingModel(s, n, SYMBOL, expr_of(FLAT), book.ledger(n), ModelState.ACTIVE, Decimal("0.3"))
        for s, n in NAMES.items()
    ]
    shadow = Shadow.start("ab" * 32, expr_of(EDGE), SYMBOL, CAPITAL, Decimal("0.3"), now_s=0.0,
                          now_ms=0, costs=CostModel(), max_position=Decimal(100))  # fmt: skip
    return book, models, shadow


def verdict(slot: int) -> Verdict:
    return Verdict(NAMES[slot], slot, 30, 1.0, 0.2, 4.0, 1e-4, 4.0, True, "test")


@settings(max_examples=60, deadline=None)
@given(stream=fills, cut=st.integers(0, 40), slot=st.integers(0, 2), dup=st.booleans())
def test_swap_loses_no_fill_and_counts_none_twice(
    stream: list[tuple[int, int, Decimal, Decimal]], cut: int, slot: int, dup: bool
) -> None:
    book, models, shadow = world()
    rows = [execution(n, *f) for n, f in enumerate(stream)]
    for e in rows[:cut]:
        book.apply(e)
    held = models[slot].ledger.inventory
    p = hot_swap(models, shadow, verdict(slot), Decimal(100), None, DecisionLog(None))
    for e in rows[cut:] + (rows if dup else []):  # after the swap; redelivered too
        book.apply(e)
    assert p.champion_closed.inventory == held  # what the challenger inherited, at the mark
    assert models[slot] is p.challenger and models[slot].ledger is book.ledger(NAMES[slot])
    assert sum(m.ledger.inventory for m in models) == sum((e.signed_qty for e in rows), Decimal(0))
    for s, name in NAMES.items():
        want = sum((e.signed_qty for e in rows if order_ids.slot_of(e.order_link_id) == s),
                   Decimal(0))  # fmt: skip
        assert book.ledger(name).inventory == want
    assert p.virtual_ledger.inventory == 0 and len(p.virtual_ledger.fills) == 0


def test_swap_journals_before_acting_and_refuses_bad_states(tmp_path: Path) -> None:
    _, models, shadow = world()
    journal = Journal(tmp_path / "j.sqlite")
    log = DecisionLog(journal.path)
    p = hot_swap(models, shadow, verdict(1), Decimal(100), journal, log)
    assert [d.kind for d in log.decisions()] == ["promoted"]
    assert log.decisions()[0].detail["champion_closed"]["model"] == "b"
    assert journal.latest_states() == {1: "active"}
    assert p.champion.state is ModelState.SHADOW and p.challenger.weight == Decimal("0.3")
    _, models2, shadow2 = world()
    models2[0].apply_event(ModelEvent.KILL)
    with pytest.raises(StateTransitionError):
        hot_swap(models2, shadow2, verdict(0), Decimal(100), None, DecisionLog(None))
    with pytest.raises(StateTransitionError):
        no_slot = Verdict("z", 7, 3, 1.0, 0.0, 1.0, 0.0, 1.0, True, "")
        hot_swap(models2, shadow2, no_slot, Decimal(100), None, DecisionLog(None))
    journal.close()


def test_shadow_fills_price_the_book_with_the_cost_model() -> None:
    feed = MarketFeed(INSTRUMENT, FeatureConfig(tick_size=0.1))
    market, stats = EdgeMarket(seed=2), MarketStats()
    _, _, shadow = world()
    for k in range(30):
        row = feed.on_book(market.step())
        mid = feed.mid()
        assert mid is not None
        stats.add_volume(400.0)
        stats.on_round(float(mid))
        shadow.on_round(row, market_view(feed.book, mid, stats), INSTRUMENT, k)
    s = shadow.stats
    assert s.fills > 0 and s.spread > 0 and s.fees > 0 and s.impact > 0
    assert s.slippage > 0  # 30 units walk past the top level's 10
    fee = sum((f.fee for f in shadow.model.ledger.fills), Decimal(0))
    assert abs(float(fee) - s.fees) < 1e-6
