"""Rich tables and JSON for the `nexusforge data` commands (kept here so the CLI stays thin)."""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict
from pathlib import Path

from rich.table import Table

from nexusforge.data.info import SeriesInfo
from nexusforge.data.ingest import IngestReport
from nexusforge.data.schema import TABLES


def ingest_tables(report: IngestReport) -> list[Table]:
    """Per-source rows and skips, then unknown and failed files."""
    sources = Table(title=f"ingested into {report.store}")
    sources.add_column("source")
    sources.add_column("reader")
    for table in TABLES:
        sources.add_column(table, justify="right")
    sources.add_column("skipped", justify="right")
    sources.add_column("s", justify="right")
    for src in report.sources:
        counts = [f"{src.rows.get(t, 0):,}" if src.rows.get(t) else "" for t in TABLES]
        skipped = f"{src.skipped_total:,}" if src.skipped_total else ""
        sources.add_row(src.source_id, src.reader, *counts, skipped, f"{src.seconds:.2f}")
    totals = report.rows()
    sources.add_row("total", "", *[f"{totals[t]:,}" for t in TABLES], "", "", style="bold")
    out = [sources]
    reasons = Table(title="skip reasons")
    for column in ("source", "reason", "count"):
        reasons.add_column(column)
    for src in report.sources:
        for reason, count in sorted(src.skipped.items()):
            reasons.add_row(src.source_id, reason, f"{count:,}")
    if reasons.row_count:
        out.append(reasons)
    if report.unknown:
        unknown = Table(title="not ingested (no reader knows them)")
        unknown.add_column("folder")
        unknown.add_column("files", justify="right")
        for folder, count in sorted(
            Counter(str(Path(p).parent) for p, _ in report.unknown).items()
        ):
            unknown.add_row(folder, str(count))
        out.append(unknown)
    for title, items in (("FAILED", report.failed),):
        if items:
            listing = Table(title=title)
            listing.add_column("file")
            listing.add_column("why")
            for path, why in items:
                listing.add_row(path, why)
            out.append(listing)
    return out


def info_tables(info: dict[str, list[SeriesInfo]]) -> list[Table]:
    """One table per store table, a row per series; columns that do not apply are left out."""
    out = []
    for name, series in info.items():
        bars = any(s.interval_s is not None for s in series)
        book = any(s.messages is not None for s in series)
        table = Table(title=name)
        for column in ("venue", "symbol", *(["interval"] if bars else []), "rows", "first", "last"):
            table.add_column(column, justify="right" if column == "rows" else "left")
        table.add_column("max gap", justify="right")
        if bars:
            table.add_column("missing", justify="right")
        if book:
            table.add_column("msgs / snaps", justify="right")
        for s in series:
            cells = [s.venue, s.symbol, *([f"{s.interval_s}s"] if bars else []), f"{s.rows:,}"]
            cells += [s.first[:19], s.last[:19], f"{s.largest_gap_s:.4g}s"]
            cells += [f"{s.missing_intervals:,}"] if bars else []
            cells += [f"{s.messages:,} / {s.snapshots:,}"] if book else []
            table.add_row(*cells)
        out.append(table)
    return out


def info_json(info: dict[str, list[SeriesInfo]]) -> dict[str, list[dict[str, object]]]:
    """The info as plain JSON-ready data."""
    return {table: [asdict(s) for s in series] for table, series in info.items()}
