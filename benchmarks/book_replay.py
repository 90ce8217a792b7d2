"""Benchmark: replay recorded L2 book streams through the Rust book and a pure-Python dict book.

Data: the Bybit XRPUSDT ob500 archive (50 messages) and the Binance USD-M BTCUSDT depth diffs
(6,551 deltas + 1 REST snapshot), each looped with update ids re-based so they stay continuous,
to at least 1M level updates. Figures: level updates/s from pre-parsed arrays (Rust vs Python)
and raw JSON messages/s parsed and applied in Rust (list of bytes, and one newline-separated
buffer), on the recorded mix and on small 1-10 level Bybit deltas re-sliced from the ob500
deltas. Last line: RESULT ... with json_msgs_per_s on the recorded mix.
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
from nexusforge import _core
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
    t_list, t_lines, n_json = time_json(raw, s.fmt, s.tick)
    t_rust, n_rust = best_of(rust_arrays)
    t_py, n_py = best_of(python_dict)
    print(
        f"{s.name}: loops={loops} messages={len(raw):,} rows={len(looped):,} "
        f"level_updates rust={n_rust:,} python={n_py:,} json={n_json:,}"
    )
    nbytes = sum(map(len, raw))
    print(
        f"  rust arrays {n_rust / t_rust / 1e6:8.2f} M levels/s   python dict "
        f"{n_py / t_py / 1e6:6.2f} M levels/s   rust json {len(raw) / t_lines / 1e6:6.3f} M msgs/s "
        f"({nbytes / t_lines / 1e9:.2f} GB/s, one buffer; list of bytes "
        f"{len(raw) / t_list / 1e6:.3f} M msgs/s)"
    )
    return {
        "rust_levels": n_rust,
        "rust_s": t_rust,
        "py_levels": n_py,
        "py_s": t_py,
        "json_msgs": len(raw),
        "json_s": t_lines,
    }


def time_json(raw: list[bytes], fmt: str, tick: float) -> tuple[float, float, int]:
    """Parse+apply time through the list API and the one-buffer API; level updates applied."""
    blob = b"\n".join(raw)

    def as_list() -> int:
        book = OrderBook(tick)
        book.apply_json(raw, fmt)
        return book.stats().level_updates

    def as_lines() -> int:
        book = _core.OrderBook(tick)
        book.apply_json_lines(blob, fmt)
        return int(book.stats()["level_updates"])

    t_list, n_list = best_of(as_list)
    t_lines, n_lines = best_of(as_lines)
    assert n_list == n_lines, (n_list, n_lines)
    return t_list, t_lines, n_lines


# ---- small realistic messages: orderbook.50-style deltas of 1-10 levels ----

SMALL_MESSAGES = 1_000_000


def small_bybit_deltas(s: Stream, count: int) -> list[bytes]:
    """`count` orderbook.50-style messages re-sliced from the recorded ob500 stream (untimed).

    Each pass over the recording sends its snapshot cut to 50 levels a side, then the deltas'
    levels (within each delta: deletions first, so no prefix can cross the book) in 1-10 level
    deltas. Ids run on continuously across passes.
    """
    msgs = [json.loads(m) for m in s.messages]
    snap = msgs[0]
    assert snap["type"] == "snapshot"
    levels = [
        (side, lv)
        for m in msgs[1:]
        for deletions in (True, False)
        for side in ("b", "a")
        for lv in m["data"][side]
        if (float(lv[1]) == 0.0) == deletions
    ]
    topic, sym = "orderbook.50.XRPUSDT", snap["data"]["s"]
    uid, ts = int(snap["data"]["u"]), int(snap["ts"])
    sizes = iter(np.random.default_rng(7).integers(1, 11, size=count).tolist())
    out: list[bytes] = []

    def emit(kind: str, b: list[list[str]], a: list[list[str]]) -> None:
        nonlocal uid, ts
        uid, ts = uid + 1, ts + 20
        data = {"s": sym, "b": b, "a": a, "u": uid, "seq": uid * 10}
        body = {"topic": topic, "type": kind, "ts": ts, "data": data, "cts": ts - 2}
        out.append(json.dumps(body, separators=(",", ":")).encode())

    while len(out) < count:
        emit("snapshot", snap["data"]["b"][:50], snap["data"]["a"][:50])
        pos = 0
        while pos < len(levels) and len(out) < count:
            chunk = levels[pos : pos + next(sizes)]
            pos += len(chunk)
            bids = [lv for sd, lv in chunk if sd == "b"]
            emit("delta", bids, [lv for sd, lv in chunk if sd == "a"])
    return out


def bench_small(s: Stream) -> float:
    raw = small_bybit_deltas(s, SMALL_MESSAGES)
    t_list, t_lines, n = time_json(raw, s.fmt, s.tick)
    snaps = sum(b'"snapshot"' in m[:80] for m in raw)
    mean = sum(map(len, raw)) / len(raw)
    print(
        f"small bybit deltas (orderbook.50 style: 1-10 levels re-sliced from the ob500 deltas, "
        f"continuous ids, one 50-level snapshot per pass): messages={len(raw):,} "
        f"snapshots={snaps:,} mean {mean:.0f} B level_updates={n:,}"
    )
    print(
        f"  rust json {len(raw) / t_lines / 1e6:6.3f} M msgs/s one buffer; "
        f"list of bytes {len(raw) / t_list / 1e6:.3f} M msgs/s"
    )
    return len(raw) / t_lines


def main() -> None:
    print(f"machine: {platform.platform()} {platform.machine()} cpus={os.cpu_count()}")
    versions = f"numpy {np.__version__} nexusforge {nexusforge.__version__}"
    print(f"python {sys.version.split()[0]} {versions}")
    streams = load_streams()
    results = [bench_stream(s) for s in streams]
    small_rate = bench_small(streams[0])
    total = {k: sum(r[k] for r in results) for k in results[0]}
    rust_rate = total["rust_levels"] / total["rust_s"]
    py_rate = total["py_levels"] / total["py_s"]
    json_rate = total["json_msgs"] / total["json_s"]
    print(f"small-delta json_msgs_per_s={small_rate:.0f} (Bybit 1-10 level deltas, one buffer)")
    print(
        "json_msgs_per_s below: recorded mix (Bybit ob500 + Binance depth, ~1.6 KB/msg), "
        "parsed and applied, one-buffer crossing"
    )
    print(
        f"RESULT level_updates_per_s={rust_rate:.0f} ratio_vs_python={rust_rate / py_rate:.1f} "
        f"json_msgs_per_s={json_rate:.0f}"
    )


if __name__ == "__main__":
    main()
