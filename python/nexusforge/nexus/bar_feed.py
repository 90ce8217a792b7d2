"""Live bar and MTFA features from the venue's closed candles, under the research table's names.

Research (`forge.evolve.table.load_research_table`) computes the features over the venue's
kline history; live computes them from the same venue's kline topic, closed candles only
(`confirm: true`), through the streaming twin of that code (`market.mtfa.MtfaStream`), so both
see the same numbers (tests/nexus/test_live_bar_features.py checks them bit for bit on the
recorded candles). A bar row is stamped by its close and exists only once the venue has closed
the bar: an open candle never reaches a feature. Before enough bars, features are NaN.

A model reading only bar columns is bar-clocked (`TradingModel`): its strategy sees one row per
closed bar, as in research, and holds its value between bars. Rows carry two clock keys no
strategy may read: `_bar_close_ts` (close of the latest bar, ns; NaN before any) and `_bar_row`
(1.0 on the row a bar close emits, which tick-clocked models skip).
"""

from __future__ import annotations

import logging
import math
import re
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal

import numpy as np

from nexusforge.errors import ConfigError
from nexusforge.market.mtfa import HIGHER_TIMEFRAMES_S, NS_PER_S, Bar, MtfaConfig, MtfaStream

log = logging.getLogger(__name__)
TURNOVER_KINDS = ("estimated", "recorded")  # how VWAP's turnover is had (`BarSpec`)
KEPT_CANDLES = 10_000  # the newest candles a feed keeps (35 days of 5 m bars)
NAN = math.nan
BAR_CLOSE_TS = "_bar_close_ts"
BAR_ROW = "_bar_row"
CLOCK_KEYS = frozenset({BAR_CLOSE_TS, BAR_ROW})
THIRD = 1.0 / 3.0  # polars computes the research store's `/ 3.0` as `* (1 / 3.0)`
# Bar lengths Bybit serves as klines, in seconds, and the topic's interval name.
KLINE_INTERVALS = {60 * m: str(m) for m in (1, 3, 5, 15, 30, 60, 120, 240, 360, 720)} | {
    86_400: "D"
}
_BAR_COLUMN = re.compile(
    r"^(?:[smhd]\d+_(?:ret|clv|rv|vol_z|range_close|vwap_dev_bps|vmd_(?:mode|freq)\d+)|ret_h\d+)$"
)


def is_bar_column(name: str) -> bool:
    """True for a research-table column (`m5_ret`, `h1_vol_z`, `ret_h1`, ...)."""
    return _BAR_COLUMN.match(name) is not None


def mixes_clocks(columns: Iterable[str]) -> bool:
    """True when the columns mix bar features with tick (book/trade) features: no research
    table defines such a strategy (bar features per bar, event features per tick)."""
    kinds = {is_bar_column(c) for c in columns}
    return len(kinds) == 2


@dataclass(frozen=True, slots=True)
class BarSpec:
    """Base bar length, the past-return horizons (`ret_h{h}`) and the rolling bar window."""

    interval_s: int = 300
    horizons: tuple[int, ...] = (1,)
    n_bars: int = 20
    # VWAP's turnover: "estimated" = volume x typical price, what research has from candle files
    # without it (Bybit's); "recorded" = the kline's own (research from files that carry it).
    turnover: str = "estimated"

    def __post_init__(self) -> None:
        if self.interval_s not in KLINE_INTERVALS:
            raise ConfigError(
                f"bar interval {self.interval_s} s is not a Bybit kline interval "
                f"({sorted(KLINE_INTERVALS)})"
            )
        if not self.horizons or any(not 1 <= h <= 1000 for h in self.horizons):
            raise ConfigError(f"bar horizons must be in 1..1000, got {self.horizons}")
        if self.turnover not in TURNOVER_KINDS:
            raise ConfigError(f"bar turnover must be in {TURNOVER_KINDS}, got {self.turnover!r}")

    @property
    def interval(self) -> str:
        """Bybit's name of the interval (`5`, `60`, `D`)."""
        return KLINE_INTERVALS[self.interval_s]

    def topic(self, symbol: str) -> str:
        """The public kline topic of `symbol` at this interval."""
        return f"kline.{self.interval}.{symbol}"

    def mtfa(self) -> MtfaConfig:
        """The MTFA of the research table at this base (higher timeframes above the base)."""
        higher = tuple(tf * NS_PER_S for tf in HIGHER_TIMEFRAMES_S if tf > self.interval_s)
        return MtfaConfig(self.interval_s * NS_PER_S, higher, self.n_bars)

    def columns(self) -> list[str]:
        """Feature columns a bar row holds, in research-table order."""
        return [*self.mtfa().columns()[1:], *(f"ret_h{h}" for h in self.horizons)]


@dataclass(frozen=True, slots=True)
class Candle:
    """One closed candle, as numbers (turnover None: estimated as volume x typical price)."""

    start_ms: int
    open: float
    high: float
    low: float
    close: float
    volume: float
    turnover: float | None


def candle_of(
    start_ms: int,
    o: Decimal | str,
    h: Decimal | str,
    lo: Decimal | str,
    c: Decimal | str,
    v: Decimal | str,
    turnover: Decimal | str | None,
) -> Candle:
    """A candle from the venue's decimal strings (float() rounds each correctly, as the
    research store's parser does)."""
    to = None if turnover is None else float(turnover)
    return Candle(start_ms, float(o), float(h), float(lo), float(c), float(v), to)


@dataclass(slots=True)
class BarStats:
    """Counters of the bar path."""

    bars: int = 0
    duplicates: int = 0  # a candle at or before the last bar (a re-sent close, a replayed seed)
    gaps: int = 0  # bars that followed a missing interval (features then span the gap)
    bad: int = 0  # candles refused (non-finite or non-positive prices, wrong interval)


class BarFeed:
    """Closed candles in, one bar row out per bar; `values` holds the latest bar's features."""

    def __init__(self, spec: BarSpec) -> None:
        self.spec = spec
        self.stats = BarStats()
        self._mtfa = MtfaStream(spec.mtfa())
        self._names = spec.columns()
        self._logs: deque[float] = deque(maxlen=max(spec.horizons) + 1)
        self._last_start: int | None = None
        self._step_ms = spec.interval_s * 1000
        self.values: dict[str, float] = dict.fromkeys(self._names, NAN)
        self.values[BAR_CLOSE_TS] = NAN
        # The candles that made bars, newest last: a fresh feed replays them to rebuild rows.
        self.candles: deque[Candle] = deque(maxlen=KEPT_CANDLES)

    @property
    def columns(self) -> list[str]:
        """Feature columns of a bar row."""
        return list(self._names)

    def missing_before(self, candles: Sequence[Candle]) -> tuple[int, int] | None:
        """The starts (first, last, ms) of the candles missing between the last bar and the
        first new one of `candles`, or None when they follow on (or nothing came before)."""
        new = [
            c.start_ms for c in candles if self._last_start is None or c.start_ms > self._last_start
        ]
        if self._last_start is None or not new or min(new) <= self._last_start + self._step_ms:
            return None
        return self._last_start + self._step_ms, min(new) - self._step_ms

    def on_candles(self, candles: Sequence[Candle]) -> list[dict[str, float]]:
        """Closed candles (any order, duplicates allowed); a row per new bar, oldest first."""
        rows = []
        for c in sorted(candles, key=lambda k: k.start_ms):
            row = self.on_candle(c)
            if row is not None:
                rows.append(row)
        return rows

    def on_candle(self, c: Candle) -> dict[str, float] | None:
        """One closed candle; its bar row (None when it is not newer than the last bar or bad)."""
        if self._last_start is not None and c.start_ms <= self._last_start:
            self.stats.duplicates += 1
            return None
        problem = self._problem(c)
        if problem is not None:
            self.stats.bad += 1
            log.warning("candle at %d skipped: %s", c.start_ms, problem)
            return None
        if self._last_start is not None and c.start_ms > self._last_start + self._step_ms:
            self.stats.gaps += 1
            log.warning("bars: %d ms without a candle before %d", c.start_ms - self._last_start
                        - self._step_ms, c.start_ms)  # fmt: skip
        self._last_start = c.start_ms
        self.candles.append(c)
        open_ns = c.start_ms * 1_000_000
        turnover = c.turnover if self.spec.turnover == "recorded" else None
        if turnover is None:  # the research store's estimate (batch_mtfa.bars_from_candles)
            turnover = c.volume * ((c.high + c.low + c.close) * THIRD)
        bar = Bar(open_ns, open_ns + self._step_ms * 1_000_000, c.open, c.high, c.low, c.close,
                  c.volume, turnover, 0, NAN)  # fmt: skip
        row = self._mtfa.on_bar(bar)
        close_ts = row.pop("close_ts")
        values: dict[str, float] = {k: float(v) for k, v in row.items()}
        values.update(self._past_returns(c.close))
        values[BAR_CLOSE_TS] = float(close_ts)
        self.values = values
        self.stats.bars += 1
        return values | {BAR_ROW: 1.0}

    def _past_returns(self, close: float) -> dict[str, float]:
        """`ret_h{h}` = log(close_t) - log(close_{t-h}), with numpy's log as `from_bars` uses."""
        self._logs.append(float(np.log(np.float64(close))))
        n = len(self._logs)
        return {f"ret_h{h}": self._logs[-1] - self._logs[-1 - h] if n > h else NAN
                for h in self.spec.horizons}  # fmt: skip

    def _problem(self, c: Candle) -> str | None:
        prices = (c.open, c.high, c.low, c.close)
        if not all(math.isfinite(p) and p > 0 for p in prices):
            return f"prices must be finite and positive, got {prices}"
        if not (math.isfinite(c.volume) and c.volume >= 0):
            return f"volume must be finite and >= 0, got {c.volume}"
        t = c.turnover
        if t is not None and not (math.isfinite(t) and (t > 0 or (t == 0 and c.volume == 0))):
            return f"turnover must be finite and > 0 with volume {c.volume}, got {t}"
        if c.start_ms % self._step_ms:
            return f"start {c.start_ms} is not on the {self.spec.interval_s} s grid"
        return None
