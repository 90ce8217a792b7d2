"""What the `nexusforge forge` commands print: a live progress line per generation and the
summaries of a run and of a causal discovery."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from nexusforge.forge.evolve.causal import CausalGraph
from nexusforge.forge.evolve.gp import GenerationStats
from nexusforge.forge.evolve.run import (
    ForgeConfig,
    RunSummary,
    discover_parents,
    research_table,
    run_forge,
)


def run_with_progress(cfg: ForgeConfig, store: Path, out: Path, console: Console) -> RunSummary:
    """Run the pipeline showing generation, best/mean fitness and evaluations saved."""
    columns = (TextColumn("{task.description}"), BarColumn(), TextColumn("{task.fields[info]}"),
               TimeElapsedColumn())  # fmt: skip
    with Progress(*columns, console=console) as progress:
        task = progress.add_task("forge", total=cfg.gp.generations + 1, info="causal discovery")
        seen = {"new": 0, "skipped": 0}

        def step(s: GenerationStats) -> None:
            if s.generation > 0:
                seen["new"] += s.evaluated + s.skipped
                seen["skipped"] += s.skipped
            saved = seen["skipped"] / seen["new"] if seen["new"] else 0.0
            info = (f"gen {s.generation}  best {s.best:+.3f}  mean {s.mean:+.3f}  "
                    f"evals saved {saved:.0%}  unique {s.unique_share:.0%}")  # fmt: skip
            progress.update(task, advance=1, info=info)

        summary = run_forge(cfg, store, out, step)
    console.print(summary_table(summary))
    return summary


def summary_table(s: RunSummary) -> Table:
    """The run's parents, hall of fame head and outputs."""
    t = Table(title=f"forge run → {s.out}", show_header=False)
    t.add_row("causal parents", ", ".join(f"{p.feature}@{p.lag}" for p in s.parents))
    t.add_row("best fitness", f"{s.best_score:+.4f}")
    t.add_row("full evaluations", f"{s.evaluations:,}")
    t.add_row("new offspring skipped by surrogate", f"{s.skipped:,} of {s.needing_evaluation:,}")
    for i, infix in enumerate(s.hall_of_fame[:3], 1):
        t.add_row(f"hall of fame #{i}", infix)
    t.add_row("challengers (not validated)", "\n".join(str(p) for p in s.challengers) or "-")
    return t


def causal_only(cfg: ForgeConfig, store: Path, out: Path) -> CausalGraph:
    """Causal discovery alone on the config's series; writes `causal/graph.{json,png}`."""
    table = research_table(cfg, store)
    graph, _ = discover_parents(cfg, table, out)
    return graph


def causal_table(graph: CausalGraph) -> Table:
    """Parents of the return, strongest first."""
    t = Table(title=f"causal parents of {graph.target} ({graph.rows:,} rows, {graph.seconds}s)")
    for col in ("feature", "lag (bars)", "strength", "p-value"):
        t.add_column(col)
    for p in graph.parents:
        t.add_row(p.feature, str(p.lag), f"{p.strength:+.4f}", f"{p.p_value:.2e}")
    return t
