"""The reports folder through the dashboard, on a loopback server: the index (kind, title,
modified time, newest first), each report served read-only under its own sandboxing CSP, and
every way out of the folder refused: `..`, absolute paths, hidden files, symlinks leading out."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from dashboard_fixtures import new_session, serve

from nexusforge.nexus.dashboard import JournalSource, create_app
from nexusforge.nexus.dashboard.report_routes import REPORT_CSP
from nexusforge.nexus.dashboard.reports import ReportFolder, ReportRefused, html_title

SECRET = "do-not-serve-this-secret"
PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 64
T = 1_790_000_000  # a fixed mtime base (s): the index orders by it


def _html(title: str) -> str:
    return f'<!DOCTYPE html><html><head><meta charset="utf-8"><title>{title}</title></head><body/>'


def _write(path: Path, data: str | bytes, age_s: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        path.write_text(data)
    else:
        path.write_bytes(data)
    os.utime(path, (T - age_s, T - age_s))


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """A reports folder as the report commands leave it, plus things that must not be served."""
    root = tmp_path / "reports"
    _write(root / "bt.html", _html("Backtest mtfa_momentum.json on BTCUSDT"), 10)
    _write(root / "bt.png", PNG, 9)
    _write(root / "fidelity.html", _html("Simulator fidelity: 20 seeds"), 30)
    _write(root / "run-1" / "manifest.json", "{}", 50)
    _write(root / "run-1" / "causal" / "graph.png", PNG, 40)
    validation = _html("Validation gate &mdash; run-1")
    _write(root / "run-1" / "validation" / "report.html", validation, 20)
    _write(root / "run-1" / "notes.html", "<p>no title</p>", 60)
    _write(root / ".bt.html.x1y2.tmp", "half-written", 1)  # an atomic write in progress
    _write(root / "notes.txt", "not a report", 1)
    outside = tmp_path / "outside"
    _write(outside / "secret.html", _html(SECRET), 1)
    (root / "evil.html").symlink_to(outside / "secret.html")
    (root / "outdir").symlink_to(outside, target_is_directory=True)
    (root / "again.html").symlink_to(root / "bt.html")  # a link inside the folder is fine
    return root


@pytest.fixture
def client(folder: Path, tmp_path: Path) -> Iterator[httpx.Client]:
    session = new_session(tmp_path / "j.sqlite")
    source = JournalSource(tmp_path / "j.sqlite")
    with serve(create_app(source, reports=folder)) as url, httpx.Client(base_url=url) as c:
        yield c
    source.close()
    session.journal.close()


def test_index_lists_reports_with_kind_title_and_time_newest_first(client: httpx.Client) -> None:
    got = client.get("/api/reports")
    assert got.status_code == 200 and got.headers["content-type"] == "application/json"
    index = got.json()
    assert index["exists"] is True and index["truncated"] is False
    rows = [(r["path"], r["kind"], r["title"]) for r in index["reports"]]
    assert rows == [
        ("bt.png", "backtest", "Backtest mtfa_momentum.json on BTCUSDT (PNG)"),
        ("again.html", "backtest", "Backtest mtfa_momentum.json on BTCUSDT"),
        ("bt.html", "backtest", "Backtest mtfa_momentum.json on BTCUSDT"),
        ("run-1/validation/report.html", "validation", "Validation gate — run-1"),
        ("fidelity.html", "simulator fidelity", "Simulator fidelity: 20 seeds"),
        ("run-1/causal/graph.png", "causal graph", "Causal graph of run-1"),
        ("run-1/notes.html", "forge run", "run-1/notes.html"),
    ]
    by_path = {r["path"]: r for r in index["reports"]}
    assert by_path["fidelity.html"]["modified_ms"] == (T - 30) * 1000
    assert by_path["run-1/causal/graph.png"]["size"] == len(PNG)
    page = client.get("/reports")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert 'href="/reports/run-1/validation/report.html"' in page.text
    assert SECRET not in page.text and "evil" not in page.text


def test_reports_are_served_read_only_under_a_sandboxing_csp(
    client: httpx.Client, folder: Path
) -> None:
    got = client.get("/reports/bt.html")
    assert got.status_code == 200 and got.headers["content-type"].startswith("text/html")
    assert got.content == (folder / "bt.html").read_bytes()
    csp = got.headers.get_list("content-security-policy")
    assert csp == [REPORT_CSP] and "sandbox allow-scripts" in csp[0]
    assert "connect-src 'none'" in csp[0] and "allow-same-origin" not in csp[0]
    assert got.headers["x-content-type-options"] == "nosniff"
    png = client.get("/reports/run-1/causal/graph.png")
    assert png.status_code == 200 and png.headers["content-type"] == "image/png"
    assert png.content == PNG
    for method in ("POST", "PUT", "DELETE"):
        assert client.request(method, "/reports/bt.html").status_code == 405
    assert (folder / "bt.html").read_bytes().startswith(b"<!DOCTYPE html>")


@pytest.mark.parametrize(
    "path",
    [
        "/reports/..%2Foutside%2Fsecret.html",
        "/reports/%2e%2e/outside/secret.html",
        "/reports/run-1/..%2F..%2Foutside%2Fsecret.html",
        "/reports/%2F" + "etc%2Fpasswd",
        "/reports//etc/passwd",
        "/reports/evil.html",  # a symlink out of the folder
        "/reports/outdir/secret.html",  # through a symlinked folder
        "/reports/notes.txt",  # not a report type
        "/reports/.bt.html.x1y2.tmp",  # hidden
        "/reports/run-1/manifest.json",
        "/reports/missing.html",
        "/reports/run-1",  # a folder
    ],
)
def test_ways_out_of_the_folder_are_refused(client: httpx.Client, path: str) -> None:
    got = client.get(path)
    assert got.status_code == 404, (path, got.status_code)
    assert SECRET not in got.text and "root:" not in got.text


def test_open_refuses_before_touching_the_filesystem(folder: Path) -> None:
    reports = ReportFolder(folder)
    assert reports.open("run-1/validation/report.html")[1].startswith("text/html")
    for bad in ("", "..", "../outside/secret.html", "/etc/passwd", "a/../bt.html", "a\\..\\b",
                ".hidden.html", "bt.html\x00.png", "evil.html", "outdir/secret.html"):  # fmt: skip
        with pytest.raises(ReportRefused):
            reports.open(bad)


def test_a_missing_folder_or_none_gives_an_empty_index(tmp_path: Path) -> None:
    index = ReportFolder(tmp_path / "nope").index()
    assert index.exists is False and index.reports == ()
    session = new_session(tmp_path / "j.sqlite")
    source = JournalSource(tmp_path / "j.sqlite")
    with serve(create_app(source)) as url, httpx.Client(base_url=url) as c:
        assert c.get("/api/reports").json() == {
            "folder": "",
            "exists": False,
            "reports": [],
            "truncated": False,
        }
        assert c.get("/reports/bt.html").status_code == 404
        assert "No reports folder" in c.get("/reports/").text
    source.close()
    session.journal.close()


def test_title_is_read_from_the_head_only(tmp_path: Path) -> None:
    page = tmp_path / "big.html"
    page.write_text("<html><head>" + " " * 20_000 + "<title>late</title></head></html>")
    assert html_title(page) == ""
    page.write_text("<html><head><title>\n  Backtest &amp;\n x </title></head>")
    assert html_title(page) == "Backtest & x"


def test_a_rewritten_report_is_described_afresh_and_a_removed_one_forgotten(
    tmp_path: Path,
) -> None:
    reports = ReportFolder(tmp_path)
    _write(tmp_path / "bt.html", _html("Backtest one"), 20)
    _write(tmp_path / "old.html", _html("Simulator fidelity: 2 seeds"), 30)
    assert [e.title for e in reports.index().reports] == [
        "Backtest one",
        "Simulator fidelity: 2 seeds",
    ]
    _write(tmp_path / "bt.html", _html("Backtest two, longer"), 10)
    (tmp_path / "old.html").unlink()
    (entry,) = reports.index().reports
    assert (entry.title, entry.modified_ms) == ("Backtest two, longer", (T - 10) * 1000)
