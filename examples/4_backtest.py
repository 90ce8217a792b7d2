"""Backtest the bundled MTFA momentum strategy on the Bybit 5m BTCUSDT history, with a report.

Run: .venv/bin/python examples/4_backtest.py [STORE]  (after examples/1_ingest_and_info.py)
"""

import sys
from pathlib import Path

from nexusforge.forge.backtest.report import write_report
from nexusforge.forge.backtest.run import run_strategy_file

store = Path(sys.argv[1] if len(sys.argv) > 1 else ".store")
strategy = Path(__file__).resolve().parent / "strategies" / "mtfa_momentum.json"
run = run_strategy_file(strategy, store)
m = run.result.metrics
print(f"{run.strategy.infix} on {run.close_ts.size:,} bars")
print(f"return {m.total_return:+.2%}  sharpe {m.sharpe:.2f}  max drawdown {m.max_drawdown:.2%}")
print(f"costs: {', '.join(f'{k} {v:,.2f}' for k, v in m.cost_breakdown().items())}")
print(f"report: {write_report(run, store / 'reports' / 'mtfa_momentum.html')}")
