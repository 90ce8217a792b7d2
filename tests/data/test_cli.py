"""The `nexusforge data` commands: in-process with typer's CliRunner, and as a real subprocess."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from nexusforge.cli import app

ROOT = Path(__file__).resolve().parents[2]


def test_ingest_and_info_json(shared_data: Path, tmp_path: Path) -> None:
    runner = CliRunner(env={"COLUMNS": "200"})
    store = tmp_path / "store"
    result = runner.invoke(
        app, ["data", "ingest", str(shared_data / "bybit/market"), "--out", str(store)]
    )
    assert result.exit_code == 0, result.output
    assert "binance_usdm_BTCUSDT_20240808_2355utc" in result.output
    result = runner.invoke(app, ["data", "info", str(store), "--json"])
    assert result.exit_code == 0, result.output
    info = json.loads(result.output)
    assert set(info) == {"book_events", "trades", "bars", "quotes", "funding"}
    binance = next(s for s in info["trades"] if s["venue"] == "binance_usdm")
    assert binance["rows"] == 21_313
    assert binance["first"].startswith("2024-08-08T23:54")
    book = next(s for s in info["book_events"] if s["venue"] == "binance_usdm")
    assert (book["messages"], book["snapshots"]) == (6_552, 1)
    bars = next(s for s in info["bars"] if s["symbol"] == "BTCUSDT")
    assert (bars["interval_s"], bars["rows"], bars["missing_intervals"]) == (60, 721, 0)


def test_ingest_failure_exits_nonzero(tmp_path: Path) -> None:
    bad = tmp_path / "bybit_linear_BTCUSDT_5m_x.csv"
    bad.write_text(
        "open_time_ms,open_time_utc,open,high,low,close,volume\n2,x,1,1,1,1,1\n1,x,1,1,1,1,1\n"
    )
    result = CliRunner().invoke(app, ["data", "ingest", str(bad), "--out", str(tmp_path / "s")])
    assert result.exit_code == 1
    assert "FAILED" in result.output


def test_info_of_missing_store_is_a_usage_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["data", "info", str(tmp_path / "nope")])
    assert result.exit_code == 2


def test_real_subprocess(shared_data: Path, tmp_path: Path) -> None:
    exe = Path(sys.executable).parent / "nexusforge"
    store = tmp_path / "store"
    src = shared_data / "history"
    command = f"{exe} data ingest {src} --out {store} && {exe} data info {store} --json"
    done = subprocess.run(
        command, shell=True, capture_output=True, text=True, cwd=ROOT, timeout=120
    )
    assert done.returncode == 0, done.stderr
    info = json.loads(done.stdout[done.stdout.index("{\n") :])
    series = {(s["venue"], s["symbol"], s["interval_s"]): s for s in info["bars"]}
    assert series[("bybit_linear", "BTCUSDT", 300)]["rows"] == 105_120 + 41_100
    assert series[("binance_usdm", "FILUSDT", 60)]["missing_intervals"] == 0
