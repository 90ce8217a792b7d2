"""Ingest: walk a file or folder, read each known source, write it to the store atomically."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from nexusforge.data.readers import ReadResult, pick_reader
from nexusforge.data.readers._archive import read_head
from nexusforge.data.schema import TABLES
from nexusforge.data.store import Store
from nexusforge.errors import DataError

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_SUFFIXES = (".csv.gz", ".data.zip", ".gz", ".zip", ".json", ".ndjson", ".jsonl", ".csv", ".txt")


@dataclass(frozen=True)
class SourceReport:
    """What one source gave: rows per table, and what was skipped (counts and a few examples)."""

    path: str
    source_id: str
    reader: str
    messages: int
    rows: dict[str, int]
    skipped: dict[str, int]
    examples: list[str]
    seconds: float

    @property
    def skipped_total(self) -> int:
        return sum(self.skipped.values())


@dataclass
class IngestReport:
    """Per-source reports, files no reader knows, and sources that failed (nothing written)."""

    store: str
    sources: list[SourceReport] = field(default_factory=list)
    unknown: list[tuple[str, str]] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)

    def rows(self) -> dict[str, int]:
        """Total rows written per table."""
        totals = dict.fromkeys(TABLES, 0)
        for source in self.sources:
            for table, count in source.rows.items():
                totals[table] += count
        return totals


Progress = Callable[[Path], None]


def source_files(src: Path) -> list[Path]:
    """`src` itself, or every non-hidden file under it, sorted."""
    if src.is_file():
        return [src]
    if not src.is_dir():
        raise DataError(f"{src}: no such file or folder")
    files = (p for p in src.rglob("*") if p.is_file())
    return sorted(p for p in files if not any(s.startswith(".") for s in p.relative_to(src).parts))


def source_id_for(path: Path) -> str:
    """A file-name-safe id from the file name without its data suffixes."""
    name = path.name
    for suffix in _SUFFIXES:
        if name.endswith(suffix) and len(name) > len(suffix):
            name = name[: -len(suffix)]
            break
    return _UNSAFE.sub("_", name).lstrip("._-") or "source"


def _unique_ids(files: list[Path]) -> Iterator[tuple[Path, str]]:
    """Pair files with source ids; a repeated name gets its parent folder as a prefix."""
    seen: set[str] = set()
    for path in files:
        sid = source_id_for(path)
        if sid in seen:
            sid = f"{source_id_for(path.parent)}__{sid}"
        seen.add(sid)
        yield path, sid


def ingest(src: Path, store: Path | Store, progress: Progress | None = None) -> IngestReport:
    """Read every file under `src` with the reader that knows it and write it to `store`."""
    target = store if isinstance(store, Store) else Store(store)
    report = IngestReport(str(target.path))
    for path, sid in _unique_ids(source_files(Path(src))):
        if progress is not None:
            progress(path)
        ingest_file(path, sid, target, report)
    return report


def ingest_file(path: Path, source_id: str, store: Store, report: IngestReport) -> None:
    """Ingest one file into `store`, recording the outcome in `report`."""
    head = read_head(path)
    if not head.strip():
        report.unknown.append((str(path), "empty or unreadable file"))
        return
    reader = pick_reader(path, head)
    if reader is None:
        report.unknown.append((str(path), "no reader knows this format"))
        return
    started = time.perf_counter()
    try:
        result = reader.read(path, head)
        write_result(store, source_id, result)
    except DataError as exc:
        report.failed.append((str(path), str(exc)))
        return
    report.sources.append(_summarise(path, source_id, reader.name, result, started))


def write_result(store: Store, source_id: str, result: ReadResult) -> None:
    """Write the non-empty frames of one source; drop its files from tables it no longer fills."""
    frames = {table: frame for table, frame in result.frames.items() if frame.height}
    store.write_many(source_id, frames)
    for table in TABLES:
        if table not in frames:
            store.remove(table, source_id)


def _summarise(
    path: Path, source_id: str, reader: str, result: ReadResult, started: float
) -> SourceReport:
    return SourceReport(
        path=str(path),
        source_id=source_id,
        reader=reader,
        messages=result.messages,
        rows={table: count for table, count in result.rows().items() if count},
        skipped=dict(result.skips.counts),
        examples=list(result.skips.examples),
        seconds=time.perf_counter() - started,
    )
