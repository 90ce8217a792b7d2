"""Training the Intelligent Execution Layer's policy in the HF-ABM simulator, and exporting it.

`env` (a Gymnasium environment: one order intent worked in a seeded simulated market; its actions
and state come from `market/execution_state.py`, shared with `nexus/execution.py`), `shortfall` (the
accounting), `train` (stable-baselines3 PPO, CPU, seeded), `export` (ONNX + tensor weights +
manifest), `evaluate` and `real` (shortfall against always-market and always-passive, in the
simulator and on recorded Bybit data). torch and SB3 are imported here only, never on the live path.
"""

from nexusforge.forge.execution_rl.env import EnvConfig, ExecutionEnv
from nexusforge.forge.execution_rl.shortfall import Shortfall
from nexusforge.market.execution_state import DEFAULT_TACTIC, FEATURES, TACTICS, Tactic

__all__ = [
    "DEFAULT_TACTIC",
    "FEATURES",
    "TACTICS",
    "EnvConfig",
    "ExecutionEnv",
    "Shortfall",
    "Tactic",
]
