"""The HTML report plots a min/max envelope of long runs: bounded size at 1M bars, spikes and the
deepest drawdown kept, metrics from the full data."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import plotly  # type: ignore[import-untyped]
import pytest
from hypothesis import given
from hypothesis import strategies as st

from nexusforge.forge.backtest import BacktestConfig, MarketData, run_backtest
from nexusforge.forge.backtest.report import MAX_BUCKETS, envelope, figure, render
from nexusforge.forge.backtest.run import StrategyRun, run_strategy_file

STRATEGY = Path(__file__).resolve().parents[3] / "examples" / "strategies" / "mtfa_momentum.json"
PLOTLY_JS = (Path(plotly.__file__).parent / "package_data" / "plotly.min.js").stat().st_size


@given(
    st.lists(st.floats(-1e6, 1e6), min_size=1, max_size=400),
    st.integers(1, 50),
)
def test_envelope_keeps_each_stretch_extremes_in_order(values: list[float], buckets: int) -> None:
    y = np.array(values)
    x = np.arange(y.size, dtype=np.int64) * 7
    px, py = envelope(x, y, buckets)
    assert np.all(np.diff(px) > 0)  # time order, no duplicates
    np.testing.assert_array_equal(py, y[px // 7])  # real points only
    assert py.size <= max(2 * buckets, y.size)
    assert py.min() == y.min() and py.max() == y.max()
    if y.size > 2 * buckets:
        width = -(-y.size // buckets)
        for start in range(0, y.size, width):
            part = y[start : start + width]
            inside = py[(px >= start * 7) & (px < (start + width) * 7)]
            assert inside.min() == part.min() and inside.max() == part.max()


def test_envelope_skips_nan_while_a_stretch_has_numbers() -> None:
    y = np.arange(100.0)
    y[::3] = np.nan
    _, py = envelope(np.arange(100, dtype=np.int64), y, 10)
    assert not np.isnan(py).any()
    assert py.min() == 1.0 and py.max() == 98.0


def _long_run(run: StrategyRun, bars: int) -> StrategyRun:
    """The real run's strategy and prices tiled to `bars` bars and backtested again."""
    reps = -(-bars // run.close.size)
    steps = np.tile(np.diff(np.log(run.close), prepend=np.log(run.close[0])), reps)[:bars]
    close = np.exp(np.log(run.close[0]) + np.cumsum(steps) - steps[0])
    target = np.tile(run.target, reps)[:bars]
    step_ns = int(run.close_ts[1] - run.close_ts[0])
    close_ts = run.close_ts[0] + step_ns * np.arange(bars, dtype=np.int64)
    cfg = BacktestConfig(costs=run.config.costs, half_spread_bps=0.5)
    result = run_backtest(
        target, close, bars_per_year=run.bars_per_year, market=MarketData(), config=cfg
    )
    return dataclasses.replace(
        run, close=close, close_ts=close_ts, target=target, funding_rate=np.zeros(bars),
        config=cfg, result=result,
    )  # fmt: skip


def test_million_bar_report_stays_small_and_keeps_the_worst_drawdown(store: Path) -> None:
    run = _long_run(run_strategy_file(STRATEGY, store), 1_000_000)
    text = render(run)
    data_bytes = len(text.encode()) - PLOTLY_JS
    # plotly.js is inlined (offline report); everything else is a small, bounded payload.
    assert data_bytes < 1_000_000, data_bytes
    eq = run.result.equity
    worst = float((eq / np.fmax.accumulate(eq) - 1.0).min())
    assert worst < -0.05
    traces = {t.name: np.asarray(t.y) for t in figure(run).data if t.name != "costs"}
    for name, y in traces.items():
        assert y.size <= 2 * MAX_BUCKETS, name
    assert traces["drawdown"].min() == worst
    assert traces["equity"].max() == eq.max() and traces["equity"].min() == eq.min()
    # The metrics table is computed on all bars and equals the engine's figure.
    assert f"{run.result.metrics.max_drawdown:,.6g}" in text
    assert run.result.metrics.max_drawdown == pytest.approx(-worst, rel=1e-9)


def test_real_report_is_bounded(store: Path) -> None:
    run = run_strategy_file(STRATEGY, store)
    data_bytes = len(render(run).encode()) - PLOTLY_JS
    assert data_bytes < 1_000_000, data_bytes
