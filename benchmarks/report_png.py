"""Benchmark: PNG export of a real report (`nexusforge.report_png.html_to_png`).

Data: the backtest of `examples/strategies/mtfa_momentum.json` on the real Bybit 5m BTCUSDT 2025
candles (`shared/data/history`, 105,120 bars), its standalone HTML report (plotly.js inlined,
~5 MB). Timed: `--runs` exports of that report to a full-page PNG in headless Chromium (a fresh
browser each time, as the CLI does). Baseline, same run: writing the HTML report itself.
Last line: `RESULT report_png_s=<median> report_html_s=<median> png_bytes=<n> png_px=<w>x<h>`.
"""

from __future__ import annotations

import argparse
import os
import statistics
import struct
import sys
import tempfile
import time
from pathlib import Path

from nexusforge.data.ingest import ingest
from nexusforge.forge.backtest.report import write_report
from nexusforge.forge.backtest.run import run_strategy_file
from nexusforge.report_png import find_chromium, html_to_png

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("NEXUSFORGE_SHARED", ROOT.parent / "shared"))
CANDLES = "bybit_linear_BTCUSDT_5m_2025.csv.gz"
STRATEGY = ROOT / "examples" / "strategies" / "mtfa_momentum.json"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    if find_chromium() is None:
        sys.exit("no chromium on PATH (apt-get install chromium)")
    with tempfile.TemporaryDirectory() as tmp:
        store = Path(tmp) / "store"
        ingest(SHARED / "data" / "history" / CANDLES, store)
        run = run_strategy_file(STRATEGY, store)
        html, html_s, png_s = Path(tmp) / "bt.html", [], []
        for _ in range(args.runs):
            t = time.perf_counter()
            write_report(run, html)
            html_s.append(time.perf_counter() - t)
            t = time.perf_counter()
            png = html_to_png(html)
            png_s.append(time.perf_counter() - t)
        data = png.read_bytes()
        w, h = struct.unpack(">II", data[16:24])
        print(f"report {html.stat().st_size:,} bytes; {args.runs} runs; load {os.getloadavg()}")
        print(f"html: {[round(x, 3) for x in html_s]} s; png: {[round(x, 3) for x in png_s]} s")
        print(
            f"RESULT report_png_s={statistics.median(png_s):.2f} "
            f"report_html_s={statistics.median(html_s):.2f} png_bytes={len(data)} png_px={w}x{h}"
        )


if __name__ == "__main__":
    main()
