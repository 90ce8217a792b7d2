"""The matching engine through its Python face: each order type, amend, cancel, STP, exact fees,
the event table, the array driver against single calls, and L2 deltas against the L2 book."""

from __future__ import annotations

import msgspec
import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import nexusforge.forge.sim as sim
from nexusforge.errors import BookError, ConfigError
from nexusforge.forge.sim import EngineConfig, L2Publisher, L2Update, MatchingEngine, OpBatch
from nexusforge.forge.sim.engine import OP_AMEND, OP_CANCEL, OP_LIMIT, OP_MARKET
from nexusforge.market.book import OrderBook
from nexusforge.market.costs import CostModel, Side

CFG = EngineConfig(tick_size=0.1, lot_size=0.001, maker_fee=-0.0001, taker_fee=0.00055)


def engine(stp: str = "cancel_taker") -> MatchingEngine:
    return MatchingEngine(EngineConfig(0.1, 0.001, -0.0001, 0.00055, stp))  # type: ignore[arg-type]


def test_exports() -> None:
    assert {"MatchingEngine", "L2Publisher", "EngineConfig"} <= set(sim.__all__)
    assert all(hasattr(sim, n) for n in sim.__all__)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"tick_size": 0.0, "lot_size": 1.0},
        {"tick_size": -1.0, "lot_size": 1.0},
        {"tick_size": 0.1, "lot_size": float("nan")},
        {"tick_size": 0.1, "lot_size": 1.0, "maker_fee": float("nan")},
        {"tick_size": 0.1, "lot_size": 1.0, "taker_fee": 2.0},
        {"tick_size": 0.1, "lot_size": 1.0, "stp": "decline"},
    ],
)
def test_bad_config(kwargs: dict[str, object]) -> None:
    with pytest.raises(ConfigError):
        EngineConfig(**kwargs)  # type: ignore[arg-type]


def test_config_from_costs_and_units() -> None:
    cfg = EngineConfig.from_costs(0.5, 0.001, CostModel.bybit_tier("VIP1"), "cancel_both")
    assert (cfg.maker_fee, cfg.taker_fee, cfg.stp) == (0.00018, 0.0004, "cancel_both")
    assert cfg.ticks(60_000.5) == 120_001
    assert cfg.lots(0.0029) == 2
    assert cfg.lots(0.003) == 3
    assert cfg.price(120_001) == 60_000.5


def test_limit_partial_fill_priority_and_event_table() -> None:
    e = engine()
    a1 = e.submit_limit(1, 1, "sell", 101, 3, client_id=11)
    a2 = e.submit_limit(2, 2, "sell", 101, 4)
    a0 = e.submit_limit(3, 3, "sell", 100, 2)
    t = e.submit_limit(4, 4, "buy", 101, 6, client_id=44)
    ev = e.take_events()
    assert e.pending_events == 0
    trades = ev.filter(pl.col("kind") == "trade")
    assert trades.select("price", "qty", "maker_order", "order").rows() == [
        (100, 2, a0, t),
        (101, 3, a1, t),
        (101, 1, a2, t),
    ]
    assert trades["leaves"].to_list() == [4, 1, 0]
    assert trades["maker_leaves"].to_list() == [0, 0, 3]
    assert trades["side"].to_list() == [1, 1, 1]
    fee = trades["price"] * 0.1 * trades["qty"] * 0.001
    assert (trades["maker_fee"] == fee * -0.0001).all()
    assert (trades["taker_fee"] == fee * 0.00055).all()
    acc = ev.filter(pl.col("kind") == "accepted")
    assert acc["client_id"].to_list() == [11, 0, 0, 44]
    assert acc["detail"].to_list() == ["gtc"] * 4
    assert ev["kind"].dtype == pl.Enum(["accepted", "rejected", "trade", "cancelled", "amended"])
    assert e.best_ask() == (101, 3)
    assert e.best_bid() is None
    assert e.position(4) == 6
    o = e.order(a2)
    assert o is not None
    assert (o.side, o.qty, o.leaves, o.filled, o.tif) == ("sell", 4, 3, 1, "gtc")


def test_market_ioc_fok_post_only() -> None:
    e = engine()
    e.submit_limit(1, 1, "buy", 99, 2)
    e.submit_limit(1, 1, "buy", 97, 3)
    e.take_events()
    m = e.submit_market(2, 2, "sell", 10)
    ev = e.take_events()
    assert ev["kind"].to_list() == ["accepted", "trade", "trade", "cancelled"]
    assert ev.row(0, named=True)["detail"] == "market"
    last = ev.row(3, named=True)
    assert (last["order"], last["qty"], last["detail"]) == (m, 5, "unfilled")

    e.submit_limit(3, 1, "sell", 100, 2)
    e.submit_limit(3, 1, "sell", 102, 2)
    e.submit_limit(4, 2, "buy", 101, 5, "ioc")
    assert e.best_bid() is None
    before = e.depth("sell", 10)
    e.take_events()
    e.submit_limit(5, 2, "buy", 102, 3, "fok")
    ev = e.take_events()
    assert ev.select("kind", "detail").rows() == [("rejected", "fok_not_fillable")]
    assert e.depth("sell", 10).equals(before)
    e.submit_limit(6, 2, "buy", 102, 1, "post_only")
    assert e.take_events()["detail"].to_list() == ["post_only_would_cross"]
    p = e.submit_limit(6, 2, "buy", 101, 1, "post_only")
    o = e.order(p)
    assert o is not None and o.tif == "post_only"


@pytest.mark.parametrize(
    ("stp", "kinds"),
    [
        ("cancel_taker", ["accepted", "cancelled"]),
        ("cancel_maker", ["accepted", "cancelled", "trade"]),
        ("cancel_both", ["accepted", "cancelled", "cancelled"]),
    ],
)
def test_self_trade_prevention(stp: str, kinds: list[str]) -> None:
    e = engine(stp)
    own = e.submit_limit(1, 1, "sell", 100, 5)
    e.submit_limit(1, 2, "sell", 100, 5)
    e.take_events()
    e.submit_limit(2, 1, "buy", 100, 8)
    ev = e.take_events()
    assert ev["kind"].to_list() == kinds
    cancelled = ev.filter(pl.col("kind") == "cancelled")
    assert set(cancelled["detail"]) == {"self_trade"}
    assert (e.order(own) is None) == (stp != "cancel_taker")


def test_amend_and_cancel() -> None:
    e = engine()
    x = e.submit_limit(1, 1, "buy", 99, 5)
    y = e.submit_limit(1, 2, "buy", 99, 5)
    e.take_events()
    assert e.amend(2, 1, x, qty=3)
    assert e.amend(3, 2, y, qty=9)
    assert not e.amend(4, 2, x, qty=1)  # not the owner
    assert not e.cancel(5, 1, 12345)
    assert e.cancel(6, 1, x)
    ev = e.take_events()
    assert ev.select("kind", "detail", "action").rows() == [
        ("amended", "kept_priority", None),
        ("amended", "lost_priority", None),
        ("rejected", "not_owner", "amend"),
        ("rejected", "unknown_order", "cancel"),
        ("cancelled", "user", None),
    ]
    assert [o.id for o in e.open_orders(2)] == [y]
    assert e.open_orders(1) == []
    assert e.depth("buy", 5).rows() == [(99, 9)]
    assert e.level_count("buy") == 1 and e.order_count == 1 and e.seq == 7
    e.submit_limit(7, 2, "sell", 120, 1)
    e.submit_limit(7, 3, "sell", 121, 1)
    assert e.cancel_all(8, 2) == 2
    ev = e.take_events().filter(pl.col("kind") == "cancelled")
    assert ev["agent"].to_list() == [2, 2] and e.open_orders(2) == []
    assert e.depth("sell", 5).rows() == [(121, 1)] and e.depth("buy", 5).is_empty()


def test_bad_arguments_raise() -> None:
    e = engine()
    with pytest.raises(BookError):
        e.submit_limit(1, 1, "long", 100, 1)  # type: ignore[arg-type]
    with pytest.raises(BookError):
        e.submit_limit(1, 1, "buy", 100, 1, "day")  # type: ignore[arg-type]
    with pytest.raises(BookError):
        e.depth("buy", -1)
    # Bad values are venue rejections, not exceptions.
    e.submit_limit(1, 1, "buy", 0, 1)
    e.submit_market(1, 1, "buy", 0)
    assert e.take_events()["detail"].to_list() == ["invalid_price", "invalid_qty"]
    bad = _batch(np.array([[OP_LIMIT, 1, 0, 100, 1, 9, 0]]))
    with pytest.raises(BookError, match="tif"):
        e.run_ops(bad)


def _batch(rows: np.ndarray) -> OpBatch:
    """Rows of (op, side, agent, price, qty, tif, target), ts = row number."""
    r = rows.astype(np.int64)
    return OpBatch(
        op=r[:, 0].astype(np.uint8),
        ts=np.arange(len(r), dtype=np.int64),
        agent=r[:, 2].astype(np.uint32),
        side=r[:, 1].astype(np.int8),
        price=r[:, 3],
        qty=r[:, 4],
        tif=r[:, 5].astype(np.uint8),
        target=r[:, 6].astype(np.uint64),
    )


_TIF_NAMES = ("gtc", "ioc", "fok", "post_only")


def _one_by_one(e: MatchingEngine, b: OpBatch) -> None:
    """The same requests through the single-call methods."""
    for i in range(len(b.op)):
        ts, agent = int(b.ts[i]), int(b.agent[i])
        side: Side = "buy" if b.side[i] > 0 else "sell"
        op, price, qty, target = int(b.op[i]), int(b.price[i]), int(b.qty[i]), int(b.target[i])
        if op == OP_LIMIT:
            e.submit_limit(ts, agent, side, price, qty, _TIF_NAMES[b.tif[i]], client_id=i)  # type: ignore[arg-type]
        elif op == OP_MARKET:
            e.submit_market(ts, agent, side, qty, client_id=i)
        elif op == OP_CANCEL:
            e.cancel(ts, agent, target)
        else:
            e.amend(ts, agent, target, qty if qty > 0 else None, price if price > 0 else None)


_row = st.tuples(
    st.sampled_from([OP_LIMIT] * 4 + [OP_MARKET, OP_CANCEL, OP_AMEND]),
    st.sampled_from([1, -1]),
    st.integers(0, 3),
    st.integers(95, 105),
    st.integers(0, 9),
    st.integers(0, 3),
    st.integers(1, 40),
)


@settings(max_examples=60)
@given(
    st.lists(_row, min_size=1, max_size=150),
    st.sampled_from(["cancel_taker", "cancel_maker", "cancel_both"]),
)
def test_run_ops_equals_single_calls(rows: list[tuple[int, ...]], stp: str) -> None:
    b = _batch(np.array(rows))
    batched, single = engine(stp), engine(stp)
    counts = batched.run_ops(b, keep_events=True)
    _one_by_one(single, b)
    got, want = batched.take_events(), single.take_events()
    assert got.equals(want)
    assert counts.ops == len(rows) and counts.events == len(want)
    assert counts.trades == want.filter(pl.col("kind") == "trade").height
    assert batched.depth("buy", 100).equals(single.depth("buy", 100))
    assert batched.depth("sell", 100).equals(single.depth("sell", 100))
    # Conservation per accepted order: total = filled + cancelled + resting.
    tot = (
        want.filter(pl.col("kind").is_in(["accepted", "amended"]))
        .group_by("order")
        .agg(pl.col("qty").last().alias("total"))
    )
    tr = want.filter(pl.col("kind") == "trade")
    filled = (
        pl.concat(
            [
                tr.select(pl.col("order"), "qty"),
                tr.select(pl.col("maker_order").alias("order"), "qty"),
            ]
        )
        .group_by("order")
        .agg(pl.col("qty").sum().alias("filled"))
    )
    canc = (
        want.filter(pl.col("kind") == "cancelled")
        .group_by("order")
        .agg(pl.col("qty").sum().alias("cancelled"))
    )
    j = tot.join(filled, on="order", how="left").join(canc, on="order", how="left").fill_null(0)
    for order, total, f, c in j.select("order", "total", "filled", "cancelled").iter_rows():
        o = batched.order(order)
        assert total == f + c + (o.leaves if o else 0)


def _apply(book: OrderBook, up: L2Update) -> None:
    """One Bybit orderbook message (price in ticks, tick 1) into the L2 book."""
    msg = {
        "topic": "orderbook.50.SIM",
        "type": "snapshot" if up.snapshot else "delta",
        "ts": up.ts,
        "data": {
            "s": "SIM",
            "b": [[str(p), str(q)] for p, q in up.bids],
            "a": [[str(p), str(q)] for p, q in up.asks],
            "u": up.u,
            "seq": up.seq,
        },
        "cts": up.ts,
    }
    book.apply_json([msgspec.json.encode(msg)], "bybit")


@settings(max_examples=40)
@given(st.lists(_row, min_size=1, max_size=150), st.integers(1, 5))
def test_l2_updates_rebuild_the_book(rows: list[tuple[int, ...]], depth: int) -> None:
    e, pub = engine("cancel_maker"), L2Publisher(depth)
    book = OrderBook(1.0)
    b = _batch(np.array(rows))
    last_u = 0
    for k in range(0, len(rows), 7):
        part = OpBatch(*(getattr(b, f)[k : k + 7] for f in OpBatch.__slots__))
        e.run_ops(part)
        up = pub.publish(e, k)
        if up is None:
            continue
        assert up.u == last_u + 1 and up.snapshot == (last_u == 0)
        last_u = up.u
        _apply(book, up)
        bids, asks = book.depth(1000)
        assert [(int(p), int(q)) for p, q in bids] == e.depth("buy", depth).rows()
        assert [(int(p), int(q)) for p, q in asks] == e.depth("sell", depth).rows()
    cur = pub.current(e, 99)
    assert cur is None or (cur.snapshot and cur.u == last_u)
