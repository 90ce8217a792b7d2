"""The typed primitive set from causal parents, and DEAP tree <-> Expr translation both ways."""

from __future__ import annotations

import random

import pytest
from deap import gp
from hypothesis import given
from hypothesis import strategies as st

from nexusforge.errors import ConfigError
from nexusforge.forge.evolve.primitives import (
    BoolT,
    FloatT,
    Term,
    build_pset,
    from_expr,
    generate,
    to_expr,
)
from nexusforge.strategy import codec
from nexusforge.strategy.expr import PRIMITIVES, Call, Col, Const, Expr, Type, check, columns

TERMS = (Term("m5_rv", 1), Term("h1_ret", 0), Term("m15_vol_z", 2))
PSET = build_pset(TERMS)


@given(st.integers(0, 2**32 - 1), st.integers(1, 6))
def test_random_trees_round_trip_exactly(seed: int, depth: int) -> None:
    tree = gp.PrimitiveTree(generate(PSET, random.Random(seed), 1, depth))
    expr = check(to_expr(tree))
    assert str(from_expr(expr)) == str(tree)
    assert codec.loads(codec.dumps(expr)) == expr


def _exprs(t: Type, depth: int) -> st.SearchStrategy[Expr]:
    leaf_terms = st.sampled_from([t.expr() for t in TERMS])
    consts = st.floats(-5, 5, allow_nan=False).map(Const)
    if t is Type.FLOAT and depth == 0:
        return st.one_of(leaf_terms, consts)
    ops = [p for p in PRIMITIVES.values() if p.returns is t and p.name != "lag"]
    if depth == 0:  # Bool leaves close with a comparison of Float leaves
        ops = [p for p in ops if all(a is Type.FLOAT for a in p.args)]

    def build(p):  # type: ignore[no-untyped-def]
        args = st.tuples(*(_exprs(a, max(depth - 1, 0)) for a in p.args))
        if p.int_param:
            k = st.integers(max(p.int_min, 2), 200)
            return st.builds(lambda a, k: Call(p.name, a, k), args, k)
        if p.float_params:
            lohi = st.tuples(st.floats(-3, 0), st.floats(0, 3))
            return st.builds(lambda a, b: Call(p.name, a, None, b), args, lohi)
        return args.map(lambda a: Call(p.name, a))

    calls = st.sampled_from(ops).flatmap(build)
    return calls if t is Type.BOOL else st.one_of(leaf_terms, consts, calls)


@given(_exprs(Type.FLOAT, 3))
def test_any_expression_over_the_vocabulary_round_trips(expr: Expr) -> None:
    assert to_expr(from_expr(expr)) == expr


def test_terminals_are_only_causal_parents_and_constants() -> None:
    floats = PSET.terminals[FloatT]
    names = {t.value for t in floats if isinstance(t.value, str)}
    assert names == {"m5_rv@1", "h1_ret@0", "m15_vol_z@2"}
    assert all(isinstance(t.value, float) for t in floats if not isinstance(t.value, str))
    assert BoolT not in PSET.terminals or not PSET.terminals[BoolT]
    assert "lag" not in PSET.mapping  # lags come from the causal graph
    rng = random.Random(3)
    used = set()
    for _ in range(300):
        used.update(columns(to_expr(generate(PSET, rng, 2, 5))))
    assert used == {"m5_rv", "h1_ret", "m15_vol_z"}


def test_lag_terminal_is_a_lag_node_of_the_language() -> None:
    assert Term("x", 0).expr() == Col("x")
    assert Term("x", 3).expr() == Call("lag", (Col("x"),), 3)


def test_bad_vocabulary_is_refused() -> None:
    with pytest.raises(ConfigError, match="at least one causal parent"):
        build_pset([])
    with pytest.raises(ConfigError, match="unknown operators"):
        build_pset(TERMS, ["add", "pow"])
    with pytest.raises(ConfigError, match="Float primitive"):
        build_pset(TERMS, ["gt", "and"])
