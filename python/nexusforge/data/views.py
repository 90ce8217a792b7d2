"""Rich tables and JSON for the `nexusforge data` commands (kept here so the CLI stays thin)."""

from __future__ import annotations

from dataclasses import asdict

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
    for title, items in (("not ingested (unknown)", report.unknown), ("FAILED", report.failed)):
        if items:
            listing = Table(title=title)
            listing.add_column("file")
            listing.add_column("why")
            for path, why in items:
                listing.add_row(path, why)
            out.append(listing)
    return out


def info_tables(info: dict[str, list[SeriesInfo]]) -> list[Table]:
    """One table per store table, a row per series."""
    out = []
    for name, series in info.items():
        table = Table(title=name)
        for column in ("venue", "symbol", "interval", "rows", "first (UTC)", "last (UTC)"):
            table.add_column(column)
        table.add_column("largest gap", justify="right")
        table.add_column("missing", justify="right")
        table.add_column("messages / snapshots", justify="right")
        for s in series:
            book = f"{s.messages:,} / {s.snapshots:,}" if s.messages is not None else ""
            missing = "" if s.missing_intervals is None else f"{s.missing_intervals:,}"
            interval = "" if s.interval_s is None else f"{s.interval_s} s"
            table.add_row(
                s.venue, s.symbol, interval, f"{s.rows:,}", s.first, s.last,
                f"{s.largest_gap_s:g} s", missing, book,
            )  # fmt: skip
        out.append(table)
    return out


def info_json(info: dict[str, list[SeriesInfo]]) -> dict[str, list[dict[str, object]]]:
    """The info as plain JSON-ready data."""
    return {table: [asdict(s) for s in series] for table, series in info.items()}
