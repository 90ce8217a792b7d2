"""A standalone HTML report of one strategy backtest: plotly charts with plotly.js embedded
(no CDN, so it opens offline), the metrics table, each cost component with its setting, the
strategy, data source and config.

Long runs are plotted from a min/max envelope: each of at most `MAX_BUCKETS` equal stretches of
bars contributes its lowest and its highest point, in time order, so spikes and the deepest
drawdown stay visible while the data sent to the browser stays bounded (~0.2 MB at any length).
Metrics always come from the full per-bar data."""

from __future__ import annotations

import html
import math
import os
import tempfile
from collections.abc import Sequence
from dataclasses import asdict, fields
from pathlib import Path

import numpy as np
import numpy.typing as npt
import plotly.graph_objects as go  # type: ignore[import-untyped]
from plotly.subplots import make_subplots  # type: ignore[import-untyped]

from nexusforge.forge.backtest.run import StrategyRun
from nexusforge.forge.backtest.table import cost_settings

COST_PARTS = ("fee", "spread", "slippage", "impact", "impact_perm", "funding")
# Stretches of bars per plotted series: at most 2 points each.
MAX_BUCKETS = 2000


def envelope(
    x: npt.NDArray[np.int64], y: npt.NDArray[np.float64], buckets: int = MAX_BUCKETS
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    """The lowest and highest point of each of `buckets` equal stretches, in time order.

    Series of at most 2 × `buckets` points come back whole; NaN is never chosen while a
    stretch has a number.
    """
    n = y.size
    if n <= 2 * buckets:
        return x, y
    width = -(-n // buckets)
    rows = -(-n // width)
    # Pad the last stretch with its own last value so it adds no new extreme.
    grid = np.concatenate([y, np.full(rows * width - n, y[-1])]).reshape(rows, width)
    finite = np.where(np.isnan(grid), np.inf, grid)
    lo = np.argmin(finite, axis=1)
    hi = np.argmax(np.where(np.isnan(grid), -np.inf, grid), axis=1)
    base = np.arange(rows) * width
    first, second = np.minimum(lo, hi) + base, np.maximum(lo, hi) + base
    idx = np.unique(np.minimum(np.stack([first, second], axis=1).ravel(), n - 1))
    return x[idx], y[idx]


def figure(run: StrategyRun) -> go.Figure:
    """Equity, drawdown and position over time, and the cost breakdown as bars."""
    res = run.result
    # Epoch milliseconds on a date axis: sent as a typed array, not 100k date strings.
    when = run.close_ts // 1_000_000
    peak = np.fmax.accumulate(res.equity)
    drawdown = res.equity / peak - 1.0
    costs = res.metrics.cost_breakdown()
    fig = make_subplots(
        rows=4, cols=1, vertical_spacing=0.06,
        subplot_titles=("Equity", "Drawdown", "Position (contracts)", "Costs paid (quote)"),
        specs=[[{"type": "xy"}], [{"type": "xy"}], [{"type": "xy"}], [{"type": "bar"}]],
    )  # fmt: skip
    for row, (name, y) in enumerate(
        (("equity", res.equity), ("drawdown", drawdown), ("position", res.position)), start=1
    ):
        px, py = envelope(when, np.asarray(y, dtype=np.float64))
        fill = "tozeroy" if name == "drawdown" else None
        fig.add_trace(go.Scatter(x=px, y=py, name=name, fill=fill), row=row, col=1)
    fig.add_trace(
        go.Bar(x=list(COST_PARTS), y=[costs[p] for p in COST_PARTS], name="costs"), row=4, col=1
    )
    for row in (1, 2, 3):
        fig.update_xaxes(type="date", row=row, col=1)
    fig.update_layout(height=1200, showlegend=False, margin={"t": 40, "b": 20})
    return fig


def _fmt(value: object) -> str:
    if isinstance(value, float):
        return "nan" if math.isnan(value) else f"{value:,.6g}"
    return str(value)


def _table(rows: Sequence[tuple[str, object]]) -> str:
    body = "".join(
        f"<tr><th>{html.escape(k)}</th><td>{html.escape(_fmt(v))}</td></tr>" for k, v in rows
    )
    return f"<table>{body}</table>"


def details(run: StrategyRun) -> str:
    """HTML of the strategy, data source, config and metrics sections."""
    metrics = [(f.name, getattr(run.result.metrics, f.name)) for f in fields(run.result.metrics)]
    cfg = asdict(run.config)
    costs = cfg.pop("costs")
    config = [*cfg.items(), *((f"costs.{k}", v) for k, v in costs.items())]
    span = (
        run.close_ts[[0, -1]].astype("datetime64[ns]").astype("datetime64[s]")
        if run.close_ts.size
        else ["-", "-"]
    )
    source = [
        ("store", str(run.store)), ("venue", run.series.venue), ("symbol", run.series.symbol),
        ("interval_s", run.series.interval_s), ("bars", int(run.close_ts.size)),
        ("first close", str(span[0])), ("last close", str(span[1])),
        ("funding bars", int(np.count_nonzero(run.funding_rate))),
        ("funding rows without a bar", run.funding_unmatched),
        ("bars per year", run.bars_per_year),
    ]  # fmt: skip
    strategy = [
        ("file", str(run.strategy.path)),
        ("sha256", run.strategy.sha256),
    ]
    breakdown = run.result.metrics.cost_breakdown()
    settings = cost_settings(run)
    costs_rows: list[tuple[str, object]] = [
        (f"{part}: {settings[part]}", paid) for part, paid in breakdown.items()
    ]
    costs_rows += [("total", run.result.metrics.total_cost), ("latency", settings["latency"])]
    return (
        f"<h2>Strategy</h2><pre>{html.escape(run.strategy.infix)}</pre>{_table(strategy)}"
        f"<h2>Metrics</h2>{_table(metrics)}"
        f"<h2>Costs paid (quote)</h2>{_table(costs_rows)}"
        f"<h2>Data source</h2>{_table(source)}"
        f"<h2>Config</h2>{_table(config)}"
    )


STYLE = (
    "body{font-family:sans-serif;margin:2em;max-width:1200px}"
    "table{border-collapse:collapse}th,td{border:1px solid #ccc;padding:2px 8px;text-align:left}"
    "td{font-family:monospace}pre{background:#f4f4f4;padding:8px;white-space:pre-wrap}"
)


def render(run: StrategyRun) -> str:
    """The whole report as one HTML document with plotly.js inlined."""
    plot = figure(run).to_html(full_html=False, include_plotlyjs=True)
    title = html.escape(f"Backtest {run.strategy.path.name} on {run.series.symbol}")
    return (
        f'<!DOCTYPE html><html><head><meta charset="utf-8"><title>{title}</title>'
        f"<style>{STYLE}</style></head><body><h1>{title}</h1>{plot}{details(run)}</body></html>"
    )


def write_report(run: StrategyRun, out: Path) -> Path:
    """Write the report to `out` atomically (temp file in the same folder, then rename)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(render(run))
        os.replace(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return out
