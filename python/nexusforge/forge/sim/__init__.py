"""The HF-ABM simulator's Python face: the Rust matching engine and its L2 publisher (more to
come: the event kernel, agents, calibration and fidelity checks live beside it)."""

from nexusforge.forge.sim.engine import (
    EngineConfig,
    L2Publisher,
    L2Update,
    MatchingEngine,
    OpBatch,
    RestingOrder,
    RunCounts,
)

__all__ = [
    "EngineConfig",
    "L2Publisher",
    "L2Update",
    "MatchingEngine",
    "OpBatch",
    "RestingOrder",
    "RunCounts",
]
