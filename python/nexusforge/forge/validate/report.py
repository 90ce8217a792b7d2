"""The gate's HTML report: per challenger the stitched out-of-sample equity, the bootstrap
Sharpe and drawdown distributions, the null searches against the found score, the DSR and
the checks; for the run the PBO logit distribution. plotly.js is embedded (opens offline)."""

from __future__ import annotations

import html
import json
from pathlib import Path

import numpy as np
import numpy.typing as npt
import plotly.graph_objects as go  # type: ignore[import-untyped]
from plotly.subplots import make_subplots  # type: ignore[import-untyped]

from nexusforge.forge.validate.gate import GateResult, Judged, write_text


def candidate_figure(j: Judged, null_best: npt.NDArray[np.float64]) -> go.Figure:
    """OOS equity, bootstrap Sharpe and drawdown histograms, null scores vs the found one."""
    c = j.evidence
    fig = make_subplots(rows=2, cols=2, subplot_titles=(
        "Stitched out-of-sample equity (trade windows, net)",
        "Bootstrap Sharpe (stationary blocks, OOS)",
        "Bootstrap max drawdown (OOS)",
        "Null searches' best score vs the found score",
    ))  # fmt: skip
    eq = np.cumprod(1.0 + c.out_of_sample.returns)
    fig.add_trace(go.Scatter(y=eq, name="OOS equity"), row=1, col=1)
    fig.add_trace(go.Histogram(x=c.monte_carlo.sharpe, name="Sharpe", nbinsx=40), row=1, col=2)
    fig.add_vline(x=c.oos_sharpe, line_dash="dash", row=1, col=2)
    fig.add_trace(go.Histogram(x=c.monte_carlo.max_drawdown, name="max DD", nbinsx=40),
                  row=2, col=1)  # fmt: skip
    fig.add_trace(go.Histogram(x=null_best, name="null best", nbinsx=20), row=2, col=2)
    fig.add_vline(x=c.score, line_color="red", row=2, col=2)
    fig.update_layout(height=700, showlegend=False, title=j.decision.infix[:120])
    return fig


def pbo_figure(result: GateResult) -> go.Figure | None:
    """Histogram of the CSCV logits (left of 0 = the IS winner fell below the OOS median)."""
    p = result.evidence.pbo
    if p is None:
        return None
    fig = go.Figure(go.Histogram(x=p.logits, nbinsx=40, name="logit"))
    fig.add_vline(x=0.0, line_color="red")
    fig.update_layout(height=350, title=f"PBO = {p.pbo:.3f} over {p.strategies} strategies, "
                      f"{p.blocks} blocks ({len(p.logits)} splits)")  # fmt: skip
    return fig


def _checks_table(j: Judged) -> str:
    rows = "".join(
        f"<tr><td>{html.escape(c.name)}</td><td>{'' if c.value is None else f'{c.value:.4g}'}"
        f"</td><td>{html.escape(c.rule)}</td><td>{'pass' if c.passed else 'FAIL'}</td></tr>"
        for c in j.decision.checks
    )
    return f"<table><tr><th>check</th><th>value</th><th>rule</th><th></th></tr>{rows}</table>"


def _section(j: Judged, null_best: npt.NDArray[np.float64], with_js: bool) -> str:
    verdict = "VALIDATED" if j.decision.passed else "REJECTED: " + ", ".join(j.decision.failed)
    plot = candidate_figure(j, null_best).to_html(full_html=False, include_plotlyjs=with_js)
    figs = html.escape(json.dumps(j.decision.figures, indent=2))
    return (f"<h2>{html.escape(j.decision.source)} — {html.escape(verdict)}</h2>"
            f"<p><code>{html.escape(j.decision.infix)}</code></p>{_checks_table(j)}{plot}"
            f"<details><summary>figures</summary><pre>{figs}</pre></details>")  # fmt: skip


def render(result: GateResult) -> str:
    """The whole report as one HTML document."""
    parts, first = [], True
    pf = pbo_figure(result)
    if pf is not None:
        parts.append(pf.to_html(full_html=False, include_plotlyjs=True))
        first = False
    for j in result.judged:
        parts.append(_section(j, result.evidence.null.null_best, first))
        first = False
    title = f"Validation gate — {html.escape(result.run.path.name)}"
    head = (f"<p>{len(result.validated)} validated, "
            f"{sum(not j.decision.passed for j in result.judged)} rejected.</p>")  # fmt: skip
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>{title}</title>"
            "<style>body{font-family:sans-serif;margin:2em}td,th{padding:2px 8px}</style>"
            f"</head><body><h1>{title}</h1>{head}{''.join(parts)}</body></html>")  # fmt: skip


def write_report(result: GateResult, out: Path | None = None) -> Path:
    """Write the report (default: `report.html` beside the gate's summary)."""
    path = out or result.summary.parent / "report.html"
    write_text(path, render(result))
    return path
