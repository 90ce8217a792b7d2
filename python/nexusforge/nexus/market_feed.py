"""Public market data -> the Rust L2 book -> streaming event features, one message at a time.

The venue client (`BybitPublicWs`) already enforces Bybit's book rules (snapshot first, `u`
continuity, resubscribe on a gap); each update it passes is re-encoded as a v5 frame and applied
by the Rust book, which checks them again (a crossed or gapped book makes it invalid, so the
features turn NaN and the models hold). Event clock: our receive time in ns, kept non-decreasing
(the feature windows need a monotonic clock; the wall clock can step back).

With a `BarSpec`, the venue's closed klines also feed the research table's bar and MTFA
features (`bar_feed.py`): every row carries the latest closed bar's values (NaN during
warm-up), and each bar close emits a bar row of its own. They update once per bar, not per tick.

The feed keeps the newest closed bar rows (`recent_bars`) for models that start later (a new
shadow reads them before trading) and seeds that many from REST on start. The depth covers the
features' warm-up, the models' look-backs and their MAML heads' support rows (`bars_wanted`,
the default head's at least); it only grows: the engine raises it for the models it starts
with, and each model warmed up raises it for those like it (a restart seeds that much).
Deeper, it keeps the candles behind the rows (up to `MAX_RECENT_BARS`, a REST page at least
from the seed): a model wanting more bars than the rows kept reads rows rebuilt from them.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal

import msgspec

from nexusforge.errors import ConfigError, NexusForgeError
from nexusforge.market.book import OrderBook
from nexusforge.market.features import FeatureConfig, FeatureStream
from nexusforge.market.instruments import Instrument
from nexusforge.nexus.bar_feed import (
    KEPT_CANDLES,
    BarFeed,
    BarSpec,
    Candle,
    candle_of,
    mixes_clocks,
)
from nexusforge.nexus.model import TradingModel
from nexusforge.nexus.venues.bybit import (
    BookUpdate,
    BybitRestClient,
    KlineUpdate,
    TradeBatch,
)
from nexusforge.nexus.venues.bybit.models import BybitKline
from nexusforge.strategy.expr import warmup
from nexusforge.strategy.head import DEFAULT_SUPPORT

log = logging.getLogger(__name__)
SEED_PAGE = 1000  # GET /v5/market/kline's largest page
# Bars kept at most (~2 KB a row), as deep as the candles: a head wanting more adapts live later.
MAX_RECENT_BARS = KEPT_CANDLES
SIDES = {"Buy": 1, "Sell": -1}
_ENCODER = msgspec.json.Encoder()


@dataclass(slots=True)
class FeedStats:
    """Counters of the market-data path."""

    book_messages: int = 0
    trades: int = 0
    malformed: int = 0
    bad_trades: int = 0
    gap_fills: int = 0  # kline gaps fetched from REST (a reconnect loses closed candles)


class MarketFeed:
    """Book and features of one symbol; `mid` and the latest feature row for the engine."""

    def __init__(
        self,
        instrument: Instrument,
        features: FeatureConfig | None = None,
        bars: BarSpec | None = None,
    ) -> None:
        self.instrument = instrument
        self.cfg = features or FeatureConfig(tick_size=float(instrument.tick_size))
        self.book = OrderBook(float(instrument.tick_size))
        self.stream = FeatureStream(self.cfg)
        self.bars = BarFeed(bars) if bars is not None else None
        self.stats = FeedStats()
        self.row: dict[str, float] = {}
        self._clock = 0
        self._gap: tuple[int, int] | None = None  # candle starts missed, being fetched
        self._gap_asked = False
        self._waiting: list[Candle] = []  # closed candles that arrived after the gap
        keep = bars_wanted(bars, ()) if bars is not None else 0
        self.recent_bars: deque[dict[str, float]] = deque(maxlen=keep)  # for new models

    @property
    def recent_candles(self) -> Sequence[Candle]:
        """The candles behind the rows, deeper: a later model that wants more bars than are
        kept reads rows rebuilt from them (`history`)."""
        return self.bars.candles if self.bars is not None else ()

    @property
    def depth(self) -> int:
        """Closed bar rows kept for new models and seeded from REST on start."""
        return self.recent_bars.maxlen or 0

    def want_bars(self, n: int) -> int:
        """Keep at least `n` closed bars from now on (never fewer than before, at most
        `MAX_RECENT_BARS`); the depth now. No bars, no depth."""
        if self.bars is None:
            return 0
        if n > MAX_RECENT_BARS:
            log.warning("bars: %d closed bars wanted, %d kept at most", n, MAX_RECENT_BARS)
        keep = min(n, MAX_RECENT_BARS)
        if keep > self.depth:
            self.recent_bars = deque(self.recent_bars, maxlen=keep)
        return self.depth

    def want_bars_for(self, models: Iterable[TradingModel]) -> int:
        """`want_bars` for these models (`bars_wanted`); the depth now."""
        if self.bars is None:
            return 0
        return self.want_bars(bars_wanted(self.bars.spec, models))

    @property
    def columns(self) -> frozenset[str]:
        """Feature columns a strategy may read from this feed's rows."""
        bars = self.bars.columns if self.bars is not None else []
        return frozenset([*self.cfg.feature_names(), *bars])

    def topics(self) -> list[str]:
        """Public topics the feed needs besides book and trades (the kline topic, if bars on)."""
        return [self.bars.spec.topic(self.instrument.symbol)] if self.bars is not None else []

    def check_models(self, models: Iterable[TradingModel]) -> None:
        """ConfigError naming a model whose strategy reads columns this feed does not make, or
        mixes bar features with tick features (no research table has both)."""
        have = self.columns
        for m in models:
            missing = sorted(set(m.columns) - have)
            if missing:
                hint = " (bar features need engine.bar_interval_s)" if self.bars is None else ""
                raise ConfigError(f"model {m.name}: reads columns the feed lacks {missing}{hint}")
            if mixes_clocks(m.columns):
                raise ConfigError(f"model {m.name}: mixes bar features with tick features")

    async def seed_bars(self, rest: BybitRestClient) -> list[dict[str, float]]:
        """Warm the bar features from GET /v5/market/kline (`depth` closed bars, paged); their
        bar rows, oldest first. A restart trades on warm features and its heads adapt at once.
        A venue with fewer bars (a new listing, the local exchange) seeds what it has: features
        and heads then warm up on live bars."""
        if self.bars is None:
            return []
        spec, symbol = self.bars.spec, self.instrument.symbol
        # The newest candle is still open. At least a page: the same one request, and later
        # models that want more bars than the depth get them from the kept candles.
        want = max(self.depth, SEED_PAGE - 1) + 1
        got: list[BybitKline] = []
        end: int | None = None
        while len(got) < want:
            page = await rest.klines(symbol, spec.interval, end_ms=end, limit=SEED_PAGE)
            older = [k for k in page if end is None or k.start_ms <= end]
            if not older:
                break
            got = older + got
            end = older[0].start_ms - 1
            if len(page) < SEED_PAGE:
                break
        rows = self.seed(got, rest.time.now_ms())
        if len(rows) < self.depth:
            log.info("bars: the venue has %d closed bars of the %d wanted; the rest warm live",
                     len(rows), self.depth)  # fmt: skip
        return rows

    def on_kline(self, update: KlineUpdate) -> list[dict[str, float]]:
        """Closed candles of our kline topic -> one bar row each (open candles are ignored)."""
        if self.bars is None or update.topic != self.bars.spec.topic(self.instrument.symbol):
            return []
        closed = [c for c in update.candles if c.confirm]
        if any(c.interval != self.bars.spec.interval for c in closed):
            self.stats.malformed += 1
            log.warning("kline message %s has a candle of another interval", update.topic)
            return []
        candles = [candle_of(c.start, c.open, c.high, c.low, c.close, c.volume, c.turnover)
                   for c in closed]  # fmt: skip
        if self._gap is None:
            self._gap = self.bars.missing_before(candles)
            if self._gap is None:
                return self._bar_rows(candles)
            log.warning("bars: candles %d..%d missed (a reconnect?); fetching them", *self._gap)
        self._waiting += candles  # in order behind the missing ones (`fill_gap`)
        return []

    def gap_to_fill(self) -> tuple[int, int] | None:
        """Once per gap: the candle starts a `fill_gap` must fetch (None: none, or asked)."""
        if self._gap is None or self._gap_asked:
            return None
        self._gap_asked = True
        return self._gap

    async def fill_gap(self, rest: BybitRestClient) -> list[dict[str, float]]:
        """The missed closed candles from GET /v5/market/kline, then those that waited behind
        them: their bar rows, oldest first. A venue without them (a halt, an empty interval on
        the local exchange) or a REST failure leaves the gap: features then span it, as the
        research table does over a gap in the candle history."""
        assert self.bars is not None and self._gap is not None
        first, last = self._gap
        spec = self.bars.spec
        try:
            got = await rest.klines(self.instrument.symbol, spec.interval, start_ms=first,
                                    end_ms=last, limit=SEED_PAGE)  # fmt: skip
        except NexusForgeError as exc:  # venue or data error: the bars go on, gap and all
            log.warning("bars: the missed candles could not be fetched (%s); gap kept", exc)
            got = []
        missed = [candle_of(k.start_ms, k.open, k.high, k.low, k.close, k.volume, k.turnover)
                  for k in got if first <= k.start_ms <= last]  # fmt: skip
        waiting, self._waiting, self._gap, self._gap_asked = self._waiting, [], None, False
        self.stats.gap_fills += 1
        return self._bar_rows(missed + waiting)

    def seed(self, klines: list[BybitKline], server_now_ms: int) -> list[dict[str, float]]:
        """History from GET /v5/market/kline: the candles closed by `server_now_ms` (the newest
        one is still open, and an open candle never reaches a feature)."""
        if self.bars is None:
            return []
        step = self.bars.spec.interval_s * 1000
        closed = [k for k in klines if k.start_ms + step <= server_now_ms]
        return self._bar_rows([candle_of(k.start_ms, k.open, k.high, k.low, k.close, k.volume,
                                         k.turnover) for k in closed])  # fmt: skip

    def warm_up(self, models: Iterable[TradingModel]) -> None:
        """New bar-clocked models read the recent closed bars (see `TradingModel.warm_up`); each
        one raises the depth to what it wants, so the next like it (or a restart) warms fully."""
        for m in models:
            if not m.awaits_bars:
                continue
            n = m.warm_up(self.history(model_bars(self.bars.spec, m) if self.bars else 0))
            if not n:
                continue
            log.info("model %s warmed up on %d closed bars", m.name, n)
            self.want_bars_for([m])
            own = model_bars(self.bars.spec, m) if self.bars is not None else 0
            if n < own:
                log.warning("model %s wants %d closed bars, %d were kept: its windows or head "
                            "warm up on live bars", m.name, own, n)  # fmt: skip

    def history(self, bars: int) -> Sequence[dict[str, float]]:
        """At least the newest `bars` closed bar rows where the kept candles reach: the kept
        rows, or, when more are wanted, rows rebuilt from the kept candles by a fresh `BarFeed`
        (`bars` counts the features' warm-up, after which they equal the live rows)."""
        if self.bars is None or bars <= len(self.recent_bars):
            return self.recent_bars
        if len(self.recent_candles) <= len(self.recent_bars):
            return self.recent_bars
        candles = list(self.recent_candles)[-bars:]
        log.info("bars: %d closed bars rebuilt from kept candles (%d rows kept)", len(candles),
                 len(self.recent_bars))  # fmt: skip
        return BarFeed(self.bars.spec).on_candles(candles)

    def _bar_rows(self, candles: list[Candle]) -> list[dict[str, float]]:
        assert self.bars is not None
        rows = self.bars.on_candles(candles)
        self.recent_bars.extend(rows)
        if rows:  # bar rows carry the event features of the moment as well (all columns)
            event = {k: v for k, v in self.row.items() if k not in self.bars.values}
            rows = [event | r for r in rows] if event else rows
            self.row = {**self.row, **self.bars.values}
        return rows

    def _with_bars(self, row: dict[str, float]) -> dict[str, float]:
        if self.bars is not None:
            row.update(self.bars.values)
        return row

    def now_ns(self) -> int:
        """The event clock: wall time in ns, never going back."""
        self._clock = max(self._clock, time.time_ns())
        return self._clock

    def on_book(self, update: BookUpdate) -> dict[str, float]:
        """Applies one book update and returns its feature row."""
        self.stats.book_messages += 1
        frame = _ENCODER.encode(
            {
                "topic": update.topic,
                "type": "snapshot" if update.snapshot else "delta",
                "ts": update.ts_ms,
                "data": {
                    "s": update.symbol,
                    "b": update.bids,
                    "a": update.asks,
                    "u": update.update_id,
                    "seq": update.seq,
                },
            }
        )
        self.stats.malformed += self.book.apply_json([frame], "bybit")
        d = self.cfg.max_depth
        bids, asks = self.book.depth(d)
        self.row = self._with_bars(self.stream.on_book(
            self.now_ns(),
            self.book.is_valid,
            bids[:, 0],
            bids[:, 1],
            asks[:, 0],
            asks[:, 1],
        ))  # fmt: skip
        return self.row

    def on_trades(self, batch: TradeBatch) -> list[dict[str, float]]:
        """Feeds each public trade of one message; one feature row per trade."""
        rows = []
        for t in batch.trades:
            side = SIDES.get(t.S)
            if side is None or t.v < 0:
                self.stats.bad_trades += 1
                log.warning("public trade %s skipped: side %r qty %s", t.i, t.S, t.v)
                continue
            self.stats.trades += 1
            self.row = self._with_bars(
                self.stream.on_trade(self.now_ns(), float(t.p), float(t.v), side)
            )
            rows.append(self.row)
        return rows

    def mid(self) -> Decimal | None:
        """The book's mid on the tick grid, or None while the book is invalid or one-sided."""
        if not self.book.is_valid:
            return None
        m = self.book.mid()
        if m is None or not m > 0:
            return None
        return self.instrument.round_price(Decimal(repr(m)))


def seed_bars_needed(spec: BarSpec) -> int:
    """Base bars that warm every feature: n_bars + 1 bars of the slowest timeframe (rv needs
    n returns), one more for its partial first bar, and the longest past-return horizon."""
    cfg = spec.mtfa()
    slowest = max((cfg.base_ns, *cfg.timeframes_ns)) // cfg.base_ns
    return (spec.n_bars + 2) * slowest + max(spec.horizons)


def bars_wanted(spec: BarSpec, models: Iterable[TradingModel]) -> int:
    """Closed bars after which a bar-clocked model matches research from its next bar: the
    features' warm-up, then its strategy's look-backs and its head's `support` rows on warm
    values (the newest bar adapts the head). At least what Forge's default head wants."""
    default = seed_bars_needed(spec) + DEFAULT_SUPPORT  # Forge's default head (`MetaConfig`)
    return max([default, *(model_bars(spec, m) for m in models)])


def model_bars(spec: BarSpec, model: TradingModel) -> int:
    """Closed bars one model needs (0 for a tick model: it reads no bar rows)."""
    if not model.bar_clocked:
        return 0
    support = model.head.head.support if model.head is not None else 0
    return seed_bars_needed(spec) + warmup(model.strategy) + support
