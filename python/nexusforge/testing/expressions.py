"""Hypothesis strategies for random well-typed strategy expressions."""

from collections.abc import Sequence

from hypothesis import strategies as st

from nexusforge.strategy.expr import PRIMITIVES, Call, Col, Const, Expr, Primitive, Type

_CONSTANTS = st.floats(min_value=-1e3, max_value=1e3, allow_nan=False, allow_infinity=False)


def _leaf(names: Sequence[str]) -> st.SearchStrategy[Expr]:
    return st.one_of(st.sampled_from([Col(n) for n in names]), _CONSTANTS.map(Const))


def _by_return(t: Type, depth: int) -> list[Primitive]:
    """Primitives returning `t`; near the depth limit only those taking Float arguments."""
    return [
        p
        for p in PRIMITIVES.values()
        if p.returns is t and (depth > 2 or all(a is Type.FLOAT for a in p.args))
    ]


@st.composite
def _call(draw: st.DrawFn, t: Type, names: Sequence[str], depth: int, max_window: int) -> Expr:
    p = draw(st.sampled_from(_by_return(t, depth)))
    args = tuple(draw(typed(a, names, depth - 1, max_window)) for a in p.args)
    k = draw(st.integers(p.int_min, max(p.int_min, max_window))) if p.int_param else None
    params: tuple[float, ...] = ()
    if p.float_params:
        lo, hi = sorted(draw(st.tuples(_CONSTANTS, _CONSTANTS)))
        params = (lo, hi)
    return Call(p.name, args, k, params)


def typed(
    t: Type, names: Sequence[str], depth: int, max_window: int = 8
) -> st.SearchStrategy[Expr]:
    """Expressions of type `t` over columns `names`, at most `depth` levels deep."""
    if t is Type.BOOL:
        return _call(Type.BOOL, names, max(depth, 2), max_window)
    if depth <= 1:
        return _leaf(names)
    return st.one_of(_leaf(names), _call(Type.FLOAT, names, depth, max_window))


def expressions(
    names: Sequence[str], max_depth: int = 5, max_window: int = 8
) -> st.SearchStrategy[Expr]:
    """Random Float-rooted expressions (what a strategy is) over the given column names."""
    return _call(Type.FLOAT, names, max_depth, max_window)
