"""Per-bar net returns of an expression on rows of a research table, through the one
backtester and cost model the Forge's fitness uses.

The target is evaluated over the rows before the window too (every primitive looks back only,
contract 2), so warm-up comes from earlier bars; trading starts flat at the window's first bar.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from nexusforge.forge.backtest.engine import MarketData, run_backtest
from nexusforge.forge.evolve.fitness import FitnessConfig
from nexusforge.forge.evolve.table import FUNDING, ResearchTable
from nexusforge.strategy import Compiled, Expr, compile_expr, evaluate

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class WindowReturns:
    """Net simple returns and the held position (contracts) per bar of one window."""

    returns: FloatArray
    position: FloatArray


def window_returns(
    expr: Expr, table: ResearchTable, rows: slice, cfg: FitnessConfig, warmup_rows: int = 2000
) -> WindowReturns:
    """Trade `expr` on `rows` only (from flat); the target may warm up on earlier rows."""
    start = max(0, rows.start - warmup_rows)
    compiled = signal_program(expr, table)
    frame = table.frame.slice(start, rows.stop - start).select(compiled.columns)
    target = evaluate(compiled, frame)[rows.start - start :]
    close = table.close[rows]
    funding = table.frame[FUNDING].to_numpy().astype(np.float64)[rows]
    bt = cfg.backtest_config()
    market = MarketData(funding=funding)
    res = run_backtest(target, close, bars_per_year=table.bars_per_year, market=market, config=bt)
    initial = bt.initial_capital
    eq = np.concatenate([[initial], res.equity])
    return WindowReturns(eq[1:] / eq[:-1] - 1.0, res.position)


def signal_program(expr: Expr, table: ResearchTable) -> Compiled:
    """`expr` compiled over its own columns, or over one table column when it reads none (a
    constant still needs the table's row count)."""
    names = tuple(compile_expr(expr).columns) or table.features[:1]
    return compile_expr(expr, names)


def stitched_returns(
    expr: Expr, table: ResearchTable, windows: Sequence[slice], cfg: FitnessConfig
) -> WindowReturns:
    """Each window traded from flat, concatenated in order."""
    parts = [window_returns(expr, table, w, cfg) for w in windows]
    return WindowReturns(np.concatenate([p.returns for p in parts]),
                         np.concatenate([p.position for p in parts]))  # fmt: skip


def period_returns(returns: npt.ArrayLike, bars: int) -> FloatArray:
    """Compound per-bar returns into periods of `bars` bars (a trailing remainder is dropped)."""
    r = np.asarray(returns, dtype=np.float64)
    if bars < 1:
        raise ValueError("bars must be >= 1")
    k = r.size // bars
    return np.asarray(np.prod(1.0 + r[: k * bars].reshape(k, bars), axis=1) - 1.0)
