"""Adversarial fitness: a strategy's PnL distribution across seeded simulator scenarios.

Each (scenario, seed) pair is one independent run in which the strategy trades through the
same order API, latency and fees as the agents, so its own orders move the price against it.
Runs go to a thread pool; the Rust simulator releases the GIL, so they run in parallel.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from nexusforge.errors import ConfigError
from nexusforge.forge.sim.config import SimConfig
from nexusforge.forge.sim.run import compile_strategy, run_sim
from nexusforge.strategy import Expr
from nexusforge.strategy.vector import Compiled

ADVERSARIAL_SCENARIOS = ("calm", "volatile", "toxic", "thin")
# Fitness runs need only the strategy's ledger: no event log, no L2 samples.
_LEAN = {"sampling.record_events": False, "sampling.l2_levels": 0}


@dataclass(frozen=True, slots=True)
class FitnessResult:
    """One row per (scenario, seed): pnl, fees, traded_qty, fills, orders, max_drawdown."""

    runs: pl.DataFrame

    @property
    def pnl(self) -> np.ndarray[Any, np.dtype[np.float64]]:
        return self.runs["pnl"].to_numpy()

    def summary(self) -> dict[str, float]:
        """Mean, standard deviation, 5 % quantile and worst PnL over every run."""
        pnl = self.pnl
        return {
            "mean": float(pnl.mean()),
            "std": float(pnl.std(ddof=1)) if pnl.size > 1 else 0.0,
            "p05": float(np.quantile(pnl, 0.05)),
            "worst": float(pnl.min()),
        }


def adversarial_fitness(
    expression: Expr | Compiled,
    scenarios: Sequence[str | SimConfig] = ADVERSARIAL_SCENARIOS,
    seeds: Iterable[int] = range(8),
    duration_s: float | None = 3600.0,
    overrides: Mapping[str, Any] | None = None,
    threads: int | None = None,
) -> FitnessResult:
    """Runs `expression` in every scenario (a name or a `SimConfig`) with every seed.

    `duration_s` and `overrides` (dotted keys) apply to every scenario; `threads` defaults to
    the machine's cores. The result holds one row per run, in (scenario, seed) order.
    """
    program = compile_strategy(expression)
    jobs = [
        (name, cfg, seed)
        for name, cfg in _configs(scenarios, duration_s, overrides)
        for seed in seeds
    ]
    if not jobs:
        raise ConfigError("adversarial_fitness needs at least one scenario and one seed")
    workers = max(1, min(threads or os.cpu_count() or 1, len(jobs)))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        rows = list(pool.map(lambda job: _one(job, program), jobs))
    return FitnessResult(pl.DataFrame(rows))


def _configs(
    scenarios: Sequence[str | SimConfig],
    duration_s: float | None,
    overrides: Mapping[str, Any] | None,
) -> list[tuple[str, SimConfig]]:
    extra: dict[str, Any] = {**_LEAN, **(overrides or {})}
    if duration_s is not None:
        extra["duration_s"] = duration_s
    out = []
    for i, s in enumerate(scenarios):
        cfg = SimConfig.scenario(s) if isinstance(s, str) else s
        out.append((s if isinstance(s, str) else f"config_{i}", cfg.with_overrides(extra)))
    return out


def _one(job: tuple[str, SimConfig, int], program: Any) -> dict[str, Any]:
    name, cfg, seed = job
    result = run_sim(cfg, seed=seed, strategy=program)
    s = result.strategy
    assert s is not None  # a program was given, so the run has a strategy ledger
    equity = s.ledger["equity"].to_numpy()
    drawdown = float((np.maximum.accumulate(equity) - equity).max()) if equity.size else 0.0
    return {
        "scenario": name,
        "seed": seed,
        "pnl": s.pnl,
        "fees": s.fees,
        "traded_qty": s.traded_qty,
        "fills": s.fills,
        "orders": s.orders,
        "max_drawdown": drawdown,
    }
