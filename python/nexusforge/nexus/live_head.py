"""A challenger's MAML head in the live engine: the expression's signal and regime features to a
position, re-adapted on the latest realised bars exactly as Forge's walk-forward did.

NumPy only, no torch and no onnxruntime: the head ships inside the challenger as JSON numbers
(`forge/evolve/meta_head.py`, schema 1), and that module holds the forward pass and the exact
loss gradient that training's walk-forward used. An ONNX graph would give the forward pass
only; live adaptation needs gradient steps, and the head is tiny (one tanh layer of at most 256
units and a linear skip), so `steps` full-batch steps on `support` rows take well under a
millisecond in NumPy — same numbers as in research, one code path.

Bar clock (the head was trained on research-table rows, one per bar of the challenger's series,
`data.series` = "venue:symbol:<interval>s"): the last decision round inside a bar stands for
that bar's close. When the first round of a later bar arrives, the previous bar's row (signal,
features, price) is closed, the row before it gets its realised return log(P_t / P_{t-1}), and
the position for the bar now starting is decided from the closed row and held until the next
bar. Every `query` closed rows, once `support` rows have realised returns, the head is adapted
afresh from its meta weights on those rows (`meta_tasks.walk_forward`, row for row); before the
first full support window the meta weights are used unadapted. A bar with no decision round
(the engine was away) breaks the row sequence: the history restarts, as the research table keeps
only gap-free stretches.
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

from nexusforge.strategy.artifact import Challenger
from nexusforge.strategy.head import MetaHead, Window, adapt_np, apply_np, from_json, to_json

NS_PER_S = 1_000_000_000
_SERIES = re.compile(r"^[^:]+:[^:]+:(\d+)s$")


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
    adaptations: int = 0
    _rows: deque[_Row] = field(init=False, repr=False)
    _returns: deque[float] = field(init=False, repr=False)
    _open: tuple[int, _Row] | None = field(default=None, init=False, repr=False)
    _closed: int = field(default=0, init=False, repr=False)  # rows closed since the last break
    _adapted: MetaHead | None = field(default=None, init=False, repr=False)
    _position: float = field(default=math.nan, init=False, repr=False)

    def __post_init__(self) -> None:
        if self.bar_ns <= 0:
            raise ValueError(f"bar length must be > 0 ns, got {self.bar_ns}")
        self._rows = deque(maxlen=self.head.support + 1)
        self._returns = deque(maxlen=self.head.support)

    @property
    def features(self) -> tuple[str, ...]:
        """Regime feature columns the head reads from the engine's rows."""
        return self.head.features

    @property
    def position(self) -> float:
        """The position held in the current bar (NaN before the first bar closed)."""
        return self._position

    def to_json(self) -> dict[str, Any]:
        """The head document and bar length: what a restart needs (it re-warms from no bars)."""
        return {"head": to_json(self.head), "bar_s": self.bar_ns // NS_PER_S}

    def on_round(self, signal: float, row: Mapping[str, float], price: float) -> float:
        """One decision round: the expression's raw value, the feature row and the price."""
        return self.step(self.clock_ns(), signal, row, price)

    def step(self, ts_ns: int, signal: float, row: Mapping[str, float], price: float) -> float:
        """`on_round` at an explicit time (ns)."""
        k = ts_ns // self.bar_ns
        now = _Row(float(signal), tuple(float(row.get(f, math.nan)) for f in self.features),
                   float(price))  # fmt: skip
        if self._open is not None and k < self._open[0]:
            raise ValueError(f"round at {ts_ns} ns is in an earlier bar than the last one")
        if self._open is not None and k > self._open[0]:
            if k > self._open[0] + 1:  # a bar without any round: the row sequence breaks
                self._break()
            self._close(self._open[1])
        self._open = (k, now)
        return self._position

    def _break(self) -> None:
        self._rows.clear()
        self._returns.clear()
        self._closed = 0
        self._adapted = None

    def _close(self, r: _Row) -> None:
        if self._rows:
            prev = self._rows[-1].price
            ok = prev > 0 and r.price > 0 and math.isfinite(prev) and math.isfinite(r.price)
            self._returns.append(math.log(r.price / prev) if ok else math.nan)
        self._rows.append(r)
        t, s = self._closed, self.head.support
        self._closed += 1
        if t >= s and (t - s) % max(self.head.query, 1) == 0:
            self._adapted = adapt_np(self.head, self._support_window())
            self.adaptations += 1
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
    """A head saved by `LiveHead.to_json` (e.g. with a promotion); `ValueError` when malformed."""
    bar_s = doc.get("bar_s")
    if not isinstance(bar_s, int) or isinstance(bar_s, bool) or not 0 < bar_s <= 31 * 86_400:
        raise ValueError(f"saved head bar_s must be a whole number of seconds, got {bar_s!r}")
    head = doc.get("head")
    if not isinstance(head, Mapping):
        raise ValueError("saved head has no head document")
    return LiveHead(from_json(head), bar_s * NS_PER_S, clock_ns)


def live_head(ch: Challenger, clock_ns: Callable[[], int] = time.time_ns) -> LiveHead | None:
    """The challenger's head on its series' bar clock (None without a head); a malformed head
    or series is a `ValueError` saying what."""
    if ch.head is None:
        return None
    return LiveHead(from_json(ch.head), bar_seconds(ch.data) * NS_PER_S, clock_ns)
