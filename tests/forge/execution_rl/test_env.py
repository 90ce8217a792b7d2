"""The execution environment: deterministic per seed, rewards sum to minus the shortfall, and
the replayed agent flow reproduces the simulator's own trades."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from nexusforge.forge.execution_rl import FEATURES, TACTICS, EnvConfig, ExecutionEnv, Tactic
from nexusforge.forge.execution_rl.flow import Replay, agent_flow
from nexusforge.forge.sim import SimConfig, run_sim
from nexusforge.market.costs import CostModel

SMALL = EnvConfig(flow_seeds=(11, 12), flow_s=200.0, warmup_s=30.0, max_steps=6)


def _rollout(seed: int, actions: list[int]) -> tuple[list[np.ndarray], list[float], dict]:
    env = ExecutionEnv(SMALL)
    obs, info = env.reset(seed=seed)
    seen, rewards, i, done = [obs], [], 0, False
    while not done:
        obs, r, done, _, info = env.step(actions[i % len(actions)])
        seen.append(obs)
        rewards.append(r)
        i += 1
    return seen, rewards, info


def test_same_seed_same_episode() -> None:
    actions = [int(Tactic.PASSIVE), int(Tactic.WAIT), int(Tactic.INSIDE)]
    a, ra, ia = _rollout(5, actions)
    b, rb, ib = _rollout(5, actions)
    assert len(a) == len(b)
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x, y)
    assert ra == rb and ia == ib
    c, _, _ = _rollout(6, actions)
    assert not all(np.array_equal(x, y) for x, y in zip(a, c, strict=False))


@pytest.mark.parametrize("tactic", list(Tactic))
def test_rewards_sum_to_minus_shortfall_and_everything_fills(tactic: Tactic) -> None:
    _, rewards, info = _rollout(3, [int(tactic)])
    assert sum(rewards) == pytest.approx(-info["shortfall_bps"], abs=1e-9)
    assert info["filled_frac"] == pytest.approx(1.0)


def test_observations_are_finite_and_in_range() -> None:
    env = ExecutionEnv(SMALL)
    for seed in range(8):
        obs, _ = env.reset(seed=seed)
        assert obs.shape == (len(FEATURES),) and obs.dtype == np.float32
        assert np.isfinite(obs).all()
        assert 0 < obs[0] <= 1 and 0 < obs[1] <= 1 and obs[2] > 0 and -1 <= obs[3] <= 1
    assert env.action_space.n == len(TACTICS)


def test_replayed_flow_reproduces_the_simulators_trades() -> None:
    flow = agent_flow("calm", 11, 200.0)
    replay = Replay(flow, CostModel())
    replay.advance(flow.end_ns, keep_events=True)
    trades = replay.engine.take_events().filter(pl.col("kind") == "trade")
    cfg = SimConfig.scenario("calm").with_overrides(
        {"seed": 11, "duration_s": 200.0, "sampling.record_events": True}
    )
    sim = run_sim(cfg).trades
    assert trades.height == sim.height
    np.testing.assert_allclose(trades["price"].to_numpy() * flow.tick_size, sim["price"])
    np.testing.assert_allclose(trades["qty"].to_numpy() * flow.lot_size, sim["qty"])
