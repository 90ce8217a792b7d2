"""Training the Intelligent Execution Layer's policy in the HF-ABM simulator, and exporting it.

`env` (a Gymnasium environment: one order intent worked in a seeded simulated market), `tactics`
(actions and state: the contract with `nexus/execution.py`), `shortfall` (the accounting),
`train` (stable-baselines3 PPO, CPU, seeded), `export` (ONNX + tensor weights + manifest),
`evaluate` and `real` (shortfall against always-market and always-passive, in the simulator and
on recorded Bybit data). torch and SB3 are imported here only, never on the live path.
"""

from nexusforge.forge.execution_rl.env import EnvConfig, ExecutionEnv
from nexusforge.forge.execution_rl.shortfall import Shortfall
from nexusforge.forge.execution_rl.tactics import DEFAULT_TACTIC, FEATURES, TACTICS, Tactic

__all__ = [
    "DEFAULT_TACTIC",
    "FEATURES",
    "TACTICS",
    "EnvConfig",
    "ExecutionEnv",
    "Shortfall",
    "Tactic",
]
