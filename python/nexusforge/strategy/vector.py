"""Vectorized evaluation: an expression compiled once into a flat Rust program, run on columns."""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import polars as pl

from nexusforge._core import CoreInputError, ExprProgram
from nexusforge.errors import ExpressionError
from nexusforge.strategy.codec import check_limits
from nexusforge.strategy.expr import OP_COL, OP_CONST, Call, Col, Const, Expr, check, primitive
from nexusforge.strategy.expr import columns as expr_columns

# Rows per block: slots × block floats stay in L1/L2 for typical trees.
DEFAULT_BLOCK_ROWS = 2048
Columns = Mapping[str, npt.ArrayLike] | pl.DataFrame


@dataclass(frozen=True)
class Compiled:
    """A checked expression, the columns it reads (in order) and its Rust program."""

    expr: Expr
    columns: tuple[str, ...]
    program: ExprProgram


def postfix(e: Expr, index: Mapping[str, int]) -> list[tuple[int, int, float, float]]:
    """(opcode, int param, float a, float b) per node, children before parents."""
    if isinstance(e, Col):
        return [(OP_COL, index[e.name], 0.0, 0.0)]
    if isinstance(e, Const):
        return [(OP_CONST, 0, float(e.value), 0.0)]
    nodes = [n for a in e.args for n in postfix(a, index)]
    return [*nodes, _node(e)]


def _node(e: Call) -> tuple[int, int, float, float]:
    p = primitive(e.op)
    lo, hi = (*e.params, 0.0, 0.0)[:2]
    return (p.opcode, e.k or 0, float(lo), float(hi))


def compile_expr(e: Expr, columns: Sequence[str] | None = None) -> Compiled:
    """Checks `e` and compiles it; `columns` fixes the column order (default: first use)."""
    check_limits(check(e))
    names = tuple(columns) if columns is not None else tuple(expr_columns(e))
    missing = set(expr_columns(e)) - set(names)
    if missing:
        raise ExpressionError(f"expression reads columns not given: {sorted(missing)}")
    nodes = postfix(e, {n: i for i, n in enumerate(names)})
    ops, ints, a, b = (np.array(v) for v in zip(*nodes, strict=True))
    try:
        program = ExprProgram(
            ops.astype(np.int64),
            ints.astype(np.int64),
            a.astype(float),
            b.astype(float),
            len(names),
        )
    except CoreInputError as exc:
        raise ExpressionError(str(exc)) from None
    return Compiled(e, names, program)


def column_arrays(data: Columns, names: Sequence[str]) -> list[npt.NDArray[np.float64]]:
    """Contiguous float64 views of the named columns (a copy only where the input needs one)."""
    out = []
    for name in names:
        try:
            col = data[name]
        except (KeyError, pl.exceptions.ColumnNotFoundError):
            raise ExpressionError(f"data has no column {name!r}") from None
        raw = col.to_numpy() if isinstance(col, pl.Series) else col
        out.append(np.ascontiguousarray(raw, dtype=np.float64))
    return out


def data_rows(data: Columns) -> int:
    """Row count of a frame or mapping of equal-length columns."""
    if isinstance(data, pl.DataFrame):
        return data.height
    lengths = {len(np.asarray(v)) for v in data.values()}
    if len(lengths) > 1:
        raise ExpressionError(f"columns differ in length: {sorted(lengths)}")
    return lengths.pop() if lengths else 0


def evaluate(
    e: Expr | Compiled, data: Columns, block_rows: int = DEFAULT_BLOCK_ROWS
) -> npt.NDArray[np.float64]:
    """Target position in [-1, 1] per row (NaN during warm-up or where inputs are NaN)."""
    compiled = e if isinstance(e, Compiled) else compile_expr(e)
    cols = column_arrays(data, compiled.columns)
    rows = data_rows(data)
    try:
        return compiled.program.evaluate(cols, rows, block_rows)
    except CoreInputError as exc:
        raise ExpressionError(str(exc)) from None
