"""The parquet store: one folder per table, one parquet file per ingested source (see schema.py)."""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Mapping
from pathlib import Path

import polars as pl

from nexusforge.data.schema import SCHEMAS
from nexusforge.errors import DataError

_SOURCE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$")
_TMP_PREFIX = "."


def conform(table: str, frame: pl.DataFrame) -> pl.DataFrame:
    """Return `frame` cast to the exact schema of `table`; raise DataError on any mismatch."""
    if table not in SCHEMAS:
        raise DataError(f"unknown table {table!r}; known: {sorted(SCHEMAS)}")
    schema = SCHEMAS[table]
    missing = sorted(set(schema) - set(frame.columns))
    extra = sorted(set(frame.columns) - set(schema))
    if missing or extra:
        raise DataError(
            f"{table}: frame does not match the schema (missing {missing}, extra {extra})"
        )
    try:
        return frame.select(pl.col(name).cast(dtype, strict=True) for name, dtype in schema.items())
    except pl.exceptions.PolarsError as exc:
        raise DataError(f"{table}: cannot cast frame to the schema: {exc}") from exc


def check_source_id(source_id: str) -> str:
    """Source ids become file names: letters, digits, `._-` only, not starting with a dot."""
    if not _SOURCE_ID.match(source_id):
        raise DataError(f"invalid source id {source_id!r} (letters, digits and ._- only)")
    return source_id


class Store:
    """A parquet store rooted at `path`; tables are sub-folders, sources are files in them."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"Store({str(self.path)!r})"

    def table_dir(self, table: str) -> Path:
        """Folder of `table` (not created)."""
        if table not in SCHEMAS:
            raise DataError(f"unknown table {table!r}; known: {sorted(SCHEMAS)}")
        return self.path / table

    def files(self, table: str) -> list[Path]:
        """The committed parquet files of `table`, sorted by name (temp files excluded)."""
        folder = self.table_dir(table)
        if not folder.is_dir():
            return []
        return sorted(p for p in folder.glob("*.parquet") if not p.name.startswith(_TMP_PREFIX))

    def tables(self) -> list[str]:
        """Tables that hold at least one file, in schema order."""
        return [table for table in SCHEMAS if self.files(table)]

    def sources(self, table: str) -> list[str]:
        """Source ids stored in `table`."""
        return [p.stem for p in self.files(table)]

    def scan(self, table: str) -> pl.LazyFrame:
        """Lazy frame over all sources of `table`; an empty frame with the schema when absent."""
        files = self.files(table)
        if not files:
            return pl.LazyFrame(schema=SCHEMAS[table])
        return pl.scan_parquet(files, schema=SCHEMAS[table])

    def write(self, table: str, source_id: str, frame: pl.DataFrame) -> Path:
        """Write one source's frame of `table` atomically, replacing any earlier version."""
        return self.write_many(source_id, {table: frame})[table]

    def write_many(self, source_id: str, frames: Mapping[str, pl.DataFrame]) -> dict[str, Path]:
        """Write all tables of one source: every temp file is written before any is renamed."""
        check_source_id(source_id)
        staged: dict[str, tuple[Path, Path]] = {}
        try:
            for table, frame in frames.items():
                staged[table] = self._stage(table, source_id, conform(table, frame))
        except BaseException:
            for tmp, _ in staged.values():
                tmp.unlink(missing_ok=True)
            raise
        for tmp, final in staged.values():
            os.replace(tmp, final)
        return {table: final for table, (_, final) in staged.items()}

    def remove(self, table: str, source_id: str) -> bool:
        """Delete one source's file of `table`; True when there was one."""
        target = self.table_dir(table) / f"{check_source_id(source_id)}.parquet"
        existed = target.exists()
        target.unlink(missing_ok=True)
        return existed

    def _stage(self, table: str, source_id: str, frame: pl.DataFrame) -> tuple[Path, Path]:
        folder = self.table_dir(table)
        folder.mkdir(parents=True, exist_ok=True)
        final = folder / f"{source_id}.parquet"
        tmp = folder / f"{_TMP_PREFIX}{source_id}.{uuid.uuid4().hex}.tmp"
        try:
            frame.write_parquet(tmp, statistics=True)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        return tmp, final
