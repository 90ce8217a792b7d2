"""A finished Forge run folder, read for validation: manifest, research table (hash checked),
population, evaluations, causal parents and the run's challenger files. Read-only."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl

from nexusforge.errors import DataError, ForgeError
from nexusforge.forge.evolve.fitness import FitnessConfig, Fold, make_folds
from nexusforge.forge.evolve.run import ForgeConfig, parse_config
from nexusforge.forge.evolve.table import ResearchTable, read_table
from nexusforge.forge.validate.refute import Parent, read_parents
from nexusforge.strategy import artifact


@dataclass(frozen=True)
class RunFolder:
    """Everything the gate needs from one complete Forge run."""

    path: Path
    manifest: dict[str, Any]
    config: ForgeConfig
    table: ResearchTable
    population: pl.DataFrame
    evaluations: pl.DataFrame
    parents: tuple[Parent, ...]
    challengers: tuple[tuple[Path, artifact.Challenger], ...]

    @property
    def fitness(self) -> FitnessConfig:
        """The run's fitness settings (windows, costs, scoring rule)."""
        return self.config.fitness

    @property
    def folds(self) -> list[Fold]:
        """The run's train/test/trade windows."""
        return make_folds(self.table.height, self.fitness)

    @property
    def trials(self) -> int:
        """How many distinct individuals the GP fully evaluated."""
        return int(self.manifest.get("trials") or self.population.height)

    def trial_sharpes(self) -> npt.NDArray[np.float64]:
        """Per-bar Sharpe of every trial: mean of its annualised window Sharpes over folds
        and selection windows, de-annualised."""
        per = self.evaluations.group_by("id").agg(pl.col("sharpe").fill_nan(None).mean())
        srs = per["sharpe"].drop_nulls().to_numpy().astype(np.float64)
        return np.asarray(srs / np.sqrt(self.table.bars_per_year))


def _json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise DataError(f"cannot read {path}: {exc}") from exc


def read_run(path: Path) -> RunFolder:
    """Read and check a run folder; a run that did not complete is refused."""
    man = _json(path / "manifest.json")
    if man.get("status") != "complete":
        raise ForgeError(f"run {path} is not complete (status {man.get('status')!r})")
    table_sha = next((i["sha256"] for i in man.get("inputs", [])
                      if i.get("role") == "research_table"), None)  # fmt: skip
    table = read_table(path / "research_table.parquet", table_sha)
    try:
        pop = pl.read_parquet(path / "population.parquet")
        evals = pl.read_parquet(path / "evaluations.parquet")
    except (OSError, pl.exceptions.PolarsError) as exc:
        raise DataError(f"cannot read the run's population/evaluations: {exc}") from exc
    # A challenger file that fails its checks raises ArtifactError: never trusted, never fixed.
    chs = [(p, artifact.read(p)) for p in sorted((path / "challengers").glob("challenger-*.json"))]
    chs.sort(key=lambda pc: int(pc[1].origin.get("rank", 0)))
    return RunFolder(path, man, parse_config(man["config"]), table, pop, evals,
                     tuple(read_parents(path / "causal" / "graph.json")), tuple(chs))  # fmt: skip
