"""A plain numpy evaluator of expressions, written independently of the Rust program."""

import numpy as np
import numpy.typing as npt
from numpy.lib.stride_tricks import sliding_window_view

from nexusforge.strategy.expr import Call, Col, Const, Expr

Arr = npt.NDArray[np.float64]
EPS = 1e-12


def _windows(x: Arr, n: int, f: "np.ufunc | object") -> Arr:
    out = np.full(len(x), np.nan)
    if len(x) >= n:
        w = sliding_window_view(x, n)
        vals = np.array([f(row) for row in w])  # type: ignore[operator]
        bad = np.isnan(w).any(axis=1)
        out[n - 1 :] = np.where(bad, np.nan, vals)
    return out


def _bool(x: Arr, y: Arr, v: Arr) -> Arr:
    return np.where(np.isnan(x) | np.isnan(y), np.nan, v.astype(float))


def _ema(x: Arr, span: int) -> Arr:
    alpha, y, out = 2.0 / (span + 1.0), np.nan, np.full(len(x), np.nan)
    seen = 0
    for i, v in enumerate(x):
        if np.isnan(v):
            continue
        seen += 1
        y = v if np.isnan(y) else y + alpha * (v - y)
        out[i] = y if seen >= span else np.nan
    return out


def _rank(w: Arr) -> float:
    x = w[-1]
    return float((np.sum(w < x) + (np.sum(w == x) + 1) / 2) / len(w))


def _mean(w: Arr) -> float:
    """A window of one repeated value has exactly that mean (np.mean may round off it)."""
    return float(w[0]) if np.all(w == w[0]) else float(np.mean(w))


def _std(w: Arr) -> float:
    return 0.0 if np.all(w == w[0]) else float(np.std(w))


def _zscore(w: Arr) -> float:
    s = _std(w)
    return 0.0 if s < EPS else float((w[-1] - _mean(w)) / s)


def _stateless(op: str, a: list[Arr], e: Call) -> Arr:
    x = a[0]
    with np.errstate(all="ignore"):
        table = {
            "add": lambda: x + a[1],
            "sub": lambda: x - a[1],
            "mul": lambda: x * a[1],
            "div": lambda: np.where(
                np.isnan(x) | np.isnan(a[1]), np.nan, np.where(np.abs(a[1]) < EPS, 0.0, x / a[1])
            ),
            "neg": lambda: -x,
            "abs": lambda: np.abs(x),
            "sign": lambda: np.sign(x),
            "tanh": lambda: np.tanh(x),
            "clip": lambda: np.clip(x, *e.params),
            "gt": lambda: _bool(x, a[1], x > a[1]),
            "lt": lambda: _bool(x, a[1], x < a[1]),
            "ge": lambda: _bool(x, a[1], x >= a[1]),
            "le": lambda: _bool(x, a[1], x <= a[1]),
            "and": lambda: _bool(x, a[1], (x != 0) & (a[1] != 0)),
            "or": lambda: _bool(x, a[1], (x != 0) | (a[1] != 0)),
            "not": lambda: _bool(x, x, x == 0),
            "if": lambda: np.where(np.isnan(x), np.nan, np.where(x != 0, a[1], a[2])),
        }
        return np.asarray(table[op](), dtype=float)


def _windowed(op: str, x: Arr, k: int) -> Arr:
    if op == "lag":
        return np.concatenate([np.full(min(k, len(x)), np.nan), x[: max(len(x) - k, 0)]])
    if op == "ema":
        return _ema(x, k)
    funcs = {"mean": _mean, "std": _std, "zscore": _zscore, "min": np.min}
    funcs |= {"max": np.max, "rank": _rank}
    return _windows(x, k, funcs[op])


def reference(e: Expr, data: dict[str, Arr], rows: int) -> Arr:
    """Value of `e` per row before the final clip."""
    if isinstance(e, Col):
        return np.asarray(data[e.name], dtype=float)
    if isinstance(e, Const):
        return np.full(rows, float(e.value))
    args = [reference(a, data, rows) for a in e.args]
    if e.k is not None:
        return _windowed(e.op, args[0], e.k)
    return _stateless(e.op, args, e)


def reference_positions(e: Expr, data: dict[str, Arr], rows: int) -> Arr:
    """Target positions: the root clipped to [-1, 1], NaN kept."""
    return np.clip(reference(e, data, rows), -1.0, 1.0)
