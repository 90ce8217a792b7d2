"""Adversarial fitness: one seeded run per (scenario, seed), parallel runs equal serial ones."""

from __future__ import annotations

import pytest

from nexusforge.errors import ConfigError
from nexusforge.forge.sim.config import SimConfig
from nexusforge.forge.sim.fitness import adversarial_fitness
from nexusforge.strategy.expr import Call, Col

SHORT = {"agents.noise.count": 150, "agents.informed.count": 15, "strategy.start_s": 30.0}
FLIP = Call("sign", (Col("ret_1"),))


def test_one_row_per_scenario_and_seed_and_threads_change_nothing() -> None:
    kwargs = {"seeds": (1, 2), "duration_s": 120.0, "overrides": SHORT}
    one = adversarial_fitness(FLIP, ("calm", "toxic"), threads=1, **kwargs)  # type: ignore[arg-type]
    many = adversarial_fitness(FLIP, ("calm", "toxic"), threads=4, **kwargs)  # type: ignore[arg-type]
    assert one.runs.equals(many.runs)
    assert one.runs.select("scenario", "seed").rows() == [
        ("calm", 1), ("calm", 2), ("toxic", 1), ("toxic", 2)
    ]  # fmt: skip
    assert (one.runs["fees"] > 0).all()
    assert one.runs["pnl"].n_unique() == 4
    summary = one.summary()
    assert summary["worst"] <= summary["p05"] <= summary["mean"]


def test_a_config_object_is_a_scenario_too() -> None:
    thin = SimConfig.scenario("thin")
    result = adversarial_fitness(FLIP, (thin,), seeds=(3,), duration_s=90.0, overrides=SHORT)
    assert result.runs["scenario"].to_list() == ["config_0"]


def test_no_runs_is_an_error() -> None:
    with pytest.raises(ConfigError, match="at least one"):
        adversarial_fitness(FLIP, (), seeds=(1,))
    with pytest.raises(ConfigError, match="unknown scenario"):
        adversarial_fitness(FLIP, ("moon",), seeds=(1,))
