"""GP batches: N expressions evaluated on the same data and backtested in one Rust call.

Every expression is compiled against one shared column order, so each column is converted
once; the core evaluates each expression in row blocks into a per-thread target buffer and
backtests it (memory does not grow with N), with the GIL released. Results equal
`evaluate` followed by `run_backtest` and do not depend on `threads`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy.typing as npt

from nexusforge import _core
from nexusforge.errors import CoreInputError, DataError
from nexusforge.forge.backtest.engine import (
    BacktestConfig,
    MarketData,
    _column,
    resolve_threads,
)
from nexusforge.forge.backtest.metrics import BacktestMetrics
from nexusforge.strategy.expr import Expr
from nexusforge.strategy.expr import columns as expr_columns
from nexusforge.strategy.vector import Columns, column_arrays, compile_expr, data_rows


def shared_columns(exprs: Sequence[Expr]) -> tuple[str, ...]:
    """Every column any expression reads, in order of first use."""
    names: dict[str, None] = {}
    for e in exprs:
        names.update(dict.fromkeys(expr_columns(e)))
    return tuple(names)


def evaluate_batch(
    exprs: Sequence[Expr],
    data: Columns,
    close: npt.ArrayLike,
    *,
    bars_per_year: float,
    market: MarketData | None = None,
    config: BacktestConfig | None = None,
    threads: int | None = None,
) -> list[BacktestMetrics]:
    """Metrics of each expression's targets on `data`, backtested on `close`, in order.

    A bad expression raises `ExpressionError`, bad data `DataError`, bad settings
    `ConfigError`; `threads` defaults to the CPU count.
    """
    core_cfg = (config or BacktestConfig()).to_core()
    n_threads = resolve_threads(threads)
    names = shared_columns(exprs)
    programs = [compile_expr(e, names).program for e in exprs]
    cols = column_arrays(data, names)
    prices = _column("close", close)
    if names and data_rows(data) != len(prices):
        raise DataError(f"data has {data_rows(data)} rows, close has {len(prices)}")
    if not programs:
        return []
    try:
        table = _core.expr_backtest_batch(
            programs,
            cols,
            prices,
            (market or MarketData()).core_args(),
            core_cfg,
            bars_per_year,
            n_threads,
        )
    except CoreInputError as e:
        raise DataError(str(e)) from e
    return [BacktestMetrics.from_array(row) for row in table]


__all__ = ["evaluate_batch", "shared_columns"]
