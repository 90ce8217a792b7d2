"""Backtest the bundled MTFA momentum strategy on the Bybit 5m BTCUSDT history, with a report.

Run: .venv/bin/python examples/4_backtest.py [STORE]  (after examples/1_ingest_and_info.py)
"""

import sys
from pathlib import Path

from nexusforge.forge.backtest.options import CostOptions
from nexusforge.forge.backtest.report import write_report
from nexusforge.forge.backtest.run import run_strategy_file
from nexusforge.forge.backtest.table import cost_settings

store = Path(sys.argv[1] if len(sys.argv) > 1 else ".store")
strategy = Path(__file__).resolve().parent / "strategies" / "mtfa_momentum.json"
# Bybit VIP0 taker fees, 0.5 bp half-spread, square-root impact, at most 20k USDT of notional.
costs = CostOptions(fee_tier="VIP0", half_spread_bps=0.5, max_notional=20_000.0)
run = run_strategy_file(strategy, store, options=costs)
m = run.result.metrics
print(f"{run.strategy.infix} on {run.close_ts.size:,} bars")
print(f"return {m.total_return:+.2%}  sharpe {m.sharpe:.2f}  max drawdown {m.max_drawdown:.2%}")
settings = cost_settings(run)
for part, paid in m.cost_breakdown().items():
    print(f"  {part:<12} {paid:>12,.2f}  {settings[part]}")
print(f"report: {write_report(run, store / 'reports' / 'mtfa_momentum.html')}")
