"""Microstructure features on the real Binance capture and MTFA on the Bybit 5m history.

Run: .venv/bin/python examples/3_features_and_mtfa.py  (after examples/1_ingest_and_info.py)
"""

import sys

import polars as pl

from nexusforge.data.store import Store
from nexusforge.overview import event_feature_summary, mtfa_summary

store = Store(sys.argv[1] if len(sys.argv) > 1 else ".store")
pl.Config.set_tbl_rows(40)
for summary in (
    event_feature_summary(store, "binance_usdm", "BTCUSDT"),
    mtfa_summary(store, "bybit_linear", "BTCUSDT", 300),
):
    print(f"{summary.title}: {summary.rows:,} rows")
    print(summary.stats)
