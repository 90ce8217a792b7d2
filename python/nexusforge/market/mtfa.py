"""Multi-timeframe bars, bar features and backward-only alignment, one bar at a time (streaming).

Bars cover [open_ts, open_ts + every) and are stamped by their CLOSE time `close_ts` when used as
features; a bar is complete only once its interval has ended. Bar features (n = `n_bars`):
    ret          log(close / previous close)
    clv          ((close − low) − (high − close)) / (high − low), NaN when high == low
    rv           sqrt(Σ ret² over the last n bars), NaN until n returns exist
    vol_z        (volume − mean) / std of volume over the last n bars (current included, ddof 1)
    range_close  (high − low) / close
    vwap_dev_bps (close − vwap) / vwap · 1e4, vwap = turnover / volume
    vmd_mode{i}, vmd_freq{i}  (only when `MtfaConfig.vmd` is set) trailing-window VMD of log close
                 (`market/vmd.py`) over the last `window` bars of the timeframe, every `stride`
                 bars. Off by default: on 1 m bars it costs about a decomposition per bar.
Bar features count BARS, not time: `bars_from_trades` skips intervals with no trade and gaps
in candle data are not filled, so "the last n bars" may span more than n intervals after a
halt or a quiet spell, and `ret` is then the return across the gap. Sums over bars are
differences of running cumulative sums, as in `batch_mtfa.py`; a higher-timeframe bar's volume
and turnover are Kahan sums in bar order, which is how polars sums a group, so on the same base
bars the two sides agree to the last bit (tests/nexus/test_live_bar_features.py); so does a
division by a constant, written as the product with its reciprocal that polars computes.
Precision: a window sum is off by about ε·|S| (ε = 2.2e-16, S the running sum at the window;
rounding before the window cancels). The worst case is Σ volume² inside vol_z: a year
of 1 m BTC bars has S ≈ 5e11 BTC², an error ≈ 1e-4 BTC² against a window variance term
n·var ≈ 1e6 BTC², so ≈ 1e-10 relative. Both sides round identically, so parity is unaffected.
Alignment: a fast row stamped t sees only higher-timeframe bars with close_ts ≤ t (never a bar
still open). Must never use a bar that closes after the row it feeds.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field

from nexusforge.errors import ConfigError, DataError
from nexusforge.market.vmd import VmdFeatureConfig, VmdStream

NAN = math.nan
NS_PER_S = 1_000_000_000
# The research table's higher timeframes above its base bars (15 m, 1 h), in seconds: Forge's
# backtest (`feature_table`) and the live bar feed (`nexus.bar_feed`) both read this one list.
HIGHER_TIMEFRAMES_S = (15 * 60, 60 * 60)
BAR_FEATURES = ("ret", "clv", "rv", "vol_z", "range_close", "vwap_dev_bps")
SUM_FIELDS = ("volume", "turnover", "trade_count", "buy_volume")


def tf_label(every_ns: int) -> str:
    """Column prefix of a timeframe: `s1`, `m1`, `m15`, `h1`, `d1`."""
    s, rem = divmod(every_ns, NS_PER_S)
    if rem or s <= 0:
        raise ConfigError(f"timeframe must be a whole number of seconds, got {every_ns} ns")
    for unit, size in (("d", 86_400), ("h", 3_600), ("m", 60)):
        if s % size == 0:
            return f"{unit}{s // size}"
    return f"s{s}"


@dataclass(frozen=True, slots=True)
class MtfaConfig:
    """Base timeframe, higher timeframes (ns), the bar window of the rolling features and the
    optional VMD of log close on every timeframe (None: off)."""

    base_ns: int = 60 * NS_PER_S
    timeframes_ns: tuple[int, ...] = tuple(tf * NS_PER_S for tf in HIGHER_TIMEFRAMES_S)
    n_bars: int = 20
    vmd: VmdFeatureConfig | None = None

    def __post_init__(self) -> None:
        if self.n_bars < 2:
            raise ConfigError(f"n_bars must be at least 2, got {self.n_bars}")
        for tf in self.timeframes_ns:
            if tf <= self.base_ns or tf % self.base_ns:
                raise ConfigError(f"timeframe {tf} ns is not a multiple of base {self.base_ns} ns")
        tf_label(self.base_ns)

    def columns(self) -> list[str]:
        """Output columns of an MTFA row, in order."""
        cols = ["close_ts"]
        for tf in (self.base_ns, *self.timeframes_ns):
            cols += [f"{tf_label(tf)}_{f}" for f in self.bar_feature_names()]
        return cols

    def bar_feature_names(self) -> list[str]:
        """Features of one timeframe: `BAR_FEATURES`, then the VMD columns when on."""
        return [*BAR_FEATURES, *(self.vmd.names() if self.vmd is not None else [])]


@dataclass(slots=True)
class Bar:
    """One OHLCV bar; `turnover` is Σ price·qty (or its typical-price estimate for candles)."""

    open_ts: int
    close_ts: int
    open: float
    high: float
    low: float
    close: float
    volume: float
    turnover: float
    trade_count: int
    buy_volume: float

    @property
    def vwap(self) -> float:
        return self.turnover / self.volume if self.volume > 0 else NAN


def _kahan(total: float, comp: float, x: float) -> tuple[float, float]:
    """One step of Kahan summation: the new (sum, compensation)."""
    y = x - comp
    t = total + y
    return t, (t - total) - y


def _merge(agg: Bar, bar: Bar, comp: list[float]) -> None:
    """Fold a later base bar into a running higher-timeframe bar; `comp` holds the Kahan
    compensations of volume, turnover and buy volume."""
    agg.high = max(agg.high, bar.high)
    agg.low = min(agg.low, bar.low)
    agg.close = bar.close
    agg.volume, comp[0] = _kahan(agg.volume, comp[0], bar.volume)
    agg.turnover, comp[1] = _kahan(agg.turnover, comp[1], bar.turnover)
    agg.trade_count = agg.trade_count + bar.trade_count
    agg.buy_volume, comp[2] = _kahan(agg.buy_volume, comp[2], bar.buy_volume)


@dataclass(slots=True)
class BarFeatureStream:
    """Bar features of one timeframe, one complete bar at a time."""

    n_bars: int
    vmd: VmdFeatureConfig | None = None
    _vmd: VmdStream | None = None
    _prev_close: float = NAN
    _cum: tuple[float, float, float] = (0.0, 0.0, 0.0)  # Σ ret², Σ volume, Σ volume²
    _before: deque[tuple[float, float, float]] = field(default_factory=deque)
    _count: int = 0

    def update(self, bar: Bar) -> dict[str, float]:
        """Features of `bar`, which must be the next complete bar of this timeframe."""
        h, lo, c, v = bar.high, bar.low, bar.close, bar.volume
        ret = math.log(c / self._prev_close) if self._count > 0 else NAN
        r2 = ret * ret if self._count > 0 else 0.0
        self._prev_close = c
        before = self._cum
        self._before.append(before)
        if len(self._before) > self.n_bars:
            self._before.popleft()
        self._cum = (before[0] + r2, before[1] + v, before[2] + v * v)
        i, n = self._count, self.n_bars
        self._count += 1
        start = self._before[0]  # cum before bar i − n + 1 once n bars are held
        rv = vol_z = NAN
        if i >= n:
            rv = math.sqrt(max(self._cum[0] - start[0], 0.0))
        if i >= n - 1:
            s1, s2 = self._cum[1] - start[1], self._cum[2] - start[2]
            # Division by a constant as a product with its reciprocal: polars rewrites `x / n`
            # that way in `batch_mtfa`, and the two must agree to the last bit.
            inv_n, inv_n1 = 1.0 / n, 1.0 / (n - 1)
            var = (s2 - s1 * s1 * inv_n) * inv_n1
            if var > 0:
                vol_z = (v - s1 * inv_n) / math.sqrt(var)
        vwap = bar.vwap
        return {
            "ret": ret,
            "clv": ((c - lo) - (h - c)) / (h - lo) if h != lo else NAN,
            "rv": rv,
            "vol_z": vol_z,
            "range_close": (h - lo) / c,
            "vwap_dev_bps": (c - vwap) / vwap * 1e4 if not math.isnan(vwap) else NAN,
        } | self._vmd_values(c)

    def _vmd_values(self, close: float) -> dict[str, float]:
        if self.vmd is None:
            return {}
        if self._vmd is None:
            v = self.vmd
            self._vmd = VmdStream(v.window, v.stride, v.k, v.alpha, v.tol, v.max_iter)
        modes, freqs = self._vmd.update(math.log(close))
        return dict(zip(self.vmd.names(), [*map(float, modes), *map(float, freqs)], strict=True))


class BarBuilder:
    """Trades to bars of one interval; a bar is emitted once a later trade or `flush` closes it."""

    def __init__(self, every_ns: int) -> None:
        if every_ns <= 0:
            raise ConfigError(f"bar interval must be positive, got {every_ns}")
        self.every_ns = every_ns
        self._bar: Bar | None = None

    def on_trade(self, exch_ts: int, price: float, qty: float, side: int) -> Bar | None:
        """Add a trade; returns the previous bar when this trade opens a new one."""
        open_ts = exch_ts - exch_ts % self.every_ns
        done = None
        if self._bar is not None and open_ts != self._bar.open_ts:
            if open_ts < self._bar.open_ts:
                raise DataError(f"trade at {exch_ts} is older than the open bar")
            done, self._bar = self._bar, None
        buy = qty if side == 1 else 0.0
        if self._bar is None:
            self._bar = Bar(
                open_ts, open_ts + self.every_ns, price, price, price, price, 0.0, 0.0, 0, 0.0
            )
        b = self._bar
        b.high, b.low, b.close = max(b.high, price), min(b.low, price), price
        b.volume, b.turnover = b.volume + qty, b.turnover + price * qty
        b.trade_count, b.buy_volume = b.trade_count + 1, b.buy_volume + buy
        return done

    def flush(self, now_ts: int | None = None) -> Bar | None:
        """Emit the open bar if its interval has ended by `now_ts` (always, when None)."""
        if self._bar is None or (now_ts is not None and now_ts < self._bar.close_ts):
            return None
        done, self._bar = self._bar, None
        return done


class _Resampler:
    """Base bars to one higher timeframe; emits a bar only when its interval is over."""

    def __init__(self, every_ns: int) -> None:
        self.every_ns = every_ns
        self._agg: Bar | None = None
        self._comp = [0.0, 0.0, 0.0]

    def on_bar(self, bar: Bar) -> list[Bar]:
        out: list[Bar] = []
        open_ts = bar.open_ts - bar.open_ts % self.every_ns
        if self._agg is not None and self._agg.open_ts != open_ts:
            out.append(self._agg)
            self._agg = None
        if self._agg is None:
            self._agg = Bar(open_ts, open_ts + self.every_ns, bar.open, bar.high, bar.low,
                            bar.close, 0.0, 0.0, 0, 0.0)  # fmt: skip
            self._comp = [0.0, 0.0, 0.0]
        _merge(self._agg, bar, self._comp)
        if bar.close_ts >= self._agg.close_ts:  # the last base bar of the interval: complete
            out.append(self._agg)
            self._agg = None
        return out


class MtfaStream:
    """Base bars in, one MTFA row per base bar out (the same row `mtfa_table` gives)."""

    def __init__(self, cfg: MtfaConfig) -> None:
        self.cfg = cfg
        self._base = BarFeatureStream(cfg.n_bars, cfg.vmd)
        self._tfs = [
            (_Resampler(tf), BarFeatureStream(cfg.n_bars, cfg.vmd)) for tf in cfg.timeframes_ns
        ]
        nan_row = dict.fromkeys(cfg.bar_feature_names(), NAN)
        self._latest = [dict(nan_row) for _ in cfg.timeframes_ns]
        self._last_open: int | None = None

    def on_bar(self, bar: Bar) -> dict[str, float | int]:
        """Add the next complete base bar; returns its row stamped `close_ts`."""
        if bar.close_ts - bar.open_ts != self.cfg.base_ns:
            raise DataError(f"bar at {bar.open_ts} is not a {self.cfg.base_ns} ns base bar")
        if self._last_open is not None and bar.open_ts <= self._last_open:
            raise DataError(f"bar at {bar.open_ts} is not after the previous bar")
        self._last_open = bar.open_ts
        row: dict[str, float | int] = {"close_ts": bar.close_ts}
        base = self._base.update(bar)
        row.update({f"{tf_label(self.cfg.base_ns)}_{k}": v for k, v in base.items()})
        for k, (res, feats) in enumerate(self._tfs):
            for done in res.on_bar(bar):
                self._latest[k] = feats.update(done)
            lab = tf_label(self.cfg.timeframes_ns[k])
            row.update({f"{lab}_{f}": v for f, v in self._latest[k].items()})
        return row
