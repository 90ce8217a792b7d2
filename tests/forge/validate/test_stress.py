"""Stress paths: an expression over the simulator's own features trades in every adversarial
scenario; a bar-feature expression is recorded as not applicable, with the reason."""

from __future__ import annotations

import pytest

from nexusforge.forge.validate.stress import stress
from nexusforge.strategy import codec


def test_bar_feature_expression_is_not_applicable() -> None:
    res = stress(codec.loads('{"schema": 1, "expr": {"col": "h1_ret"}}'))
    assert not res.applicable and not res.passed
    assert "h1_ret" in res.reason and res.figures()["scenarios"] == {}


@pytest.mark.slow
def test_simulator_feature_expression_runs_every_scenario() -> None:
    e = codec.loads('{"schema": 1, "expr": {"op": "tanh", "args": [{"col": "imbalance"}]}}')
    res = stress(e, scenarios=("calm", "toxic"), seeds=1, duration_s=120.0)
    assert res.applicable and set(res.scenarios) == {"calm", "toxic"}
    for s in res.scenarios.values():
        assert s["worst_pnl"] <= s["mean_pnl"] and s["max_drawdown"] >= 0.0
    # Passing means no scenario loses on average.
    assert res.passed == all(s["mean_pnl"] > 0 for s in res.scenarios.values())
