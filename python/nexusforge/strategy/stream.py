"""Streaming evaluation: one row at a time, exactly the vectorized value for that row.

The Rust stream runs the very program and window-state updates `vector.evaluate` runs, with a
block of one row, so results are bit-identical rather than merely close.
"""

from collections.abc import Mapping, Sequence

import numpy as np

from nexusforge._core import CoreInputError, ExprStreamCore
from nexusforge.errors import ExpressionError
from nexusforge.strategy.expr import Expr
from nexusforge.strategy.vector import Compiled, compile_expr


class StreamEvaluator:
    """Feed rows in time order with `update`; each call returns that row's target position."""

    def __init__(self, e: Expr | Compiled, columns: Sequence[str] | None = None) -> None:
        self.compiled = e if isinstance(e, Compiled) else compile_expr(e, columns)
        self._core = ExprStreamCore(self.compiled.program)
        self.rows = 0

    @property
    def columns(self) -> tuple[str, ...]:
        """Column order `update` expects for a sequence row."""
        return self.compiled.columns

    def update(self, row: Mapping[str, float] | Sequence[float]) -> float:
        """Position for the next row, given by column name or in `columns` order."""
        if isinstance(row, Mapping):
            try:
                values = [row[c] for c in self.columns]
            except KeyError as exc:
                raise ExpressionError(f"row lacks column {exc}") from None
        else:
            values = list(row)
        try:
            out = self._core.update(np.asarray(values, dtype=np.float64))
        except CoreInputError as exc:
            raise ExpressionError(str(exc)) from None
        self.rows += 1
        return out
