"""Order intents: lot rounding, limits, working orders, account-wide reduce-only, crossing."""

from __future__ import annotations

import itertools
import json
import random
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nexusforge.errors import ConfigError
from nexusforge.market.instruments import Instrument, parse_instruments_response
from nexusforge.nexus.intents import (
    IntentLimits,
    ModelView,
    TradeNeed,
    WorkingOrder,
    chunks,
    cross,
    internal_fills,
    need,
    orders,
    plan_round,
    reduces_account,
)
from nexusforge.nexus.ledger import Book
from nexusforge.nexus.order_ids import OrderLinkId, make, slot_of

D = Decimal


@pytest.fixture(scope="module")
def btc(shared_data: Path) -> Instrument:
    body = json.loads(
        (shared_data / "bybit/rest/nautilus_http_get_instruments_linear.json").read_text()
    )
    return parse_instruments_response(body)["BTCUSDT"]  # step 0.001, min 0.001, max market 50


def _alloc() -> tuple[list[OrderLinkId], Callable[[int], OrderLinkId]]:
    made: list[OrderLinkId] = []
    seq = itertools.count()

    def link_id(slot: int) -> OrderLinkId:
        link = make(slot, "t", next(seq))
        made.append(link)
        return link

    return made, link_id


def test_need_rounds_toward_zero_and_caps(btc: Instrument) -> None:
    lim = IntentLimits(max_position=D("2"))
    assert need(0, D("0.12345"), D(0), [], btc, lim).qty == D("0.123")
    assert need(0, D("-0.12345"), D(0), [], btc, lim).qty == D("-0.123")
    assert need(0, D("5"), D("0.5"), [], btc, lim).qty == D("1.5")
    assert need(0, D("-5"), D("0.5"), [], btc, lim).qty == D("-2.5")
    assert need(0, D("0.1004"), D("0.1"), [], btc, lim).qty == 0  # under min qty: dead band


def test_need_counts_working_orders_and_cancels_stale_ones(btc: Instrument) -> None:
    lim = IntentLimits(max_position=D(10))
    working = [WorkingOrder("w1", 1, D("0.3")), WorkingOrder("w2", -1, D("0.1"))]
    n = need(3, D("1"), D("0.2"), working, btc, lim)  # wants +0.8 more: w1 helps, w2 is stale
    assert n.cancel == ("w2",) and n.qty == D("0.5")
    n = need(3, D("0.5"), D("0.2"), [WorkingOrder("w1", 1, D("0.3"))], btc, lim)
    assert n.qty == 0 and n.cancel == ()


def test_chunks_respect_lot_rules(btc: Instrument) -> None:
    assert chunks(D("120.0005"), btc) == [D(50), D(50), D(20)]
    assert chunks(D("0.0005"), btc) == []
    assert chunks(D(100), btc, D(50)) == [D(50), D(50)]
    tight = Instrument("X", D("0.1"), D("1"), D("5"), D(100), D("12"), D(0))
    assert chunks(D(25), tight) == [D(12), D(8), D(5)]  # a 1-lot rest folds into the previous
    with pytest.raises(ConfigError):
        chunks(D(1), btc, D("0.0001"))


@given(st.integers(0, 200_000))
def test_chunks_cover_everything_above_dust(units: int) -> None:
    inst = Instrument("X", D("0.1"), D("0.001"), D("0.005"), D(100), D("7.5"), D(0))
    qty = D(units) / 1000
    out = chunks(qty, inst)
    assert all(inst.min_qty <= c <= inst.max_market_qty and c % inst.qty_step == 0 for c in out)
    assert qty - sum(out, D(0)) < inst.min_qty


def test_reduce_only_needs_the_whole_batch_to_reduce_the_account() -> None:
    assert reduces_account(D(4), D(-3)) and reduces_account(D(-1), D(1))
    assert not reduces_account(D(1), D(-2))  # would cross zero: the order of fills matters
    assert not reduces_account(D(1), D(1)) and not reduces_account(D(0), D(-1))


def test_orders_close_first_then_open(btc: Instrument) -> None:
    made, link_id = _alloc()
    # model long 1, wants short 2 (sell 3): the closing 1 may be reduce-only, the 2 never
    out = orders(2, "BTCUSDT", D(-3), D(1), btc, link_id, reduce_only_ok=True)
    assert [(o.side, o.qty, o.reduce_only) for o in out] == [(-1, D(1), True), (-1, D(2), False)]
    assert [o.order_link_id for o in out] == made and {slot_of(m) for m in made} == {2}
    out = orders(2, "BTCUSDT", D(-1), D(1), btc, link_id, reduce_only_ok=False)
    assert [o.reduce_only for o in out] == [False]
    assert orders(2, "BTCUSDT", D(0), D(1), btc, link_id, reduce_only_ok=True) == []
    params = out[0].to_bybit()
    assert params["side"] == "Sell" and params["qty"] == "1.000" and params["positionIdx"] == 0


def test_orders_split_by_the_order_cap(btc: Instrument) -> None:
    _, link_id = _alloc()
    lim = IntentLimits(max_position=D(1000), max_order_qty=D("20"))
    out = orders(0, "BTCUSDT", D(45), D(0), btc, link_id, reduce_only_ok=False, limits=lim)
    assert [o.qty for o in out] == [D(20), D(20), D(5)] and all(o.side == 1 for o in out)
    with pytest.raises(ConfigError):
        IntentLimits(max_position=D(-1))


def test_cross_matches_greedily_in_slot_order() -> None:
    needs = [
        TradeNeed(0, D("0.5")),
        TradeNeed(1, D("-0.2")),
        TradeNeed(2, D("0.1")),
        TradeNeed(3, D("-0.6")),
        TradeNeed(4, D(0)),
    ]
    r = cross(needs, D("100.5"))
    assert [(c.buyer, c.seller, c.qty) for c in r.crosses] == [
        (0, 1, D("0.2")),
        (0, 3, D("0.3")),
        (2, 3, D("0.1")),
    ]
    assert r.residual == {0: 0, 1: 0, 2: 0, 3: D("-0.2"), 4: 0}
    with pytest.raises(ConfigError):
        cross(needs, D(0))
    with pytest.raises(ConfigError):
        cross([TradeNeed(0, D(1)), TradeNeed(0, D(-1))], D(1))


@given(st.lists(st.integers(-3000, 3000), min_size=1, max_size=6))
def test_cross_conserves_every_models_need(units: list[int]) -> None:
    needs = [TradeNeed(slot, D(u) / 1000) for slot, u in enumerate(units)]
    r = cross(needs, D(1))
    for n in needs:
        got = sum((c.qty for c in r.crosses if c.buyer == n.slot), D(0)) - sum(
            (c.qty for c in r.crosses if c.seller == n.slot), D(0)
        )
        assert got + r.residual[n.slot] == n.qty
        assert r.residual[n.slot] * n.qty >= 0  # never pushed past what it wanted
    assert not (any(q > 0 for q in r.residual.values()) and any(q < 0 for q in r.residual.values()))


def test_internal_fills_keep_the_account_sum(btc: Instrument) -> None:
    _, link_id = _alloc()
    names = {0: "m0", 1: "m1"}

    def owner(link: str) -> str | None:
        slot = slot_of(link)
        return None if slot is None else names.get(slot)

    book = Book("BTCUSDT", {"m0": D(1000), "m1": D(1000)}, owner)
    (c,) = cross([TradeNeed(0, D("0.3")), TradeNeed(1, D("-0.3"))], D("100.25")).crosses
    buy, sell = internal_fills(c, "BTCUSDT", 1_700_000_000_000, link_id)
    assert (buy.side, sell.side, buy.fee, buy.exec_type) == (1, -1, 0, "Internal")
    assert buy.exec_id != sell.exec_id
    assert book.apply(buy) and book.apply(sell)
    assert book.ledger("m0").inventory == D("0.3") and book.ledger("m1").inventory == D("-0.3")
    assert book.check(D(0)) is None
    assert book.ledger("m0").equity(D("100.25")) == D(1000)  # no fee, no spread


def test_plan_round_crosses_then_orders_and_cancels(btc: Instrument) -> None:
    _, link_id = _alloc()
    lim = IntentLimits(max_position=D(5))
    views = [
        ModelView(0, D("1.0"), D("0.2")),  # wants +0.8
        ModelView(1, D("-0.5"), D("0.0")),  # wants -0.5
        ModelView(2, D("0.3"), D("0.0"), (WorkingOrder("old", -1, D("0.1")),)),  # +0.3, stale sell
        ModelView(3, D("0.0"), D("0.0")),
    ]
    plan = plan_round("BTCUSDT", views, D("0.2"), D("100.5"), btc, lim, link_id, 7)
    assert plan.cancels == ("old",)
    legs = [(f.side, f.qty, slot_of(f.order_link_id)) for f in plan.fills]
    assert legs == [(1, D("0.5"), 0), (-1, D("0.5"), 1)]
    assert [(i.slot, i.side, i.qty, i.reduce_only) for i in plan.intents] == [
        (0, 1, D("0.3"), False),
        (2, 1, D("0.3"), False),
    ]


ACCOUNT_UNITS = st.lists(st.tuples(st.integers(-3000, 3000), st.integers(-3000, 3000)), max_size=6)


@given(ACCOUNT_UNITS, st.integers(-2000, 2000), st.randoms(use_true_random=False))
def test_plan_round_reaches_every_target_and_reduce_only_holds_in_any_fill_order(
    models: list[tuple[int, int]], orphan_units: int, rnd: random.Random
) -> None:
    btc = Instrument("BTCUSDT", D("0.5"), D("0.001"), D("0.001"), D(100), D("0.7"), D(5))
    _, link_id = _alloc()
    views = [ModelView(k, D(t) / 1000, D(h) / 1000) for k, (t, h) in enumerate(models)]
    account = sum((v.inventory for v in views), D(orphan_units) / 1000)
    plan = plan_round("BTCUSDT", views, account, D(100), btc, IntentLimits(D(10)), link_id, 1)
    held = {v.slot: v.inventory for v in views}
    for f in plan.fills:
        held[slot_of(f.order_link_id)] += f.signed_qty  # type: ignore[index]
    intents = list(plan.intents)
    rnd.shuffle(intents)  # the venue may fill a batch in any order
    for i in intents:
        if i.reduce_only:  # a reduce-only order must reduce the account when it fills
            assert account * i.signed_qty < 0 and i.qty <= abs(account)
        account += i.signed_qty
        held[i.slot] += i.signed_qty
    assert all(held[v.slot] == v.target for v in views)
