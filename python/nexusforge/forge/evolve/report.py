"""The Forge run report: one standalone HTML page (plotly.js inlined, opens offline) of a
finished run folder — fitness by generation, diversity, surrogate savings, the causal parents,
the hall of fame, the challengers and, when the validation gate ran, its verdict per challenger.

Every file is read as data and checked (msgspec types for JSON, required columns for parquet);
a required file that is missing or malformed is a `DataError` naming it, an optional part that
the run did not record (causal graph, challengers, gate) is a section saying so.

    write_run_report(Path("runs/r1"))      # -> runs/r1/report.html, title "Forge run r1"
"""

from __future__ import annotations

import base64
import html
import math
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import msgspec
import plotly.graph_objects as go  # type: ignore[import-untyped]
import polars as pl
from plotly.subplots import make_subplots  # type: ignore[import-untyped]

from nexusforge.errors import DataError, NexusForgeError
from nexusforge.strategy import artifact, to_infix

REPORT_NAME = "report.html"
MAX_JSON_BYTES = 64 << 20  # a run's JSON files are KBs; anything near this is not one
MAX_PNG_BYTES = 8 << 20  # the causal graph PNG embedded in the page
RUN_KIND = "nexusforge.forge.run"
# generations.parquet: the columns every plot needs, and those shown when recorded.
REQUIRED_COLUMNS = ("generation", "best", "mean", "median")
OPTIONAL_COLUMNS = ("mean_size", "unique_share", "score_std", "offspring", "evaluated",
                    "cached", "skipped", "surrogate_spearman")  # fmt: skip
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
T = TypeVar("T")


class Manifest(msgspec.Struct, frozen=True, kw_only=True):
    """The manifest fields the report shows (others are kept in the file, not needed here)."""

    kind: str
    status: str
    seed: int
    written_utc: str = ""
    rows: int | None = None
    fingerprint: str | None = None
    trials: int | None = None
    fitness_rule: str | None = None
    error: str | None = None
    versions: dict[str, str] = msgspec.field(default_factory=dict)
    config: dict[str, Any] = msgspec.field(default_factory=dict)
    adversarial: dict[str, Any] | None = None


class Parent(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A causal parent of the return as `causal/graph.json` records it."""

    feature: str
    lag: int
    tau: int
    strength: float
    p_value: float


class Graph(msgspec.Struct, frozen=True, kw_only=True):
    """`causal/graph.json`: the target's parents and what discovery looked at."""

    target: str
    parents: list[Parent]
    variables: list[str]
    dropped: list[str] = msgspec.field(default_factory=list)
    rows: int
    seconds: float


class FameEntry(msgspec.Struct, frozen=True, kw_only=True):
    """One `hall_of_fame.json` entry."""

    rank: int
    id: int
    score: float
    infix: str
    trade_sharpe: float | None = None


class Check(msgspec.Struct, frozen=True, kw_only=True):
    """One gate check of one challenger."""

    name: str
    value: float | None
    threshold: float | None = None
    rule: str
    passed: bool
    skipped: bool = False


class Decision(msgspec.Struct, frozen=True, kw_only=True):
    """The gate's decision on one challenger file (`source` is its file name)."""

    source: str
    infix: str
    passed: bool
    failed: list[str]
    skipped: list[str] = msgspec.field(default_factory=list)
    checks: list[Check]


class GateSummary(msgspec.Struct, frozen=True, kw_only=True):
    """`validation/summary.json`: what the gate decided and where it wrote."""

    passed: int
    rejected: int
    decisions: list[Decision]
    validated: list[str] = msgspec.field(default_factory=list)
    published: list[str] = msgspec.field(default_factory=list)


@dataclass(frozen=True)
class RunRecord:
    """Everything the report shows, read from one run folder."""

    path: Path
    manifest: Manifest
    generations: pl.DataFrame
    population: pl.DataFrame | None  # score and surrogate prediction per evaluated individual
    graph: Graph | None
    graph_png: bytes | None
    hall_of_fame: tuple[FameEntry, ...]
    challengers: tuple[tuple[str, artifact.Challenger], ...]
    gate: GateSummary | None
    gate_report: Path | None


# ---- reading ----


def _json(path: Path, kind: type[T]) -> T:
    """`path` decoded and checked as `kind`; DataError naming the file otherwise."""
    try:
        size = path.stat().st_size
        if size > MAX_JSON_BYTES:
            raise DataError(f"{path}: {size} bytes, too large for a run file")
        return msgspec.json.decode(path.read_bytes(), type=kind)
    except OSError as exc:
        raise DataError(f"{path}: cannot read ({exc.strerror})") from None
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        raise DataError(f"{path}: not a valid run file ({exc})") from None


def _optional_json(path: Path, kind: type[T]) -> T | None:
    return _json(path, kind) if path.exists() else None


def read_generations(path: Path) -> pl.DataFrame:
    """The per-generation statistics, sorted by generation, numeric columns as Float64."""
    try:
        frame = pl.read_parquet(path)
    except FileNotFoundError:
        raise DataError(f"{path}: missing (the run recorded no generations)") from None
    except (OSError, pl.exceptions.PolarsError) as exc:
        raise DataError(f"{path}: cannot read ({exc})") from None
    missing = [c for c in REQUIRED_COLUMNS if c not in frame.columns]
    if missing:
        raise DataError(f"{path}: no column {', '.join(missing)}")
    wanted = [c for c in (*REQUIRED_COLUMNS, *OPTIONAL_COLUMNS) if c in frame.columns]
    bad = [c for c in wanted if not frame.schema[c].is_numeric()]
    if bad:
        raise DataError(f"{path}: column {', '.join(bad)} is not numeric")
    if frame.is_empty():
        raise DataError(f"{path}: no generation recorded")
    out = frame.select([pl.col(c).cast(pl.Float64) for c in wanted]).sort("generation")
    if out["generation"].is_duplicated().any():
        raise DataError(f"{path}: a generation is recorded twice")
    return out


def _read_population(path: Path) -> pl.DataFrame | None:
    """Score and surrogate prediction per evaluated individual; None when not recorded."""
    if not path.exists():
        return None
    try:
        frame = pl.read_parquet(path, columns=["score", "predicted"])
    except (OSError, pl.exceptions.PolarsError) as exc:
        raise DataError(f"{path}: cannot read score/predicted ({exc})") from None
    if not all(frame.schema[c].is_numeric() or frame.schema[c] == pl.Null for c in frame.columns):
        raise DataError(f"{path}: score/predicted are not numeric")
    return frame.select(pl.all().cast(pl.Float64))


def _read_png(path: Path) -> bytes | None:
    if not path.exists():
        return None
    try:
        data = path.read_bytes() if path.stat().st_size <= MAX_PNG_BYTES else b""
    except OSError as exc:
        raise DataError(f"{path}: cannot read ({exc.strerror})") from None
    if not data.startswith(PNG_MAGIC):
        raise DataError(f"{path}: not a PNG image (or over {MAX_PNG_BYTES} bytes)")
    return data


def _read_challengers(folder: Path) -> tuple[tuple[str, artifact.Challenger], ...]:
    """The run's challenger files, best first (their rank), each hash-checked."""
    out = []
    for p in sorted(folder.glob("challenger-*.json")):
        try:
            out.append((p.name, artifact.read(p)))
        except NexusForgeError as exc:  # a damaged challenger is never shown as if it were fine
            raise DataError(f"{p}: {exc}") from None
    return tuple(sorted(out, key=lambda c: int(c[1].origin.get("rank", 0) or 0)))


def read_run_record(run_dir: Path) -> RunRecord:
    """Read and check a run folder for the report."""
    if not run_dir.is_dir():
        raise DataError(f"{run_dir}: no such run folder")
    man = _json(run_dir / "manifest.json", Manifest)
    if man.kind != RUN_KIND:
        raise DataError(f"{run_dir / 'manifest.json'}: kind {man.kind!r}, not a Forge run")
    if man.status != "complete":  # results are written only at the end of a run
        why = f": {man.error}" if man.error else ""
        raise DataError(f"{run_dir / 'manifest.json'}: the run is {man.status}{why}; "
                        "only a complete run has a report")  # fmt: skip
    fame = _optional_json(run_dir / "hall_of_fame.json", list[FameEntry]) or []
    gate_html = run_dir / "validation" / "report.html"
    return RunRecord(
        path=run_dir,
        manifest=man,
        generations=read_generations(run_dir / "generations.parquet"),
        population=_read_population(run_dir / "population.parquet"),
        graph=_optional_json(run_dir / "causal" / "graph.json", Graph),
        graph_png=_read_png(run_dir / "causal" / "graph.png"),
        hall_of_fame=tuple(fame),
        challengers=_read_challengers(run_dir / "challengers"),
        gate=_optional_json(run_dir / "validation" / "summary.json", GateSummary),
        gate_report=gate_html if gate_html.is_file() else None,
    )


# ---- figures ----


def _values(frame: pl.DataFrame, col: str) -> list[float | None]:
    """A column as a plain list (numbers in the page, not base64), NaN as a gap."""
    return [v if v is not None and math.isfinite(v) else None for v in frame[col].to_list()]


def fitness_figure(gens: pl.DataFrame) -> go.Figure:
    """Best, mean and median fitness by generation; diversity below when recorded."""
    x = [int(g) for g in gens["generation"].to_list()]
    diversity = [c for c in ("unique_share", "score_std", "mean_size") if c in gens.columns]
    rows = 2 if diversity else 1
    titles = ["Fitness by generation"] + (["Diversity by generation"] if diversity else [])
    specs = [[{"secondary_y": False}]] + ([[{"secondary_y": True}]] if diversity else [])
    fig = make_subplots(rows=rows, cols=1, subplot_titles=titles, vertical_spacing=0.12,
                        specs=specs)  # fmt: skip
    for name in ("best", "mean", "median"):
        fig.add_trace(go.Scatter(x=x, y=_values(gens, name), name=name, mode="lines+markers"),
                      row=1, col=1)  # fmt: skip
    labels = {"unique_share": "unique share", "score_std": "score std", "mean_size": "mean size"}
    for name in diversity:  # the share (0..1) on its own axis, right
        fig.add_trace(go.Scatter(x=x, y=_values(gens, name), name=labels[name],
                                 mode="lines+markers"), row=2, col=1,
                      secondary_y=name == "unique_share")  # fmt: skip
    if diversity:
        fig.update_yaxes(title_text="unique share", range=[0, 1.05], tickmode="auto", row=2, col=1,
                         secondary_y=True)  # fmt: skip
        fig.update_yaxes(title_text="score std, mean size", row=2, col=1, secondary_y=False)
    fig.update_yaxes(title_text="fitness", row=1, col=1)
    fig.update_xaxes(title_text="generation", dtick=1)
    fig.update_layout(height=360 * rows, margin={"t": 40, "b": 30})
    return fig


def surrogate_figure(gens: pl.DataFrame, pop: pl.DataFrame | None) -> go.Figure | None:
    """Offspring fully evaluated / reused / screened out per generation, the surrogate's rank
    correlation per generation, and its prediction against the true score."""
    counts = [c for c in ("evaluated", "cached", "skipped") if c in gens.columns]
    if not counts:
        return None
    x = [int(g) for g in gens["generation"].to_list()]
    fig = make_subplots(rows=1, cols=3, subplot_titles=(
        "Offspring per generation", "Surrogate rank correlation (Spearman)",
        "Predicted vs true score"))  # fmt: skip
    names = {"evaluated": "fully evaluated", "cached": "already known",
             "skipped": "screened out by the surrogate"}  # fmt: skip
    for c in counts:
        fig.add_trace(go.Bar(x=x, y=_values(gens, c), name=names[c]), row=1, col=1)
    if "surrogate_spearman" in gens.columns:
        fig.add_trace(go.Scatter(x=x, y=_values(gens, "surrogate_spearman"), name="Spearman",
                                 mode="lines+markers"), row=1, col=2)  # fmt: skip
    if pop is not None:
        both = pop.drop_nulls().filter(pl.col("predicted").is_finite() & pl.col("score")
                                       .is_finite())  # fmt: skip
        fig.add_trace(go.Scatter(x=both["predicted"].to_list(), y=both["score"].to_list(),
                                 mode="markers", name="individual"), row=1, col=3)  # fmt: skip
        fig.update_xaxes(title_text="predicted", row=1, col=3)
        fig.update_yaxes(title_text="true score", row=1, col=3)
    fig.update_xaxes(title_text="generation", dtick=1, row=1, col=1)
    fig.update_xaxes(title_text="generation", dtick=1, row=1, col=2)
    fig.update_layout(barmode="stack", height=380, margin={"t": 40, "b": 30})
    return fig


def causal_figure(graph: Graph) -> go.Figure | None:
    """MCI strength of each parent of the return (feature at its strategy lag)."""
    if not graph.parents:
        return None
    ps = sorted(graph.parents, key=lambda p: abs(p.strength))
    fig = go.Figure(go.Bar(
        x=[p.strength for p in ps], y=[f"{p.feature} @ lag {p.lag}" for p in ps],
        orientation="h", name="MCI strength",
        customdata=[[p.tau, p.p_value] for p in ps],
        hovertemplate="%{y}: strength %{x:.4f}, tau %{customdata[0]}, p %{customdata[1]:.2e}",
    ))  # fmt: skip
    fig.update_layout(title=f"Causal parents of {graph.target} (MCI strength)",
                      height=120 + 32 * len(ps), margin={"t": 40, "b": 30, "l": 200})  # fmt: skip
    return fig


# ---- HTML ----


STYLE = (
    "body{font-family:sans-serif;margin:2em;max-width:1280px}"
    "table{border-collapse:collapse;margin-bottom:1em}"
    "th,td{border:1px solid #ccc;padding:2px 8px;text-align:left;vertical-align:top}"
    "td.n{font-family:monospace;text-align:right}code{white-space:pre-wrap}"
    ".pass{color:#080}.fail{color:#b00}.none{color:#777;font-style:italic}"
    "img{max-width:100%;border:1px solid #ddd}"
)


def _fmt(value: object) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return "nan" if math.isnan(value) else f"{value:.4g}"
    return str(value)


def _table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(_cell(v) for v in row) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _cell(value: object) -> str:
    if isinstance(value, Raw):
        return f"<td>{value.html}</td>"
    cls = ' class="n"' if isinstance(value, int | float) and not isinstance(value, bool) else ""
    return f"<td{cls}>{html.escape(_fmt(value))}</td>"


@dataclass(frozen=True)
class Raw:
    """A table cell already written as HTML (escaped by whoever built it)."""

    html: str


def _none(text: str) -> str:
    return f'<p class="none">{html.escape(text)}</p>'


def _plot(fig: go.Figure, first: list[bool]) -> str:
    """The figure's div; plotly.js (from the installed package) inlined with the first one."""
    out: str = fig.to_html(full_html=False, include_plotlyjs=first[0])
    first[0] = False
    return out


def overview(rec: RunRecord) -> str:
    """The run's identity: status, seed, data, code revision, evaluation totals."""
    m, gens = rec.manifest, rec.generations
    data = m.config.get("data", {}) if isinstance(m.config.get("data"), dict) else {}
    series = ":".join(str(data.get(k, "?")) for k in ("venue", "symbol", "interval_s"))
    rows: list[tuple[str, object]] = [
        ("run folder", str(rec.path)), ("status", m.status), ("seed", m.seed),
        ("written (UTC)", m.written_utc), ("series", series), ("research rows", m.rows),
        ("table fingerprint", m.fingerprint), ("generations", gens.height - 1),
        ("full evaluations (trials)", m.trials),
        ("code revision", m.versions.get("code_revision", "unknown")),
    ]  # fmt: skip
    if m.error:
        rows.append(("error", m.error))
    if m.fitness_rule:
        rows.append(("fitness rule", m.fitness_rule))
    return "<h2>Run</h2>" + _table(("", ""), rows)


def savings(gens: pl.DataFrame, pop: pl.DataFrame | None, config: dict[str, Any]) -> str:
    """Surrogate savings in figures: new offspring screened out vs fully evaluated."""
    if not all(c in gens.columns for c in ("evaluated", "skipped")):
        return _none("Surrogate statistics not recorded in generations.parquet.")
    later = gens.filter(pl.col("generation") > 0)
    evaluated, skipped = int(later["evaluated"].sum()), int(later["skipped"].sum())
    new = evaluated + skipped
    cached = int(later["cached"].sum()) if "cached" in later.columns else None
    rho = spearman(pop)
    sur = config.get("surrogate", {}) if isinstance(config.get("surrogate"), dict) else {}
    rows: list[tuple[str, object]] = [
        ("surrogate enabled", sur.get("enabled", "not recorded")),
        ("new offspring after generation 0", new),
        ("fully evaluated", evaluated),
        ("screened out by the surrogate (full evaluations saved)", skipped),
        ("share of full evaluations saved", skipped / new if new else None),
        ("offspring already known (score reused, no evaluation)", cached),
        ("Spearman of prediction vs true score (all predicted individuals)", rho),
    ]  # fmt: skip
    return _table(("", ""), rows)


def spearman(pop: pl.DataFrame | None) -> float | None:
    """Rank correlation of the surrogate's prediction with the true score, over every
    individual that was predicted and then fully evaluated (None below 3 such)."""
    if pop is None:
        return None
    both = pop.drop_nulls().filter(pl.col("predicted").is_finite() & pl.col("score").is_finite())
    if both.height < 3:
        return None
    rho = both.select(pl.corr("predicted", "score", method="spearman")).item()
    return float(rho) if rho is not None and math.isfinite(rho) else None


def causal_section(rec: RunRecord, first: list[bool]) -> str:
    """The parents table, their strengths as bars, and the run's own graph PNG."""
    parts = ["<h2>Causal graph</h2>"]
    g = rec.graph
    if g is None:
        parts.append(_none("causal/graph.json not recorded."))
    else:
        parts.append(f"<p>Target <code>{html.escape(g.target)}</code>; PCMCI on {g.rows} rows "
                     f"of {len(g.variables)} variables ({g.seconds:.3g} s).</p>")  # fmt: skip
        if g.dropped:
            parts.append(f"<p>Dropped: {html.escape(', '.join(g.dropped))}</p>")
        if g.parents:
            rows = [(p.feature, p.lag, p.tau, p.strength, p.p_value) for p in g.parents]
            parts.append(_table(("feature", "strategy lag (bars)", "tau", "MCI strength",
                                 "p-value"), rows))  # fmt: skip
        fig = causal_figure(g)
        parts.append(_plot(fig, first) if fig is not None else _none("No causal parent found."))
    if rec.graph_png is not None:
        data = base64.b64encode(rec.graph_png).decode("ascii")
        parts.append(f'<p><img alt="causal graph" src="data:image/png;base64,{data}"></p>')
    else:
        parts.append(_none("causal/graph.png not recorded."))
    return "".join(parts)


def _verdicts(gate: GateSummary | None) -> dict[str, Decision]:
    return {} if gate is None else {d.source: d for d in gate.decisions}


def _verdict(d: Decision | None) -> Raw:
    if d is None:
        return Raw('<span class="none">not judged</span>')
    if d.passed:
        return Raw('<span class="pass">validated</span>')
    return Raw(f'<span class="fail">rejected: {html.escape(", ".join(d.failed))}</span>')


def challengers_section(rec: RunRecord) -> str:
    """The challenger files the run wrote, with their scores and the gate's verdict."""
    if not rec.challengers:
        return "<h2>Challengers</h2>" + _none("No challenger file recorded (challengers/).")
    verdicts = _verdicts(rec.gate)
    keys = ("fitness", "train_sharpe", "test_sharpe", "trade_sharpe", "trade_total_return",
            "trade_max_drawdown", "trade_turnover")  # fmt: skip
    extra = sorted({k for _, c in rec.challengers for k in c.scores} - set(keys)
                   - {f"{s}_{m}" for s in ("train", "test") for m in
                      ("total_return", "max_drawdown", "turnover")})  # fmt: skip
    rows = []
    for name, ch in rec.challengers:
        code = Raw(f"<code>{html.escape(to_infix(ch.expr))}</code>")
        scores = [ch.scores.get(k) for k in (*keys, *extra)]
        rows.append((ch.origin.get("rank"), name, code, *scores, _verdict(verdicts.get(name))))
    header = ("rank", "file", "expression", *keys, *extra, "gate")
    return "<h2>Challengers</h2>" + _table(header, rows)


def gate_section(rec: RunRecord, page_dir: Path) -> str:
    """Pass/fail of every check per challenger, or why there is none."""
    gate = rec.gate
    if gate is None:
        return "<h2>Validation gate</h2>" + _none(
            "Gate not recorded (no validation/summary.json): the run ended with --no-validate "
            f"or the gate has not run yet (`nexusforge validate {rec.path}`).")  # fmt: skip
    parts = [f"<h2>Validation gate</h2><p>{gate.passed} validated, {gate.rejected} rejected."]
    if rec.gate_report is not None:
        href = html.escape(Path(os.path.relpath(rec.gate_report, page_dir)).as_posix())
        parts.append(f' Full evidence: <a href="{href}">the gate\'s report</a>.')
    parts.append("</p>")
    for d in gate.decisions:
        rows = [(c.name, c.value, c.rule,
                 Raw('<span class="none">skipped</span>') if c.skipped
                 else Raw('<span class="pass">pass</span>') if c.passed
                 else Raw('<span class="fail">FAIL</span>'))
                for c in d.checks]  # fmt: skip
        parts.append(f"<h3>{html.escape(d.source)} — {_verdict(d).html}</h3>"
                     f"<p><code>{html.escape(d.infix)}</code></p>"
                     + _table(("check", "value", "rule", "outcome"), rows))  # fmt: skip
    return "".join(parts)


def hall_of_fame_section(rec: RunRecord) -> str:
    """The final hall of fame with fitness and held-out trade Sharpe."""
    if not rec.hall_of_fame:
        return "<h2>Hall of fame</h2>" + _none("hall_of_fame.json not recorded or empty.")
    rows = [(e.rank, e.score, e.trade_sharpe, Raw(f"<code>{html.escape(e.infix)}</code>"))
            for e in rec.hall_of_fame]  # fmt: skip
    return (f"<h2>Hall of fame ({len(rows)})</h2>"
            + _table(("rank", "fitness", "trade Sharpe", "expression"), rows))  # fmt: skip


def render(rec: RunRecord, page_dir: Path | None = None) -> str:
    """The whole report as one HTML document with plotly.js inlined; links are relative to
    `page_dir` (default the run folder), where the page will be written."""
    first = [True]
    gens = rec.generations
    sur = surrogate_figure(gens, rec.population)
    body = [
        overview(rec),
        "<h2>Fitness by generation</h2>", _plot(fitness_figure(gens), first),
        "<h2>Surrogate savings</h2>", savings(gens, rec.population, rec.manifest.config),
        _plot(sur, first) if sur is not None else "",
        causal_section(rec, first),
        hall_of_fame_section(rec),
        challengers_section(rec),
        gate_section(rec, page_dir or rec.path),
    ]  # fmt: skip
    title = html.escape(f"Forge run {rec.path.resolve().name}")
    return (f'<!DOCTYPE html><html><head><meta charset="utf-8"><title>{title}</title>'
            f"<style>{STYLE}</style></head><body><h1>{title}</h1>{''.join(body)}"
            "</body></html>")  # fmt: skip


def write_run_report(run_dir: Path, out: Path | None = None) -> Path:
    """Read the run folder and write its report (default `run_dir/report.html`) atomically."""
    target = out or run_dir / REPORT_NAME
    text = render(read_run_record(run_dir), target.parent)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.chmod(tmp, 0o644)  # mkstemp makes it private; a report is meant to be shared
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target
