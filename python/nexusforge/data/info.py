"""What a store holds: per table and series, rows, time span (UTC) and gaps, plus book stats."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import polars as pl

from nexusforge.data.schema import BARS, BOOK_EVENTS, FUNDING
from nexusforge.data.store import Store
from nexusforge.market.events import FLAG_BEGIN, FLAG_SNAPSHOT

_NS = 1_000_000_000


@dataclass(frozen=True)
class SeriesInfo:
    """One series of a table: (venue, symbol), and for bars also the interval.

    `largest_gap_s` is the largest step between consecutive timestamps. For bars,
    `missing_intervals` counts the candles absent between the first and the last, and
    `duplicates` the repeated open times. For book events, `messages` and `snapshots` count
    venue messages (not level rows).
    """

    table: str
    venue: str
    symbol: str
    interval_s: int | None
    rows: int
    first: str
    last: str
    first_ns: int
    last_ns: int
    largest_gap_s: float
    missing_intervals: int | None = None
    duplicates: int | None = None
    messages: int | None = None
    snapshots: int | None = None


def _utc(ns: int) -> str:
    return datetime.fromtimestamp(ns / _NS, tz=UTC).isoformat(timespec="milliseconds")


def _time_column(table: str) -> str:
    return {BARS: "open_ts", FUNDING: "ts"}.get(table, "exch_ts")


def series_info(store: Store, table: str) -> list[SeriesInfo]:
    """Stats of every series of `table`."""
    ts = _time_column(table)
    keys = ["venue", "symbol"] + (["interval_s"] if table == BARS else [])
    frame = store.scan(table)
    aggs = [
        pl.len().alias("rows"),
        pl.col(ts).min().alias("first_ns"),
        pl.col(ts).max().alias("last_ns"),
        pl.col(ts).sort().diff().max().fill_null(0).alias("gap_ns"),
        pl.col(ts).n_unique().alias("unique"),
    ]
    if table == BOOK_EVENTS:
        begin = (pl.col("flags") & FLAG_BEGIN) != 0
        snap = begin & ((pl.col("flags") & FLAG_SNAPSHOT) != 0)
        aggs += [begin.sum().alias("messages"), snap.sum().alias("snapshots")]
    stats = frame.group_by(keys).agg(aggs).sort(keys).collect()
    return [_row_info(table, row) for row in stats.iter_rows(named=True)]


def _row_info(table: str, row: dict[str, object]) -> SeriesInfo:
    first, last, rows = int(row["first_ns"]), int(row["last_ns"]), int(row["rows"])  # type: ignore[call-overload]
    interval = row.get("interval_s")
    missing = duplicates = None
    if interval is not None:
        step = int(interval) * _NS  # type: ignore[call-overload]
        unique = int(row["unique"])  # type: ignore[call-overload]
        missing = (last - first) // step + 1 - unique
        duplicates = rows - unique
    return SeriesInfo(
        table=table,
        venue=str(row["venue"]),
        symbol=str(row["symbol"]),
        interval_s=None if interval is None else int(interval),  # type: ignore[call-overload]
        rows=rows,
        first=_utc(first),
        last=_utc(last),
        first_ns=first,
        last_ns=last,
        largest_gap_s=int(row["gap_ns"]) / _NS,  # type: ignore[call-overload]
        missing_intervals=missing,
        duplicates=duplicates,
        messages=_opt_int(row.get("messages")),
        snapshots=_opt_int(row.get("snapshots")),
    )


def _opt_int(value: object) -> int | None:
    return None if value is None else int(value)  # type: ignore[call-overload]


def store_info(store: Store) -> dict[str, list[SeriesInfo]]:
    """Stats of every table that holds data."""
    return {table: series_info(store, table) for table in store.tables()}
