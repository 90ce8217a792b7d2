"""Chaos runs: the engine as a child process trading against the local exchange under a seeded
schedule of faults and `kill -9` restarts, then the books checked against the venue."""

from nexusforge.chaos.check import Verdict
from nexusforge.chaos.runner import ChaosConfig, ChaosResult, run_chaos
from nexusforge.chaos.schedule import FAULT_KINDS, Fault, Schedule, build_schedule

__all__ = [
    "FAULT_KINDS",
    "ChaosConfig",
    "ChaosResult",
    "Fault",
    "Schedule",
    "Verdict",
    "build_schedule",
    "run_chaos",
]
