"""`nexusforge backtest` cost options through typer's CliRunner on the real Bybit 5m BTCUSDT
2025 candles and funding: each component switches on and off, fee tiers and overrides, limits,
latency, and clear errors for bad values."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

from nexusforge.cli import app
from nexusforge.errors import ConfigError
from nexusforge.forge.backtest.options import CostOptions, impact_inputs
from nexusforge.forge.backtest.run import run_strategy_file

STRATEGY = Path(__file__).resolve().parents[3] / "examples" / "strategies" / "mtfa_momentum.json"
PARTS = ("fee", "spread", "slippage", "impact", "impact_perm", "funding")
runner = CliRunner()


def _json(store: Path, *options: str) -> dict[str, Any]:
    done = runner.invoke(app, ["backtest", str(STRATEGY), "--data", str(store), "--json", *options])
    assert done.exit_code == 0, done.output
    doc: dict[str, Any] = json.loads(done.output)
    return doc


def test_table_shows_every_cost_component_with_its_setting(store: Path) -> None:
    done = runner.invoke(
        app, ["backtest", str(STRATEGY), "--data", str(store)], env={"COLUMNS": "200"}
    )
    assert done.exit_code == 0, done.output
    rows = {line.split("│")[1].strip(): line for line in done.output.splitlines() if "│" in line}
    for part in (*PARTS, "total", "latency"):
        assert part in rows, part
    assert "taker 0.0550% per fill, Bybit VIP0 (documented)" in rows["fee"]
    assert "half-spread 0.5 bps" in rows["spread"]
    assert "eta 0.5" in rows["impact"] and "288-bar" in rows["impact"]


def test_default_costs_all_paid_and_add_up(store: Path) -> None:
    doc = _json(store)
    costs, m = doc["costs"], doc["metrics"]
    assert costs["fee"] > 0 and costs["spread"] > 0 and costs["impact"] > 0
    assert costs["funding"] != 0 and costs["slippage"] == 0  # candles carry no depth
    assert sum(costs.values()) == pytest.approx(m["total_cost"], rel=1e-12)
    assert doc["cost_settings"]["slippage"].startswith("walks book depth")


def test_no_costs_leaves_only_funding(store: Path) -> None:
    doc = _json(store, "--no-costs")
    costs = doc["costs"]
    for part in ("fee", "spread", "slippage", "impact", "impact_perm"):
        assert costs[part] == 0.0, part
    assert costs["funding"] != 0.0
    assert doc["cost_settings"]["fee"].endswith("no costs")
    assert doc["metrics"]["final_equity"] > _json(store)["metrics"]["final_equity"]


def test_each_switch_turns_one_component_off(store: Path) -> None:
    base = _json(store)["costs"]
    no_spread = _json(store, "--no-spread")["costs"]
    assert no_spread["spread"] == 0.0 and no_spread["fee"] > 0 and no_spread["impact"] > 0
    no_impact = _json(store, "--no-impact")["costs"]
    assert no_impact["impact"] == 0.0 and no_impact["impact_perm"] == 0.0
    assert no_impact["spread"] > 0
    no_funding = _json(store, "--no-funding")["costs"]
    assert no_funding["funding"] == 0.0 and base["funding"] != 0.0


def test_impact_scales_with_its_coefficient(store: Path) -> None:
    low = _json(store, "--impact-eta", "0.1", "--impact-gamma", "0")["costs"]
    high = _json(store, "--impact-eta", "1.0", "--impact-gamma", "0")["costs"]
    assert low["impact_perm"] == 0.0
    # Same fills to first order; the charge grows with eta (not exactly 10x: equity differs).
    assert 5.0 < high["impact"] / low["impact"] < 20.0


def test_fee_tier_and_user_rates(store: Path) -> None:
    vip0 = _json(store, "--no-spread", "--no-impact")
    vip2 = _json(store, "--no-spread", "--no-impact", "--fee-tier", "VIP2")
    assert "user-supplied" in vip2["cost_settings"]["fee"]
    assert 0 < vip2["costs"]["fee"] < vip0["costs"]["fee"]
    own = _json(store, "--no-spread", "--no-impact", "--taker-fee", "0.001")
    assert own["cost_settings"]["fee"] == "taker 0.1000% per fill, user-supplied rates"
    assert own["costs"]["fee"] > vip0["costs"]["fee"]


def test_position_limit_and_latency_reach_the_engine(store: Path) -> None:
    opts = CostOptions(max_notional=2_000.0, latency_bars=3)
    run = run_strategy_file(STRATEGY, store, options=opts)
    assert run.config.latency == 3 and run.config.max_notional == 2_000.0
    notional = np.abs(run.result.position) * run.close
    assert notional.max() <= 2_000.0 * (1 + 1e-9)
    assert notional.max() > 1_900.0  # the limit binds on this strategy
    first_fill = int(np.flatnonzero(run.result.traded_qty)[0])
    first_target = int(np.flatnonzero(~np.isnan(run.target) & (run.target != 0))[0])
    assert first_fill == first_target + 3
    doc = _json(store, "--max-contracts", "0.01", "--latency", "0")
    assert doc["cost_settings"]["latency"] == "0 bar(s)"


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--fee-tier", "VIP9"], "unknown fee tier 'VIP9'"),
        (["--taker-fee", "0.5"], "taker_fee must be finite"),
        (["--impact-window", "1"], "impact window must be >= 2"),
        (["--half-spread-bps", "-1"], "half-spread must be finite and >= 0"),
        (["--max-notional", "0"], "max_notional must be > 0"),
    ],
)
def test_bad_cost_options_are_clear_errors(store: Path, options: list[str], message: str) -> None:
    done = runner.invoke(app, ["backtest", str(STRATEGY), "--data", str(store), *options])
    assert done.exit_code == 2
    assert message in done.output


def test_impact_inputs_use_only_the_past() -> None:
    rng = np.random.default_rng(3)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 1e-3, 500)))
    volume = rng.uniform(0, 5, 500)
    volume[100:140] = 0.0
    sigma, adv = impact_inputs(close, volume, 20)
    assert np.all(np.isfinite(sigma)) and np.all(adv > 0)
    # Changing bar 300 onward leaves everything before it unchanged.
    c2, v2 = close.copy(), volume.copy()
    c2[300:] *= 1.1
    v2[300:] += 7
    s2, a2 = impact_inputs(c2, v2, 20)
    np.testing.assert_array_equal(sigma[:300], s2[:300])
    np.testing.assert_array_equal(adv[:300], a2[:300])
    r = np.diff(np.log(close))
    assert sigma[250] == pytest.approx(np.std(r[250 - 20 : 250]), rel=1e-6)
    assert adv[250] == pytest.approx(volume[231:251].mean(), rel=1e-9)
    # Windows inside the zero-volume stretch (ending at 119..139) keep the last mean that had
    # volume: the window ending at 118, whose only traded bar is 99.
    assert adv[118] == pytest.approx(volume[99] / 20)
    assert np.all(adv[119:140] == adv[118])


def test_options_reject_unknown_tier() -> None:
    with pytest.raises(ConfigError, match="unknown fee tier"):
        CostOptions(fee_tier="VIP42")
