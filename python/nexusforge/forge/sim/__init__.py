"""The HF-ABM simulator's Python face: configs and scenarios (`config`), runs as polars tables
(`run`), adversarial fitness of a strategy (`fitness`), and the Rust matching engine with its L2
publisher (`engine`); calibration and fidelity checks live beside them."""

from nexusforge.forge.sim.config import SCENARIOS, SimConfig
from nexusforge.forge.sim.engine import (
    EngineConfig,
    L2Publisher,
    L2Update,
    MatchingEngine,
    OpBatch,
    RestingOrder,
    RunCounts,
)
from nexusforge.forge.sim.fitness import ADVERSARIAL_SCENARIOS, FitnessResult, adversarial_fitness
from nexusforge.forge.sim.run import (
    AGENT_KINDS,
    FEATURE_COLUMNS,
    SimResult,
    SimStats,
    StrategyResult,
    run_sim,
)

__all__ = [
    "ADVERSARIAL_SCENARIOS",
    "AGENT_KINDS",
    "FEATURE_COLUMNS",
    "SCENARIOS",
    "EngineConfig",
    "FitnessResult",
    "L2Publisher",
    "L2Update",
    "MatchingEngine",
    "OpBatch",
    "RestingOrder",
    "RunCounts",
    "SimConfig",
    "SimResult",
    "SimStats",
    "StrategyResult",
    "adversarial_fitness",
    "run_sim",
]
