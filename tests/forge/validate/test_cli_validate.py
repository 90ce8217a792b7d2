"""`nexusforge validate` end to end on a tiny Forge run over real Bybit 5m BTCUSDT 2025
candles: every challenger judged, files written, report rendered, failures explained."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner
from validate_fixtures import real_config

from nexusforge.cli import app
from nexusforge.strategy import artifact

runner = CliRunner()


def toml_text(doc: dict[str, object]) -> str:
    """A two-level mapping as TOML (scalars first, then one table per section)."""

    def value(v: object) -> str:
        return f'"{v}"' if isinstance(v, str) else str(v).lower() if isinstance(v, bool) else str(v)

    top = [f"{k} = {value(v)}" for k, v in doc.items() if not isinstance(v, dict)]
    tables = [f"[{k}]\n" + "\n".join(f"{a} = {value(b)}" for a, b in v.items())
              for k, v in doc.items() if isinstance(v, dict)]  # fmt: skip
    return "\n".join(top + tables) + "\n"


FAST = """
bootstrap_paths = 200
nulls = 19
[refute]
rows = 2000
simulations = 10
"""


@pytest.mark.slow
def test_validate_a_real_run(real_run: Path, tmp_path: Path) -> None:
    cfg = tmp_path / "gate.toml"
    cfg.write_text(FAST)
    done = runner.invoke(app, ["validate", str(real_run), "--config", str(cfg), "--json"])
    assert done.exit_code == 0, done.output
    doc = json.loads(done.output)
    decisions = doc["decisions"]
    assert len(decisions) == len(list((real_run / "challengers").glob("challenger-*.json"))) > 0
    assert doc["passed"] + doc["rejected"] == len(decisions)
    for d in decisions:
        f = d["figures"]
        assert f["dsr"]["trials"] == json.loads((real_run / "manifest.json").read_text())["trials"]
        assert f["permutation"]["nulls"] == 19 and 0.05 <= f["permutation"]["p_value"] <= 1.0
        assert f["oos_bars"] > 0 and f["pbo"]["blocks"] == 16
        ran = [c for c in d["checks"] if not c.get("skipped")]
        assert set(d["failed"]) == {c["name"] for c in ran if not c["passed"]}
        assert set(d["skipped"]) <= {"refuters"}
    rejected = [json.loads(x) for x in Path(doc["rejection_log"]).read_text().splitlines()]
    assert len(rejected) == doc["rejected"]
    for p in doc["validated"]:
        assert artifact.read(Path(p)).validation["status"] == "validated"
    assert "Validation gate" in Path(doc["report"]).read_text()
    # The table view names each verdict.
    table = runner.invoke(app, ["validate", str(real_run), "--config", str(cfg)])
    assert table.exit_code == 0 and ("rejected" in table.output or "validated" in table.output)


def test_validate_refuses_a_folder_that_is_not_a_run(tmp_path: Path) -> None:
    done = runner.invoke(app, ["validate", str(tmp_path)])
    assert done.exit_code == 1 and "validate failed" in done.output


@pytest.mark.slow
def test_forge_run_ends_with_the_gate_by_default(validate_store: Path, tmp_path: Path) -> None:
    forge = tmp_path / "forge.toml"
    pit = tmp_path / "pit"
    doc = {**real_config(), "challengers": 2, "challenger_dir": str(pit)}
    forge.write_text(toml_text(doc))
    gate = tmp_path / "gate.toml"
    gate.write_text(FAST)
    out = tmp_path / "run"
    args = ["forge", "run", "--data", str(validate_store), "--out", str(out), "--config",
            str(forge), "--gate-config", str(gate)]  # fmt: skip
    done = runner.invoke(app, args)
    assert done.exit_code == 0, done.output
    assert "validation gate" in done.output
    assert "published to the Pit Crew folder" in " ".join(done.output.split())
    summary = json.loads((out / "validation" / "summary.json").read_text())
    assert summary["passed"] + summary["rejected"] == 2
    # The Pit Crew folder holds exactly the validated challengers, each with its gate record.
    published = sorted(pit.glob("challenger-*.json")) if pit.exists() else []
    assert len(published) == summary["passed"] == len(summary["published"])
    for p in published:
        ch = artifact.read(p)
        assert ch.validation["status"] == "validated" and ch.validation["gate"]["passed"]
    rejected = (out / "validation" / "rejections.jsonl").read_text().splitlines()
    assert len(rejected) == summary["rejected"]


@pytest.mark.slow
def test_forge_run_no_validate_publishes_nothing(validate_store: Path, tmp_path: Path) -> None:
    forge = tmp_path / "forge.toml"
    pit = tmp_path / "pit"
    forge.write_text(toml_text({**real_config(), "challengers": 1, "challenger_dir": str(pit)}))
    out = tmp_path / "run"
    args = ["forge", "run", "--data", str(validate_store), "--out", str(out), "--config",
            str(forge), "--no-validate"]  # fmt: skip
    done = runner.invoke(app, args)
    assert done.exit_code == 0, done.output
    text = " ".join(done.output.split())
    assert "validation gate skipped" in text and "Nothing was written to the Pit Crew" in text
    assert not pit.exists() and not (out / "validation").exists()
    (ch,) = sorted((out / "challengers").glob("challenger-*.json"))
    assert artifact.read(ch).validation["status"] == "not_validated"
