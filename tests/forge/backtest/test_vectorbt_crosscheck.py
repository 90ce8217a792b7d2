"""Our backtester against vectorbt's `Portfolio.from_orders` on recorded BTCUSDT 5m candles.

Mapping (chosen so both engines do the same thing, bar by bar):
- Orders: our target fraction of equity is vectorbt's `size_type="targetpercent"`; both size
  on the value at the bar's price before the fee (cash + position × close), and NaN holds.
- Timing: latency 0 and `price=close` in vectorbt, so a target set on bar t fills at close t,
  which is also the mark; no half-spread, no tick rounding, no impact (no sigma/volume), no
  funding: the cost model reduces to the taker fee, vectorbt's `fees` on order value.
- Lots: our delta rounded toward zero to `qty_step` with `min_qty` = one step is vectorbt's
  `size_granularity` (it floors |delta| to the step) and `min_size`.
- Capital: |target| <= 0.5 so neither engine meets vectorbt's cash limit (no partial fills).
Equity, cash, position and fees must agree to 1e-9 relative on every bar.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import numpy.typing as npt
import polars as pl
import pytest

from nexusforge.forge.backtest import BacktestConfig, run_backtest
from nexusforge.market.costs import CostModel

vbt = pytest.importorskip("vectorbt")

BARS = 20_000
FEE = 0.00055
STEP = 0.001
CAPITAL = 100_000.0
RTOL = 1e-9


def _signal(close: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """±0.5 on a 12/48-bar moving-average cross, changed only on a cross; NaN holds."""
    fast = np.convolve(close, np.ones(12) / 12, mode="full")[: len(close)]
    slow = np.convolve(close, np.ones(48) / 48, mode="full")[: len(close)]
    side = np.sign(fast - slow)
    target = np.full(len(close), np.nan)
    change = np.flatnonzero(np.diff(side) != 0) + 1
    target[change[change >= 48]] = 0.5 * side[change[change >= 48]]
    return target


def test_fills_and_pnl_match_vectorbt(shared_data: Path) -> None:
    bars = pl.read_csv(shared_data / "history" / "bybit_linear_BTCUSDT_5m_2025.csv.gz")
    close = bars["close"].to_numpy().astype(np.float64)[:BARS]
    target = _signal(close)
    assert np.count_nonzero(~np.isnan(target)) > 100, "the signal should trade"
    cfg = BacktestConfig(
        qty_step=STEP,
        min_qty=STEP,
        initial_capital=CAPITAL,
        latency=0,
        costs=CostModel(taker_fee=FEE, impact_eta=0.0, impact_gamma=0.0),
    )
    ours = run_backtest(target, close, bars_per_year=365 * 288, config=cfg)
    pf = vbt.Portfolio.from_orders(
        close,
        size=target,
        size_type="targetpercent",
        price=close,
        fees=FEE,
        init_cash=CAPITAL,
        size_granularity=STEP,
        min_size=STEP,
        direction="both",
        freq="5min",
    )
    fees = np.zeros(BARS)
    rec = pf.orders.records
    np.add.at(fees, rec["idx"], rec["fees"])
    assert len(rec) == np.count_nonzero(ours.traded_qty)
    np.testing.assert_allclose(ours.position, pf.assets().to_numpy(), rtol=RTOL, atol=1e-12)
    np.testing.assert_allclose(ours.cash, pf.cash().to_numpy(), rtol=RTOL)
    np.testing.assert_allclose(ours.equity, pf.value().to_numpy(), rtol=RTOL)
    np.testing.assert_allclose(ours.fees, fees, rtol=RTOL, atol=1e-12)
    assert ours.metrics.fees_paid == pytest.approx(fees.sum(), rel=RTOL)
