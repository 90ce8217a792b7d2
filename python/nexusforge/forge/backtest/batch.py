"""GP batches: N expressions evaluated on the same data and backtested in one Rust call.

Every expression is compiled against one shared column order, so each column is converted
once; the core evaluates each expression in row blocks into a per-thread target buffer and
backtests it (memory does not grow with N), with the GIL released. Results equal
`evaluate` followed by `run_backtest` and do not depend on `threads`.

`evaluate_windows` runs a population on several row windows of one history in one call: each
window from a cold start (as if the data were sliced to it), with subtrees shared by several
expressions evaluated once per block of rows (a GP population shares many).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
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

METRIC_NAMES = BacktestMetrics.names()


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


def evaluate_windows(
    exprs: Sequence[Expr],
    data: Columns,
    close: npt.ArrayLike,
    windows: Sequence[tuple[int, int]],
    *,
    bars_per_year: float,
    market: MarketData | None = None,
    config: BacktestConfig | None = None,
    threads: int | None = None,
) -> npt.NDArray[np.float64]:
    """Metrics array (expression, window, metric in `METRIC_NAMES` order) of each expression
    on each `(start, stop)` row window, each backtested from a cold start.

    Equal, bit for bit, to `evaluate_batch` on the data, close and market sliced to each
    window. Errors as `evaluate_batch`; an empty or out-of-range window is a `DataError`.
    """
    core_cfg = (config or BacktestConfig()).to_core()
    n_threads = resolve_threads(threads)
    names = shared_columns(exprs)
    programs = [compile_expr(e, names).program for e in exprs]
    cols = column_arrays(data, names)
    prices = _column("close", close)
    if names and data_rows(data) != len(prices):
        raise DataError(f"data has {data_rows(data)} rows, close has {len(prices)}")
    spans = [(int(a), int(b)) for a, b in windows]
    if not programs or not spans:
        return np.empty((len(programs), len(spans), len(METRIC_NAMES)))
    try:
        table = _core.expr_backtest_windows(
            programs,
            cols,
            prices,
            (market or MarketData()).core_args(),
            spans,
            core_cfg,
            bars_per_year,
            n_threads,
        )
    except (CoreInputError, OverflowError) as e:
        raise DataError(str(e)) from e
    return np.asarray(table).reshape(len(programs), len(spans), len(METRIC_NAMES))


def forest_size(exprs: Sequence[Expr]) -> tuple[int, int]:
    """(distinct subtrees, total nodes) of the expressions: what `evaluate_windows` runs per
    row versus what separate evaluation would run."""
    names = shared_columns(exprs)
    return _core.expr_forest_size([compile_expr(e, names).program for e in exprs])


__all__ = ["METRIC_NAMES", "evaluate_batch", "evaluate_windows", "forest_size", "shared_columns"]
