"""Rich renderings of results shared by several commands (the CLI prints what these build)."""

from __future__ import annotations

import math

from rich.table import Table

from nexusforge.overview import FeatureSummary


def summary_table(summary: FeatureSummary) -> Table:
    """A feature summary as a table: one row per feature with its non-NaN count and moments."""
    table = Table(title=f"{summary.title}: {summary.rows:,} rows", title_justify="left")
    for name in ("feature", "non-NaN", "mean", "std", "min", "max"):
        table.add_column(name, justify="left" if name == "feature" else "right")
    for row in summary.stats.iter_rows():
        feature, count, *moments = row
        table.add_row(feature, f"{count:,}", *(_num(v) for v in moments))
    return table


def _num(value: float) -> str:
    return "—" if math.isnan(value) else f"{value:.4g}"
