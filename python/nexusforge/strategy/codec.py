"""JSON form of strategy expressions: versioned, size- and depth-limited, parsed without eval.

{"schema": 1, "expr": NODE}
NODE = {"col": "name"} | {"const": 0.5} | {"op": "mean", "args": [NODE], "k": 20}
       | {"op": "clip", "args": [NODE], "params": [-1.0, 1.0]}
"""

import json
from typing import Any

from nexusforge.errors import ExpressionError
from nexusforge.strategy.expr import Call, Col, Const, Expr, check, depth, size

SCHEMA_VERSION = 1
MAX_DEPTH = 32
MAX_NODES = 1024
MAX_JSON_CHARS = 1_000_000


def to_dict(e: Expr) -> dict[str, Any]:
    """The JSON-ready dict of one node."""
    if isinstance(e, Col):
        return {"col": e.name}
    if isinstance(e, Const):
        return {"const": float(e.value)}
    d: dict[str, Any] = {"op": e.op, "args": [to_dict(a) for a in e.args]}
    if e.k is not None:
        d["k"] = e.k
    if e.params:
        d["params"] = [float(p) for p in e.params]
    return d


def dumps(e: Expr) -> str:
    """JSON text of a checked expression."""
    check_limits(check(e))
    return json.dumps({"schema": SCHEMA_VERSION, "expr": to_dict(e)}, allow_nan=False)


def check_limits(e: Expr) -> None:
    """Raises ExpressionError when `e` is deeper or bigger than the codec allows."""
    if depth(e) > MAX_DEPTH:
        raise ExpressionError(f"expression deeper than {MAX_DEPTH}")
    if size(e) > MAX_NODES:
        raise ExpressionError(f"expression has more than {MAX_NODES} nodes")


def _reject_constant(name: str) -> float:
    raise ExpressionError(f"non-finite number {name} in JSON")


def loads(text: str | bytes) -> Expr:
    """Parses and checks JSON text; every problem is an ExpressionError."""
    if len(text) > MAX_JSON_CHARS:
        raise ExpressionError(f"JSON longer than {MAX_JSON_CHARS} characters")
    try:
        doc = json.loads(text, parse_constant=_reject_constant)
    except (ValueError, RecursionError) as exc:
        if isinstance(exc, ExpressionError):
            raise
        raise ExpressionError(f"bad JSON: {exc}") from None
    if not isinstance(doc, dict) or set(doc) != {"schema", "expr"}:
        raise ExpressionError('document must be {"schema": ..., "expr": ...}')
    if doc["schema"] != SCHEMA_VERSION:
        raise ExpressionError(f"unsupported schema {doc['schema']!r}, expected {SCHEMA_VERSION}")
    e = from_dict(doc["expr"])
    check_limits(e)
    return check(e)


def from_dict(d: object, level: int = 1, budget: list[int] | None = None) -> Expr:
    """Builds a node from its dict, enforcing the depth and node limits while walking."""
    budget = [MAX_NODES] if budget is None else budget
    budget[0] -= 1
    if level > MAX_DEPTH:
        raise ExpressionError(f"expression deeper than {MAX_DEPTH}")
    if budget[0] < 0:
        raise ExpressionError(f"expression has more than {MAX_NODES} nodes")
    if not isinstance(d, dict):
        raise ExpressionError(f"node must be an object, got {type(d).__name__}")
    keys = set(d)
    if keys == {"col"} and isinstance(d["col"], str):
        return Col(d["col"])
    if keys == {"const"} and _is_number(d["const"]):
        return Const(float(d["const"]))
    if "op" in keys and "args" in keys and keys <= {"op", "args", "k", "params"}:
        return _call(d, level, budget)
    raise ExpressionError(f"malformed node with keys {sorted(keys)}")


def _is_number(v: object) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _call(d: dict[str, Any], level: int, budget: list[int]) -> Call:
    op, args, k, params = d["op"], d["args"], d.get("k"), d.get("params", [])
    if not isinstance(op, str) or not isinstance(args, list) or not isinstance(params, list):
        raise ExpressionError("op must be a string, args and params lists")
    if k is not None and (not isinstance(k, int) or isinstance(k, bool)):
        raise ExpressionError(f"{op}: k must be an integer, got {k!r}")
    if not all(_is_number(p) for p in params):
        raise ExpressionError(f"{op}: params must be numbers")
    kids = tuple(from_dict(a, level + 1, budget) for a in args)
    return Call(op, kids, k, tuple(float(p) for p in params))
