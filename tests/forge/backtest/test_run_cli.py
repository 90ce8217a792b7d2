"""The `backtest` command end to end on a store ingested from the real Bybit 5m BTCUSDT 2025
candles and funding: metrics, JSON, the standalone HTML report and the clear errors."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from nexusforge.cli import app
from nexusforge.forge.backtest.run import run_strategy_file

STRATEGY = Path(__file__).resolve().parents[3] / "examples" / "strategies" / "mtfa_momentum.json"
runner = CliRunner()


def test_metrics_table_and_report(store: Path, tmp_path: Path) -> None:
    out = tmp_path / "sub" / "report.html"
    done = runner.invoke(
        app, ["backtest", str(STRATEGY), "--data", str(store), "--report", str(out)]
    )
    assert done.exit_code == 0, done.output
    for name in ("total_return", "sharpe", "max_drawdown", "fees_paid", "funding_paid"):
        assert name in done.output
    assert "105,120 bars" in done.output
    text = out.read_text()
    assert not list(out.parent.glob(".*.tmp"))
    scripts = re.findall(r"<script[^>]*>", text)
    assert scripts and not any("src=" in s for s in scripts)
    assert "Plotly.newPlot" in text and len(text) > 3_000_000  # plotly.js itself is inlined
    for trace in ('"name":"equity"', '"name":"drawdown"', '"name":"position"', '"name":"costs"'):
        assert trace in text
    for part in ("fee", "spread", "slippage", "impact", "impact_perm", "funding"):
        assert f'"{part}"' in text
        assert f"<tr><th>{part}: " in text  # the cost section names each setting
    assert "Costs paid (quote)" in text and "Bybit VIP0 (documented)" in text
    assert "sign(ema(h1_ret, 288))" in text
    assert "2025-01-01T00:05:00" in text  # the data source's first bar close


def test_json_matches_run(store: Path) -> None:
    done = runner.invoke(app, ["backtest", str(STRATEGY), "--data", str(store), "--json"])
    assert done.exit_code == 0, done.output
    doc = json.loads(done.output)
    run = run_strategy_file(STRATEGY, store)
    assert doc["metrics"]["final_equity"] == pytest.approx(run.result.metrics.final_equity)
    assert doc["metrics"]["trades"] > 0


def test_funding_lands_on_bar_closes(store: Path) -> None:
    run = run_strategy_file(STRATEGY, store)
    charged = np.flatnonzero(run.funding_rate)
    assert charged.size > 1000 and run.funding_unmatched <= 1
    # Bybit funds every 8 h at 00:00, 08:00 and 16:00 UTC.
    assert np.all(run.close_ts[charged] % (8 * 3600 * 10**9) == 0)
    assert run.result.metrics.funding_paid != 0.0


def test_bad_strategy_file(store: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"schema": 1, "expr": {"op": "nope", "args": []}}')
    done = runner.invoke(app, ["backtest", str(bad), "--data", str(store)])
    assert done.exit_code == 2
    assert "bad.json" in done.output and "nope" in done.output


def test_missing_columns_named(store: Path, tmp_path: Path) -> None:
    bad = tmp_path / "missing.json"
    expr = {"op": "add", "args": [{"col": "h1_ret"}, {"col": "d1_ret"}]}
    bad.write_text(json.dumps({"schema": 1, "expr": {"op": "tanh", "args": [expr]}}))
    done = runner.invoke(app, ["backtest", str(bad), "--data", str(store)])
    assert done.exit_code == 2
    assert "missing columns d1_ret;" in done.output


def test_missing_series(store: Path) -> None:
    done = runner.invoke(app, ["backtest", str(STRATEGY), "--data", str(store), "--symbol", "X"])
    assert done.exit_code == 2
    assert "no 300s candles for bybit_linear X" in done.output
