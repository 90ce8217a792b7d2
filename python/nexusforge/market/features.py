"""Microstructure features on the event clock, computed one event at a time (streaming).

Event clock: the RECEIVE clock `local_ts` (ns), i.e. what a live system sees when the message
arrives; recordings with no receive time carry local_ts = exch_ts (the readers set it). Venue
stamps (`exch_ts`) are not monotonic in message order on every venue (Binance depth is not),
while the book is applied in message order, so only the receive clock orders events the way they
were applied. Book messages (after they are applied to the book) and trades are merged by
`local_ts`; at equal `local_ts` book events come before trades, and each source keeps its input
order. Each source must be non-decreasing in `local_ts` (else `DataError`), so the merge never
reorders a source: the "previous top" used by OFI and Δ log mid is the previous book message in
arrival order. Every window below is (t − w, t] on this clock. Every event row carries the
current top of book (forward-filled onto trade rows).

Features (N = depth, w = trailing time window (t - w, t] in ns; `FEATURES` lists them all):
    imb_N               (Σ_{k<N} bid_qty_k − Σ ask_qty_k) / (Σ bid_qty_k + Σ ask_qty_k)
    spread_ticks        (ask1 − bid1) / tick_size
    microprice_dev_bps  (micro − mid) / mid · 1e4,
                        micro = (bid1·askq1 + ask1·bidq1) / (bidq1 + askq1)
    ofi_w               Σ e_n over book events in the window, Cont–Kukanov–Stoikov:
                        e_n = 1{Pb_n ≥ Pb_{n−1}}·qb_n − 1{Pb_n ≤ Pb_{n−1}}·qb_{n−1}
                              − 1{Pa_n ≤ Pa_{n−1}}·qa_n + 1{Pa_n ≥ Pa_{n−1}}·qa_{n−1}
    trade_pressure_w    Σ side·qty / Σ qty over trades in the window (NaN when no volume)
    clv_w               ((last − low) − (high − last)) / (high − low) of trade prices in the window
                        (NaN when no trade or high == low)
    rv_w                sqrt(Σ (Δ log mid)²) over book events in the window
    trade_intensity_w   trades in the window / window seconds
    vmd_mode{i}, vmd_freq{i}  (only when `FeatureConfig.vmd` is set) trailing-window VMD of
                        log mid (`market/vmd.py`), one sample per book event (NaN when it has no
                        valid top); window and stride count BOOK EVENTS, not time; trade rows
                        carry the last book event's values

Book features are NaN while the book is invalid or a side is empty, and e_n and Δ log mid are 0 when
the event or the previous book event has no valid top. Every windowed sum is a difference of
running cumulative sums (cum[i] − cum[first index in window − 1]), exactly as `batch.py` computes
it, so the two agree to the last bit and never drift apart. Precision: each addition to a running
sum S rounds by ≤ ε/2·|S| (ε = 2.2e-16); rounding done before the window start cancels in the
difference, so a window sum of m events is off by about ε·|S|·(1 + √m/2), i.e. it grows with the
size of the running sum, not with history length alone. One day of BTCUSDT perp volume
(|S| ≈ 3e5 BTC) and a 60 s window (m ≈ 6e3) give ≈ 3e-9 BTC, far below the 0.001 lot; the test
`test_windowed_sums_match_exact_sums` measures it on the real capture. Feed a day or session at
a time for much longer histories (no re-basing: both sides would have to re-base identically,
and the bound above makes it unnecessary). Must never use an event after the current one: a
value at event i depends only on events 0..i.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import numpy.typing as npt

from nexusforge.errors import ConfigError, DataError
from nexusforge.market.vmd import VmdFeatureConfig, VmdStream

NAN = math.nan
NS_PER_S = 1_000_000_000


def window_label(window_ns: int) -> str:
    """Column suffix for a window: `1s`, `250ms`, `1500us`."""
    for unit, scale in (("s", NS_PER_S), ("ms", 1_000_000), ("us", 1_000)):
        if window_ns % scale == 0:
            return f"{window_ns // scale}{unit}"
    return f"{window_ns}ns"


@dataclass(frozen=True, slots=True)
class FeatureConfig:
    """Settings of the event features: tick size, imbalance depths, trailing windows (ns) and
    the optional VMD of log mid (None: off)."""

    tick_size: float
    depths: tuple[int, ...] = (1, 5, 10)
    windows_ns: tuple[int, ...] = (1 * NS_PER_S, 10 * NS_PER_S, 60 * NS_PER_S)
    vmd: VmdFeatureConfig | None = None

    def __post_init__(self) -> None:
        if not (self.tick_size > 0 and math.isfinite(self.tick_size)):
            raise ConfigError(f"tick_size must be a positive number, got {self.tick_size}")
        if not self.depths or min(self.depths) < 1:
            raise ConfigError(f"depths must be positive, got {self.depths}")
        if not self.windows_ns or min(self.windows_ns) < 1:
            raise ConfigError(f"windows_ns must be positive, got {self.windows_ns}")

    @property
    def max_depth(self) -> int:
        return max(self.depths)

    def feature_names(self) -> list[str]:
        """Output feature columns in order (without the `CLOCK_COLUMNS`)."""
        names = [f"imb_{n}" for n in self.depths] + ["spread_ticks", "microprice_dev_bps"]
        for w in self.windows_ns:
            lab = window_label(w)
            names += [f"ofi_{lab}", f"trade_pressure_{lab}", f"clv_{lab}", f"rv_{lab}"]
            names.append(f"trade_intensity_{lab}")
        return names + (self.vmd.names() if self.vmd is not None else [])


# Registry: feature family -> (formula, window kind). Columns expand N and w as in the docstring.
FEATURES: dict[str, tuple[str, str]] = {
    "imb_N": ("(Σ bid_qty[:N] − Σ ask_qty[:N]) / (Σ bid_qty[:N] + Σ ask_qty[:N])", "instant"),
    "spread_ticks": ("(ask1 − bid1) / tick_size", "instant"),
    "microprice_dev_bps": (
        "((bid1·askq1 + ask1·bidq1)/(bidq1 + askq1) − mid) / mid · 1e4",
        "instant",
    ),
    "ofi_w": (
        "Σ e_n (Cont–Kukanov–Stoikov order flow imbalance) over book events",
        "time (t−w, t]",
    ),
    "trade_pressure_w": ("Σ side·qty / Σ qty over trades", "time (t−w, t]"),
    "clv_w": ("((last − low) − (high − last)) / (high − low) of trade prices", "time (t−w, t]"),
    "rv_w": ("sqrt(Σ (Δ log mid)²) over book events", "time (t−w, t]"),
    "trade_intensity_w": ("trade count / (w in seconds)", "time (t−w, t]"),
}

KIND_BOOK = 0
KIND_TRADE = 1
# Leading columns of every event-feature row: the event clock, the venue stamp, the source.
CLOCK_COLUMNS = ("local_ts", "exch_ts", "kind")


class _TopLevelsArrays(Protocol):
    """Top of book after each book message (the shape of `book.replay_top_levels`)."""

    exch_ts: npt.NDArray[np.int64]
    local_ts: npt.NDArray[np.int64]
    valid: npt.NDArray[np.bool_]
    bid_px: npt.NDArray[np.float64]
    bid_qty: npt.NDArray[np.float64]
    ask_px: npt.NDArray[np.float64]
    ask_qty: npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class TradeArrays:
    """Trades as numpy columns (taker side +1 buy / −1 sell), in receive order."""

    exch_ts: npt.NDArray[np.int64]
    local_ts: npt.NDArray[np.int64]
    price: npt.NDArray[np.float64]
    qty: npt.NDArray[np.float64]
    side: npt.NDArray[np.int8]


@dataclass(slots=True)
class _Top:
    """Level-1 state of the last book event (NaN when it had no valid top)."""

    bid: float = NAN
    bid_qty: float = NAN
    ask: float = NAN
    ask_qty: float = NAN

    @property
    def ok(self) -> bool:
        return not math.isnan(self.bid)


@dataclass(slots=True)
class _Window:
    """Per-window state: cum-before entries of events inside it, monotonic trade-price deques."""

    width: int
    entries: deque[tuple[int, tuple[float, float, float, float, int]]] = field(
        default_factory=deque
    )
    maxq: deque[tuple[int, float]] = field(default_factory=deque)
    minq: deque[tuple[int, float]] = field(default_factory=deque)

    def expire(self, ts: int) -> None:
        edge = ts - self.width
        while self.entries and self.entries[0][0] <= edge:
            self.entries.popleft()
        while self.maxq and self.maxq[0][0] <= edge:
            self.maxq.popleft()
        while self.minq and self.minq[0][0] <= edge:
            self.minq.popleft()

    def push_price(self, ts: int, price: float) -> None:
        while self.maxq and self.maxq[-1][1] <= price:
            self.maxq.pop()
        self.maxq.append((ts, price))
        while self.minq and self.minq[-1][1] >= price:
            self.minq.pop()
        self.minq.append((ts, price))


def _level_sum(qty: npt.NDArray[np.float64], n: int) -> float:
    """Σ of the first n quantities, missing levels (NaN) as 0, added left to right."""
    acc = 0.0
    for k in range(min(n, len(qty))):
        q = float(qty[k])
        acc = acc + (0.0 if math.isnan(q) else q)
    return acc


def book_row_features(
    cfg: FeatureConfig,
    valid: bool,
    bid_px: npt.NDArray[np.float64],
    bid_qty: npt.NDArray[np.float64],
    ask_px: npt.NDArray[np.float64],
    ask_qty: npt.NDArray[np.float64],
) -> tuple[_Top, dict[str, float]]:
    """Level-1 state and instantaneous book features of one book event."""
    top = _Top()
    out = {f"imb_{n}": NAN for n in cfg.depths} | {"spread_ticks": NAN, "microprice_dev_bps": NAN}
    has = len(bid_px) > 0 and len(ask_px) > 0
    if not (valid and has and not math.isnan(bid_px[0]) and not math.isnan(ask_px[0])):
        return top, out
    top = _Top(float(bid_px[0]), float(bid_qty[0]), float(ask_px[0]), float(ask_qty[0]))
    for n in cfg.depths:
        b, a = _level_sum(bid_qty, n), _level_sum(ask_qty, n)
        out[f"imb_{n}"] = (b - a) / (b + a) if b + a > 0 else NAN
    out["spread_ticks"] = (top.ask - top.bid) / cfg.tick_size
    mid = (top.bid + top.ask) / 2.0
    qsum = top.bid_qty + top.ask_qty
    if qsum > 0:
        micro = (top.bid * top.ask_qty + top.ask * top.bid_qty) / qsum
        out["microprice_dev_bps"] = (micro - mid) / mid * 1e4
    return top, out


def ofi_term(prev: _Top, cur: _Top) -> float:
    """Cont–Kukanov–Stoikov e_n between two book events; 0 when either has no valid top."""
    if not (prev.ok and cur.ok):
        return 0.0
    e = 0.0
    if cur.bid >= prev.bid:
        e = e + cur.bid_qty
    if cur.bid <= prev.bid:
        e = e - prev.bid_qty
    if cur.ask <= prev.ask:
        e = e - cur.ask_qty
    if cur.ask >= prev.ask:
        e = e + prev.ask_qty
    return e


def log_mid_return_sq(prev: _Top, cur: _Top) -> float:
    """(Δ log mid)² between two book events; 0 when either has no valid top."""
    if not (prev.ok and cur.ok):
        return 0.0
    r = math.log((cur.bid + cur.ask) / 2.0) - math.log((prev.bid + prev.ask) / 2.0)
    return r * r


class _VmdOfMid:
    """Trailing VMD of log mid, one sample per book event (NaN when it has no valid top)."""

    def __init__(self, cfg: VmdFeatureConfig) -> None:
        self._names = cfg.names()
        self._stream = VmdStream(cfg.window, cfg.stride, cfg.k, cfg.alpha, cfg.tol, cfg.max_iter)

    def update(self, top: _Top) -> dict[str, float]:
        x = math.log((top.bid + top.ask) / 2.0) if top.ok else NAN
        modes, freqs = self._stream.update(x)
        return dict(zip(self._names, [*map(float, modes), *map(float, freqs)], strict=True))


class FeatureStream:
    """Event features one event at a time; feed events in event-clock order (see module doc)."""

    def __init__(self, cfg: FeatureConfig) -> None:
        self.cfg = cfg
        self._top = _Top()
        self._book_out: dict[str, float] = book_row_features(
            cfg, False, np.empty(0), np.empty(0), np.empty(0), np.empty(0)
        )[1]
        # Running sums: ofi, signed volume, volume, squared log-mid returns, trade count.
        self._cum: tuple[float, float, float, float, int] = (0.0, 0.0, 0.0, 0.0, 0)
        self._windows = [_Window(w) for w in cfg.windows_ns]
        self._last_ts: int | None = None
        self._last_price = NAN
        self._vmd = _VmdOfMid(cfg.vmd) if cfg.vmd is not None else None
        if cfg.vmd is not None:  # trade rows before the first book event
            self._book_out |= dict.fromkeys(cfg.vmd.names(), NAN)

    def on_book(
        self,
        local_ts: int,
        valid: bool,
        bid_px: npt.NDArray[np.float64],
        bid_qty: npt.NDArray[np.float64],
        ask_px: npt.NDArray[np.float64],
        ask_qty: npt.NDArray[np.float64],
    ) -> dict[str, float]:
        """Apply one book event (the top `max_depth` levels after the message) and emit its row."""
        top, self._book_out = book_row_features(self.cfg, valid, bid_px, bid_qty, ask_px, ask_qty)
        if self._vmd is not None:
            self._book_out |= self._vmd.update(top)
        e, r2 = ofi_term(self._top, top), log_mid_return_sq(self._top, top)
        self._top = top
        return self._advance(local_ts, (e, 0.0, 0.0, r2, 0), None)

    def on_trade(self, local_ts: int, price: float, qty: float, side: int) -> dict[str, float]:
        """Apply one trade (`side` is the taker's, +1 buy / −1 sell) and emit its row."""
        if side not in (1, -1) or not (qty >= 0 and math.isfinite(price)):
            raise DataError(f"bad trade at {local_ts}: price={price} qty={qty} side={side}")
        self._last_price = price
        return self._advance(local_ts, (0.0, side * qty, qty, 0.0, 1), price)

    def _advance(
        self, ts: int, inc: tuple[float, float, float, float, int], price: float | None
    ) -> dict[str, float]:
        if self._last_ts is not None and ts < self._last_ts:
            raise DataError(f"event at {ts} is older than the previous one at {self._last_ts}")
        self._last_ts = ts
        before = self._cum
        c = self._cum = (
            before[0] + inc[0],
            before[1] + inc[1],
            before[2] + inc[2],
            before[3] + inc[3],
            before[4] + inc[4],
        )
        out = dict(self._book_out)
        for win in self._windows:
            win.entries.append((ts, before))
            if price is not None:
                win.push_price(ts, price)
            win.expire(ts)
            out.update(self._window_values(win, c))
        return out

    def _window_values(
        self, win: _Window, c: tuple[float, float, float, float, int]
    ) -> dict[str, float]:
        b = win.entries[0][1]
        lab = window_label(win.width)
        vol, n = c[2] - b[2], c[4] - b[4]
        clv = NAN
        if n > 0:
            hi, lo, last = win.maxq[0][1], win.minq[0][1], self._last_price
            if hi != lo:
                clv = ((last - lo) - (hi - last)) / (hi - lo)
        return {
            f"ofi_{lab}": c[0] - b[0],
            f"trade_pressure_{lab}": (c[1] - b[1]) / vol if vol > 0 else NAN,
            f"clv_{lab}": clv,
            f"rv_{lab}": math.sqrt(max(c[3] - b[3], 0.0)),
            f"trade_intensity_{lab}": n / (win.width / NS_PER_S),
        }


def check_clock(name: str, local_ts: npt.NDArray[np.int64]) -> None:
    """Raise `DataError` unless `local_ts` never decreases (the merge must not reorder a source)."""
    ts = np.asarray(local_ts)
    if ts.ndim != 1:
        raise DataError(f"{name} local_ts must be one-dimensional, got shape {ts.shape}")
    back = np.flatnonzero(ts[1:] < ts[:-1])
    if back.size:
        i = int(back[0]) + 1
        raise DataError(
            f"{name} local_ts goes back at row {i} ({ts[i]} < {ts[i - 1]}; {back.size} times)"
        )


def _merged(book_ts: list[int], trade_ts: list[int]) -> Iterator[tuple[bool, int]]:
    """Yield (is_book, index) in event-clock order: a two-way merge, book first on ties."""
    i = j = 0
    nb, nt = len(book_ts), len(trade_ts)
    while i < nb or j < nt:
        if j >= nt or (i < nb and book_ts[i] <= trade_ts[j]):
            yield True, i
            i += 1
        else:
            yield False, j
            j += 1


def replay_events(
    top: _TopLevelsArrays,
    trades: TradeArrays,
    cfg: FeatureConfig,
) -> dict[str, npt.NDArray[np.generic]]:
    """Feed recorded book tops and trades through `FeatureStream` in event-clock order.

    Returns one array per column (`CLOCK_COLUMNS`, then `cfg.feature_names()`).
    """
    check_clock("book", top.local_ts)
    check_clock("trades", trades.local_ts)
    stream = FeatureStream(cfg)
    names = cfg.feature_names()
    rows: list[list[float]] = []
    clock: list[tuple[int, int, int]] = []
    d = cfg.max_depth
    book_ts, trade_ts = top.local_ts.tolist(), trades.local_ts.tolist()
    for is_book, k in _merged(book_ts, trade_ts):
        if is_book:
            ts = book_ts[k]
            out = stream.on_book(
                ts, bool(top.valid[k]), top.bid_px[k, :d], top.bid_qty[k, :d],
                top.ask_px[k, :d], top.ask_qty[k, :d],
            )  # fmt: skip
            clock.append((ts, int(top.exch_ts[k]), KIND_BOOK))
        else:
            ts = trade_ts[k]
            px, q, s = float(trades.price[k]), float(trades.qty[k]), int(trades.side[k])
            out = stream.on_trade(ts, px, q, s)
            clock.append((ts, int(trades.exch_ts[k]), KIND_TRADE))
        rows.append([out[n] for n in names])
    mat = np.array(rows, dtype=np.float64).reshape(len(rows), len(names))
    cl = np.array(clock, dtype=np.int64).reshape(len(clock), 3)
    res: dict[str, npt.NDArray[np.generic]] = {
        "local_ts": cl[:, 0],
        "exch_ts": cl[:, 1],
        "kind": cl[:, 2].astype(np.int8),
    }
    for k, n in enumerate(names):
        res[n] = mat[:, k]
    return res
