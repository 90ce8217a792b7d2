"""Causal fitness: non-overlapping folds with the trade window held out, window backtests equal
a direct backtest of the same rows, and the documented scoring rule by hand."""

from __future__ import annotations

import itertools

import numpy as np
import polars as pl
import pytest

from nexusforge.forge.backtest import MarketData, run_backtest
from nexusforge.forge.evolve.fitness import (
    BUY_HOLD,
    METRICS,
    SEGMENTS,
    SELECTION,
    FitnessConfig,
    WindowEvaluator,
    hybrid,
    make_folds,
    scores,
)
from nexusforge.forge.evolve.table import ResearchTable
from nexusforge.strategy import codec, evaluate
from nexusforge.strategy.expr import Call, Col, Const

SIGNAL = Call("sign", (Call("ema", (Col("driver"),), 6),))


def test_folds_are_consecutive_and_disjoint() -> None:
    cfg = FitnessConfig(folds=3, train_frac=0.5, test_frac=0.25)
    folds = make_folds(1200, cfg)
    edges = [(w.start, w.stop) for f in folds for w in (f.train, f.test, f.trade)]
    assert edges[0][0] == 0
    assert all(a[1] == b[0] for a, b in itertools.pairwise(edges))
    assert [f.train.stop - f.train.start for f in folds] == [200] * 3
    assert [f.trade.stop - f.trade.start for f in folds] == [100] * 3
    with pytest.raises(ValueError, match="shorter than"):
        make_folds(300, cfg)


def test_window_metrics_equal_a_direct_backtest_of_the_window(planted: ResearchTable) -> None:
    cfg = FitnessConfig(folds=2)
    ev = WindowEvaluator(planted, cfg, threads=1)
    got = ev.evaluate([codec.dumps(SIGNAL)], SEGMENTS)
    assert got.shape == (1, 2, 3, len(METRICS))
    for f, fold in enumerate(ev.folds):
        for s, seg in enumerate(SEGMENTS):
            rows = fold.window(seg)
            window = planted.frame.slice(rows.start, rows.stop - rows.start)
            res = run_backtest(
                evaluate(SIGNAL, window), window["close"].to_numpy(),
                bars_per_year=planted.bars_per_year,
                market=MarketData(funding=window["funding"].to_numpy()),
                config=cfg.backtest_config(),
            )  # fmt: skip
            want = [getattr(res.metrics, m) for m in METRICS]
            np.testing.assert_allclose(got[0, f, s], want, rtol=1e-12, atol=1e-12)
    # The planted driver pays net of costs in every window.
    assert (got[0, :, :, 0] > 1.0).all()


def test_scoring_rule_by_hand() -> None:
    cfg = FitnessConfig(turnover_penalty=0.1, inactive_score=-1.0)
    m = np.zeros((2, 2, 2, len(METRICS)))
    m[..., METRICS.index("trades")] = 10
    m[0, :, :, 0] = [[1.0, 2.0], [3.0, 0.5]]  # min per fold: 1.0, 0.5
    m[0, :, :, METRICS.index("turnover")] = 2.0  # 2 per window of 2 days -> 1 per day
    m[1, :, :, 0] = [[np.nan, 2.0], [1.0, 1.0]]  # NaN Sharpe counts as inactive
    m[1, 1, 1, METRICS.index("trades")] = 0  # so does a window with no trade
    bars = np.full((2, 2), 2 * 288.0)
    got = scores(m, bars, 288 * 365.0, cfg)
    assert got[0] == pytest.approx(0.75 - 0.1 * 1.0)
    assert got[1] == pytest.approx(-1.0)
    base = np.zeros((1, 2, 2, len(METRICS)))
    base[0, :, :, 0] = [[0.5, 0.5], [1.0, 1.0]]  # buy-and-hold Sharpe per window
    got = scores(m, bars, 288 * 365.0, cfg, base)
    assert got[0] == pytest.approx(((1.0 - 0.5) + (0.5 - 1.0)) / 2 - 0.1 * 1.0)
    assert got[1] == pytest.approx(-1.0)  # inactive stays absolute


def test_buy_and_hold_baseline_is_the_constant_long(planted: ResearchTable) -> None:
    ev = WindowEvaluator(planted, FitnessConfig(folds=2), threads=1)
    base = ev.evaluate([BUY_HOLD], SEGMENTS)
    long = ev.evaluate([codec.dumps(Const(1.0))], SEGMENTS)
    np.testing.assert_array_equal(base, long)
    assert np.isfinite(base[..., 0]).all()


def test_bad_fitness_settings() -> None:
    with pytest.raises(ValueError, match="leave room for trade"):
        FitnessConfig(train_frac=0.7, test_frac=0.3)
    with pytest.raises(ValueError, match="folds"):
        FitnessConfig(folds=0)
    with pytest.raises(ValueError, match="baseline"):
        FitnessConfig(baseline="spx")


def test_hybrid_rule_takes_a_low_quantile_of_scenarios() -> None:
    causal = np.array([1.0, 2.0])
    adv = np.array([[0.0, 1.0, 2.0, 3.0, 4.0], [5.0, 5.0, 5.0, 5.0, -10.0]])
    got = hybrid(causal, adv, weight=0.5, quantile=0.0)
    np.testing.assert_allclose(got, [0.5 * 1.0 + 0.5 * 0.0, 0.5 * 2.0 + 0.5 * -10.0])
    np.testing.assert_allclose(hybrid(causal, adv, weight=0.0), causal)
    assert hybrid(causal, np.array([[np.nan], [1.0]]), weight=1.0)[0] == -np.inf
    with pytest.raises(ValueError, match="individual, scenario"):
        hybrid(causal, np.ones(2), weight=0.5)


def test_trade_windows_never_reach_selection(planted: ResearchTable) -> None:
    cfg = FitnessConfig(folds=2)
    ev = WindowEvaluator(planted, cfg, threads=1)
    frame = planted.frame.with_row_index("i")
    trade = np.zeros(planted.height, dtype=bool)
    for fold in ev.folds:
        trade[fold.trade] = True
    mask = pl.Series(trade)
    changed = frame.with_columns(
        pl.when(mask).then(pl.col(c) * 1.7 + 0.1).otherwise(pl.col(c)).alias(c)
        for c in ("close", "driver", "decoy_a", "noise_a")
    ).drop("i")
    other = WindowEvaluator(ResearchTable(changed, planted.bars_per_year, 1), cfg, threads=1)
    keys = [codec.dumps(SIGNAL), codec.dumps(Call("tanh", (Col("noise_a"),)))]
    np.testing.assert_array_equal(ev.evaluate(keys, SELECTION), other.evaluate(keys, SELECTION))
    assert not np.array_equal(ev.evaluate(keys, ("trade",)), other.evaluate(keys, ("trade",)))
