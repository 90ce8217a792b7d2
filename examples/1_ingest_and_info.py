"""Ingest the bundled real recordings into a parquet store and list what it holds.

Run: .venv/bin/python examples/1_ingest_and_info.py [STORE]
"""

import sys
from pathlib import Path

from nexusforge.data.info import store_info
from nexusforge.data.ingest import ingest
from nexusforge.data.store import Store

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
store = Store(sys.argv[1] if len(sys.argv) > 1 else ".store")

for folder in ("bybit", "history"):
    report = ingest(SHARED / folder, store)
    print(f"{folder}: {report.rows()}")
for table, series in store_info(store).items():
    for s in series:
        print(f"{table:12} {s.venue:13} {s.symbol:9} {s.rows:>9,} rows  {s.first} .. {s.last}")
