"""`nexusforge forge run` / `forge causal` end to end on real Bybit history, and the failure
modes: unknown config keys, impossible values, a store without the series, a worker dying."""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from nexusforge.cli import app
from nexusforge.data.ingest import ingest
from nexusforge.data.store import Store
from nexusforge.errors import ConfigError, EvaluationError
from nexusforge.forge.backtest.run import SeriesSpec, turnover_kind
from nexusforge.forge.evolve.gp import GenerationStats
from nexusforge.forge.evolve.run import parse_config, run_forge, run_on_table
from nexusforge.forge.evolve.table import ResearchTable, file_sha256
from nexusforge.strategy import artifact

runner = CliRunner()
TINY = """
seed = 5
challengers = 2
[data]
max_rows = 12000
[causal]
sample_rows = 1500
[gp]
population = 30
generations = 2
[fitness]
folds = 2
[surrogate]
min_train = 20
[eval]
backend = "inline"
"""


# A reduced gate (2 null histories, 4 PBO blocks, few bootstrap paths): `forge run` ends with
# the gate by default; its thresholds are the defaults, only the workload is small.
GATE = """
nulls = 2
pbo_blocks = 4
pbo_max_strategies = 20
bootstrap_paths = 20
[refute]
rows = 500
simulations = 2
"""


def test_cli_run_writes_the_run_folder(real_store: Path, tmp_path: Path) -> None:
    cfg = tmp_path / "forge.toml"
    cfg.write_text(TINY)
    gate = tmp_path / "gate.toml"
    gate.write_text(GATE)
    out = tmp_path / "run"
    done = runner.invoke(app, ["forge", "run", "--config", str(cfg), "--data", str(real_store),
                               "--out", str(out), "--gate-config", str(gate)])  # fmt: skip
    assert done.exit_code == 0, done.output
    assert "hall of fame #1" in done.output and "challengers (not validated)" in done.output
    assert "validation gate" in done.output  # the run ends with the gate by default
    summary = json.loads((out / "validation" / "summary.json").read_text())
    assert summary["passed"] + summary["rejected"] == 2
    man = json.loads((out / "manifest.json").read_text())
    assert man["status"] == "complete" and man["seed"] == 5
    assert man["config"]["gp"]["population"] == 30 and man["versions"]["deap"] != "absent"
    table_in = next(i for i in man["inputs"] if i["role"] == "research_table")
    assert table_in["sha256"] == file_sha256(out / "research_table.parquet")
    listed = {o["path"]: o["sha256"] for o in man["outputs"]}
    for name in ("causal/graph.json", "causal/graph.png", "generations.parquet",
                 "population.parquet", "evaluations.parquet", "hall_of_fame.json"):  # fmt: skip
        assert listed[name] == file_sha256(out / name)
    gens = pl.read_parquet(out / "generations.parquet")
    assert gens["generation"].to_list() == [0, 1, 2]
    pop = pl.read_parquet(out / "population.parquet")
    evals = pl.read_parquet(out / "evaluations.parquet")
    assert man["trials"] == pop.height == evals["id"].n_unique()
    assert evals.height == pop.height * 2 * 2  # folds × (train, test): trade is held out
    assert set(evals["segment"].unique()) == {"train", "test"}
    chs = sorted((out / "challengers").glob("challenger-*.json"))
    assert len(chs) == 2
    loaded = artifact.read(chs[0])
    assert loaded.validation["status"] == "not_validated"
    # Bybit's candle files have no turnover: VWAP was estimated, and the engine must know
    assert loaded.data["turnover"] == man["turnover"] == "estimated"
    assert loaded.scores["trade_sharpe"] is None or isinstance(loaded.scores["trade_sharpe"], float)


def test_turnover_kind_says_whether_the_store_recorded_it(
    real_store: Path, shared_data: Path, tmp_path: Path
) -> None:
    bybit = SeriesSpec("bybit_linear", "BTCUSDT", 300)
    assert turnover_kind(Store(real_store), bybit) == "estimated"  # no turnover column
    ingest(shared_data / "history" / "binance_usdm_FILUSDT_1m_20230401_20230630.csv.gz", tmp_path)
    archive = SeriesSpec("binance_usdm", "FILUSDT", 60)
    assert turnover_kind(Store(tmp_path), archive) == "recorded"  # quote_volume on every candle


def test_same_seed_same_run(real_store: Path, tmp_path: Path) -> None:
    import tomllib

    doc = tomllib.loads(TINY)
    cfg = parse_config({**doc, "challenger_dir": str(tmp_path / "pit")})
    a = run_forge(cfg, real_store, tmp_path / "a")
    assert not (tmp_path / "pit").exists()  # only the validation gate writes there
    b = run_forge(cfg, real_store, tmp_path / "b")
    assert a.hall_of_fame == b.hall_of_fame and a.evaluations == b.evaluations
    assert [artifact.read(p).expr for p in a.challengers] == [
        artifact.read(p).expr for p in b.challengers]  # fmt: skip
    pa = pl.read_parquet(tmp_path / "a" / "population.parquet")
    assert pa.equals(pl.read_parquet(tmp_path / "b" / "population.parquet"))


def test_cli_causal(real_store: Path, tmp_path: Path) -> None:
    cfg = tmp_path / "forge.toml"
    cfg.write_text(TINY)
    done = runner.invoke(app, ["forge", "causal", "--config", str(cfg), "--data", str(real_store),
                               "--out", str(tmp_path)])  # fmt: skip
    assert done.exit_code == 0, done.output
    assert "causal parents of ret_h1" in done.output
    assert (tmp_path / "causal" / "graph.png").exists()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[gp]\npopsize = 3\n", "unknown field"),
        ("seed = 1\nbogus = 2\n", "unknown field"),
        ("[fitness]\ntrain_frac = 0.9\ntest_frac = 0.3\n", "leave room for trade"),
        ('[eval]\nbackend = "ray"\n', "backend must be"),
        ("[gp\n", "not valid TOML"),
    ],
)
def test_bad_config_fails_clearly(
    real_store: Path, tmp_path: Path, text: str, message: str
) -> None:
    cfg = tmp_path / "bad.toml"
    cfg.write_text(text)
    out = tmp_path / "run"
    done = runner.invoke(app, ["forge", "run", "--config", str(cfg), "--data", str(real_store),
                               "--out", str(out)])  # fmt: skip
    assert done.exit_code == 1
    assert message in " ".join(done.output.split())
    assert not out.exists()


def test_store_without_series_fails_clearly(real_store: Path, tmp_path: Path) -> None:
    cfg = tmp_path / "f.toml"
    cfg.write_text('[data]\nsymbol = "DOGEUSDT"\n')
    done = runner.invoke(app, ["forge", "run", "--config", str(cfg), "--data", str(real_store),
                               "--out", str(tmp_path / "run")])  # fmt: skip
    assert done.exit_code == 1 and "no 300s candles for bybit_linear DOGEUSDT" in done.output


def test_worker_dying_mid_run_leaves_no_challenger(planted: ResearchTable, tmp_path: Path) -> None:
    cfg = parse_config({
        "causal": {"alpha": 0.001, "sample_rows": 1500}, "fitness": {"folds": 2},
        "gp": {"population": 20, "generations": 3}, "eval": {"backend": "local", "workers": 1},
    })  # fmt: skip

    def kill_workers(stats: GenerationStats) -> None:
        if stats.generation == 1:
            for child in multiprocessing.active_children():
                os.kill(child.pid or 0, signal.SIGKILL)
                child.join(5)

    with pytest.raises(EvaluationError, match="worker died"):
        run_on_table(cfg, planted, tmp_path, on_generation=kill_workers)
    assert not (tmp_path / "challengers").exists()
    man = json.loads((tmp_path / "manifest.json").read_text())
    assert man["status"] == "failed" and "worker died" in man["error"]


def test_adversarial_weight_is_refused_with_the_reason(
    planted: ResearchTable, tmp_path: Path
) -> None:
    cfg = parse_config({
        "causal": {"alpha": 0.001, "sample_rows": 1500}, "fitness": {"folds": 2,
        "adversarial_weight": 0.3}, "gp": {"population": 8, "generations": 1},
        "eval": {"backend": "inline"},
    })  # fmt: skip
    with pytest.raises(ConfigError, match=r"simulated research table has no \['driver'\]"):
        run_on_table(cfg, planted, tmp_path)
    assert not (tmp_path / "challengers").exists()


def test_example_config_lists_the_defaults() -> None:
    from nexusforge.forge.evolve.run import ForgeConfig, load_config

    path = Path(__file__).resolve().parents[3] / "examples" / "forge.toml"
    assert load_config(path) == ForgeConfig()


def test_manifest_names_the_code_revision(tmp_path: Path) -> None:
    import subprocess

    from nexusforge.forge.evolve.manifest import code_revision, versions

    root = Path(__file__).resolve().parents[3]
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True)
    assert versions()["code_revision"] in (head.stdout.strip(), "unknown")
    assert code_revision(root) == head.stdout.strip()
    assert code_revision(tmp_path) == "unknown"
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "HEAD").write_text("ref: refs/heads/x\n")
    (tmp_path / ".git" / "packed-refs").write_text("# pack\n" + "ab" * 20 + " refs/heads/x\n")
    assert code_revision(tmp_path) == "ab" * 20
