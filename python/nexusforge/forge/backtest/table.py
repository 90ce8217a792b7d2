"""The rich metrics table the `backtest` command prints."""

from __future__ import annotations

import math
from dataclasses import fields

from rich.table import Table

from nexusforge.forge.backtest.run import StrategyRun


def metrics_table(run: StrategyRun) -> Table:
    """One row per metric of the run, titled with the strategy and the series it traded."""
    s = run.series
    title = (
        f"{run.strategy.infix}\n{s.venue} {s.symbol} {s.interval_s}s, {run.close_ts.size:,} bars"
    )
    table = Table(title=title, title_justify="left")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for f in fields(run.result.metrics):
        value = getattr(run.result.metrics, f.name)
        table.add_row(f.name, "—" if math.isnan(value) else f"{value:,.6g}")
    return table
