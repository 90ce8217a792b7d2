"""Vectorised checks shared by the CSV readers: parse text columns, skip bad rows with reasons."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from nexusforge.data.readers._result import SkipLog
from nexusforge.errors import DataError

LINE = "__line"
"""Column holding each row's 1-based line number in the source file."""


def read_text_csv(path: Path, *, has_header: bool, names: list[str] | None = None) -> pl.DataFrame:
    """Read a (possibly gzip) CSV with every column as text, plus its line numbers."""
    try:
        frame = pl.read_csv(
            path, has_header=has_header, new_columns=names, infer_schema=False, raise_if_empty=False
        )
    except (pl.exceptions.PolarsError, OSError, EOFError) as exc:
        raise DataError(f"{path}: cannot read CSV: {exc}") from exc
    first = 2 if has_header else 1
    return frame.with_row_index(LINE, offset=first)


def drop_rows(frame: pl.DataFrame, bad: pl.Expr, reason: str, skips: SkipLog) -> pl.DataFrame:
    """Count and log the rows where `bad` holds, and return the frame without them."""
    marked = frame.with_columns(bad.fill_null(True).alias("__bad"))
    dropped = marked.filter(pl.col("__bad"))
    if dropped.height:
        skips.skip_lines(dropped.get_column(LINE).to_list(), reason)
    return marked.filter(~pl.col("__bad")).drop("__bad")


def parse_numbers(
    frame: pl.DataFrame, columns: dict[str, pl.DataType], skips: SkipLog, optional: set[str]
) -> pl.DataFrame:
    """Cast text columns to numbers; a non-empty cell that does not parse drops its row."""
    for name, dtype in columns.items():
        text = pl.col(name).str.strip_chars()
        empty = text.is_null() | (text == "")
        if name not in optional:
            frame = drop_rows(frame, empty, f"empty {name}", skips)
        parsed = text.cast(dtype, strict=False)
        frame = drop_rows(frame, ~empty & parsed.is_null(), f"{name} is not a number", skips)
        frame = frame.with_columns(pl.when(empty).then(None).otherwise(parsed).alias(name))
    return frame


def require_increasing(frame: pl.DataFrame, column: str, path: Path) -> None:
    """Raise DataError at the first row whose `column` is not after the previous row's."""
    step = frame.get_column(column).diff()
    bad = frame.filter(step <= 0)
    if bad.height:
        line = bad.get_column(LINE)[0]
        raise DataError(f"{path}:{line}: {column} does not increase (duplicate or out of order)")


def epoch_ms_to_ns(column: str) -> pl.Expr:
    """Epoch ms to ns; values >= 1e15 are taken as µs (Binance spot archives since 2025)."""
    value = pl.col(column)
    return pl.when(value >= 10**15).then(value * 1_000).otherwise(value * 1_000_000)
