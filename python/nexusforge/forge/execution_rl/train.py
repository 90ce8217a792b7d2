"""Train the IEL policy with stable-baselines3 PPO on `ExecutionEnv`, on CPU, seeded.

Observations are scaled by a fixed mean and std measured once on random-tactic rollouts before
training (so the same numbers can be baked into the exported network and its manifest).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import gymnasium as gym
import numpy as np
import numpy.typing as npt
import torch
from stable_baselines3 import PPO

from nexusforge.forge.execution_rl.env import EnvConfig, ExecutionEnv, Obs
from nexusforge.market.execution_state import TACTICS

F64 = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class TrainConfig:
    """Everything a training run depends on (the manifest records it)."""

    seed: int = 7
    timesteps: int = 12_000
    scale_episodes: int = 200
    hidden: tuple[int, ...] = (32, 32)
    n_steps: int = 512
    batch_size: int = 128
    learning_rate: float = 3e-4
    ent_coef: float = 0.01
    env: EnvConfig = field(default_factory=EnvConfig)


@dataclass(frozen=True, slots=True)
class Scaling:
    """Per-feature mean and std the policy's inputs are standardised with."""

    mean: F64
    std: F64

    def apply(self, obs: Obs) -> Obs:
        return ((obs - self.mean) / self.std).astype(np.float32)


@dataclass(frozen=True, slots=True)
class Trained:
    model: PPO
    scaling: Scaling
    config: TrainConfig


class ScaledObs(gym.ObservationWrapper[Obs, int, Obs]):
    """Standardises observations with a fixed `Scaling`."""

    def __init__(self, env: gym.Env[Obs, int], scaling: Scaling) -> None:
        super().__init__(env)
        self.scaling = scaling

    def observation(self, observation: Obs) -> Obs:
        return self.scaling.apply(observation)


def measure_scaling(env: ExecutionEnv, episodes: int, seed: int) -> Scaling:
    """Mean and std of the states seen under uniformly random tactics (std floored at 1e-3)."""
    rng = np.random.default_rng(seed)
    rows: list[Obs] = []
    for i in range(episodes):
        obs, _ = env.reset(seed=seed * 1_000_003 + i)
        done = False
        while not done:
            rows.append(obs)
            obs, _, done, _, _ = env.step(int(rng.integers(len(TACTICS))))
    data = np.stack(rows).astype(np.float64)
    return Scaling(data.mean(axis=0), np.maximum(data.std(axis=0), 1e-3))


def train(config: TrainConfig | None = None) -> Trained:
    """A PPO policy trained for `config.timesteps` steps; the same config gives the same net."""
    cfg = config or TrainConfig()
    torch.manual_seed(cfg.seed)
    torch.set_num_threads(1)
    base = ExecutionEnv(cfg.env)
    scaling = measure_scaling(base, cfg.scale_episodes, cfg.seed)
    env = ScaledObs(base, scaling)
    env.reset(seed=cfg.seed)
    model = PPO(
        "MlpPolicy",
        env,
        seed=cfg.seed,
        device="cpu",
        n_steps=cfg.n_steps,
        batch_size=cfg.batch_size,
        learning_rate=cfg.learning_rate,
        ent_coef=cfg.ent_coef,
        gamma=1.0,  # the episode's rewards sum to its shortfall: no discounting
        policy_kwargs={"net_arch": {"pi": list(cfg.hidden), "vf": list(cfg.hidden)}},
        verbose=0,
    )
    model.learn(total_timesteps=cfg.timesteps)
    return Trained(model, scaling, cfg)
