"""`nexusforge sim run`: a scenario, a TOML config, a strategy file, tables on disk, errors."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
from typer.testing import CliRunner

from nexusforge.cli import app
from nexusforge.strategy import Call, Col, dumps

runner = CliRunner()
SMALL = ["--duration", "60"]


def test_run_prints_json_and_writes_tables(tmp_path: Path) -> None:
    strategy = tmp_path / "flip.json"
    strategy.write_text(dumps(Call("sign", (Col("imbalance"),))), encoding="utf-8")
    out = tmp_path / "run"
    args = ["sim", "run", *SMALL, "--seed", "3", "--strategy", str(strategy), "--json"]
    res = runner.invoke(app, [*args, "--out", str(out)])
    assert res.exit_code == 0, res.output
    info = json.loads(res.output)
    assert info["seed"] == 3 and info["messages"] > 1_000
    assert "pnl" in info["strategy"]
    trades = pl.read_parquet(out / "trades.parquet")
    assert trades.height == info["trades"]
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["seed"] == 3 and manifest["config"]["duration_s"] == 60.0
    again = runner.invoke(app, args)
    assert json.loads(again.output)["trades"] == info["trades"]


def test_run_reads_a_toml_config(tmp_path: Path) -> None:
    path = tmp_path / "sim.toml"
    path.write_text('scenario = "thin"\nduration_s = 30\nseed = 9\n', encoding="utf-8")
    res = runner.invoke(app, ["sim", "run", "--config", str(path), "--json"])
    assert res.exit_code == 0, res.output
    info = json.loads(res.output)
    assert (info["seed"], info["duration_s"]) == (9, 30.0)


def test_bad_input_exits_with_a_message(tmp_path: Path) -> None:
    res = runner.invoke(app, ["sim", "run", "--scenario", "moon"])
    assert res.exit_code == 2 and "unknown scenario 'moon'" in res.output
    path = tmp_path / "bad.toml"
    path.write_text("[agents.noise]\nrate = -2\n", encoding="utf-8")
    res = runner.invoke(app, ["sim", "run", "--config", str(path)])
    assert res.exit_code == 2 and "agents.noise.rate must be >= 0" in res.output
