"""Challenger files from a run's hall of fame, with train/test/trade scores, marked as not yet
validated (the validation gate decides). Each file is written atomically: a run that fails
part-way leaves whole challenger files or none, never a half-written one."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from nexusforge.forge.evolve.fitness import SEGMENTS, metric_index
from nexusforge.strategy import artifact
from nexusforge.strategy.expr import Expr


def window_scores(metrics: npt.NDArray[np.float64]) -> dict[str, float | None]:
    """Mean Sharpe and total return per segment over folds, from a (fold, segment, metric) array."""
    out: dict[str, float | None] = {}
    for s, seg in enumerate(SEGMENTS):
        for name in ("sharpe", "total_return", "max_drawdown", "turnover"):
            vals = metrics[:, s, metric_index(name)]
            v = float(np.nanmean(vals)) if np.isfinite(vals).any() else math.nan
            out[f"{seg}_{name}"] = v if math.isfinite(v) else None
    return out


def write_challengers(
    exprs: Sequence[Expr],
    scores: Sequence[float],
    trade_metrics: npt.NDArray[np.float64],
    folder: Path,
    *,
    data: dict[str, str],
    origin: dict[str, Any],
    heads: Sequence[tuple[dict[str, Any], dict[str, float | None]]] | None = None,
    extra_scores: Sequence[dict[str, float | None]] | None = None,
) -> list[Path]:
    """One challenger file per expression (best first) in `folder`; `heads` (MAML head JSON and
    its trade-window scores, per expression) fill the `head` field when given; `extra_scores`
    (per expression, e.g. the adversarial figures) join its scores."""
    paths = []
    for rank, (expr, score, m) in enumerate(zip(exprs, scores, trade_metrics, strict=True), 1):
        head, head_scores = heads[rank - 1] if heads is not None else (None, {})
        ch = artifact.Challenger(
            expr=expr,
            scores={
                "fitness": float(score),
                **window_scores(m),
                **head_scores,
                **(extra_scores[rank - 1] if extra_scores is not None else {}),
            },
            data=data,
            origin={**origin, "rank": rank},
            head=head,
        )
        paths.append(artifact.write(ch, folder))
    return paths
