"""The MAML head as plain NumPy: its parameters, forward pass, loss gradient, few-step
adaptation and JSON form — the `head` of a challenger file. Forge meta-trains it
(`forge/evolve/meta.py`, torch) and Nexus adapts and applies it live (`nexus/live_head.py`)
with this module only; it lives in the strategy layer so neither half imports the other, and it
never imports torch.

The head maps inputs x = [signal, regime features...] (standardised with the meta-training
rows' mean and std, NaN -> 0, clipped to +-5) to a position in [-1, 1]:

    p = tanh(v . tanh(W x + c) + u . x + b)        (0 where the signal is NaN: warm-up)

Loss on a window of n rows (returns r_t earned holding p_t from bar t to t + 1, realised):

    L = -(1 / n) * sum_t (p_t * r_t - fee * |p_t - p_{t-1}|) / ret_scale,   p_{-1} = 0

i.e. minus the mean net-of-cost return per bar in units of the training return's standard
deviation (the cost is a taker fee plus half-spread per unit of traded position). Adaptation
is `steps` plain gradient steps with a meta-learned step size per parameter tensor.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import numpy.typing as npt

Array = npt.NDArray[np.float64]
DEFAULT_SUPPORT = 288  # rows a head adapts on by default (a day of 5 m bars)
KIND = "nexusforge.meta_head"
SCHEMA = 1
NAMES = ("W", "c", "v", "u", "b")
CLIP = 5.0
MAX_WIDTH = 256  # inputs or hidden units: a head file is small data, refuse anything larger


@dataclass(frozen=True)
class Window:
    """Aligned rows: the expression's signal, regime features (rows, k) and realised returns."""

    signal: Array
    features: Array
    returns: Array

    def rows(self, sl: slice) -> Window:
        """A slice of rows."""
        return Window(self.signal[sl], self.features[sl], self.returns[sl])


@dataclass(frozen=True)
class MetaHead:
    """Meta-learned initial weights, inner step sizes and input scaling of the position head."""

    features: tuple[str, ...]
    mean: Array
    std: Array
    ret_scale: float
    fee: float
    steps: int
    support: int  # rows adapted on
    query: int  # rows traded between adaptations
    params: dict[str, Array]
    lr: dict[str, float]

    @property
    def hidden(self) -> int:
        """Hidden units (0: a linear head)."""
        return int(self.params["W"].shape[0])

    def with_params(self, params: Mapping[str, Array]) -> MetaHead:
        """The same head with other weights."""
        return replace(self, params={k: np.asarray(params[k], np.float64) for k in NAMES})

    def with_lr(self, lr: Mapping[str, float]) -> MetaHead:
        """The same head with other inner step sizes."""
        return replace(self, lr={k: float(lr[k]) for k in NAMES})


def init_params(d: int, hidden: int, rng: np.random.Generator) -> dict[str, Array]:
    """Small random hidden layer, zero output weights (the unadapted head starts flat)."""
    return {
        "W": rng.normal(0.0, 1.0 / math.sqrt(d), (hidden, d)),
        "c": np.zeros(hidden),
        "v": rng.normal(0.0, 0.1 / math.sqrt(max(hidden, 1)), hidden),
        "u": np.zeros(d),
        "b": np.zeros(1),
    }


def inputs(head: MetaHead, signal: Array, features: Array) -> tuple[Array, Array]:
    """Standardised inputs (rows, 1 + k) and the mask of rows with a signal."""
    raw = np.column_stack([np.asarray(signal, np.float64), np.asarray(features, np.float64)])
    x = np.clip(np.nan_to_num((raw - head.mean) / head.std, nan=0.0), -CLIP, CLIP)
    return x, np.isfinite(np.asarray(signal, np.float64)).astype(np.float64)


def forward(params: Mapping[str, Array], x: Array, mask: Array) -> tuple[Array, Array, Array]:
    """Positions, hidden activations and tanh(z) (the last two for the gradient)."""
    h = np.tanh(x @ params["W"].T + params["c"])
    t = np.tanh(h @ params["v"] + x @ params["u"] + params["b"][0])
    return t * mask, h, t


def loss_grad(
    params: Mapping[str, Array], x: Array, mask: Array, r: Array, fee: float
) -> tuple[float, dict[str, Array]]:
    """The loss (returns and fee already divided by ret_scale) and its exact gradient."""
    n = x.shape[0]
    p, h, t = forward(params, x, mask)
    dp_ = np.diff(p, prepend=0.0)
    loss = -float(np.sum(p * r - fee * np.abs(dp_))) / n
    s = np.sign(dp_)
    g_p = -(r - fee * s) / n
    g_p[:-1] -= fee * s[1:] / n  # p_t also enters |p_{t+1} - p_t|
    g_z = g_p * mask * (1.0 - t * t)
    g_a = np.outer(g_z, params["v"]) * (1.0 - h * h)
    grads = {"W": g_a.T @ x, "c": g_a.sum(axis=0), "v": h.T @ g_z, "u": x.T @ g_z,
             "b": np.array([g_z.sum()])}  # fmt: skip
    return loss, grads


def adapt_np(head: MetaHead, recent: Window) -> MetaHead:
    """`head.steps` gradient steps on the recent (realised) window, from the meta weights."""
    x, mask = inputs(head, recent.signal, recent.features)
    r = np.nan_to_num(np.asarray(recent.returns, np.float64)) / head.ret_scale
    params = {k: v.copy() for k, v in head.params.items()}
    for _ in range(head.steps):
        _, g = loss_grad(params, x, mask, r, head.fee / head.ret_scale)
        params = {k: params[k] - head.lr[k] * g[k] for k in NAMES}
    return head.with_params(params)


def apply_np(head: MetaHead, signal: Array, features: Array) -> Array:
    """Positions in [-1, 1] (0 where the signal is NaN)."""
    x, mask = inputs(head, signal, features)
    return forward(head.params, x, mask)[0]


def to_json(head: MetaHead) -> dict[str, Any]:
    """The head as plain JSON data (numbers and strings only) for the challenger's `head`."""
    return {
        "kind": KIND, "schema": SCHEMA, "features": list(head.features),
        "mean": head.mean.tolist(), "std": head.std.tolist(), "ret_scale": head.ret_scale,
        "fee": head.fee, "steps": head.steps, "support": head.support,
        "query": head.query,
        "params": {k: head.params[k].tolist() for k in NAMES},
        "lr": {k: head.lr[k] for k in NAMES},
    }  # fmt: skip


def from_json(doc: Mapping[str, Any]) -> MetaHead:
    """Parse and check a head document; any problem is a `ValueError` naming it."""
    try:
        return _parse(doc)
    except (KeyError, TypeError, AttributeError) as exc:
        raise ValueError(f"malformed head document: {exc!r}") from None


def _parse(doc: Mapping[str, Any]) -> MetaHead:
    if doc.get("kind") != KIND or doc.get("schema") != SCHEMA:
        raise ValueError(f"not a schema-{SCHEMA} {KIND}")
    feats = doc["features"]
    if not isinstance(feats, list) or not all(isinstance(f, str) for f in feats):
        raise ValueError("head features must be a list of names")
    d = len(feats) + 1
    p = doc["params"]
    hidden = len(_floats(p["c"], "c", None))
    if d > MAX_WIDTH or hidden > MAX_WIDTH:
        raise ValueError(f"head wider than {MAX_WIDTH}")
    params = {
        "W": _floats(p["W"], "W", (hidden, d)), "c": _floats(p["c"], "c", (hidden,)),
        "v": _floats(p["v"], "v", (hidden,)), "u": _floats(p["u"], "u", (d,)),
        "b": _floats(p["b"], "b", (1,)),
    }  # fmt: skip
    std = _floats(doc["std"], "std", (d,))
    lr = {k: float(_floats([doc["lr"][k]], k, (1,))[0]) for k in NAMES}
    scale, fee = (float(_floats([doc[k]], k, (1,))[0]) for k in ("ret_scale", "fee"))
    steps, support, query = doc["steps"], doc["support"], doc["query"]
    ints_ok = all(isinstance(v, int) and 0 <= v <= 100_000 for v in (steps, support, query))
    if not ints_ok or np.any(std <= 0) or scale <= 0 or fee < 0 or min(lr.values()) < 0:
        raise ValueError("head steps, support, query, std, ret_scale, fee or lr out of range")
    return MetaHead(tuple(feats), _floats(doc["mean"], "mean", (d,)), std, scale, fee, steps,
                    support, query, params, lr)  # fmt: skip


def _floats(v: Any, name: str, shape: tuple[int, ...] | None) -> Array:
    arr = np.asarray(v, dtype=object)
    flat = arr.ravel().tolist()
    if not all(isinstance(e, int | float) and not isinstance(e, bool) for e in flat):
        raise ValueError(f"head {name} must hold numbers")
    out = np.asarray(v, dtype=np.float64)
    if shape is not None and out.size == 0 and math.prod(shape) == 0:
        out = out.reshape(shape)
    if (shape is not None and out.shape != shape) or not np.all(np.isfinite(out)):
        raise ValueError(f"head {name} must be finite with shape {shape}, got {out.shape}")
    return out
