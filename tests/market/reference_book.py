"""A plain dict order book written straight from the rules, to check the Rust book against.

Tests only. Also holds independent json-module readers for the recorded Bybit and Binance
streams, so the Rust parser is checked as well as the Rust book.
"""

from __future__ import annotations

import gzip
import json
import math
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from nexusforge.market.events import (
    FLAG_BEGIN,
    FLAG_EMPTY,
    FLAG_END,
    FLAG_SNAPSHOT,
    BookLevelRows,
)

MAX_TICK = 4.0e15
BYBIT_OB500 = "bybit/market/bybit_XRPUSDT_ob500_2024-12-01_head50.data.zip"
BINANCE_DEPTH = "bybit/market/binance_usdm_BTCUSDT_20240808_2355utc.gz"


@dataclass
class RefMessage:
    """One venue book message as the rules see it."""

    update_id: int
    prev_update_id: int
    snapshot: bool
    levels: list[tuple[float, float, int]]  # (price, qty, side)
    exch_ts: int = 0
    local_ts: int = 0


def round_half_away(x: float) -> int:
    """Rust's f64::round for the values used here (ties away from zero)."""
    f = math.floor(x)
    if x >= 0:
        return int(f) + (1 if x - f >= 0.5 else 0)
    return -round_half_away(-x)


def _level_ok(price: float, qty: float, side: int, tick_size: float) -> bool:
    return (
        side in (1, -1)
        and math.isfinite(price)
        and price > 0
        and math.isfinite(qty)
        and qty >= 0
        and price / tick_size <= MAX_TICK
    )


@dataclass
class ReferenceBook:
    """Bids and asks as {tick: qty} dicts plus the id/validity rules and their counters."""

    tick_size: float
    bids: dict[int, float] = field(default_factory=dict)
    asks: dict[int, float] = field(default_factory=dict)
    valid: bool = False
    has_snapshot: bool = False
    last_update_id: int = 0
    held: list[RefMessage] = field(default_factory=list)
    counters: dict[str, int] = field(
        default_factory=lambda: dict.fromkeys(
            (
                "snapshots",
                "deltas_applied",
                "level_updates",
                "deltas_before_snapshot",
                "skipped_while_invalid",
                "stale",
                "gaps",
                "crossed",
                "bad_messages",
                "replayed",
            ),
            0,
        )
    )

    def apply(self, msg: RefMessage) -> None:
        if msg.snapshot or msg.update_id == 1:
            self._snapshot(msg)
            self._replay_held()
        elif self._delta(msg) == "hold":
            self.held = [*self.held, msg][-4096:]

    def _snapshot(self, msg: RefMessage) -> None:
        if not self._levels_ok(msg):
            return
        self.bids.clear()
        self.asks.clear()
        self.counters["snapshots"] += 1
        self.has_snapshot = self.valid = True
        self._apply_levels(msg)

    def _delta(self, msg: RefMessage) -> str:
        """Apply a delta by the id rules; returns "applied", "stale", "hold" or "bad"."""
        c = self.counters
        if not self.has_snapshot:
            c["deltas_before_snapshot"] += 1
            return "hold"
        if not self.valid:
            c["skipped_while_invalid"] += 1
            return "hold"
        if msg.update_id <= self.last_update_id:
            c["stale"] += 1
            return "stale"
        if msg.prev_update_id > self.last_update_id:
            c["gaps"] += 1
            self.valid = False
            return "hold"
        if not self._levels_ok(msg):
            return "bad"
        c["deltas_applied"] += 1
        self._apply_levels(msg)
        return "applied"

    def _replay_held(self) -> None:
        """Held deltas that continue the new snapshot are applied (Binance bridging)."""
        held, self.held = self.held, []
        bridged = False
        for m in held:
            if not self.valid:
                break
            if m.update_id <= self.last_update_id:
                continue
            if not bridged and m.prev_update_id > self.last_update_id:
                break
            bridged = True
            if self._delta(m) != "applied":
                break
            self.counters["replayed"] += 1

    def _levels_ok(self, msg: RefMessage) -> bool:
        if all(_level_ok(p, q, s, self.tick_size) for p, q, s in msg.levels):
            return True
        self.counters["bad_messages"] += 1
        self.valid = False
        return False

    def _apply_levels(self, msg: RefMessage) -> None:
        for price, qty, side in msg.levels:
            book = self.bids if side == 1 else self.asks
            tick = round_half_away(price / self.tick_size)
            if qty == 0:
                book.pop(tick, None)
            else:
                book[tick] = qty
            self.counters["level_updates"] += 1
        self.last_update_id = msg.update_id
        if self.bids and self.asks and max(self.bids) >= min(self.asks):
            self.counters["crossed"] += 1
            self.valid = False

    def price(self, tick: int) -> float:
        inv = float(round(1.0 / self.tick_size))
        if inv >= 1.0 and abs(inv * self.tick_size - 1.0) < 1e-12:
            return tick / inv
        return tick * self.tick_size

    def depth(self, n: int) -> tuple[list[tuple[float, float]], list[tuple[float, float]]]:
        bids = sorted(self.bids.items(), reverse=True)[:n]
        asks = sorted(self.asks.items())[:n]
        return (
            [(self.price(t), q) for t, q in bids],
            [(self.price(t), q) for t, q in asks],
        )


def rows_from_messages(msgs: list[RefMessage]) -> BookLevelRows:
    """Level rows for messages, framed the way the parser frames them."""
    cols: dict[str, list[float | int]] = {
        k: []
        for k in (
            "exch_ts",
            "local_ts",
            "update_id",
            "prev_update_id",
            "price",
            "qty",
            "side",
            "flags",
        )
    }
    for m in msgs:
        levels = m.levels or [(math.nan, math.nan, 0)]
        for i, (p, q, s) in enumerate(levels):
            flags = FLAG_SNAPSHOT if m.snapshot else 0
            flags |= FLAG_BEGIN if i == 0 else 0
            flags |= FLAG_END if i == len(levels) - 1 else 0
            flags |= FLAG_EMPTY if not m.levels else 0
            for k, v in (
                ("exch_ts", m.exch_ts),
                ("local_ts", m.local_ts),
                ("update_id", m.update_id),
                ("prev_update_id", m.prev_update_id),
                ("price", p),
                ("qty", q),
                ("side", s),
                ("flags", flags),
            ):
                cols[k].append(v)
    return BookLevelRows(
        exch_ts=np.array(cols["exch_ts"], dtype=np.int64),
        local_ts=np.array(cols["local_ts"], dtype=np.int64),
        update_id=np.array(cols["update_id"], dtype=np.int64),
        prev_update_id=np.array(cols["prev_update_id"], dtype=np.int64),
        price=np.array(cols["price"], dtype=np.float64),
        qty=np.array(cols["qty"], dtype=np.float64),
        side=np.array(cols["side"], dtype=np.int8),
        flags=np.array(cols["flags"], dtype=np.uint8),
    )


def _levels(bids: list[list[str]], asks: list[list[str]]) -> list[tuple[float, float, int]]:
    return [(float(p), float(q), 1) for p, q in bids] + [(float(p), float(q), -1) for p, q in asks]


def bybit_lines(shared_data: Path) -> list[bytes]:
    """Raw lines of the recorded Bybit ob500 archive."""
    with zipfile.ZipFile(shared_data / BYBIT_OB500) as z:
        return z.read(z.namelist()[0]).splitlines()


def bybit_message(line: bytes) -> RefMessage:
    obj = json.loads(line)
    d = obj["data"]
    snap = obj["type"] == "snapshot"
    ts = obj["ts"] * 1_000_000
    return RefMessage(d["u"], 0 if snap else d["u"] - 1, snap, _levels(d["b"], d["a"]), ts, ts)


def binance_lines(shared_data: Path) -> tuple[list[bytes], np.ndarray]:
    """Raw JSON messages of the recorded Binance capture and their receive times (ns)."""
    msgs, local = [], []
    with gzip.open(shared_data / BINANCE_DEPTH, "rb") as f:
        for line in f:
            ts, _, body = line.rstrip(b"\n").partition(b" ")
            local.append(int(ts))
            msgs.append(body)
    return msgs, np.array(local, dtype=np.int64)


def binance_message(body: bytes, local_ts: int) -> RefMessage | None:
    """The book message in one Binance line, or None for trades and tickers."""
    obj = json.loads(body)
    if "lastUpdateId" in obj:
        levels = _levels(obj["bids"], obj["asks"])
        return RefMessage(obj["lastUpdateId"], 0, True, levels, obj["E"] * 1_000_000, local_ts)
    d = obj["data"]
    if d["e"] != "depthUpdate":
        return None
    prev = d.get("pu", d["U"] - 1)
    return RefMessage(d["u"], prev, False, _levels(d["b"], d["a"]), d["E"] * 1_000_000, local_ts)
