"""A challenger's MAML head in the live engine: the expression's signal and regime features to a
position, re-adapted on the latest realised bars exactly as Forge's walk-forward did.

NumPy only, no torch and no onnxruntime: the head ships inside the challenger as JSON numbers
(`forge/evolve/meta_head.py`, schema 1), and that module holds the forward pass and the exact
loss gradient that training's walk-forward used. An ONNX graph would give the forward pass
only; live adaptation needs gradient steps, and the head is tiny (one tanh layer of at most 256
units and a linear skip), so `steps` full-batch steps on `support` rows take well under a
millisecond in NumPy — same numbers as in research, one code path.

The head was trained on research-table rows, one per bar of the challenger's series
(`data.series` = "venue:symbol:<interval>s"): row t pairs bar t's signal and features with the
return log(close_{t+1}) - log(close_t) realised over the next bar (`meta_report.table_window`).
Live, each head row is closed once; the row before it then gets its realised return, and the
position decided from the closed row is held until the next one. Every `query` closed rows, once
`support` rows have realised returns, the head is adapted afresh from its meta weights on those
rows (`meta_tasks.walk_forward`, row for row); before the first full support window the meta
weights are used unadapted. A skipped bar breaks the row sequence: the history restarts, as the
research table keeps only gap-free stretches. Two clocks say when a row closes; the model the
head serves picks one (`TradingModel` sets `bar_clock` from its own `bar_clocked`):

- bar clock (`bar_clock`, the head of a bar-clocked model, one that reads bar columns only): a
  head row is a confirmed bar row, keyed by its close stamp `_bar_close_ts`, never by the wall
  clock, so a kline arriving after the wall-clock close still pairs bar k's signal with the
  return over bar k + 1. The realised return is the next bar row's `ret_h1`, which the feed
  computes as research does (log close differences; the base `_ret` when `ret_h1` is not served).
  The model feeds every bar row it reads, one by one (a gap fill's bars too), and a new shadow's
  warm-up bars as `warm` rows: history only, no adaptation and no position, so the head adapts on
  the newest of them once `support` rows are there instead of after `support` live bars.
- wall clock (tick models, as before): the last decision round inside a wall-clock bar stands for
  that bar's close, its price for the close; the first round of a later bar closes it.
"""

from __future__ import annotations

import math
import re
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from nexusforge.market.mtfa import tf_label
from nexusforge.nexus.bar_feed import BAR_CLOSE_TS
from nexusforge.strategy.artifact import Challenger
from nexusforge.strategy.head import MetaHead, Window, adapt_np, apply_np, from_json, to_json

NS_PER_S = 1_000_000_000
_SERIES = re.compile(r"^[^:]+:[^:]+:(\d+)s$")
NEXT_RETURN = "ret_h1"  # the bar row's log(close_t) - log(close_{t-1}), as research's returns
CLOCKS = {"bar": True, "wall": False}  # the saved form of `LiveHead.bar_clock`


@dataclass(frozen=True, slots=True)
class _Row:
    signal: float
    features: tuple[float, ...]
    price: float


@dataclass
class LiveHead:
    """One model's head on a bar clock; `on_round` gives the position to hold (NaN: hold)."""

    head: MetaHead
    bar_ns: int
    clock_ns: Callable[[], int] = time.time_ns
    bar_clock: bool = False  # follow the model's confirmed bar rows (set by the model: `follow`)
    adaptations: int = 0
    # The support rows (signal, features, realised returns) of the latest adaptation.
    sample: Window | None = field(default=None, init=False, repr=False)
    _rows: deque[_Row] = field(init=False, repr=False)
    _returns: deque[float] = field(init=False, repr=False)
    _open: tuple[int, _Row] | None = field(default=None, init=False, repr=False)
    _stamp: float = field(default=-math.inf, init=False, repr=False)  # bar clock: last bar read
    _closed: int = field(default=0, init=False, repr=False)  # rows closed since the last break
    _due: int = field(default=0, init=False, repr=False)  # the row index of the next adaptation
    _adapted: MetaHead | None = field(default=None, init=False, repr=False)
    _position: float = field(default=math.nan, init=False, repr=False)
    _base_return: str = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if self.bar_ns <= 0:
            raise ValueError(f"bar length must be > 0 ns, got {self.bar_ns}")
        self._rows = deque(maxlen=self.head.support + 1)
        self._returns = deque(maxlen=self.head.support)
        self._base_return = f"{tf_label(self.bar_ns)}_ret" if self.bar_ns % NS_PER_S == 0 else ""
        self._due = self.head.support

    @property
    def features(self) -> tuple[str, ...]:
        """Regime feature columns the head reads from the engine's rows."""
        return self.head.features

    @property
    def position(self) -> float:
        """The position held in the current bar (NaN before the first bar closed)."""
        return self._position

    def follow(self, bar_clock: bool) -> None:
        """Take the clock of the model this head serves; `ValueError` when the head has already
        read rows on the other clock (its history would mix the two pairings)."""
        if bar_clock == self.bar_clock:
            return
        if self._closed or self._open is not None or self._stamp > -math.inf:
            clock = "bar" if bar_clock else "wall"
            raise ValueError(f"head has read rows on another clock; cannot follow the {clock} one")
        self.bar_clock = bar_clock

    def to_json(self) -> dict[str, Any]:
        """The head document, bar length and clock: what a restart needs (it re-warms from no
        bars; the model it is attached to sets the clock again)."""
        clock = "bar" if self.bar_clock else "wall"
        return {"head": to_json(self.head), "bar_s": self.bar_ns // NS_PER_S, "clock": clock}

    def on_round(self, signal: float, row: Mapping[str, float], price: float) -> float:
        """One decision round: the expression's raw value, the feature row and the price."""
        if self.bar_clock:
            return self.on_bar(signal, row)
        return self.step(self.clock_ns(), signal, row, price)

    def on_bar(self, signal: float, row: Mapping[str, float], warm: bool = False) -> float:
        """Bar clock: a row stamped with a bar close not read before is that bar's head row
        (`signal` is the model's raw value of that bar); any other row holds the position.
        A `warm` row (a bar closed before the model existed) joins the history only."""
        stamp = float(row.get(BAR_CLOSE_TS, math.nan))
        if not stamp > self._stamp:  # the bar already read, or none yet (NaN)
            return self._position
        # Stamps are float ns (a few hundred ns apart from exact): half a bar tells a skip.
        if self._stamp > -math.inf and stamp - self._stamp > 1.5 * self.bar_ns:
            self._break()  # a bar this head never saw (candles missing from the feed)
        self._stamp = stamp
        self._close(self._row(signal, row, math.nan), self._bar_return(row), warm)
        return self._position

    def step(self, ts_ns: int, signal: float, row: Mapping[str, float], price: float) -> float:
        """Wall clock: `on_round` at an explicit time (ns)."""
        k = ts_ns // self.bar_ns
        now = self._row(signal, row, price)
        if self._open is not None and k < self._open[0]:
            raise ValueError(f"round at {ts_ns} ns is in an earlier bar than the last one")
        if self._open is not None and k > self._open[0]:
            if k > self._open[0] + 1:  # a bar without any round: the row sequence breaks
                self._break()
            closing = self._open[1]
            self._close(closing, self._price_return(closing.price))
        self._open = (k, now)
        return self._position

    def _row(self, signal: float, row: Mapping[str, float], price: float) -> _Row:
        feats = tuple(float(row.get(f, math.nan)) for f in self.features)
        return _Row(float(signal), feats, float(price))

    def _bar_return(self, row: Mapping[str, float]) -> float:
        """log(close) - log(previous close) of the bar row: the previous row's realised return."""
        if NEXT_RETURN in row:
            return float(row[NEXT_RETURN])
        return float(row.get(self._base_return, math.nan))

    def _price_return(self, price: float) -> float:
        if not self._rows:
            return math.nan
        prev = self._rows[-1].price
        ok = prev > 0 and price > 0 and math.isfinite(prev) and math.isfinite(price)
        return math.log(price / prev) if ok else math.nan

    def _break(self) -> None:
        self._rows.clear()
        self._returns.clear()
        self._closed = 0
        self._due = self.head.support
        self._adapted = None

    def _close(self, r: _Row, realised: float, warm: bool = False) -> None:
        """Close row `r`; `realised` is the return of the row before it (over r's bar). Row
        `support` adapts, then every `query` rows (the first row after warm rows, once due)."""
        if self._rows:
            self._returns.append(realised)
        self._rows.append(r)
        t = self._closed
        self._closed += 1
        if warm:
            return
        if t >= self._due:
            self.sample = self._support_window()
            self._adapted = adapt_np(self.head, self.sample)
            self.adaptations += 1
            self._due = t + max(self.head.query, 1)
        h = self._adapted if self._adapted is not None else self.head
        pos = apply_np(h, np.array([r.signal]), np.array([r.features], dtype=np.float64))
        self._position = float(pos[0])

    def _support_window(self) -> Window:
        """The `support` rows before the one just closed, with their realised returns."""
        rows = list(self._rows)[-self.head.support - 1 : -1]
        return Window(
            np.array([x.signal for x in rows], dtype=np.float64),
            np.array([x.features for x in rows], dtype=np.float64).reshape(
                len(rows), len(self.features)
            ),
            np.array(list(self._returns), dtype=np.float64),
        )


def bar_seconds(data: Mapping[str, Any]) -> int:
    """The bar length of a challenger's series ("venue:symbol:<seconds>s")."""
    m = _SERIES.match(str(data.get("series", "")))
    if m is None or int(m.group(1)) <= 0:
        raise ValueError(f"challenger data.series {data.get('series')!r} names no bar length")
    return int(m.group(1))


def head_from_json(doc: Mapping[str, Any], clock_ns: Callable[[], int] = time.time_ns) -> LiveHead:
    """A head saved by `LiveHead.to_json` (e.g. with a promotion); `ValueError` when malformed.
    The saved clock (absent in older saves) is checked and kept, but the model the head is
    attached to decides: `TradingModel` makes the head follow its own clock."""
    bar_s = doc.get("bar_s")
    if not isinstance(bar_s, int) or isinstance(bar_s, bool) or not 0 < bar_s <= 31 * 86_400:
        raise ValueError(f"saved head bar_s must be a whole number of seconds, got {bar_s!r}")
    head = doc.get("head")
    if not isinstance(head, Mapping):
        raise ValueError("saved head has no head document")
    meta = from_json(head)
    clock = doc.get("clock")
    if clock is not None and clock not in CLOCKS:
        raise ValueError(f"saved head clock must be one of {sorted(CLOCKS)}, got {clock!r}")
    bar_clock = clock is not None and CLOCKS[clock]
    return LiveHead(meta, bar_s * NS_PER_S, clock_ns, bar_clock)


def live_head(ch: Challenger, clock_ns: Callable[[], int] = time.time_ns) -> LiveHead | None:
    """The challenger's head on its series' bar length (None without a head; its clock is set
    by the model it joins); a malformed head or series is a `ValueError`."""
    if ch.head is None:
        return None
    return LiveHead(from_json(ch.head), bar_seconds(ch.data) * NS_PER_S, clock_ns)
