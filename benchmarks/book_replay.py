"""Benchmark: replay recorded L2 book streams through the Rust book and a pure-Python dict book.

Data: the Bybit XRPUSDT ob500 archive (50 messages) and the Binance USD-M BTCUSDT depth diffs
(6,551 deltas + 1 REST snapshot), each looped with update ids re-based so they stay continuous,
to at least 1M level updates. Figures: level updates/s from pre-parsed arrays (Rust vs Python)
and raw JSON messages/s parsed and applied in Rust. Last line: RESULT ...
"""

from __future__ import annotations

import gzip
import json
import math
import os
import platform
import sys
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

import nexusforge
from nexusforge.market.book import OrderBook, parse_book_messages
from nexusforge.market.events import FLAG_END, FLAG_SNAPSHOT, BookLevelRows

SHARED = Path(os.environ.get("NEXUSFORGE_SHARED", Path(__file__).resolve().parents[2] / "shared"))
MARKET = SHARED / "data" / "bybit" / "market"
MIN_LEVEL_UPDATES = 1_000_000
REPEATS = 3


@dataclass(frozen=True)
class Stream:
    """One recorded stream: raw JSON book messages and their tick size."""

    name: str
    fmt: str
    tick: float
    messages: list[bytes]


def load_streams() -> list[Stream]:
    with zipfile.ZipFile(MARKET / "bybit_XRPUSDT_ob500_2024-12-01_head50.data.zip") as z:
        bybit = z.read(z.namelist()[0]).splitlines()
    binance = []
    with gzip.open(MARKET / "binance_usdm_BTCUSDT_20240808_2355utc.gz", "rb") as f:
        for line in f:
            body = line.rstrip(b"\n").partition(b" ")[2]
            if b"depthUpdate" in body[:80] or body.startswith(b'{"lastUpdateId"'):
                binance.append(body)
    return [
        Stream("bybit XRPUSDT ob500", "bybit", 0.0001, bybit),
        Stream("binance BTCUSDT depth", "binance", 0.1, binance),
    ]


# ---- looping with continuous ids ----


def loop_rows(rows: BookLevelRows, loops: int) -> BookLevelRows:
    """Repeat rows `loops` times, shifting ids so every pass continues the previous one."""
    ids = np.concatenate([rows.update_id, rows.prev_update_id[rows.prev_update_id > 0]])
    span = int(ids.max() - ids.min() + 1)
    shift = np.repeat(np.arange(loops, dtype=np.int64) * span, len(rows))
    prev = np.tile(rows.prev_update_id, loops)
    return BookLevelRows(
        exch_ts=np.tile(rows.exch_ts, loops),
        local_ts=np.tile(rows.local_ts, loops),
        update_id=np.tile(rows.update_id, loops) + shift,
        prev_update_id=np.where(prev > 0, prev + shift, 0),
        price=np.tile(rows.price, loops),
        qty=np.tile(rows.qty, loops),
        side=np.tile(rows.side, loops),
        flags=np.tile(rows.flags, loops),
    )


def _shift_ids(obj: dict[str, object], shift: int) -> None:
    data = obj.get("data", obj)
    assert isinstance(data, dict)
    for key in ("u", "U", "pu", "lastUpdateId"):
        if key in data:
            data[key] += shift


def loop_messages(stream: Stream, loops: int) -> list[bytes]:
    """Raw messages repeated `loops` times with ids re-based (re-serialised once, untimed)."""
    objs = [json.loads(m) for m in stream.messages]
    ids = [o.get("data", o).get(k) for o in objs for k in ("u", "U", "pu", "lastUpdateId")]
    present = [i for i in ids if isinstance(i, int)]
    span = max(present) - min(present) + 1
    out = list(stream.messages)
    for k in range(1, loops):
        for o in objs:
            shifted = json.loads(json.dumps(o))
            _shift_ids(shifted, k * span)
            out.append(json.dumps(shifted, separators=(",", ":")).encode())
    return out


# ---- the pure-Python levels-only book ----


class DictBook:
    """Plain dict book with the same id rules, holding deltas until the snapshot they follow.

    Levels are not validated (the Rust book does validate), so the comparison favours Python.
    """

    def __init__(self, tick: float) -> None:
        self.tick = tick
        self.bids: dict[int, float] = {}
        self.asks: dict[int, float] = {}
        self.last = 0
        self.valid = False
        self.held: list[tuple[int, int, bool, list[tuple[float, float, int]]]] = []
        self.level_updates = 0

    def apply(
        self, uid: int, prev: int, snap: bool, levels: list[tuple[float, float, int]]
    ) -> None:
        if snap:
            self.bids.clear()
            self.asks.clear()
            self.valid = True
            self._levels(uid, levels)
            held, self.held = self.held, []
            for h in held:
                if h[0] > self.last and (h[1] <= self.last) and self.valid:
                    self._levels(h[0], h[3])
            return
        if self.valid and uid <= self.last:
            return
        if not self.valid or prev > self.last:
            self.valid = False
            self.held.append((uid, prev, snap, levels))
            return
        self._levels(uid, levels)

    def _levels(self, uid: int, levels: list[tuple[float, float, int]]) -> None:
        tick = self.tick
        for price, qty, side in levels:
            book = self.bids if side == 1 else self.asks
            t = math.floor(price / tick + 0.5)
            if qty == 0.0:
                book.pop(t, None)
            else:
                book[t] = qty
        self.level_updates += len(levels)
        self.last = uid


def python_messages(
    rows: BookLevelRows,
) -> list[tuple[int, int, bool, list[tuple[float, float, int]]]]:
    """Rows as Python lists per message (the Python book's pre-parsed input; untimed)."""
    ends = (np.flatnonzero(rows.flags & FLAG_END) + 1).tolist()
    price, qty, side = rows.price.tolist(), rows.qty.tolist(), rows.side.tolist()
    out, start = [], 0
    for end in ends:
        levels = [(price[i], qty[i], side[i]) for i in range(start, end) if side[i] != 0]
        snap = bool(rows.flags[start] & FLAG_SNAPSHOT)
        out.append((int(rows.update_id[start]), int(rows.prev_update_id[start]), snap, levels))
        start = end
    return out


def best_of(fn: Callable[[], int]) -> tuple[float, int]:
    """Fastest wall time of `REPEATS` runs, and what the run counted."""
    best, count = math.inf, 0
    for _ in range(REPEATS):
        t0 = time.perf_counter()
        count = fn()
        best = min(best, time.perf_counter() - t0)
    return best, count


def bench_stream(s: Stream) -> dict[str, float]:
    rows = parse_book_messages(s.messages, s.fmt).rows
    loops = max(1, math.ceil(MIN_LEVEL_UPDATES / len(rows)))
    looped = loop_rows(rows, loops)

    def rust_arrays() -> int:
        book = OrderBook(s.tick)
        book.apply(looped)
        return book.stats().level_updates

    py_msgs = python_messages(looped)

    def python_dict() -> int:
        book = DictBook(s.tick)
        for m in py_msgs:
            book.apply(*m)
        return book.level_updates

    raw = loop_messages(s, loops)

    def rust_json() -> int:
        book = OrderBook(s.tick)
        book.apply_json(raw, s.fmt)
        return book.stats().level_updates

    t_rust, n_rust = best_of(rust_arrays)
    t_py, n_py = best_of(python_dict)
    t_json, n_json = best_of(rust_json)
    print(
        f"{s.name}: loops={loops} messages={len(raw):,} rows={len(looped):,} "
        f"level_updates rust={n_rust:,} python={n_py:,} json={n_json:,}"
    )
    print(
        f"  rust arrays {n_rust / t_rust / 1e6:8.2f} M levels/s   python dict "
        f"{n_py / t_py / 1e6:6.2f} M levels/s   rust json {len(raw) / t_json / 1e6:6.3f} M msgs/s "
        f"({sum(map(len, raw)) / t_json / 1e9:.2f} GB/s)"
    )
    return {
        "rust_levels": n_rust,
        "rust_s": t_rust,
        "py_levels": n_py,
        "py_s": t_py,
        "json_msgs": len(raw),
        "json_s": t_json,
    }


def main() -> None:
    print(f"machine: {platform.platform()} {platform.machine()} cpus={os.cpu_count()}")
    versions = f"numpy {np.__version__} nexusforge {nexusforge.__version__}"
    print(f"python {sys.version.split()[0]} {versions}")
    results = [bench_stream(s) for s in load_streams()]
    total = {k: sum(r[k] for r in results) for k in results[0]}
    rust_rate = total["rust_levels"] / total["rust_s"]
    py_rate = total["py_levels"] / total["py_s"]
    json_rate = total["json_msgs"] / total["json_s"]
    print(
        f"RESULT level_updates_per_s={rust_rate:.0f} ratio_vs_python={rust_rate / py_rate:.1f} "
        f"json_msgs_per_s={json_rate:.0f}"
    )


if __name__ == "__main__":
    main()
