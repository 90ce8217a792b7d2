"""The rich tables the `backtest` command prints: metrics, and each cost component."""

from __future__ import annotations

import json
import math
from dataclasses import asdict, fields

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


def cost_settings(run: StrategyRun) -> dict[str, str]:
    """How each cost component was charged, in words (what the tables and report show)."""
    o, c = run.options, run.config.costs
    impact = (
        f"eta {c.impact_eta:g} (temporary), gamma {c.impact_gamma:g} (permanent), "
        f"{o.impact_window}-bar sigma and mean volume"
        if o.impact_on
        else "off"
    )
    return {
        "fee": f"taker {c.taker_fee:.4%} per fill, {o.fee_source()}",
        "spread": f"half-spread {run.config.half_spread_bps:g} bps of the close"
        if run.config.half_spread_bps > 0
        else "off",
        "slippage": "walks book depth; candles have none, so 0",
        "impact": impact,
        "impact_perm": "paid by later fills for the permanent impact" if o.impact_on else "off",
        "funding": "charged at the bars of the funding times" if o.funding else "off",
        "latency": f"{run.config.latency} bar(s)",
    }


def cost_table(run: StrategyRun) -> Table:
    """One row per cost component: paid (quote), share of initial capital, and its setting."""
    m, capital = run.result.metrics, run.config.initial_capital
    settings = cost_settings(run)
    table = Table(title="costs", title_justify="left")
    for name, justify in (("component", "left"), ("paid", "right"), ("% capital", "right")):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    table.add_column("setting")
    for part, paid in m.cost_breakdown().items():
        table.add_row(part, f"{paid:,.2f}", f"{paid / capital:.3%}", settings[part])
    table.add_row("total", f"{m.total_cost:,.2f}", f"{m.total_cost / capital:.3%}", "")
    table.add_row("latency", "", "", settings["latency"])
    return table


def metrics_json(run: StrategyRun) -> str:
    """The strategy, its metrics (NaN as null), each cost component and its setting, as JSON."""
    metrics = {k: (None if math.isnan(v) else v) for k, v in asdict(run.result.metrics).items()}
    doc = {
        "strategy": run.strategy.infix,
        "metrics": metrics,
        "costs": run.result.metrics.cost_breakdown(),
        "cost_settings": cost_settings(run),
    }
    return json.dumps(doc, indent=2)
