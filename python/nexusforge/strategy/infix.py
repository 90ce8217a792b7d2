"""A readable infix form of expressions, for humans (logs, reports); JSON is the exchange format."""

from nexusforge.strategy.expr import Call, Col, Const, Expr

_BINARY = {
    "add": "+",
    "sub": "-",
    "mul": "*",
    "div": "/",
    "gt": ">",
    "lt": "<",
    "ge": ">=",
    "le": "<=",
    "and": "and",
    "or": "or",
}


def to_infix(e: Expr) -> str:
    """Fully parenthesised infix text, e.g. `clip(mean(close, 20) / atr, -1, 1)`."""
    if isinstance(e, Col):
        return e.name
    if isinstance(e, Const):
        return repr(float(e.value))
    return _call(e)


def _call(e: Call) -> str:
    args = [to_infix(a) for a in e.args]
    if e.op in _BINARY:
        return f"({args[0]} {_BINARY[e.op]} {args[1]})"
    if e.op == "neg":
        return f"(-{args[0]})"
    if e.op == "not":
        return f"(not {args[0]})"
    if e.op == "if":
        return f"(if {args[0]} then {args[1]} else {args[2]})"
    extra = [str(e.k)] if e.k is not None else []
    extra += [repr(float(p)) for p in e.params]
    return f"{e.op}({', '.join(args + extra)})"
