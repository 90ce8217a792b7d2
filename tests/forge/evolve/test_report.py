"""The Forge run report on a real run folder (GP on the planted table, then the validation gate
with a reduced workload): every generation's fitness in the page's plot data, the surrogate's
figures, the causal parents, each challenger with the gate's verdict; the parts a run did not
record; damaged files named in the error; `forge report --png`; `forge run` writing it."""

from __future__ import annotations

import json
import os
import shutil
import tomllib
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from typer.testing import CliRunner

from nexusforge.cli import app
from nexusforge.errors import DataError
from nexusforge.forge.evolve.report import read_run_record, spearman, write_run_report
from nexusforge.forge.evolve.run import parse_config, run_on_table
from nexusforge.forge.evolve.table import ResearchTable
from nexusforge.forge.validate.config import parse_gate_config
from nexusforge.forge.validate.gate import validate_run
from nexusforge.forge.validate.report import write_report
from nexusforge.nexus.dashboard.reports import ReportFolder
from nexusforge.report_png import find_chromium

runner = CliRunner()
GATE = """
nulls = 2
pbo_blocks = 4
pbo_max_strategies = 20
bootstrap_paths = 20
[refute]
rows = 500
simulations = 2
"""

SMALL = """
seed = 5
challengers = 1
[data]
max_rows = 6000
[causal]
sample_rows = 1500
[gp]
population = 12
generations = 1
[fitness]
folds = 2
[surrogate]
min_train = 10
[eval]
backend = "inline"
"""


@pytest.fixture(scope="module")
def run_dir(planted: ResearchTable, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A complete run folder with the gate's decisions (about 10 s, once per module)."""
    out = tmp_path_factory.mktemp("forge-report") / "run-a"
    cfg = parse_config({
        "seed": 3, "challengers": 2, "causal": {"alpha": 0.001, "sample_rows": 1500},
        "fitness": {"folds": 2}, "gp": {"population": 16, "generations": 3},
        "surrogate": {"min_train": 10}, "eval": {"backend": "inline"},
    })  # fmt: skip
    run_on_table(cfg, planted, out)
    write_report(validate_run(out, parse_gate_config(tomllib.loads(GATE))))
    return out


def _copy(run_dir: Path, tmp_path: Path) -> Path:
    dst = tmp_path / "copy"
    shutil.copytree(run_dir, dst)
    (dst / "report.html").unlink(missing_ok=True)
    return dst


def plots(page: str) -> list[list[dict[str, Any]]]:
    """The trace lists of every `Plotly.newPlot(id, data, layout, config)` call in the page."""
    dec, out, at = json.JSONDecoder(), [], 0
    while (at := page.find("Plotly.newPlot(", at)) >= 0:
        _, at = dec.raw_decode(page, _skip_space(page, at + len("Plotly.newPlot(")))
        data, at = dec.raw_decode(page, _skip_space(page, page.index(",", at) + 1))
        out.append(data)
    return out


def _skip_space(text: str, at: int) -> int:
    while text[at].isspace():
        at += 1
    return at


def _trace(figs: list[list[dict[str, Any]]], name: str) -> dict[str, Any]:
    return next(t for fig in figs for t in fig if t.get("name") == name)


def test_report_plots_every_generation_and_names_each_challenger(run_dir: Path) -> None:
    path = write_run_report(run_dir)
    assert path == run_dir / "report.html" and path.stat().st_mode & 0o777 == 0o644
    page = path.read_text(encoding="utf-8")
    assert "<title>Forge run run-a</title>" in page
    assert 'src="http' not in page and page.count("Plotly.newPlot(") == 3  # inlined, offline
    gens = pl.read_parquet(run_dir / "generations.parquet")
    figs = plots(page)
    for col in ("best", "mean", "median"):
        trace = _trace(figs, col)
        assert trace["x"] == gens["generation"].to_list() == [0, 1, 2, 3]
        assert trace["y"] == pytest.approx(gens[col].to_list())
    assert _trace(figs, "unique share")["y"] == pytest.approx(gens["unique_share"].to_list())
    screened = _trace(figs, "screened out by the surrogate")["y"]
    assert screened == gens["skipped"].to_list() and sum(screened) > 0
    # savings table: the same totals as the generations file, after generation 0
    later = gens.filter(pl.col("generation") > 0)
    saved, new = int(later["skipped"].sum()), int((later["evaluated"] + later["skipped"]).sum())
    assert f">{saved}</td>" in page and f">{saved / new:.4g}</td>" in page
    graph = json.loads((run_dir / "causal" / "graph.json").read_text())
    bar = _trace(figs, "MCI strength")
    assert bar["x"] == pytest.approx([p["strength"] for p in graph["parents"]])
    assert "driver @ lag 1" in bar["y"]  # the planted driver, at its planted lag
    assert "data:image/png;base64,iVBORw0KGgo" in page  # causal/graph.png embedded
    summary = json.loads((run_dir / "validation" / "summary.json").read_text())
    assert f"{summary['passed']} validated, {summary['rejected']} rejected" in page
    for d in summary["decisions"]:
        assert d["source"] in page  # every challenger file with its verdict
        verdict = "validated" if d["passed"] else "rejected: " + ", ".join(d["failed"])
        assert (
            f'{d["source"]} — <span class="{"pass" if d["passed"] else "fail"}">{verdict}' in page
        )
    assert 'href="validation/report.html"' in page
    fame = json.loads((run_dir / "hall_of_fame.json").read_text())
    assert f"Hall of fame ({len(fame)})" in page


def test_dashboard_lists_it_as_a_forge_run(run_dir: Path) -> None:
    write_run_report(run_dir)
    index = ReportFolder(run_dir.parent).index()
    kinds = {e.path: e.kind for e in index.reports}
    assert kinds["run-a/report.html"] == "forge run"
    assert kinds["run-a/validation/report.html"] == "validation"


def test_surrogate_rank_correlation_is_over_the_predicted_individuals(run_dir: Path) -> None:
    rec = read_run_record(run_dir)
    from scipy.stats import spearmanr

    pop = pl.read_parquet(run_dir / "population.parquet")
    # individuals never predicted (generation 0, before min_train) hold NaN: left out
    pop = pop.filter(pl.col("predicted").is_finite() & pl.col("score").is_finite())
    assert pop.height >= 3
    expected = spearmanr(pop["predicted"].to_numpy(), pop["score"].to_numpy()).statistic
    assert spearman(rec.population) == pytest.approx(expected)
    assert spearman(pop.head(2).select("score", "predicted")) is None  # too few to rank


def test_parts_not_recorded_are_said_so(run_dir: Path, tmp_path: Path) -> None:
    bare = _copy(run_dir, tmp_path)
    shutil.rmtree(bare / "validation")
    shutil.rmtree(bare / "causal")
    shutil.rmtree(bare / "challengers")
    page = write_run_report(bare).read_text(encoding="utf-8")
    assert "causal/graph.json not recorded." in page and "causal/graph.png not recorded." in page
    assert "No challenger file recorded" in page and "Gate not recorded" in page
    assert page.count("Plotly.newPlot(") == 2  # fitness and surrogate still plotted


def _set(name: str, text: str) -> Any:
    return lambda d: (d / name).write_text(text)


def _drop_median(d: Path) -> None:
    gens = pl.read_parquet(d / "generations.parquet").drop("median")
    gens.write_parquet(d / "generations.parquet")


DAMAGES = [
    (lambda d: (d / "manifest.json").unlink(), "manifest.json", "cannot read"),
    (_set("manifest.json", '{"kind": "x", "status": "complete", "seed": 1}'), "manifest.json",
     "not a Forge run"),
    (_set("manifest.json", "{"), "manifest.json", "not a valid run file"),
    (_set("manifest.json", '{"kind": "nexusforge.forge.run", "status": "failed", "seed": 1, '
          '"error": "EvaluationError: worker died"}'), "manifest.json", "failed: Evaluation"),
    (lambda d: (d / "generations.parquet").unlink(), "generations.parquet", "missing"),
    (_drop_median, "generations.parquet", "no column median"),
    (_set("generations.parquet", "PAR1 not parquet"), "generations.parquet", "cannot read"),
    (_set("causal/graph.json", '{"target": "r", "parents": [{"feature": "x", "lag": "one"}]}'),
     "graph.json", "not a valid run file"),
    (_set("causal/graph.png", "GIF89a"), "graph.png", "not a PNG"),
    (_set("validation/summary.json", '{"passed": "all"}'), "summary.json", "not a valid run file"),
]  # fmt: skip


@pytest.mark.parametrize(("damage", "file", "message"), DAMAGES)
def test_a_damaged_file_is_named(
    run_dir: Path, tmp_path: Path, damage: Any, file: str, message: str
) -> None:
    bad = _copy(run_dir, tmp_path)
    damage(bad)
    with pytest.raises(DataError, match=message) as err:
        write_run_report(bad)
    assert file in str(err.value)
    assert not (bad / "report.html").exists()


def test_a_changed_challenger_is_refused_not_shown(run_dir: Path, tmp_path: Path) -> None:
    bad = _copy(run_dir, tmp_path)
    ch = sorted((bad / "challengers").glob("challenger-*.json"))[0]
    doc = json.loads(ch.read_text())
    doc["scores"]["fitness"] = 1e9  # an edit after the run: the hash no longer matches
    ch.write_text(json.dumps(doc))
    with pytest.raises(DataError, match="hash mismatch") as err:
        write_run_report(bad)
    assert ch.name in str(err.value)


def test_cli_report_errors_clearly(tmp_path: Path) -> None:
    done = runner.invoke(app, ["forge", "report", str(tmp_path / "nope")])
    assert done.exit_code == 2 and "no such run folder" in done.output


@pytest.mark.slow
def test_cli_report_exports_png(run_dir: Path, tmp_path: Path) -> None:
    if find_chromium() is None:
        if os.environ.get("CI"):
            pytest.fail("no chromium on PATH: .ci/run installs it")
        pytest.skip("PNG export needs chromium on PATH (.ci/run installs it)")
    html = tmp_path / "reports" / "forge.html"
    done = runner.invoke(app, ["forge", "report", str(run_dir), "--out", str(html), "--png"])
    assert done.exit_code == 0, done.output
    png = html.with_suffix(".png")
    assert f"report written to {html}" in done.output and f"PNG written to {png}" in done.output
    data = png.read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) > 100_000  # drawn charts


@pytest.mark.slow
def test_forge_run_ends_with_its_report(real_store: Path, tmp_path: Path) -> None:
    cfg = tmp_path / "forge.toml"
    cfg.write_text(SMALL)
    out = tmp_path / "run"
    done = runner.invoke(app, ["forge", "run", "--config", str(cfg), "--data", str(real_store),
                               "--out", str(out), "--no-validate"])  # fmt: skip
    if done.exit_code == 1 and "no causal parent" in done.output:
        pytest.fail(f"the real 5m history gave no parent at this size: {done.output}")
    assert done.exit_code == 0, done.output
    assert "run report:" in done.output  # rich may wrap the path itself
    page = (out / "report.html").read_text(encoding="utf-8")
    assert "<title>Forge run run</title>" in page and "Gate not recorded" in page
    assert [t["x"] for t in plots(page)[0][:1]] == [[0, 1]]
