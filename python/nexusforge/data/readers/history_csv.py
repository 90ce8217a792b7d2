"""Candle and funding CSV histories (`history/`): venue, symbol and interval come from the name.

Layouts: `open_time_ms,open_time_utc,open,high,low,close,volume[,quote_volume,trade_count,
taker_buy_volume,taker_buy_quote_volume]` (the optional columns may be empty on some rows), the
Binance archive layout `open_time,open,high,low,close,volume,close_time,quote_volume,count,
taker_buy_volume,taker_buy_quote_volume,ignore`, and
`funding_time_ms,funding_time_utc,funding_rate`.
Rows must be strictly increasing in time (else DataError); the interval named in the file name
must be the step the data actually takes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from nexusforge.data.readers._columns import (
    LINE,
    drop_rows,
    epoch_ms_to_ns,
    parse_numbers,
    read_text_csv,
    require_increasing,
)
from nexusforge.data.readers._result import ReadResult, SkipLog
from nexusforge.data.schema import BARS, FUNDING, SCHEMAS
from nexusforge.errors import DataError

_NAME = re.compile(
    r"^(?P<venue>binance_spot|binance_usdm|bybit_linear)_(?P<symbol>[A-Z0-9]+)_"
    r"(?:(?P<funding>funding)_)?(?P<interval>\d+[mhd])_.*\.csv(?:\.gz)?$"
)
_UNIT_S = {"m": 60, "h": 3600, "d": 86400}

KLINE_HEADER = "open_time_ms,open_time_utc,open,high,low,close,volume"
ARCHIVE_COLUMNS = [
    "open_time", "open", "high", "low", "close", "volume", "close_time",
    "quote_volume", "count", "taker_buy_volume", "taker_buy_quote_volume", "ignore",
]  # fmt: skip
FUNDING_HEADER = "funding_time_ms,funding_time_utc,funding_rate"


@dataclass(frozen=True)
class HistoryName:
    """What a history file's name says: venue, symbol, interval in seconds, funding or candles."""

    venue: str
    symbol: str
    interval_s: int
    funding: bool


def parse_history_name(path: Path) -> HistoryName | None:
    """Parse `<venue>_<market>_<SYMBOL>_[funding_]<n><unit>_....csv[.gz]`, or None."""
    match = _NAME.match(path.name)
    if match is None:
        return None
    interval = match["interval"]
    seconds = int(interval[:-1]) * _UNIT_S[interval[-1]]
    return HistoryName(match["venue"], match["symbol"], seconds, bool(match["funding"]))


def sniff_history(path: Path, head: bytes) -> bool:
    """True for a history CSV: a name we can parse and a header (or row shape) we know."""
    name = parse_history_name(path)
    if name is None:
        return False
    first = head.split(b"\n", 1)[0].decode("utf-8", "replace").strip()
    if name.funding:
        return first.startswith(FUNDING_HEADER)
    return first.startswith((KLINE_HEADER, "open_time,")) or len(first.split(",")) == 12


def read_history(path: Path, head: bytes) -> ReadResult:
    """Read a history candle or funding file into bars or funding rows."""
    name = parse_history_name(path)
    if name is None:
        raise DataError(f"{path}: file name does not say venue, symbol and interval")
    skips = SkipLog(str(path))
    try:
        if name.funding:
            frame = _read_funding(path, name, skips)
            return ReadResult({FUNDING: frame}, skips, messages=frame.height + skips.total)
        frame = _read_klines(path, head, name, skips)
    except pl.exceptions.ColumnNotFoundError as exc:  # a damaged header (found by tests/fuzz)
        raise DataError(f"{path}: a column the format needs is missing ({exc})") from None
    return ReadResult({BARS: frame}, skips, messages=frame.height + skips.total)


def _read_klines(path: Path, head: bytes, name: HistoryName, skips: SkipLog) -> pl.DataFrame:
    first = head.split(b"\n", 1)[0].decode("utf-8", "replace").strip()
    if first.startswith(KLINE_HEADER):
        raw = read_text_csv(path, has_header=True)
        time_col, turnover, count = "open_time_ms", "quote_volume", "trade_count"
    else:
        has_header = first.startswith("open_time,")
        raw = read_text_csv(path, has_header=has_header, names=ARCHIVE_COLUMNS)
        time_col, turnover, count = "open_time", "quote_volume", "count"
    optional = {turnover, count, "taker_buy_volume"}
    wanted: dict[str, pl.DataType] = {time_col: pl.Int64(), count: pl.Int64()}
    for column in ("open", "high", "low", "close", "volume", turnover, "taker_buy_volume"):
        wanted[column] = pl.Float64()
    present = {k: v for k, v in wanted.items() if k in raw.columns}
    for column in optional - set(raw.columns):
        raw = raw.with_columns(pl.lit(None, dtype=pl.String()).alias(column))
        present[column] = wanted[column]
    frame = parse_numbers(raw, present, skips, optional)
    frame = _drop_bad_candles(frame, skips)
    frame = frame.with_columns(epoch_ms_to_ns(time_col).alias("open_ts"))
    require_increasing(frame, "open_ts", path)
    _check_interval(frame, name, path)
    return frame.select(
        pl.lit(name.venue).alias("venue"),
        pl.lit(name.symbol).alias("symbol"),
        pl.lit(name.interval_s, dtype=pl.Int32()).alias("interval_s"),
        "open_ts", "open", "high", "low", "close", "volume",
        pl.col(turnover).alias("turnover"),
        pl.col(count).alias("trade_count"),
        "taker_buy_volume",
    ).cast(pl.Schema(SCHEMAS[BARS]))  # fmt: skip


def _drop_bad_candles(frame: pl.DataFrame, skips: SkipLog) -> pl.DataFrame:
    """Drop candles that cannot be real: non-positive prices, negative volume, high < low etc."""
    prices = [pl.col(c) for c in ("open", "high", "low", "close")]
    frame = drop_rows(frame, pl.any_horizontal(p <= 0 for p in prices), "non-positive price", skips)
    frame = drop_rows(frame, pl.col("volume") < 0, "negative volume", skips)
    inside = (pl.col("high") >= pl.max_horizontal(prices)) & (
        pl.col("low") <= pl.min_horizontal(prices)
    )
    return drop_rows(frame, ~inside, "high/low do not bound open/close", skips)


def _check_interval(frame: pl.DataFrame, name: HistoryName, path: Path) -> None:
    """The most common step between candles must be the interval the file name states."""
    steps = frame.get_column("open_ts").diff().drop_nulls()
    if steps.is_empty():
        return
    step_s = int(steps.mode().min()) / 1e9  # type: ignore[arg-type]
    if step_s != name.interval_s:
        raise DataError(
            f"{path}: the name says a {name.interval_s} s interval but the data steps {step_s:g} s"
        )


def _read_funding(path: Path, name: HistoryName, skips: SkipLog) -> pl.DataFrame:
    raw = read_text_csv(path, has_header=True)
    columns: dict[str, pl.DataType] = {"funding_time_ms": pl.Int64(), "funding_rate": pl.Float64()}
    frame = parse_numbers(raw, columns, skips, optional=set())
    frame = drop_rows(frame, ~pl.col("funding_rate").is_finite(), "funding rate not finite", skips)
    frame = frame.with_columns(epoch_ms_to_ns("funding_time_ms").alias("ts"))
    require_increasing(frame, "ts", path)
    return frame.select(
        pl.lit(name.venue).alias("venue"),
        pl.lit(name.symbol).alias("symbol"),
        "ts",
        pl.col("funding_rate").alias("rate"),
    ).cast(pl.Schema(SCHEMAS[FUNDING]))


__all__ = ["LINE", "HistoryName", "parse_history_name", "read_history", "sniff_history"]
