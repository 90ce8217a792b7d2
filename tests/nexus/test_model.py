"""TradingModel: state machine, bundled champions, sizing like the backtester, NaN holds."""

from __future__ import annotations

import json
import math
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest

from nexusforge.errors import ConfigError, ExpressionError, StateTransitionError
from nexusforge.market.features import FeatureConfig
from nexusforge.market.instruments import Instrument, parse_instruments_response
from nexusforge.nexus.ledger import Ledger
from nexusforge.nexus.model import (
    TRANSITIONS,
    ModelEvent,
    ModelState,
    TradingModel,
    champion_names,
    load_champion,
    load_strategy,
    transition,
)
from nexusforge.strategy import Call, Col, Const, Expr, evaluate
from nexusforge.strategy.expr import columns

D = Decimal


@pytest.fixture(scope="module")
def btc(shared_data: Path) -> Instrument:
    path = shared_data / "bybit/rest/nautilus_http_get_instruments_linear.json"
    return parse_instruments_response(json.loads(path.read_text()))["BTCUSDT"]


def test_state_machine_allows_only_the_table() -> None:
    assert transition(ModelState.SHADOW, ModelEvent.PROMOTE) is ModelState.ACTIVE
    assert transition(ModelState.ACTIVE, ModelEvent.KILL) is ModelState.DEAD
    for state in ModelState:
        for event in ModelEvent:
            if (state, event) in TRANSITIONS:
                continue
            with pytest.raises(StateTransitionError):
                transition(state, event)
    assert not any(s is ModelState.DEAD for s, _ in TRANSITIONS)  # dead is final


def test_six_champions_load_and_read_live_features() -> None:
    names = champion_names()
    assert len(names) == 6
    live = set(FeatureConfig(tick_size=0.5).feature_names())
    for name in names:
        e = load_champion(name)
        assert set(columns(e)) <= live, name
    with pytest.raises(ConfigError):
        load_champion("nope")


def test_strategy_files_are_data_only(tmp_path: Path) -> None:
    bad = tmp_path / "evil.json"
    bad.write_text('{"schema": 1, "expr": {"op": "__import__", "args": []}}')
    with pytest.raises(ExpressionError):
        load_strategy(bad)
    big = tmp_path / "big.json"
    big.write_text(" " * 70_000)
    with pytest.raises(ConfigError):
        load_strategy(big)


def _model(btc: Instrument, expr: Expr, capital: str = "10000") -> TradingModel:
    return TradingModel(0, "m0", "BTCUSDT", expr, Ledger("m0", "BTCUSDT", D(capital)))


def test_target_is_signal_times_equity_times_weight_over_price(btc: Instrument) -> None:
    m = _model(btc, Col("x"))
    m.apply_event(ModelEvent.PROMOTE)
    m.set_weight(D("0.5"))
    # 0.8 × 10000 × 0.5 / 30000 = 0.13333… → 0.133 (toward zero)
    assert m.target_position({"x": 0.8}, D(30000), btc) == D("0.133")
    assert m.target_position({"x": -0.8}, D(30000), btc) == D("-0.133")
    assert m.target_position({"x": 7.0}, D(30000), btc) == D("0.166")  # clipped to 1
    assert m.target_position({"x": math.nan}, D(30000), btc) == m.ledger.inventory  # NaN holds
    with pytest.raises(ConfigError):
        m.set_weight(D("1.5"))
    with pytest.raises(ConfigError):
        m.target_position({"x": 1.0}, D(0), btc)


def test_dead_model_wants_flat_but_keeps_its_windows_warm(btc: Instrument) -> None:
    m = _model(btc, Call("mean", (Col("x"),), 3))
    m.apply_event(ModelEvent.KILL)
    targets = [m.target_position({"x": v}, D(100), btc) for v in (0.3, 0.6, 0.9)]
    assert targets == [0, 0, 0] and m.last_signal == pytest.approx(0.6)


def test_stream_signal_equals_the_vectorized_strategy(btc: Instrument) -> None:
    e = load_champion("ofi_momentum")
    rng = np.random.default_rng(7)
    xs = rng.normal(size=1500).cumsum()
    m = _model(btc, e)
    streamed = [m.signal({"ofi_10s": float(v)}) for v in xs]
    whole = evaluate(e, {"ofi_10s": xs})
    np.testing.assert_array_equal(np.asarray(streamed), np.clip(whole, -1, 1))


def test_model_and_ledger_must_agree_on_symbol() -> None:
    with pytest.raises(ConfigError):
        TradingModel(0, "m0", "ETHUSDT", Const(1.0), Ledger("m0", "BTCUSDT", D(1)))


# --- six champions on a real recording, end to end on paper ---------------------------------------

BINANCE = "bybit/market/binance_usdm_BTCUSDT_20240808_2355utc.gz"
TAKER = D("0.00055")


@pytest.mark.slow
def test_six_champions_trade_a_real_recording_with_exact_books(
    shared_data: Path, tmp_path: Path, btc: Instrument
) -> None:
    """Real BTCUSDT book + trades -> streaming features -> six champions -> rounds of
    plan_round -> fills at the real touch (taker fee) journaled then applied; the books
    reconcile with the venue position every round and rebuild exactly from the journal."""
    from nexusforge.data.ingest import ingest
    from nexusforge.data.store import Store
    from nexusforge.market.batch import event_features
    from nexusforge.market.book import replay_top_levels
    from nexusforge.market.events import BookLevelRows
    from nexusforge.nexus.executions import ExecId, Execution
    from nexusforge.nexus.intents import IntentLimits, ModelView, plan_round
    from nexusforge.nexus.journal import Journal
    from nexusforge.nexus.ledger import Book, slot_router
    from nexusforge.nexus.watchtower import Watchtower

    store = Store(tmp_path / "store")
    assert not ingest(shared_data / BINANCE, store).failed
    rows = BookLevelRows.from_frame(store.scan("book_events").collect())
    cfg = FeatureConfig(tick_size=0.1)
    top = replay_top_levels(rows, cfg.tick_size, cfg.max_depth)
    feats = event_features(top, store.scan("trades").collect(), cfg).head(30_000)
    bid, ask = top.bid_px[:, 0], top.ask_px[:, 0]

    names = champion_names()
    slots = dict(enumerate(names))
    journal = Journal(tmp_path / "journal.sqlite")
    for slot, name in slots.items():
        journal.record_model(slot, name, "BTCUSDT", D(10_000))
    book = Book("BTCUSDT", {n: D(10_000) for n in names}, slot_router(slots))
    models = [
        TradingModel(s, n, "BTCUSDT", load_champion(n), book.ledger(n), ModelState.ACTIVE)
        for s, n in slots.items()
    ]
    for m in models:
        m.set_weight(D(1) / 6)
    alloc = journal.allocator()
    watch = Watchtower()
    limits = IntentLimits(max_position=D(1))
    venue_position, book_i, exec_n, rounds = D(0), -1, 0, 0
    targets: dict[int, Decimal] = {}
    traded: set[str] = set()
    columns = sorted({c for m in models for c in m.columns})
    for row in feats.select("kind", *columns).iter_rows(named=True):
        features = {c: float("nan") if row[c] is None else row[c] for c in columns}
        if row["kind"] == 0:
            book_i += 1
        mid = D(repr(float(bid[book_i] + ask[book_i]) / 2)) if book_i >= 0 else None
        if mid is None or not mid.is_finite():
            for m in models:
                m.signal(features)
            continue
        mid = btc.round_price(mid)
        for m in models:
            targets[m.slot] = m.target_position(features, mid, btc)
        if row["kind"] != 0 or book_i % 200:
            continue
        rounds += 1
        views = [ModelView(m.slot, targets[m.slot], m.ledger.inventory) for m in models]
        plan = plan_round("BTCUSDT", views, venue_position, mid, btc, limits, alloc.next, rounds)
        for fresh, f in zip(
            journal.record_executions(plan.fills, "internal"), plan.fills, strict=True
        ):
            assert fresh and book.apply(f)
        for intent in plan.intents:
            journal.record_intent(intent)
            exec_n += 1
            touch = ask[book_i] if intent.side > 0 else bid[book_i]
            price = btc.round_price(D(repr(float(touch))))
            fill = Execution(
                exec_id=ExecId(f"v{exec_n}"),
                symbol="BTCUSDT",
                exec_type="Trade",
                side=intent.side,
                price=price,
                qty=intent.qty,
                fee=(price * intent.qty * TAKER).quantize(D("1e-8")),
                exec_time_ms=1_723_161_255_000 + exec_n,
                order_link_id=intent.order_link_id,
            )
            assert journal.record_execution(fill, "ws") and book.apply(fill)
            venue_position += fill.signed_qty
        assert book.check(venue_position) is None
        for m in models:
            assert m.ledger.inventory == targets[m.slot]  # every round reaches every target
            traded |= {m.name} if m.ledger.inventory else set()
            mark = watch.mark(m.ledger, mid)
            assert mark.equity == m.ledger.equity(mid) and mark.death is None
    assert rounds >= 20 and exec_n > 0, (rounds, exec_n)
    assert len(traded) == 6  # every champion held a position at some point
    assert any(t != 0 for t in targets.values())
    rebuilt = journal.rebuild()["BTCUSDT"]
    assert {n: rebuilt.ledger(n).state for n in names} == {n: book.ledger(n).state for n in names}
    journal.close()
