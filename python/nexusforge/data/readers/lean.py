"""QuantConnect Lean crypto-future files: minute trade bars, minute quote bars, funding rates.

Bar rows carry milliseconds since midnight; the date comes from the file name (`..._YYYYMMDD.zip`).
Lean stamps a bar by its start. A quote bar's close bid/ask holds only once the minute has ended,
so the quotes row is stamped at the bar's end (start + 60 s): no look-ahead.
"""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime
from pathlib import Path

import polars as pl

from nexusforge.data.readers._archive import zip_member
from nexusforge.data.readers._columns import (
    LINE,
    drop_rows,
    parse_numbers,
    require_increasing,
)
from nexusforge.data.readers._result import ReadResult, SkipLog
from nexusforge.data.schema import BARS, FUNDING, QUOTES, SCHEMAS, VENUE_BYBIT_LINEAR
from nexusforge.errors import DataError

_NAME = re.compile(
    r"^lean_bybit_(?P<symbol>[A-Z0-9]+)_(?:perp_minute_(?P<kind>trade|quote)|(?P<funding>funding))_"
    r"(?P<date>\d{8})\.(?:zip|csv)$"
)
_MINUTE_NS = 60 * 1_000_000_000
_DAY_MS = 86_400_000
TRADE_COLUMNS = ["ms", "open", "high", "low", "close", "volume"]
QUOTE_COLUMNS = [
    "ms", "bid_open", "bid_high", "bid_low", "bid_close", "bid_size",
    "ask_open", "ask_high", "ask_low", "ask_close", "ask_size",
]  # fmt: skip


def sniff_lean(path: Path, head: bytes) -> bool:
    """True for a Lean file named `lean_bybit_<SYM>_perp_minute_{trade,quote}_<date>.zip` etc."""
    return _NAME.match(path.name) is not None


def read_lean(path: Path, head: bytes) -> ReadResult:
    """Read a Lean trade-bar, quote-bar or funding file."""
    match = _NAME.match(path.name)
    if match is None:
        raise DataError(f"{path}: not a Lean file name this reader knows")
    skips = SkipLog(str(path))
    symbol = match["symbol"]
    if match["funding"]:
        frames = {FUNDING: _funding(path, symbol, skips)}
    else:
        day_ns = _day_ns(match["date"], path)
        _member, content = zip_member(path)
        if match["kind"] == "trade":
            frames = {BARS: _trade_bars(path, content, symbol, day_ns, skips)}
        else:
            frames = {QUOTES: _quote_bars(path, content, symbol, day_ns, skips)}
    rows = sum(f.height for f in frames.values())
    return ReadResult(frames, skips, messages=rows + skips.total)


def _day_ns(date: str, path: Path) -> int:
    try:
        day = datetime.strptime(date, "%Y%m%d").replace(tzinfo=UTC)
    except ValueError as exc:
        raise DataError(f"{path}: bad date {date!r} in the file name") from exc
    return int(day.timestamp()) * 1_000_000_000


def _csv(path: Path, content: bytes, names: list[str]) -> pl.DataFrame:
    try:
        frame = pl.read_csv(
            io.BytesIO(content), has_header=False, new_columns=names, infer_schema=False,
            raise_if_empty=False,
        )  # fmt: skip
    except pl.exceptions.PolarsError as exc:
        raise DataError(f"{path}: cannot read CSV: {exc}") from exc
    if frame.width != len(names) and frame.height:
        raise DataError(f"{path}: expected {len(names)} columns, found {frame.width}")
    if not frame.height:
        frame = pl.DataFrame(schema=dict.fromkeys(names, pl.String()))
    return frame.with_row_index(LINE, offset=1)


def _minute_rows(
    path: Path, content: bytes, names: list[str], skips: SkipLog, day_ns: int
) -> pl.DataFrame:
    """Parse numbers, keep minutes inside the day, require increasing time; adds `start_ns`."""
    numbers: dict[str, pl.DataType] = {n: pl.Float64() for n in names}
    numbers["ms"] = pl.Int64()
    frame = parse_numbers(_csv(path, content, names), numbers, skips, optional=set())
    outside = (pl.col("ms") < 0) | (pl.col("ms") >= _DAY_MS)
    frame = drop_rows(frame, outside, "time outside the file's day", skips)
    frame = frame.with_columns((pl.col("ms") * 1_000_000 + day_ns).alias("start_ns"))
    require_increasing(frame, "start_ns", path)
    return frame


def _trade_bars(
    path: Path, content: bytes, symbol: str, day_ns: int, skips: SkipLog
) -> pl.DataFrame:
    frame = _minute_rows(path, content, TRADE_COLUMNS, skips, day_ns)
    prices = [pl.col(c) for c in ("open", "high", "low", "close")]
    frame = drop_rows(frame, pl.any_horizontal(p <= 0 for p in prices), "non-positive price", skips)
    frame = drop_rows(frame, pl.col("volume") < 0, "negative volume", skips)
    return frame.select(
        pl.lit(VENUE_BYBIT_LINEAR).alias("venue"),
        pl.lit(symbol).alias("symbol"),
        pl.lit(60).alias("interval_s"),
        pl.col("start_ns").alias("open_ts"),
        "open", "high", "low", "close", "volume",
        pl.lit(None).alias("turnover"),
        pl.lit(None).alias("trade_count"),
        pl.lit(None).alias("taker_buy_volume"),
    ).cast(pl.Schema(SCHEMAS[BARS]))  # fmt: skip


def _quote_bars(
    path: Path, content: bytes, symbol: str, day_ns: int, skips: SkipLog
) -> pl.DataFrame:
    frame = _minute_rows(path, content, QUOTE_COLUMNS, skips, day_ns)
    bad = (pl.col("bid_close") <= 0) | (pl.col("ask_close") <= 0)
    frame = drop_rows(frame, bad, "non-positive bid or ask", skips)
    sizes = (pl.col("bid_size") < 0) | (pl.col("ask_size") < 0)
    frame = drop_rows(frame, sizes, "negative size", skips)
    end = pl.col("start_ns") + _MINUTE_NS
    return frame.select(
        pl.lit(VENUE_BYBIT_LINEAR).alias("venue"),
        pl.lit(symbol).alias("symbol"),
        end.alias("exch_ts"),
        end.alias("local_ts"),
        pl.col("bid_close").alias("bid"),
        pl.col("bid_size").alias("bid_qty"),
        pl.col("ask_close").alias("ask"),
        pl.col("ask_size").alias("ask_qty"),
    ).cast(pl.Schema(SCHEMAS[QUOTES]))


def _funding(path: Path, symbol: str, skips: SkipLog) -> pl.DataFrame:
    frame = _csv(path, path.read_bytes(), ["when", "rate"])
    frame = parse_numbers(frame, {"rate": pl.Float64()}, skips, optional=set())
    when = pl.col("when").str.strptime(pl.Datetime("ns", "UTC"), "%Y%m%d %H:%M:%S", strict=False)
    frame = frame.with_columns(when.dt.epoch("ns").alias("ts"))
    frame = drop_rows(frame, pl.col("ts").is_null(), "bad time (want YYYYMMDD HH:MM:SS)", skips)
    require_increasing(frame, "ts", path)
    return frame.select(
        pl.lit(VENUE_BYBIT_LINEAR).alias("venue"),
        pl.lit(symbol).alias("symbol"),
        "ts",
        "rate",
    ).cast(pl.Schema(SCHEMAS[FUNDING]))
