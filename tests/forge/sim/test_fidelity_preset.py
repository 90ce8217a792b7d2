"""The fidelity preset `examples/sim/fidelity.toml`: it loads (API and CLI) and its facts compute
on a short check; only the facts that pass on every short run are asserted to pass."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from typer.testing import CliRunner

from nexusforge.cli import app
from nexusforge.forge.sim.check import FACT_NAMES, IMPACT_FACTS, ImpactPlan, check_fidelity
from nexusforge.forge.sim.config import SimConfig

PRESET = Path(__file__).resolve().parents[3] / "examples" / "sim" / "fidelity.toml"
SHORT_S = 3600.0
# Facts that are defined on a one-hour run (60 one-minute returns, no meta-orders).
SHORT_RUN_FACTS = ("excess_kurtosis", "return_acf_inside_share", "ofi_r2", "spread_ks", "depth_ks")


def test_preset_loads_and_sets_what_it_documents() -> None:
    cfg = SimConfig.from_toml(PRESET)
    calm = SimConfig.scenario("calm")
    # Stochastic volatility is on and the makers quote the real book's depth and tick.
    assert calm.get("process.vol_of_vol") == 0.0 < cfg.get("process.vol_of_vol")
    assert cfg.tick_size == 0.5
    # The mechanisms behind the facts: two volatility factors, meta-order traders, a maker
    # quoting around the reference and moving with order flow.
    assert calm.get("process.vol2_of_vol") == 0.0 < cfg.get("process.vol2_of_vol")
    assert calm.get("agents.metaorder.count") == 0 < cfg.get("agents.metaorder.count")
    assert cfg.get("agents.market_maker.anchor_weight") == 1.0
    assert cfg.get("agents.market_maker.flow_impact_ticks_per_lot") > 0.0
    # ... and joining the touch in slices, so it is often thin as the real one is.
    assert (
        calm.get("agents.market_maker.join_slices")
        == 1
        < cfg.get("agents.market_maker.join_slices")
    )
    maker = "agents.market_maker.size_lots"
    assert cfg.get(maker) > 100 * calm.get(maker)
    # Every key the file sets is a key of the scenario (from_toml refuses unknown ones).
    assert cfg.to_dict().keys() == calm.to_dict().keys()


def test_short_check_computes_the_facts(shared_data: Path) -> None:
    cfg = SimConfig.from_toml(PRESET).with_overrides({"duration_s": SHORT_S})
    report = check_fidelity(cfg, seeds=2, data_dir=shared_data, impact=ImpactPlan(sizes=0))
    assert set(report.facts) == set(FACT_NAMES)
    assert report.seeds == (1, 2)
    for name in SHORT_RUN_FACTS:
        fact = report.facts[name]
        assert len(fact.per_seed) == 2
        assert all(math.isfinite(v) for v in fact.per_seed), (name, fact.per_seed)
    for name in IMPACT_FACTS:  # no meta-orders were run
        assert not report.facts[name].passed
    # The makers' nearest-tick quotes give real Bybit's one-tick spread on every short run.
    assert report.facts["spread_ks"].passed, report.facts["spread_ks"].per_seed


@pytest.mark.slow
def test_cli_checks_the_preset(shared_data: Path) -> None:
    args = ["sim", "check", "--config", str(PRESET), "--seeds", "2", "--duration", "1800"]
    res = CliRunner().invoke(
        app, [*args, "--impact-sizes", "0", "--data", str(shared_data), "--json"]
    )
    assert res.exit_code == 0, res.output
    facts = json.loads(res.output[res.output.index("{") :])["facts"]
    assert set(facts) == set(FACT_NAMES)
    assert facts["spread_ks"]["range"] == [0.0, 0.1]
