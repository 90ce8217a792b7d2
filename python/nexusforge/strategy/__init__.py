"""The strategy language: typed expressions, their JSON and infix forms, and evaluators."""

from nexusforge.strategy.codec import dumps, loads
from nexusforge.strategy.expr import (
    PRIMITIVES,
    Call,
    Col,
    Const,
    Expr,
    Primitive,
    Type,
    check,
    warmup,
)
from nexusforge.strategy.infix import to_infix
from nexusforge.strategy.stream import StreamEvaluator
from nexusforge.strategy.vector import Compiled, compile_expr, evaluate

__all__ = [
    "PRIMITIVES",
    "Call",
    "Col",
    "Compiled",
    "Const",
    "Expr",
    "Primitive",
    "StreamEvaluator",
    "Type",
    "check",
    "compile_expr",
    "dumps",
    "evaluate",
    "loads",
    "to_infix",
    "warmup",
]
