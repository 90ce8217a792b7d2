"""How a fidelity report is shown: a rich table for the terminal, a standalone HTML page with
plotly charts (plotly.js embedded, opens offline). `sim check --png` exports the page as PNG
with `nexusforge.report_png` (headless Chromium), like every other report."""

from __future__ import annotations

import html
import json
import math
import os
import sys
import tempfile
from pathlib import Path

import numpy as np
import plotly.graph_objects as go  # type: ignore[import-untyped]
from plotly.subplots import make_subplots  # type: ignore[import-untyped]
from rich.console import Console
from rich.table import Table

from nexusforge.forge.sim import facts
from nexusforge.forge.sim.check import (
    ABS_ACF_MAX_LAG,
    SIGN_ACF_MAX_LAG,
    FidelityReport,
    ImpactPlan,
    Pooled,
    check_fidelity,
)
from nexusforge.forge.sim.config import SimConfig
from nexusforge.forge.sim.facts import FloatArray


def _fmt(x: float) -> str:
    if math.isnan(x):
        return "—"
    if math.isinf(x):
        return "∞" if x > 0 else "−∞"
    return f"{x:.4g}"


def text_table(report: FidelityReport) -> Table:
    """One row per fact: value, 95 % interval across seeds, target, real value, pass/fail."""
    table = Table(title=f"Simulator fidelity over {len(report.seeds)} seeds")
    for col in ("fact", "value", "95 % interval", "target", "real", ""):
        table.add_column(col)
    for name, f in report.facts.items():
        lo, hi = f.interval
        mark = "[green]pass[/green]" if f.passed else "[red]FAIL[/red]"
        table.add_row(
            name,
            _fmt(f.value),
            f"[{_fmt(lo)}, {_fmt(hi)}]",
            f"[{_fmt(f.spec.lo)}, {_fmt(f.spec.hi)}]",
            _fmt(f.real),
            mark,
        )
    return table


def _normal_pdf(x: FloatArray) -> FloatArray:
    return np.exp(-0.5 * x * x) / math.sqrt(2 * math.pi)


def _standardize(r: FloatArray) -> FloatArray:
    r = r[np.isfinite(r)]
    sd = r.std()
    return (r - r.mean()) / sd if sd > 0 else r


def _density(values: FloatArray, edges: FloatArray) -> FloatArray:
    counts, _ = np.histogram(values, bins=edges, density=True)
    return counts.astype(np.float64)


def _mean_acf(series: tuple[FloatArray, ...], max_lag: int) -> FloatArray:
    acfs = [facts.autocorrelation(s, max_lag) for s in series if len(s) > max_lag + 1]
    return np.nanmean(np.vstack(acfs), axis=0) if acfs else np.full(max_lag, np.nan)


def figure(report: FidelityReport) -> go.Figure:
    """Return density vs normal, |r| ACF and sign ACF in log-log with fits, and the impact curve."""
    fig = make_subplots(
        rows=2, cols=2, vertical_spacing=0.12,
        subplot_titles=(
            "1-min returns (standardized, log density) vs normal",
            f"ACF of |r|, lags 1–{ABS_ACF_MAX_LAG} (log-log)",
            "Meta-order impact I/σ vs Q/V (log-log)",
            f"Taker-order sign ACF, lags 1–{SIGN_ACF_MAX_LAG} (log-log)",
        ),
    )  # fmt: skip
    pooled = report.pooled
    if pooled is not None:
        _returns_panel(fig, pooled)
        _acf_panel(fig, pooled.sim_abs_returns, (np.abs(pooled.real_returns),), ABS_ACF_MAX_LAG, 2)
        _acf_panel(fig, pooled.sim_signs, (pooled.real_signs,), SIGN_ACF_MAX_LAG, 4)
        _impact_panel(fig, pooled)
    for row, col in ((1, 2), (2, 1), (2, 2)):
        fig.update_xaxes(type="log", row=row, col=col)
        fig.update_yaxes(type="log", row=row, col=col)
    fig.update_yaxes(type="log", row=1, col=1)
    fig.update_layout(height=900, margin={"t": 60, "b": 20})
    return fig


def _returns_panel(fig: go.Figure, pooled: Pooled) -> None:
    edges = np.linspace(-10, 10, 161)
    mid = 0.5 * (edges[1:] + edges[:-1])
    for name, r in (("sim", pooled.sim_returns), ("real", pooled.real_returns)):
        if len(r) > 10:
            dens = _density(_standardize(r), edges)
            fig.add_trace(go.Scatter(x=mid, y=np.where(dens > 0, dens, np.nan), name=name), 1, 1)
    fig.add_trace(
        go.Scatter(x=mid, y=_normal_pdf(mid), name="normal", line={"dash": "dot"}), row=1, col=1
    )


def _acf_panel(
    fig: go.Figure,
    sim: tuple[FloatArray, ...],
    real: tuple[FloatArray, ...],
    max_lag: int,
    panel: int,
) -> None:
    row, col = (1, 2) if panel == 2 else (2, 2)
    lags = np.arange(1, max_lag + 1, dtype=np.float64)
    fit_lags = facts.log_spaced_lags(max_lag)
    for name, series in (("sim (mean over seeds)", sim), ("real", real)):
        acf = _mean_acf(series, max_lag)
        fig.add_trace(go.Scatter(x=lags, y=acf, mode="markers", name=name), row=row, col=col)
        fit = facts.power_law_decay(fit_lags, acf[fit_lags - 1])
        if math.isfinite(fit.exponent):
            label = f"{name} fit: exponent {fit.exponent:.2f}"
            curve = fit.prefactor * lags**-fit.exponent
            fig.add_trace(go.Scatter(x=lags, y=curve, name=label), row=row, col=col)


def _impact_panel(fig: go.Figure, pooled: Pooled) -> None:
    q, i = pooled.impact_q_over_v, pooled.impact_over_sigma
    if len(q) == 0:
        return
    fig.add_trace(go.Scatter(x=q, y=i, mode="markers", name="meta-orders"), row=2, col=1)
    fit = facts.impact_law(q, i)
    if math.isfinite(fit.exponent):
        grid = np.geomspace(q[q > 0].min(), q.max(), 50)
        label = f"fit: Y={fit.prefactor:.2f}, δ={fit.exponent:.2f}"
        fig.add_trace(go.Scatter(x=grid, y=fit.prefactor * grid**fit.exponent, name=label), 2, 1)


STYLE = (
    "body{font-family:sans-serif;margin:2em;max-width:1200px}"
    "table{border-collapse:collapse}th,td{border:1px solid #ccc;padding:2px 8px;text-align:left}"
    "td{font-family:monospace}.pass{color:#080}.fail{color:#b00}"
)


def facts_html(report: FidelityReport) -> str:
    """The fact table as HTML."""
    head = "<tr><th>fact</th><th>value</th><th>95 % interval</th><th>target</th>"
    head += "<th>real</th><th></th><th>meaning</th></tr>"
    rows = []
    for name, f in report.facts.items():
        lo, hi = f.interval
        verdict = '<td class="pass">pass</td>' if f.passed else '<td class="fail">FAIL</td>'
        cells = (
            name, _fmt(f.value), f"[{_fmt(lo)}, {_fmt(hi)}]",
            f"[{_fmt(f.spec.lo)}, {_fmt(f.spec.hi)}]", _fmt(f.real),
        )  # fmt: skip
        row = "".join(f"<td>{html.escape(c)}</td>" for c in cells)
        rows.append(f"<tr>{row}{verdict}<td>{html.escape(f.spec.meaning)}</td></tr>")
    return f"<table>{head}{''.join(rows)}</table>"


def render(report: FidelityReport) -> str:
    """The whole report as one HTML document."""
    plot = figure(report).to_html(full_html=False, include_plotlyjs=True)
    sources = "".join(
        f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>"
        for k, v in report.real_sources.items()
    )
    config = "".join(
        f"<tr><th>{html.escape(str(k))}</th><td>{html.escape(str(v))}</td></tr>"
        for k, v in report.config.items()
    )
    title = f"Simulator fidelity: {len(report.seeds)} seeds"
    return (
        f'<!DOCTYPE html><html><head><meta charset="utf-8"><title>{title}</title>'
        f"<style>{STYLE}</style></head><body><h1>{title}</h1>{facts_html(report)}{plot}"
        f"<h2>Real data (files under shared/data)</h2><table>{sources}</table>"
        f"<h2>Config</h2><table>{config}</table></body></html>"
    )


def write_html(report: FidelityReport, out: Path) -> Path:
    """Write the HTML report to `out` atomically (temp file in the same folder, then rename)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(render(report))
        os.chmod(tmp, 0o644)  # mkstemp makes it private; a report is meant to be shared
        os.replace(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return out


def print_check(report: FidelityReport, console: Console, out: Path | None, as_json: bool) -> None:
    """What `nexusforge sim check` shows: exact JSON, or the table; the HTML report."""
    if as_json:
        # Plain stdout, not rich: the output must be exactly the JSON document.
        sys.stdout.write(json.dumps(report.to_json(), allow_nan=False, indent=2) + "\n")
    else:
        console.print(text_table(report))
    if out is None:
        return
    write_html(report, out)
    if not as_json:
        console.print(f"report written to {out}")


def run_check(
    config: SimConfig, seeds: int, plan: ImpactPlan, data_dir: Path | None, console: Console
) -> FidelityReport:
    """`check_fidelity` with a progress line on the console (stderr-safe: rich status)."""
    with console.status(f"fidelity check: 0/{seeds} seeds") as status:
        done = 0

        def step(seed: int) -> None:
            nonlocal done
            done += 1
            status.update(f"fidelity check: {done}/{seeds} seeds (last: {seed})")

        return check_fidelity(config, seeds, data_dir=data_dir, impact=plan, progress=step)
