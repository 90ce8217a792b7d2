"""PNG export of a real report: `nexusforge backtest --report … --png` on the real Bybit 5m
BTCUSDT 2025 candles renders the standalone HTML in headless Chromium to a full-page PNG; and
the clear errors when there is no report or no browser."""

from __future__ import annotations

import os
import struct
from pathlib import Path

import pytest
from typer.testing import CliRunner

from nexusforge.cli import app
from nexusforge.data.ingest import ingest
from nexusforge.errors import ExportError
from nexusforge.report_png import CHROMIUM_ENV, find_chromium, html_to_png

STRATEGY = Path(__file__).resolve().parents[3] / "examples" / "strategies" / "mtfa_momentum.json"
CANDLES = "bybit_linear_BTCUSDT_5m_2025.csv.gz"
runner = CliRunner()


@pytest.fixture
def chromium() -> str:
    exe = find_chromium()
    if exe is None:
        if os.environ.get("CI"):
            pytest.fail("no chromium on PATH: .ci/run installs it")
        pytest.skip("PNG export needs chromium on PATH (.ci/run installs it)")
    return exe


def _png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


@pytest.mark.slow
def test_backtest_report_exports_a_full_page_png(
    chromium: str, shared_data: Path, tmp_path: Path
) -> None:
    store = tmp_path / "store"
    assert not ingest(shared_data / "history" / CANDLES, store).failed
    html = tmp_path / "reports" / "bt.html"
    args = ["backtest", str(STRATEGY), "--data", str(store), "--report", str(html), "--png"]
    done = runner.invoke(app, args)
    assert done.exit_code == 0, done.output
    png = html.with_suffix(".png")
    assert f"PNG written to {png}" in done.output
    data = png.read_bytes()
    width, height = _png_size(data)
    # the whole page: four charts and the tables below them, not one 900 px viewport
    assert width == 1280 and height > 2000
    assert len(data) > 100_000  # drawn charts; a blank page of that size is a few KB
    assert png.stat().st_mode & 0o777 == 0o644
    assert not list(png.parent.glob(".*.tmp"))
    # the same file again, to a chosen path, through the module
    again = html_to_png(html, tmp_path / "copy.png", chromium=chromium)
    assert _png_size(again.read_bytes()) == (width, height)


def test_png_needs_a_report(tmp_path: Path) -> None:
    done = runner.invoke(
        app, ["backtest", str(STRATEGY), "--data", str(tmp_path), "--png"], terminal_width=200
    )
    assert done.exit_code == 2 and "--png needs --report" in done.output


def test_clear_errors_without_a_report_or_a_browser(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(ExportError, match="no such report"):
        html_to_png(tmp_path / "missing.html")
    page = tmp_path / "r.html"
    page.write_text("<!doctype html><title>x</title>")
    with pytest.raises(ExportError, match="cannot start"):
        html_to_png(page, chromium=str(tmp_path / "no-such-browser"))
    monkeypatch.delenv(CHROMIUM_ENV, raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(ExportError, match="needs Chromium"):
        html_to_png(page)
    assert not page.with_suffix(".png").exists()
