"""`sim calibrate` from a base config file: the file's settings are kept, the fitted keys are
searched over them, and the written config loads and reports achieved vs target."""

from __future__ import annotations

import tomllib
from pathlib import Path

from typer.testing import CliRunner

from nexusforge.cli import app
from nexusforge.forge.sim import calibrate
from nexusforge.forge.sim.config import SimConfig

FIDELITY = Path(__file__).resolve().parents[3] / "examples" / "sim" / "fidelity.toml"


def test_flatten_and_nest_are_inverse() -> None:
    nested = {"a": {"b": 1, "c": {"d": [1, 2]}}, "e": "x"}
    flat = calibrate._flatten(nested, "")
    assert flat == {"a.b": 1, "a.c.d": [1, 2], "e": "x"}
    assert calibrate._nest(flat) == nested


def test_calibrate_from_the_fidelity_preset_writes_a_loadable_report(
    shared_data: Path, tmp_path: Path
) -> None:
    out = tmp_path / "sim.toml"
    args = ["sim", "calibrate", "--data", str(shared_data), "--out", str(out)]
    args += ["--base", str(FIDELITY), "--budget", "2", "--duration", "120"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    text = out.read_text(encoding="utf-8")
    cfg = SimConfig.from_toml(out)
    preset = SimConfig.from_toml(FIDELITY)
    # the preset's mechanisms travel into the written config untouched
    for key in (
        "agents.market_maker.join_slices",
        "agents.market_maker.anchor_weight",
        "agents.metaorder.count",
        "process.vol_of_vol",
        "process.jump_rate_per_hour",
    ):
        assert cfg.get(key) == preset.get(key), key
    # the tied key is written with its parameter, not left at the preset's value
    assert cfg.get("agents.metaorder.size_min_lots") == cfg.get("agents.metaorder.child_lots")
    assert tomllib.loads(text)["scenario"] == "calm"
    assert f"Starts from the settings of {FIDELITY}" in text
    assert cfg.tick_size == 0.5  # the real Bybit BTCUSDT tick
    for param in calibrate.CALIBRATED:
        key = param.key.rsplit(".", 1)[1]
        assert f"# {calibrate.DESCRIPTIONS[param.key]}\n{key} = " in text
    # achieved vs target: every criterion in the printed table and in the file's header
    for criterion in calibrate.CRITERIA:
        assert criterion.name in result.output
        assert f"# {criterion.name}: achieved " in text
    assert "Calibrated settings" in result.output
    for key in calibrate.FITTED_KEYS:
        assert key in result.output  # whole dotted keys, not cut
    assert "config written to" in result.output


def test_same_seed_gives_the_same_fit(shared_data: Path) -> None:
    targets = calibrate.load_targets(shared_data)
    runs = [
        calibrate.calibrate(
            shared_data,
            base_config=FIDELITY,
            duration_s=120.0,
            seeds=(1,),
            budget=3,
            targets=targets,
        )
        for _ in range(2)
    ]
    assert runs[0].overrides == runs[1].overrides
    assert runs[0].rows == runs[1].rows
    assert runs[0].scenario == "calm" and "agents.metaorder.count" in runs[0].from_base


def test_a_bad_base_config_is_a_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[agents.noise]\nsize_alpha = -1.0\n")
    args = ["sim", "calibrate", "--base", str(bad), "--out", str(tmp_path / "o.toml")]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2
    assert "size_alpha" in result.output
    assert not (tmp_path / "o.toml").exists()


def test_a_missing_base_config_is_a_clear_error(tmp_path: Path) -> None:
    args = ["sim", "calibrate", "--base", str(tmp_path / "nope.toml"), "--out", str(tmp_path / "o")]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2
    assert "nope.toml" in result.output
