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
