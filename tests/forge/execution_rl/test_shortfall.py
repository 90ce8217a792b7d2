"""Implementation shortfall accounting: exact on hand-made fills and on a market order walking
a known book inside the environment."""

from __future__ import annotations

import pytest
from iel_flows import QUEUE, WALK, flow

from nexusforge.errors import ConfigError
from nexusforge.forge.execution_rl import EnvConfig, ExecutionEnv, Shortfall, Tactic
from nexusforge.market.costs import CostModel

HAND = EnvConfig(flow_s=100.0, warmup_s=2.0, step_s=1.0, min_steps=3, max_steps=5)


def test_buy_walking_two_levels_is_exact() -> None:
    sf = Shortfall(1, 4.0, 99.5, CostModel(maker_fee=0.0002, taker_fee=0.00055))
    sf.add(100.0, 2.0, "taker")
    sf.add(101.0, 2.0, "taker")
    assert sf.price_bps == pytest.approx((0.5 * 2 + 1.5 * 2) / 4 / 99.5 * 1e4, rel=1e-12)
    assert sf.fee_bps == pytest.approx(0.00055 * (200 + 202) / (4 * 99.5) * 1e4, rel=1e-12)
    assert sf.filled == 4.0


def test_sell_and_maker_rebate_signs() -> None:
    sf = Shortfall(-1, 1.0, 100.0, CostModel(maker_fee=-0.0001, taker_fee=0.0005))
    sf.add(100.5, 1.0, "maker")  # sold above the arrival mid: negative cost, and a rebate
    assert sf.price_bps == pytest.approx(-50.0)
    assert sf.fee_bps == pytest.approx(-0.0001 * 100.5 / 100.0 * 1e4)
    assert sf.total_bps < 0


def test_bad_intents_are_refused() -> None:
    with pytest.raises(ConfigError):
        Shortfall(0, 1.0, 100.0)
    with pytest.raises(ConfigError):
        Shortfall(1, 0.0, 100.0)


def test_env_market_order_walks_the_known_book() -> None:
    env = ExecutionEnv(HAND, flows=[flow(WALK)])
    env.reset(seed=0, options={"side": 1, "lots": 4, "steps": 3, "start_s": 2.0})
    _, reward, done, _, info = env.step(int(Tactic.MARKET))
    # 2 lots at 100.0 and 2 at 101.0 against an arrival mid of 99.5; taker fee 5.5 bps.
    price_bps = (0.5 * 0.02 + 1.5 * 0.02) / 0.04 / 99.5 * 1e4
    fee_bps = 0.00055 * (100.0 * 0.02 + 101.0 * 0.02) / (0.04 * 99.5) * 1e4
    assert done
    assert info["shortfall_bps"] == pytest.approx(price_bps + fee_bps, rel=1e-12)
    assert info["fee_bps"] == pytest.approx(fee_bps, rel=1e-12)
    assert reward == pytest.approx(-(price_bps + fee_bps), rel=1e-12)


def test_env_passive_fills_behind_the_queue_are_exact() -> None:
    env = ExecutionEnv(HAND, flows=[flow(QUEUE)])
    env.reset(seed=0, options={"side": 1, "lots": 4, "steps": 5, "start_s": 2.0})
    _, r1, done, _, info = env.step(int(Tactic.PASSIVE))
    # The 7-lot sell at 3 s takes the 5 lots queued ahead of us, then 2 of ours at 99.0.
    assert not done and info["filled_frac"] == pytest.approx(0.5)
    _, r2, done, _, info = env.step(int(Tactic.WAIT))
    assert done and info["fills"] == 2
    per_unit = (-0.5 + 0.0002 * 99.0) / 99.5 * 1e4
    assert info["shortfall_bps"] == pytest.approx(per_unit, rel=1e-12)
    assert r1 + r2 == pytest.approx(-per_unit, rel=1e-12)


def test_horizon_end_crosses_what_is_left() -> None:
    env = ExecutionEnv(HAND, flows=[flow(WALK)])
    env.reset(seed=0, options={"side": 1, "lots": 1, "steps": 3, "start_s": 2.0})
    done, steps, info = False, 0, {}
    while not done:
        _, _, done, _, info = env.step(int(Tactic.WAIT))
        steps += 1
    assert steps == 3
    assert info["filled_frac"] == pytest.approx(1.0)
    expected = (0.5 / 99.5 + 0.00055 * 100.0 / 99.5) * 1e4
    assert info["shortfall_bps"] == pytest.approx(expected, rel=1e-12)
