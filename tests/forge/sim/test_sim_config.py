"""Simulator configs: scenarios, overrides, TOML files, and bad input named by its key."""

from __future__ import annotations

from pathlib import Path

import pytest

from nexusforge.errors import ConfigError
from nexusforge.forge.sim.config import SCENARIOS, SimConfig


def test_every_scenario_loads_and_differs() -> None:
    configs = {name: SimConfig.scenario(name).to_dict() for name in SCENARIOS}
    assert set(SCENARIOS) >= {"calm", "volatile", "toxic", "thin", "rmsc04"}
    assert len({repr(c) for c in configs.values()}) == len(SCENARIOS)
    rmsc = configs["rmsc04"]["agents"]
    assert rmsc["market_maker"]["count"] == 2
    assert rmsc["noise"]["count"] == 1000
    assert rmsc["momentum"]["count"] == 12


def test_overrides_change_only_their_key() -> None:
    base = SimConfig.scenario("calm")
    cfg = base.with_overrides({"agents.noise.rate": 0.5, "seed": 7})
    assert cfg.get("agents.noise.rate") == 0.5
    assert cfg.seed == 7
    changed = cfg.to_dict()
    changed["agents"]["noise"]["rate"] = base.get("agents.noise.rate")
    changed["seed"] = base.seed
    assert changed == base.to_dict()
    assert SimConfig.scenario("calm", agents__noise__rate=0.5).get("agents.noise.rate") == 0.5


def test_int_widens_to_float_but_not_the_reverse() -> None:
    assert SimConfig.scenario().with_overrides({"duration_s": 60}).duration_s == 60.0
    with pytest.raises(ConfigError, match=r"agents\.noise\.count must be a non-negative integer"):
        SimConfig.scenario().with_overrides({"agents.noise.count": 2.5})
    with pytest.raises(ConfigError, match=r"sampling\.record_events must be true or false"):
        SimConfig.scenario().with_overrides({"sampling.record_events": 1})


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"agents.noise.rate": -1.0}, r"agents\.noise\.rate must be >= 0"),
        ({"market.tick_size": 0.0}, r"market\.tick_size must be > 0"),
        ({"process.vol_per_day": -0.1}, r"process\.vol_per_day must be >= 0"),
        ({"agents.informed.latency.order_us": -5.0}, r"agents\.informed\.latency\.order_us"),
        ({"agents.momentum.slow_span": 2}, r"agents\.momentum\.slow_span must be > fast_span"),
        ({"agents.hft.momentum_fraction": 1.5}, r"momentum_fraction must be in \[0, 1\]"),
        ({"duration_s": 1e9}, r"duration_s must be <= 604800"),
        ({"agents.noise.sizes": 3}, r"unknown key 'agents\.noise\.sizes'"),
        ({"agents.whale.count": 3}, r"unknown agent type 'whale'"),
        ({"seed": -1}, r"seed must be a non-negative integer"),
        ({"process.vol2_of_vol": -0.1}, r"process\.vol2_of_vol must be >= 0"),
        ({"agents.market_maker.anchor_weight": 1.5}, r"anchor_weight must be in \[0, 1\]"),
        (
            {"agents.market_maker.flow_memory_max_s": 0.5},
            r"flow_memory_max_s must be in \[flow_memory_min_s",
        ),
        ({"agents.market_maker.flow_decay_exponent": 2.0}, r"flow_decay_exponent must be in"),
        ({"agents.market_maker.size_dispersion": 5.0}, r"size_dispersion must be <= 3"),
        ({"agents.market_maker.join_slices": 0}, r"join_slices must be in \[1, 100\]"),
        ({"agents.market_maker.join_interval_s": 0.0}, r"join_interval_s must be > 0"),
        ({"agents.metaorder.child_lots": 0}, r"agents\.metaorder\.child_lots must be > 0"),
        ({"agents.metaorder.size_alpha": 0.0}, r"agents\.metaorder\.size_alpha must be > 0"),
        ({"agents.metaorder.signal_prob": 2.0}, r"signal_prob must be in \[0, 1\]"),
    ],
)
def test_bad_values_name_their_key(overrides: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        SimConfig.scenario().with_overrides(overrides)


def test_unknown_scenario_lists_the_known_ones() -> None:
    with pytest.raises(ConfigError, match=r"unknown scenario 'crash'.*calm"):
        SimConfig.scenario("crash")


def test_toml_file_names_its_base_and_overrides(tmp_path: Path) -> None:
    path = tmp_path / "sim.toml"
    path.write_text(
        'scenario = "toxic"\nduration_s = 120\n[agents.noise]\nrate = 0.05\n'
        "[agents.market_maker.latency]\norder_us = 250\n",
        encoding="utf-8",
    )
    cfg = SimConfig.from_toml(path)
    toxic = SimConfig.scenario("toxic")
    assert cfg.duration_s == 120.0
    assert cfg.get("agents.noise.rate") == 0.05
    assert cfg.get("agents.market_maker.latency.order_us") == 250.0
    assert cfg.get("agents.informed.count") == toxic.get("agents.informed.count")


def test_bad_toml_files_are_config_errors(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("duration_s = = 3\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="not valid TOML"):
        SimConfig.from_toml(bad)
    with pytest.raises(ConfigError, match="cannot read"):
        SimConfig.from_toml(tmp_path / "missing.toml")
    section = tmp_path / "section.toml"
    section.write_text("agents = 3\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="agents must be a table"):
        SimConfig.from_toml(section)
