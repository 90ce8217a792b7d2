"""Hybrid fitness: simulated markets built by the research table's own feature code, the cost
drag they put on an expression, the documented combination with the causal score, determinism,
config errors, and a whole forge run on real Bybit history with the adversarial term on."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from nexusforge.errors import ConfigError
from nexusforge.forge.evolve.fitness import FitnessConfig, hybrid
from nexusforge.forge.evolve.hybrid import AdversarialConfig, Adversary, build_markets
from nexusforge.forge.evolve.run import parse_config, run_forge
from nexusforge.forge.sim import SimConfig, run_sim
from nexusforge.forge.sim.bars import sim_bars, sim_feature_names
from nexusforge.strategy import artifact, codec
from nexusforge.strategy.expr import Call, Col, Const

SMALL = AdversarialConfig(scenarios=("calm", "thin"), seeds=(3,), duration_s=3 * 3600.0)
# Flips with the sign of the last 1-minute return: turns the whole position over most bars.
FAST = codec.dumps(Call("sign", (Col("m1_ret"),)))
# The sign of a 2-hour average of returns: the same inputs, a fraction of the trading.
SLOW = codec.dumps(Call("sign", (Call("mean", (Col("m1_ret"),), 120),)))
FLAT = codec.dumps(Const(0.0))


@pytest.fixture(scope="module")
def adversary() -> Adversary:
    return Adversary.build(SMALL, FitnessConfig(adversarial_weight=0.25), 60, 1, ["m1_ret"])


def test_sim_bars_are_the_research_table_of_the_sim_trades() -> None:
    cfg = SimConfig.scenario("calm").with_overrides({"duration_s": 2 * 3600.0})
    res = run_sim(cfg, seed=11)
    bars = sim_bars(res, 60)
    t = bars.table
    assert t.features == sim_feature_names(60, 1)
    # Independently: each bar's close is the last sim trade at or before its close time.
    ts, px = res.trades["ts_ns"].to_numpy(), res.trades["price"].to_numpy()
    close_ts = t.frame["close_ts"].to_numpy()
    last = np.searchsorted(ts, close_ts, side="left") - 1  # a trade at close_ts is the next bar's
    np.testing.assert_allclose(t.close, px[last])
    np.testing.assert_allclose(t.frame["m1_ret"].to_numpy()[1:], np.diff(np.log(t.close)))
    assert t.height == 120 and np.all(np.diff(close_ts) == 60 * 10**9)
    ok = np.isfinite(bars.bid)
    assert ok.all() and np.all(bars.bid[ok] < bars.ask[ok]) and np.all(bars.volume > 0)


def test_high_turnover_strategy_loses_its_edge_in_the_simulator(adversary: Adversary) -> None:
    drag = adversary.drag([FAST, SLOW, FLAT])
    assert drag.shape == (3, 2)
    assert np.all(drag[0] < drag[1]) and np.all(drag[1] < 0.0)
    assert np.all(drag[2] == 0.0)  # never trades, pays nothing
    # Equal causal scores: the hybrid ranks the high-turnover strategy below the slow one,
    # and below its own causal score.
    causal = np.array([1.0, 1.0, 0.0])
    h = adversary.combine([FAST, SLOW, FLAT], causal)
    assert h[0] < h[1] < causal[1] and h[0] < causal[0] and h[2] == 0.0
    expect = 0.75 * causal + 0.25 * np.quantile(drag, 0.1, axis=1)
    np.testing.assert_allclose(h, expect)
    np.testing.assert_allclose(h, hybrid(causal, drag, 0.25, 0.1))
    assert adversary.scored == 3  # cached: asking again costs nothing
    adversary.drag([SLOW, FAST])
    assert adversary.scored == 3


def test_same_seed_same_markets_and_scores(adversary: Adversary) -> None:
    again = Adversary.build(SMALL, FitnessConfig(adversarial_weight=0.25), 60, 1, ["m1_ret"])
    a, b = adversary.summary()["markets"], again.summary()["markets"]
    assert [m["fingerprint"] for m in a] == [m["fingerprint"] for m in b]
    np.testing.assert_array_equal(again.drag([FAST, SLOW]), adversary.drag([FAST, SLOW]))
    other = build_markets(AdversarialConfig(scenarios=("calm",), seeds=(4,),
                                            duration_s=3 * 3600.0), 60, 1)  # fmt: skip
    assert other[0].describe()["fingerprint"] != a[0]["fingerprint"]


@pytest.mark.parametrize(
    ("section", "needle"),
    [
        ({"scenarioz": ["calm"]}, "scenarioz"),
        ({"scenarios": ["calm", "storm"]}, "storm"),
        ({"seeds": []}, "seeds"),
        ({"duration_s": 10.0}, "duration_s"),
        ({"quantile": 1.5}, "quantile"),
    ],
)
def test_bad_adversarial_config_names_the_key(section: dict[str, object], needle: str) -> None:
    with pytest.raises(ConfigError, match=needle):
        parse_config({"adversarial": section})


def test_features_the_simulator_cannot_build_are_refused_before_any_sim_run() -> None:
    with pytest.raises(ConfigError, match=r"has no \['driver'\]"):
        Adversary.build(AdversarialConfig(), FitnessConfig(adversarial_weight=0.5), 300, 1,
                        ["m5_ret", "driver"])  # fmt: skip
    short = AdversarialConfig(duration_s=3600.0)  # 12 bars of 5 m
    with pytest.raises(ConfigError, match=r"adversarial.duration_s .* at least 15000 s"):
        Adversary.build(short, FitnessConfig(adversarial_weight=0.5), 300, 1, ["m5_ret"])


@pytest.mark.slow
def test_forge_run_with_the_hybrid_fitness(real_store: Path, tmp_path: Path) -> None:
    cfg = parse_config({
        "seed": 5, "challengers": 2, "data": {"max_rows": 12000},
        "causal": {"sample_rows": 1500}, "gp": {"population": 30, "generations": 2},
        "fitness": {"folds": 2, "adversarial_weight": 0.25},
        "adversarial": {"scenarios": ["calm", "toxic"], "seeds": [0], "duration_s": 36000.0},
        "surrogate": {"min_train": 20}, "eval": {"backend": "inline"},
    })  # fmt: skip
    summary = run_forge(cfg, real_store, tmp_path)
    man = json.loads((tmp_path / "manifest.json").read_text())
    adv = man["adversarial"]
    assert adv["weight"] == 0.25 and "quantile_q" in adv["rule"]
    assert [m["scenario"] for m in adv["markets"]] == ["calm", "toxic"]
    assert all(m["bars"] >= 100 for m in adv["markets"])
    assert 0 < adv["scored"] <= summary.evaluations + 1
    ch = artifact.read(summary.challengers[0])
    adv_score, causal = ch.scores["adversarial"], ch.scores["causal_fitness"]
    assert adv_score is not None and adv_score <= 0.0 and causal is not None
    fitness = ch.scores["fitness"]
    assert fitness == pytest.approx(0.75 * causal + 0.25 * adv_score, abs=1e-9)
    assert {"adversarial_calm_s0", "adversarial_toxic_s0"} <= set(ch.scores)
    assert "adversarial_rule" in ch.origin
