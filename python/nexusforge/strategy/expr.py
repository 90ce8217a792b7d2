"""Typed strategy expressions: trees over feature columns and constants, and the primitive registry.

Values are floats; Bool is 1.0 / 0.0. NaN means "unknown" for both types: arithmetic, comparisons
and logic propagate it, a trailing window holding a NaN gives NaN, and EMA skips NaN inputs
(output NaN, state unchanged) and is NaN until it has seen `span` valid inputs. Protected
division gives 0 where |denominator| < 1e-12 (but NaN when either side is NaN), and so does
z-score where the window's standard deviation is below it; a window of one repeated value has
that value as its mean and a standard deviation of exactly 0.
Std is the population std (ddof 0); rank is pandas' `rank(pct=True)` (average rank over the
window divided by its length). The root is a Float clipped to a target position in [-1, 1].
"""

from dataclasses import dataclass
from enum import Enum

from nexusforge.errors import ExpressionError

MAX_WINDOW = 100_000


class Type(Enum):
    """Value type of an expression node."""

    FLOAT = "Float"
    BOOL = "Bool"


F, B = Type.FLOAT, Type.BOOL


@dataclass(frozen=True)
class Primitive:
    """One primitive: its wire opcode, types, integer parameter and float parameters."""

    name: str
    opcode: int
    args: tuple[Type, ...]
    returns: Type
    int_param: str | None = None
    int_min: int = 1
    float_params: tuple[str, ...] = ()

    def window(self, k: int | None) -> int:
        """Past rows this primitive needs beyond the current one (its look-back)."""
        if self.int_param is None or k is None:
            return 0
        return k if self.name == "lag" else k - 1


# Opcodes are the wire format of rust/src/expr/mod.rs (`OPS`); 0 and 1 are column and constant.
OP_COL, OP_CONST = 0, 1
_P = Primitive
PRIMITIVES: dict[str, Primitive] = {
    p.name: p
    for p in (
        _P("add", 2, (F, F), F),
        _P("sub", 3, (F, F), F),
        _P("mul", 4, (F, F), F),
        _P("div", 5, (F, F), F),
        _P("neg", 6, (F,), F),
        _P("abs", 7, (F,), F),
        _P("sign", 8, (F,), F),
        _P("tanh", 9, (F,), F),
        _P("clip", 10, (F,), F, float_params=("lo", "hi")),
        _P("gt", 11, (F, F), B),
        _P("lt", 12, (F, F), B),
        _P("ge", 13, (F, F), B),
        _P("le", 14, (F, F), B),
        _P("and", 15, (B, B), B),
        _P("or", 16, (B, B), B),
        _P("not", 17, (B,), B),
        _P("if", 18, (B, F, F), F),
        _P("lag", 19, (F,), F, int_param="k"),
        _P("mean", 20, (F,), F, int_param="n"),
        _P("std", 21, (F,), F, int_param="n", int_min=2),
        _P("zscore", 22, (F,), F, int_param="n", int_min=2),
        _P("min", 23, (F,), F, int_param="n"),
        _P("max", 24, (F,), F, int_param="n"),
        _P("rank", 25, (F,), F, int_param="n", int_min=2),
        _P("ema", 26, (F,), F, int_param="span"),
    )
}


@dataclass(frozen=True)
class Col:
    """A feature column, by name."""

    name: str


@dataclass(frozen=True)
class Const:
    """A finite float constant."""

    value: float


@dataclass(frozen=True)
class Call:
    """A primitive applied to argument nodes, with its integer and float parameters."""

    op: str
    args: tuple["Expr", ...]
    k: int | None = None
    params: tuple[float, ...] = ()


Expr = Col | Const | Call


def primitive(name: str) -> Primitive:
    """The registry entry for `name`, or an ExpressionError."""
    try:
        return PRIMITIVES[name]
    except KeyError:
        raise ExpressionError(f"unknown primitive {name!r}") from None


def type_of(e: Expr) -> Type:
    """Checks `e` (types, arity, parameters) and returns its type."""
    if isinstance(e, Col):
        if not isinstance(e.name, str) or not e.name:
            raise ExpressionError("column name must be a non-empty string")
        return F
    if isinstance(e, Const):
        if not isinstance(e.value, float | int) or not _finite(float(e.value)):
            raise ExpressionError(f"constant {e.value!r} is not a finite number")
        return F
    p = primitive(e.op)
    if len(e.args) != len(p.args):
        raise ExpressionError(f"{p.name} takes {len(p.args)} arguments, got {len(e.args)}")
    for i, (arg, want) in enumerate(zip(e.args, p.args, strict=True)):
        got = type_of(arg)
        if got is not want:
            raise ExpressionError(f"{p.name} argument {i} must be {want.value}, got {got.value}")
    _check_params(p, e)
    return p.returns


def _finite(x: float) -> bool:
    return x == x and abs(x) != float("inf")


def _check_params(p: Primitive, e: Call) -> None:
    if p.int_param is None:
        if e.k is not None:
            raise ExpressionError(f"{p.name} takes no integer parameter")
    elif not isinstance(e.k, int) or isinstance(e.k, bool) or not p.int_min <= e.k <= MAX_WINDOW:
        raise ExpressionError(
            f"{p.name} needs integer {p.int_param} in {p.int_min}..{MAX_WINDOW}, got {e.k!r}"
        )
    if len(e.params) != len(p.float_params):
        raise ExpressionError(f"{p.name} takes float parameters {p.float_params}")
    if not all(isinstance(v, float | int) and _finite(float(v)) for v in e.params):
        raise ExpressionError(f"{p.name} parameters must be finite numbers")
    if p.name == "clip" and not e.params[0] <= e.params[1]:
        raise ExpressionError(f"clip needs lo <= hi, got {e.params}")


def check(e: Expr) -> Expr:
    """Checks that `e` is a well-typed Float expression; returns it."""
    if type_of(e) is not F:
        raise ExpressionError("the root of a strategy must be a Float")
    return e


def warmup(e: Expr) -> int:
    """Rows before the first value that can be non-NaN: the longest chain of look-backs."""
    if not isinstance(e, Call):
        return 0
    below = max((warmup(a) for a in e.args), default=0)
    return below + primitive(e.op).window(e.k)


def depth(e: Expr) -> int:
    """Levels in the tree (a leaf is 1)."""
    return 1 + max((depth(a) for a in e.args), default=0) if isinstance(e, Call) else 1


def size(e: Expr) -> int:
    """Nodes in the tree."""
    return 1 + sum(size(a) for a in e.args) if isinstance(e, Call) else 1


def columns(e: Expr) -> list[str]:
    """Column names `e` reads, in first-use order."""
    if isinstance(e, Col):
        return [e.name]
    if isinstance(e, Const):
        return []
    return list(dict.fromkeys(c for a in e.args for c in columns(a)))
