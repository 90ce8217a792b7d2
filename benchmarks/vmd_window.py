"""Trailing-window VMD: Rust core vs the vmdpy reference on the same real windows, one thread.

Data: log closes of Bybit BTCUSDT 5m candles (2025), windows of 128 samples, k=3, alpha=2000,
tol=1e-7. Prints `RESULT vmd_windows_per_s=<n> ratio_vs_vmdpy=<r>` (single-thread windows per
second of `vmd_features`, and its speed over vmdpy's on the same windows).
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np
import polars as pl
from vmdpy import VMD

from nexusforge.market.vmd import vmd, vmd_features

DATA = Path(os.environ.get("NEXUSFORGE_SHARED", Path(__file__).resolve().parents[2] / "shared"))
CSV = DATA / "data" / "history" / "bybit_linear_BTCUSDT_5m_2025.csv.gz"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--windows", type=int, default=4000, help="windows timed in Rust")
    parser.add_argument("--ref-windows", type=int, default=200, help="windows timed in vmdpy")
    parser.add_argument("--window", type=int, default=128)
    parser.add_argument("--k", type=int, default=3)
    args = parser.parse_args()
    close = pl.read_csv(CSV, columns=["close"])["close"].to_numpy()
    log_price = np.log(close)[20_000 : 20_000 + args.window - 1 + args.windows]

    start = time.perf_counter()
    vmd_features(log_price, window=args.window, k=args.k, threads=1)
    rust_s = (time.perf_counter() - start) / args.windows
    start = time.perf_counter()
    vmd_features(log_price, window=args.window, k=args.k)
    rust_mt_s = (time.perf_counter() - start) / args.windows

    ref_s, same_s, iters = time_reference(log_price, args.window, args.k, args.ref_windows)
    all_iters = np.mean(
        [vmd(log_price[i : i + args.window], k=args.k).iterations for i in range(args.windows)]
    )
    print(f"data: {CSV.name}, window={args.window}, k={args.k}")
    print(f"mean iterations: {all_iters:.1f} over all windows, {iters:.1f} over vmdpy's")
    print(f"rust vmd_features, 1 thread : {rust_s * 1e6:9.1f} us/window")
    print(f"rust vmd_features, all cores: {rust_mt_s * 1e6:9.1f} us/window")
    print(f"rust vmd() per call (same {args.ref_windows} windows as vmdpy): {same_s * 1e6:9.1f} us")
    print(f"vmdpy VMD() per call: {ref_s * 1e6:9.1f} us")
    print(f"RESULT vmd_windows_per_s={1.0 / rust_s:.0f} ratio_vs_vmdpy={ref_s / same_s:.1f}")


def time_reference(
    log_price: np.ndarray, window: int, k: int, count: int
) -> tuple[float, float, float]:
    """Seconds per window of vmdpy and of our `vmd`, on the first `count` windows."""
    windows = [log_price[i : i + window] for i in range(count)]
    start = time.perf_counter()
    for w in windows:
        VMD(w, 2000.0, 0.0, k, False, 1, 1e-7)
    ref_s = (time.perf_counter() - start) / count
    start = time.perf_counter()
    iterations = [vmd(w, k=k).iterations for w in windows]
    same_s = (time.perf_counter() - start) / count
    return ref_s, same_s, float(np.mean(iterations))


if __name__ == "__main__":
    main()
