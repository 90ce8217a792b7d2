"""Stress paths from the HF-ABM simulator's adversarial scenarios (calm, volatile, toxic,
thin): the strategy trades inside the simulated market, so its own orders move the price.

Only expressions that read the simulator's own feature columns can run there; an expression
over the research table's bar features is recorded as not applicable, with the reason.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from nexusforge.strategy import Expr, compile_expr


@dataclass(frozen=True)
class StressResult:
    """Per-scenario PnL summaries, or why the strategy could not run in the simulator."""

    applicable: bool
    reason: str = ""
    scenarios: dict[str, dict[str, float]] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        """Applicable and no scenario loses money on average."""
        return self.applicable and all(s["mean_pnl"] > 0.0 for s in self.scenarios.values())

    def figures(self) -> dict[str, Any]:
        """Plain-JSON figures."""
        return {"applicable": self.applicable, "reason": self.reason,
                "scenarios": self.scenarios, "passed": self.passed}  # fmt: skip


def stress(
    expr: Expr, scenarios: Sequence[str] | None = None, seeds: int = 2, duration_s: float = 600.0
) -> StressResult:
    """Run `expr` in each adversarial scenario with `seeds` seeds, or say why it cannot."""
    try:
        from nexusforge.forge.sim.fitness import ADVERSARIAL_SCENARIOS, adversarial_fitness
        from nexusforge.forge.sim.run import FEATURE_COLUMNS
    except ImportError as exc:
        return StressResult(False, f"the simulator is not available: {exc}")
    missing = sorted(set(compile_expr(expr).columns) - set(FEATURE_COLUMNS))
    if missing:
        return StressResult(False, f"the simulator does not publish {missing}")
    names = tuple(scenarios) if scenarios is not None else ADVERSARIAL_SCENARIOS
    runs = adversarial_fitness(expr, names, range(seeds), duration_s, threads=1).runs
    out: dict[str, dict[str, float]] = {}
    for name in names:
        rows = runs.filter(runs["scenario"] == name)
        pnl, dd = rows["pnl"].to_numpy(), rows["max_drawdown"].to_numpy()
        out[name] = {"mean_pnl": float(pnl.mean()), "worst_pnl": float(pnl.min()),
                     "max_drawdown": float(dd.max())}  # fmt: skip
    return StressResult(True, "", out)
