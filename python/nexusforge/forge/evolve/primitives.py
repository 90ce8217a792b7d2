"""The GP vocabulary: a DEAP strongly typed primitive set built from the strategy registry and
the causal parents, and the lossless translation between DEAP trees and strategy `Expr`s.

Terminals are only causal parents (`feature@lag`, a `lag` node of the language for lag > 0)
and float constants; window lengths, lag counts and clip bounds are typed parameter terminals.
`lag` itself is left out of the default operators: lags come from the causal graph, and
keeping it out makes tree -> Expr -> tree the identity (a `lag(x@0, k)` tree would come back
as the terminal `x@k`, the same Expr but a different tree).
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

from deap import gp  # type: ignore[import-untyped]

from nexusforge.errors import ConfigError, ExpressionError
from nexusforge.strategy.expr import PRIMITIVES, Call, Col, Const, Expr, Primitive, Type

DEFAULT_OPERATORS = (
    "add", "sub", "mul", "div", "neg", "abs", "sign", "tanh", "clip", "gt", "lt", "and", "or",
    "not", "if", "mean", "std", "zscore", "min", "max", "rank", "ema",
)  # fmt: skip
DEFAULT_WINDOWS = (3, 6, 12, 24, 48, 96)
DEFAULT_LAGS = (1, 2, 3, 6)
DEFAULT_CONSTANTS = (-2.0, -1.0, -0.5, 0.0, 0.5, 1.0, 2.0)
DEFAULT_CLIPS = ((-1.0, 1.0), (-0.5, 0.5), (0.0, 1.0), (-1.0, 0.0))


class FloatT:
    """DEAP type of Float nodes."""


class BoolT:
    """DEAP type of Bool nodes."""


class WindowT:
    """DEAP type of window lengths (n, span)."""


class LagT:
    """DEAP type of lag counts (k)."""


class ClipT:
    """DEAP type of clip bounds (lo, hi)."""


VALUE_TYPES: dict[Type, type] = {Type.FLOAT: FloatT, Type.BOOL: BoolT}
PARAM_TYPES = (WindowT, LagT, ClipT)


@dataclass(frozen=True)
class Term:
    """A causal parent as a terminal: a feature column at a strategy lag (0 = current bar)."""

    feature: str
    lag: int

    @property
    def name(self) -> str:
        """The terminal's name in a DEAP tree."""
        return f"{self.feature}@{self.lag}"

    def expr(self) -> Expr:
        """The strategy node: the column, or a lag node over it."""
        return Col(self.feature) if self.lag == 0 else Call("lag", (Col(self.feature),), self.lag)


def _param_type(p: Primitive) -> type | None:
    if p.int_param is not None:
        return LagT if p.name == "lag" else WindowT
    return ClipT if p.float_params else None


def deap_primitive(p: Primitive) -> gp.Primitive:
    """The DEAP primitive of a registry entry: value arguments, then its parameter terminal."""
    args = [VALUE_TYPES[a] for a in p.args]
    extra = _param_type(p)
    return gp.Primitive(p.name, [*args, extra] if extra else args, VALUE_TYPES[p.returns])


_DEAP_PRIMS = {name: deap_primitive(p) for name, p in PRIMITIVES.items()}


def term_node(term: Term) -> gp.Terminal:
    """DEAP terminal of a causal parent."""
    return gp.Terminal(term.name, True, FloatT)


def const_node(value: float) -> gp.Terminal:
    """DEAP terminal of a float constant."""
    return gp.Terminal(float(value), False, FloatT)


def build_pset(
    terms: Sequence[Term],
    operators: Sequence[str] = DEFAULT_OPERATORS,
    *,
    windows: Sequence[int] = DEFAULT_WINDOWS,
    lags: Sequence[int] = DEFAULT_LAGS,
    constants: Sequence[float] = DEFAULT_CONSTANTS,
    clips: Sequence[tuple[float, float]] = DEFAULT_CLIPS,
) -> gp.PrimitiveSetTyped:
    """The typed primitive set: registry operators over causal-parent terminals and constants."""
    if not terms:
        raise ConfigError("the primitive set needs at least one causal parent")
    unknown = [op for op in operators if op not in PRIMITIVES]
    if unknown:
        raise ConfigError(f"unknown operators {unknown}; known: {sorted(PRIMITIVES)}")
    if not any(PRIMITIVES[op].returns is Type.FLOAT for op in operators):
        raise ConfigError("the operators must include at least one Float primitive")
    pset = gp.PrimitiveSetTyped("forge", [], FloatT)
    for op in dict.fromkeys(operators):
        pset._add(_DEAP_PRIMS[op])
        pset.prims_count += 1
        pset.context[op] = None  # trees are translated to Expr, never compiled by DEAP
    for node in (
        *(term_node(t) for t in dict.fromkeys(terms)),
        *(const_node(c) for c in dict.fromkeys(float(c) for c in constants)),
        *(gp.Terminal(int(w), False, WindowT) for w in dict.fromkeys(windows) if w >= 2),
        *(gp.Terminal(int(k), False, LagT) for k in dict.fromkeys(lags) if k >= 1),
        *(gp.Terminal((float(lo), float(hi)), False, ClipT) for lo, hi in dict.fromkeys(clips)),
    ):
        pset._add(node)
        pset.terms_count += 1
    return pset


def to_expr(tree: Sequence[gp.Primitive | gp.Terminal]) -> Expr:
    """The strategy expression of a DEAP tree (prefix order)."""
    expr, end = _node_expr(tree, 0)
    if end != len(tree):
        raise ExpressionError(f"tree has {len(tree) - end} nodes past its root")
    return expr


def _node_expr(tree: Sequence[gp.Primitive | gp.Terminal], i: int) -> tuple[Expr, int]:
    node = tree[i]
    if isinstance(node, gp.Terminal):
        if node.ret is not FloatT:
            raise ExpressionError(f"parameter terminal {node.name} outside its primitive")
        if isinstance(node.value, str):
            feature, _, lag = node.value.rpartition("@")
            return Term(feature, int(lag)).expr(), i + 1
        return Const(float(node.value)), i + 1
    p = PRIMITIVES[node.name]
    args, j = [], i + 1
    for _ in p.args:
        a, j = _node_expr(tree, j)
        args.append(a)
    if _param_type(p) is None:
        return Call(p.name, tuple(args)), j
    param = tree[j].value
    if p.float_params:
        return Call(p.name, tuple(args), None, tuple(float(v) for v in param)), j + 1
    return Call(p.name, tuple(args), int(param)), j + 1


def from_expr(e: Expr) -> gp.PrimitiveTree:
    """The DEAP tree of a strategy expression (`lag(col, k)` becomes the terminal `col@k`)."""
    return gp.PrimitiveTree(_nodes(e))


def _nodes(e: Expr) -> list[gp.Primitive | gp.Terminal]:
    if isinstance(e, Col):
        return [term_node(Term(e.name, 0))]
    if isinstance(e, Const):
        return [const_node(e.value)]
    if e.op == "lag" and isinstance(e.args[0], Col) and e.k is not None:
        return [term_node(Term(e.args[0].name, e.k))]
    p = PRIMITIVES[e.op]
    out: list[gp.Primitive | gp.Terminal] = [_DEAP_PRIMS[e.op]]
    for a in e.args:
        out.extend(_nodes(a))
    kind = _param_type(p)
    if kind is ClipT:
        out.append(gp.Terminal(tuple(float(v) for v in e.params), False, ClipT))
    elif kind is not None:
        out.append(gp.Terminal(e.k, False, kind))
    return out


def generate(
    pset: gp.PrimitiveSetTyped,
    rng: random.Random,
    min_depth: int,
    max_depth: int,
    type_: type | None = None,
    *,
    full: bool = False,
) -> list[gp.Primitive | gp.Terminal]:
    """A random well-typed tree in prefix order (grow, or full when `full`), seeded by `rng`.

    Types without terminals (Bool) take a primitive even at the depth limit, so a tree may
    be one level deeper than `max_depth` there; `staticLimit`-style checks catch it.
    """
    want = pset.ret if type_ is None else type_
    height = rng.randint(min_depth, max_depth)
    return _grow(pset, rng, want, 0, height, min_depth, full)


def _grow(
    pset: gp.PrimitiveSetTyped, rng: random.Random, want: type, depth: int, height: int,
    min_depth: int, full: bool,
) -> list[gp.Primitive | gp.Terminal]:  # fmt: skip
    terms, prims = pset.terminals.get(want, []), pset.primitives.get(want, [])
    stop = depth >= height or (
        not full and depth >= min_depth and rng.random() < len(terms) / (len(terms) + len(prims))
    )
    if terms and (stop or not prims):
        return [rng.choice(terms)]
    if not prims:
        raise ConfigError(f"no primitive or terminal returns {want.__name__}")
    if stop:  # a type without terminals (Bool) closes with a primitive over terminal types
        prims = [p for p in prims if all(pset.terminals.get(a) for a in p.args)] or prims
    prim = rng.choice(prims)
    out: list[gp.Primitive | gp.Terminal] = [prim]
    for arg in prim.args:
        out.extend(_grow(pset, rng, arg, depth + 1, height, min_depth, full))
    return out
