"""What a reader returns: frames per store table, and a log of what it skipped and why."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

import polars as pl

from nexusforge.data.schema import SCHEMAS

log = logging.getLogger("nexusforge.data")

MAX_EXAMPLES = 5


@dataclass
class SkipLog:
    """Counts skipped lines by reason and keeps the first few as examples (`file:line: reason`)."""

    source: str
    counts: Counter[str] = field(default_factory=Counter)
    examples: list[str] = field(default_factory=list)

    def skip(self, line: int, reason: str, detail: str = "") -> None:
        """Count one skipped line (1-based; 0 when the input has no lines) under `reason`."""
        self.counts[reason] += 1
        if len(self.examples) < MAX_EXAMPLES:
            where = f"{self.source}:{line}" if line else self.source
            text = f"{where}: {reason}" + (f" ({detail})" if detail else "")
            self.examples.append(text)
            log.warning("skipped %s", text)

    def skip_lines(self, lines: Sequence[int], reason: str) -> None:
        """Count many skipped lines under one reason; only the first few are logged."""
        for line in lines[:MAX_EXAMPLES]:
            self.skip(line, reason)
        self.counts[reason] += max(len(lines) - MAX_EXAMPLES, 0)

    def merge(self, other: SkipLog) -> None:
        """Add another log's counts and examples to this one."""
        self.counts.update(other.counts)
        room = MAX_EXAMPLES - len(self.examples)
        self.examples.extend(other.examples[: max(room, 0)])

    @property
    def total(self) -> int:
        return sum(self.counts.values())


@dataclass
class ReadResult:
    """Frames keyed by store table (each already in its table's schema) plus the skip log."""

    frames: dict[str, pl.DataFrame]
    skips: SkipLog
    messages: int = 0

    def rows(self) -> dict[str, int]:
        """Row count per table."""
        return {table: frame.height for table, frame in self.frames.items()}


def empty_frame(table: str) -> pl.DataFrame:
    """An empty frame with the exact schema of `table`."""
    return pl.DataFrame(schema=SCHEMAS[table])


def frame_from_columns(table: str, columns: dict[str, object]) -> pl.DataFrame:
    """Build a frame of `table` from column lists or arrays, cast strictly to its schema."""
    schema = SCHEMAS[table]
    if set(columns) != set(schema):
        missing = sorted(set(schema) - set(columns))
        extra = sorted(set(columns) - set(schema))
        raise ValueError(
            f"{table}: columns do not match the schema (missing {missing}, extra {extra})"
        )
    return pl.DataFrame({name: columns[name] for name in schema}, schema=schema, strict=True)


class RowBuilder:
    """Collects rows of one table column by column, then builds its frame in one go."""

    def __init__(self, table: str) -> None:
        self.table = table
        self.columns: dict[str, list[object]] = {name: [] for name in SCHEMAS[table]}

    def append(self, **row: object) -> None:
        """Add one row; every column of the table must be given."""
        if row.keys() != self.columns.keys():
            raise ValueError(f"{self.table}: row columns {sorted(row)} do not match the schema")
        for name, value in row.items():
            self.columns[name].append(value)

    def __len__(self) -> int:
        return len(next(iter(self.columns.values())))

    def frame(self) -> pl.DataFrame:
        """The collected rows in the table's exact schema."""
        return frame_from_columns(self.table, dict(self.columns))
