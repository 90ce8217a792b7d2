"""Tactics replayed on recorded Bybit data: the recorded book and trades, our orders on paper.

Our orders never change the recording, so fills are decided conservatively: a market order walks
the recorded book at its time (levels best first, no refill); a resting limit order fills only
when a recorded trade prints THROUGH its price (a buy at P fills when a sell prints below P, for
at most the trade's size) — a print at P might have filled orders queued ahead of ours. What is
left when the horizon ends walks the book. Shortfall uses the same accounting as the simulator
environment (`shortfall.py`).
"""

from __future__ import annotations

import bisect
import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import polars as pl

from nexusforge.data.readers import pick_reader
from nexusforge.data.readers._archive import read_head
from nexusforge.errors import DataError
from nexusforge.forge.execution_rl.shortfall import Shortfall
from nexusforge.market.costs import CostModel
from nexusforge.market.events import FLAG_EMPTY, FLAG_END, FLAG_SNAPSHOT
from nexusforge.market.execution_state import (
    VOL_WINDOW,
    Tactic,
    Touch,
    state_vector,
    vol_bps,
)

Obs = npt.NDArray[np.float32]
Chooser = Callable[[Obs], int]
NS = 1_000_000_000
LEVELS = 25


@dataclass(frozen=True, slots=True)
class Tape:
    """One symbol's book after every message (top `LEVELS` each side) and its trades."""

    symbol: str
    ts: list[int]
    bids: list[list[tuple[float, float]]]
    asks: list[list[tuple[float, float]]]
    trade_ts: npt.NDArray[np.int64]
    trade_px: npt.NDArray[np.float64]
    trade_qty: npt.NDArray[np.float64]
    trade_side: npt.NDArray[np.int8]  # the taker's side
    tick: float

    def at(self, ts_ns: int) -> int:
        """Index of the last book state at or before `ts_ns` (-1 before the first)."""
        return bisect.bisect_right(self.ts, ts_ns) - 1

    def view(self, i: int) -> Touch:
        (bp, bq), (ap, aq) = self.bids[i][0], self.asks[i][0]
        return Touch(bp, bq, ap, aq)

    def mids(self, ts_ns: int, count: int) -> npt.NDArray[np.float64]:
        """One-second mids up to `ts_ns`."""
        out = [
            self.view(j).mid
            for t in range(count, 0, -1)
            if (j := self.at(ts_ns - (t - 1) * NS)) >= 0
        ]
        return np.asarray(out, dtype=np.float64)


def read_tapes(path: Path) -> list[Tape]:
    """Every symbol of a recording with a two-sided book, via the project's readers."""
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    reader = pick_reader(path, read_head(path))
    if reader is None:
        raise DataError(f"{path}: no reader recognises this file")
    result = reader.read(path, read_head(path))
    book, trades = result.frames.get("book_events"), result.frames.get("trades")
    if book is None or book.is_empty():
        raise DataError(f"{path}: no book events")
    out = []
    for symbol in sorted(book["symbol"].unique().to_list()):
        tape = _tape(symbol, book.filter(pl.col("symbol") == symbol), trades)
        if tape is not None:
            out.append(tape)
    return out


def _tape(symbol: str, rows: pl.DataFrame, trades: pl.DataFrame | None) -> Tape | None:
    sides: dict[int, dict[float, float]] = {1: {}, -1: {}}
    ts: list[int] = []
    bids: list[list[tuple[float, float]]] = []
    asks: list[list[tuple[float, float]]] = []
    for t, price, qty, side, flags in rows.select(
        "local_ts", "price", "qty", "side", "flags"
    ).iter_rows():
        if flags & FLAG_SNAPSHOT and flags & 2:
            sides = {1: {}, -1: {}}
        if not flags & FLAG_EMPTY:
            level = sides[int(side)]
            if qty > 0:
                level[price] = qty
            else:
                level.pop(price, None)
        if flags & FLAG_END and sides[1] and sides[-1]:
            b = sorted(sides[1].items(), reverse=True)[:LEVELS]
            a = sorted(sides[-1].items())[:LEVELS]
            if b[0][0] < a[0][0]:
                ts.append(int(t))
                bids.append(b)
                asks.append(a)
    if len(ts) < 2:
        return None
    prices = sorted({p for lv in bids[:50] + asks[:50] for p, _ in lv})
    tick = min((b - a for a, b in itertools.pairwise(prices) if b - a > 1e-12), default=0.0)
    tr = (
        pl.DataFrame()
        if trades is None
        else trades.filter(pl.col("symbol") == symbol).sort("local_ts")
    )
    empty = tr.is_empty()
    return Tape(
        symbol, ts, bids, asks,
        np.zeros(0, np.int64) if empty else tr["local_ts"].to_numpy().astype(np.int64),
        np.zeros(0) if empty else tr["price"].to_numpy().astype(np.float64),
        np.zeros(0) if empty else tr["qty"].to_numpy().astype(np.float64),
        np.zeros(0, np.int8) if empty else tr["side"].to_numpy().astype(np.int8),
        round(tick, 10),
    )  # fmt: skip


@dataclass(frozen=True, slots=True)
class RealIntent:
    start_ns: int
    side: int
    qty: float
    steps: int


def run_intent(
    tape: Tape, intent: RealIntent, choose: Chooser, step_s: float, costs: CostModel
) -> float:
    """Shortfall (bps) of one intent worked on the tape with tactics from `choose`."""
    i = tape.at(intent.start_ns)
    view = tape.view(i)
    sf = Shortfall(intent.side, intent.qty, view.mid, costs)
    left, now = intent.qty, intent.start_ns
    resting: float | None = None  # our resting price
    for step in range(intent.steps):
        i = tape.at(now)
        view = tape.view(i)
        own_qty = view.bid_qty if intent.side > 0 else view.ask_qty
        obs = state_vector(
            intent.side, left / intent.qty, (intent.steps - step) / intent.steps, view,
            vol_bps(tape.mids(now, VOL_WINDOW)), own_qty, left,
        )  # fmt: skip
        tactic = Tactic(choose(obs))
        if tactic is Tactic.MARKET:
            return _walk(tape, i, intent.side, left, sf)
        if tactic is not Tactic.WAIT:
            resting = _limit_price(tactic, intent.side, view, tape.tick)
        end = now + int(step_s * NS)
        if resting is not None:
            left = _passive_fills(tape, intent.side, resting, left, now, end, sf)
        now = end
        if left <= 1e-12:
            return sf.total_bps
        if tactic is Tactic.POST_THEN_CROSS:
            return _walk(tape, tape.at(now), intent.side, left, sf)
    return _walk(tape, tape.at(now), intent.side, left, sf)


def _limit_price(tactic: Tactic, side: int, view: Touch, tick: float) -> float:
    own = view.bid if side > 0 else view.ask
    if tactic is Tactic.INSIDE and view.ask - view.bid > tick * 1.5:
        own += side * tick
    return own


def _passive_fills(
    tape: Tape, side: int, price: float, left: float, start: int, end: int, sf: Shortfall
) -> float:
    """Fills of a resting order from trades printing through its price in (start, end]."""
    lo, hi = np.searchsorted(tape.trade_ts, [start, end], side="right")
    for k in range(int(lo), int(hi)):
        px, qty, taker = tape.trade_px[k], tape.trade_qty[k], tape.trade_side[k]
        through = (px < price - 1e-12) if side > 0 else (px > price + 1e-12)
        if taker == -side and through and left > 0:
            q = min(left, float(qty))
            sf.add(price, q, "maker")
            left -= q
    return left


def _walk(tape: Tape, i: int, side: int, left: float, sf: Shortfall) -> float:
    """Crosses `left` against the recorded book at state `i`; beyond the recorded depth the
    rest pays the deepest recorded level plus one tick (a documented penalty)."""
    levels = tape.asks[i] if side > 0 else tape.bids[i]
    for price, qty in levels:
        q = min(left, qty)
        sf.add(price, q, "taker")
        left -= q
        if left <= 1e-12:
            return sf.total_bps
    sf.add(levels[-1][0] + side * tape.tick, left, "taker")
    return sf.total_bps


def intents(
    tape: Tape, count: int, seed: int, step_s: float, min_steps: int, max_steps: int
) -> list[RealIntent]:
    """Random intents that fit inside the recording (size 0.5-4x the median top size)."""
    rng = np.random.default_rng(seed)
    top = (
        float(np.median([b[0][1] + a[0][1] for b, a in zip(tape.bids, tape.asks, strict=True)])) / 2
    )
    first, last = tape.ts[0], tape.ts[-1]
    out = []
    for _ in range(count):
        steps = int(rng.integers(min_steps, max_steps + 1))
        span = int((steps + 1) * step_s * NS)
        if last - first <= span:
            continue
        start = int(rng.integers(first, last - span))
        side = 1 if rng.random() < 0.5 else -1
        out.append(RealIntent(start, side, float(rng.uniform(0.5, 4.0)) * top, steps))
    return out


def mean_shortfall(
    tapes: list[Tape],
    choose: Chooser,
    *,
    per_tape: int,
    seed: int,
    step_s: float,
    min_steps: int,
    max_steps: int,
    costs: CostModel | None = None,
) -> tuple[float, int]:
    """Mean shortfall (bps) and intent count over the same seeded intents on every tape."""
    c = costs or CostModel()
    values = [
        run_intent(t, it, choose, step_s, c)
        for n, t in enumerate(tapes)
        for it in intents(t, per_tape, seed + n, step_s, min_steps, max_steps)
    ]  # fmt: skip
    return (float(np.mean(values)) if values else math.nan), len(values)
