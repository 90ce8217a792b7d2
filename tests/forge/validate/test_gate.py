"""The gate on a planted strong strategy (passes every check), on strategies mined from noise
(rejected, the failed checks named in the rejection log), and the config's refusals."""

from __future__ import annotations

import json
from pathlib import Path

import msgspec
import pytest

from nexusforge.errors import ConfigError, ForgeError
from nexusforge.forge.validate.config import GateConfig, parse_gate_config
from nexusforge.forge.validate.gate import validate_run
from nexusforge.forge.validate.refute import RefuteConfig
from nexusforge.forge.validate.report import write_report
from nexusforge.strategy import artifact
from nexusforge.strategy.expr import columns

FAST = GateConfig(bootstrap_paths=200, refute=RefuteConfig(rows=2000, simulations=10))


@pytest.mark.slow
def test_planted_strategy_passes_and_is_written_validated(
    planted_run: Path, tmp_path: Path
) -> None:
    pit = tmp_path / "pit"
    res = validate_run(planted_run, msgspec.structs.replace(FAST, challenger_dir=str(pit)),
                       tmp_path / "v")  # fmt: skip
    best = res.judged[0]
    assert "driver" in columns(best.challenger.expr)
    assert best.decision.passed, best.decision.failed
    f = best.decision.figures
    assert f["dsr"]["dsr"] >= 0.95 and f["pbo"]["pbo"] <= 0.2
    assert f["permutation"]["p_value"] <= 0.05 and f["oos_sharpe"] > 0
    assert f["refutation"]["passed"]
    # The validated file carries the gate's record; its hash covers it.
    assert res.validated
    ch = artifact.read(res.validated[0])
    assert ch.validation["status"] == "validated"
    assert ch.validation["gate"]["passed"] and ch.validation["gate"]["failed"] == []
    assert ch.validation["gate"]["thresholds"]["min_dsr"] == 0.95
    assert ch.scores["dsr"] == pytest.approx(f["dsr"]["dsr"])
    assert artifact.sha256_of(res.validated[0].read_bytes()) != artifact.sha256_of(
        best.path.read_bytes())  # fmt: skip
    summary = json.loads(res.summary.read_text())
    assert summary["passed"] == len(res.validated)
    # The Pit Crew folder gets exactly the validated files, byte for byte.
    assert sorted(p.name for p in pit.iterdir()) == sorted(p.name for p in res.validated)
    assert [p.read_bytes() for p in sorted(res.published)] == [
        p.read_bytes() for p in sorted(res.validated)]  # fmt: skip
    html = write_report(res).read_text()
    assert "VALIDATED" in html and "plotly" in html


@pytest.mark.slow
def test_noise_mined_strategies_are_rejected_with_the_failed_checks(
    noise_run: Path, tmp_path: Path
) -> None:
    res = validate_run(noise_run, FAST, tmp_path / "v")
    assert res.judged and not res.validated
    assert not list((tmp_path / "v").glob("challengers/*.json"))
    lines = [json.loads(x) for x in res.rejection_log.read_text().splitlines()]
    assert len(lines) == len(res.judged)
    for rec in lines:
        assert not rec["passed"] and rec["failed"]
        named = {c["name"] for c in rec["checks"] if not c["passed"] and not c["skipped"]}
        assert named == set(rec["failed"])
        assert "deflated_sharpe" in rec["failed"] or "permutation_p" in rec["failed"]
        # The slow refuters run only after every cheaper check passed: here they are skipped,
        # which is recorded (with the reason) and never counts as a pass.
        assert rec["skipped"] == ["refuters"] and rec["figures"]["refutation"]["skipped"]
        ref = next(c for c in rec["checks"] if c["name"] == "refuters")
        assert not ref["passed"] and "failed first" in ref["rule"]
        assert rec["figures"]["dsr"]["trials"] >= 30


def test_gate_config_refuses_bad_values() -> None:
    with pytest.raises(ConfigError, match="max_pbo"):
        parse_gate_config({"max_pbo": 2.0})
    with pytest.raises(ConfigError, match="unknown"):
        parse_gate_config({"min_dsr": 0.9, "typo": 1})
    with pytest.raises(ConfigError):
        parse_gate_config({"dsr_variance": "lucky"})
    assert parse_gate_config({}).min_dsr == 0.95


def test_example_config_lists_the_defaults() -> None:
    from nexusforge.forge.validate.config import load_gate_config

    path = Path(__file__).resolve().parents[3] / "examples" / "gate.toml"
    assert load_gate_config(path) == GateConfig()


def test_incomplete_run_is_refused(tmp_path: Path) -> None:
    (tmp_path / "manifest.json").write_text(json.dumps({"status": "running"}))
    with pytest.raises(ForgeError, match="not complete"):
        validate_run(tmp_path, FAST)
