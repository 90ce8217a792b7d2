"""JSON codec and infix form: round trips, limits and every bad input as an ExpressionError."""

import json

import pytest
from hypothesis import given, settings

from nexusforge.errors import ExpressionError
from nexusforge.strategy import Call, Col, Const, check, dumps, loads, to_infix, warmup
from nexusforge.strategy.codec import MAX_DEPTH, MAX_NODES
from nexusforge.strategy.vector import compile_expr
from nexusforge.testing.expressions import expressions

NAMES = ["close", "volume", "rsi"]


@settings(max_examples=200)
@given(expressions(NAMES, max_depth=6))
def test_json_round_trip(e: Call) -> None:
    text = dumps(e)
    assert loads(text) == e
    assert loads(text.encode()) == e
    assert isinstance(to_infix(e), str)


def test_infix_and_warmup_are_readable_and_exact() -> None:
    e = Call(
        "clip", (Call("div", (Call("mean", (Col("close"),), 20), Col("rsi"))),), None, (-0.5, 0.5)
    )
    assert to_infix(e) == "clip((mean(close, 20) / rsi), -0.5, 0.5)"
    lagged = Call("lag", (Call("ema", (Col("close"),), 10),), 3)
    assert warmup(lagged) == 3 + 9
    assert warmup(Call("add", (lagged, Call("max", (Col("rsi"),), 30)))) == 29


def _doc(node: object, schema: object = 1) -> str:
    return json.dumps({"schema": schema, "expr": node})


def _nest(n: int) -> dict[str, object]:
    node: dict[str, object] = {"col": "close"}
    for _ in range(n - 1):
        node = {"op": "neg", "args": [node]}
    return node


def _wide(n: int) -> dict[str, object]:
    """A balanced tree of adds with more than `n` nodes and a small depth."""
    node: dict[str, object] = {"col": "close"}
    nodes = 1
    while nodes <= n:
        node, nodes = {"op": "add", "args": [node, node]}, 2 * nodes + 1
    return node


BAD = {
    "unknown primitive": _doc({"op": "pow", "args": [{"col": "x"}]}),
    "wrong arity": _doc({"op": "add", "args": [{"col": "x"}]}),
    "type mismatch": _doc(
        {"op": "add", "args": [{"op": "gt", "args": [{"col": "x"}, {"col": "x"}]}, {"col": "x"}]}
    ),
    "bool root": _doc({"op": "gt", "args": [{"col": "x"}, {"const": 1}]}),
    "window missing": _doc({"op": "mean", "args": [{"col": "x"}]}),
    "window too small": _doc({"op": "std", "args": [{"col": "x"}], "k": 1}),
    "window too large": _doc({"op": "lag", "args": [{"col": "x"}], "k": 10**9}),
    "stray k": _doc({"op": "abs", "args": [{"col": "x"}], "k": 3}),
    "bool k": _doc({"op": "lag", "args": [{"col": "x"}], "k": True}),
    "clip reversed": _doc({"op": "clip", "args": [{"col": "x"}], "params": [1, -1]}),
    "clip missing params": _doc({"op": "clip", "args": [{"col": "x"}]}),
    "NaN constant": '{"schema": 1, "expr": {"const": NaN}}',
    "inf constant": '{"schema": 1, "expr": {"const": Infinity}}',
    "string constant": _doc({"const": "1"}),
    "bad json": '{"schema": 1, "expr": {"col": "x"}',
    "not an object": "[1, 2]",
    "wrong schema": _doc({"col": "x"}, schema=2),
    "extra key": _doc({"col": "x", "const": 1.0}),
    "node not object": _doc(["col", "x"]),
    "too deep": _doc(_nest(MAX_DEPTH + 1)),
    "too big": _doc(_wide(MAX_NODES + 1)),
    "absurdly deep json": '{"schema": 1, "expr": ' + "[" * 100_000 + "]" * 100_000 + "}",
}


@pytest.mark.parametrize("text", BAD.values(), ids=BAD.keys())
def test_bad_input_is_expression_error(text: str) -> None:
    with pytest.raises(ExpressionError):
        loads(text)


def test_limits_accept_the_edge() -> None:
    assert loads(_doc(_nest(MAX_DEPTH))) == check(loads(_doc(_nest(MAX_DEPTH))))


def test_compile_rejects_missing_columns_and_bad_constants() -> None:
    with pytest.raises(ExpressionError):
        compile_expr(Col("close"), columns=["volume"])
    with pytest.raises(ExpressionError):
        compile_expr(Const(float("nan")))
    with pytest.raises(ExpressionError):
        compile_expr(Call("frobnicate", (Col("close"),)))
