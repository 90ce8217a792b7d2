"""A recorded market as one time-ordered tape of book messages and trades, per symbol rules.

Recordings are read with the package's readers (`nexusforge.data.readers`), so any format they
know works: Bybit v5 NDJSON (the ob500 archive), the legacy capture, the recorder's output.
Several files play side by side, each shifted to start at offset 0. Instrument rules come from
the config, else they are inferred from the recording (tick from the price grid, lot step from
the decimals of the sizes).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import numpy as np
import numpy.typing as npt
import polars as pl

from nexusforge.data.readers import pick_reader
from nexusforge.data.readers._result import empty_frame
from nexusforge.data.schema import BOOK_EVENTS, TRADES
from nexusforge.errors import ConfigError, DataError
from nexusforge.market.events import FLAG_BEGIN, BookLevelRows
from nexusforge.market.instruments import Instrument, infer_tick_size
from nexusforge.nexus.venues.local.config import InstrumentOverride

BOOK = 0
TRADE = 1


@dataclass(frozen=True, slots=True)
class TapeEvent:
    """One event: `offset_ns` after its file's start; rows [start, end) of its symbol's table."""

    offset_ns: int
    kind: int  # BOOK or TRADE
    symbol: str
    start: int
    end: int


@dataclass(frozen=True)
class SymbolData:
    """All book rows and trades of one symbol, in arrival order."""

    book: BookLevelRows
    trades: pl.DataFrame


@dataclass(frozen=True)
class Tape:
    """The merged events of every recording, and each symbol's data and rules."""

    events: list[TapeEvent]
    symbols: dict[str, SymbolData]
    instruments: dict[str, Instrument]

    @property
    def duration_ns(self) -> int:
        return self.events[-1].offset_ns if self.events else 0


def load_tape(files: tuple[Path, ...], overrides: dict[str, InstrumentOverride]) -> Tape:
    """Read every file into one tape; a file no reader knows is a `ConfigError`."""
    books: dict[str, list[pl.DataFrame]] = {}
    trades: dict[str, list[pl.DataFrame]] = {}
    for path in files:
        book, trade = _read(path)
        start = _start_ns(book, trade)
        for key, frame in book.partition_by("symbol", as_dict=True).items():
            books.setdefault(str(key[0]), []).append(_shift(frame, start))
        for key, frame in trade.partition_by("symbol", as_dict=True).items():
            trades.setdefault(str(key[0]), []).append(_shift(frame, start))
    symbols: dict[str, SymbolData] = {}
    events: list[TapeEvent] = []
    for sym in sorted(set(books) | set(trades)):
        book_frame = _concat(books.get(sym), BOOK_EVENTS)
        trade_frame = _concat(trades.get(sym), TRADES)
        symbols[sym] = SymbolData(BookLevelRows.from_frame(book_frame), trade_frame)
        events.extend(_book_events(sym, book_frame))
        events.extend(_trade_events(sym, trade_frame))
    if not events:
        raise ConfigError(f"no book or trade events in {[str(f) for f in files]}")
    events.sort(key=lambda e: e.offset_ns)
    instruments = {s: _instrument(s, d, overrides.get(s)) for s, d in symbols.items()}
    return Tape(events, symbols, instruments)


def _read(path: Path) -> tuple[pl.DataFrame, pl.DataFrame]:
    if not path.is_file():
        raise ConfigError(f"replay file {path} not found")
    reader = pick_reader(path)
    if reader is None:
        raise ConfigError(f"replay file {path}: no reader knows this format")
    try:
        result = reader.read(path, b"")
    except DataError as exc:
        raise ConfigError(f"replay file {path}: {exc}") from exc
    book = result.frames.get(BOOK_EVENTS)
    trade = result.frames.get(TRADES)
    return (
        book if book is not None else empty_frame(BOOK_EVENTS),
        trade if trade is not None else empty_frame(TRADES),
    )


def _start_ns(book: pl.DataFrame, trade: pl.DataFrame) -> int:
    starts = [int(f["local_ts"].min()) for f in (book, trade) if len(f)]  # type: ignore[arg-type]
    return min(starts) if starts else 0


def _shift(frame: pl.DataFrame, start: int) -> pl.DataFrame:
    return frame.with_columns(offset_ns=pl.col("local_ts") - start)


def _concat(frames: list[pl.DataFrame] | None, table: str) -> pl.DataFrame:
    if not frames:
        return empty_frame(table).with_columns(offset_ns=pl.lit(0, dtype=pl.Int64))
    return pl.concat(frames, how="vertical")


def _book_events(symbol: str, frame: pl.DataFrame) -> list[TapeEvent]:
    flags = frame["flags"].to_numpy()
    begins = np.flatnonzero((flags & FLAG_BEGIN) != 0)
    ends = np.append(begins[1:], len(flags))
    offsets = frame["offset_ns"].to_numpy()
    return [
        TapeEvent(int(offsets[b]), BOOK, symbol, int(b), int(e))
        for b, e in zip(begins.tolist(), ends.tolist(), strict=True)
    ]


def _trade_events(symbol: str, frame: pl.DataFrame) -> list[TapeEvent]:
    offsets = frame["offset_ns"].to_numpy()
    return [TapeEvent(int(o), TRADE, symbol, i, i + 1) for i, o in enumerate(offsets.tolist())]


def _instrument(symbol: str, data: SymbolData, spec: InstrumentOverride | None) -> Instrument:
    if spec is None:
        prices = np.concatenate([data.book.price, data.trades["price"].to_numpy()])
        sizes = np.concatenate([data.book.qty, data.trades["qty"].to_numpy()])
        spec = InstrumentOverride(
            tick_size=Decimal(repr(infer_tick_size(prices))), qty_step=_qty_step(sizes)
        )
    return Instrument(
        symbol=symbol,
        tick_size=spec.tick_size,
        qty_step=spec.qty_step,
        min_qty=spec.min_qty if spec.min_qty is not None else spec.qty_step,
        max_qty=spec.max_qty,
        max_market_qty=spec.max_market_qty if spec.max_market_qty is not None else spec.max_qty,
        min_notional=spec.min_notional,
        min_price=spec.tick_size,
        max_price=Decimal("1999999999") * spec.tick_size,
    )


def _qty_step(sizes: npt.NDArray[np.float64]) -> Decimal:
    """The lot step most recorded sizes sit on: 10 ** -(the most common decimal places).

    The mode, not the finest grid, because derived sizes in some captures carry float noise.
    """
    places: Counter[int] = Counter()
    for value in np.unique(sizes[sizes > 0]).tolist():
        exponent = Decimal(repr(float(value))).normalize().as_tuple().exponent
        if isinstance(exponent, int):
            places[max(0, -exponent)] += 1
    common = places.most_common(1)
    return Decimal(1).scaleb(-common[0][0]) if common else Decimal(1)
