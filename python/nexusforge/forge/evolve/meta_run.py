"""MAML heads for a Forge run's challengers (`[meta] enabled = true`): for each expression, a
head meta-trained on every row before the last fold's trade window, then used walk-forward on
that trade window (adapted every `query` rows on the `support` rows before) for its figures."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from nexusforge.errors import ConfigError
from nexusforge.forge.evolve.fitness import Fold
from nexusforge.forge.evolve.meta import meta_train
from nexusforge.forge.evolve.meta_config import MetaConfig
from nexusforge.forge.evolve.meta_head import to_json
from nexusforge.forge.evolve.meta_report import table_window
from nexusforge.forge.evolve.meta_tasks import figures, walk_forward
from nexusforge.forge.evolve.table import ResearchTable
from nexusforge.strategy.expr import Expr


def check_features(cfg: MetaConfig, table: ResearchTable) -> None:
    """Refuse (before any work) regime features the research table does not have."""
    missing = [f for f in cfg.features if f not in table.features]
    if missing:
        raise ConfigError(f"meta.features {missing} are not research table columns "
                          f"(it has {list(table.features)})")  # fmt: skip


def challenger_heads(
    exprs: Sequence[Expr], table: ResearchTable, folds: Sequence[Fold], cfg: MetaConfig, seed: int
) -> list[tuple[dict[str, Any], dict[str, float | None]]]:
    """(head JSON, trade-window scores) per expression, best first."""
    trade = folds[-1].trade
    if trade.start < cfg.support + cfg.query:
        raise ConfigError(f"meta: {trade.start} rows before the last trade window are fewer "
                          f"than support + query = {cfg.support + cfg.query}")  # fmt: skip
    fee, out = cfg.fee_bps * 1e-4, []
    for expr in exprs:
        win = table_window(table, expr, cfg.features).rows(slice(0, trade.stop))
        fit = win.rows(slice(0, trade.start))
        head = meta_train(fit.signal, fit.features, fit.returns, cfg, seed, cfg.features)
        r = win.returns[trade]
        adapted = walk_forward(head, win, trade.start, cfg.query)[trade]
        plain = walk_forward(head, win, trade.start, cfg.query, adapt=False)[trade]
        own = np.nan_to_num(win.signal[trade])
        scores: dict[str, float | None] = {}
        for name, pos in (("adapted", adapted), ("unadapted", plain), ("signal", own)):
            f = figures(pos, r, fee, table.bars_per_year).as_dict()
            scores |= {f"meta_{name}_trade_mean_bps": f["mean_bps"],
                       f"meta_{name}_trade_sharpe": f["sharpe"]}  # fmt: skip
        out.append((to_json(head), scores))
    return out
