"""MAML for the position head (PyTorch, `torch.func`): meta-train an initialisation and
per-tensor inner step sizes across rolling historical windows so that `steps` gradient steps
on the latest window adapt the head (`meta_head` documents the head and its loss).

Meta-training, second-order by default (`first_order = true`: the inner gradients are
detached, FOMAML): a task is a support window of `support` rows followed at once by a query
window of `query` rows (query strictly after support; the support's last return is realised
at the query's first bar, when its first position is decided). The inner loop takes `steps`
SGD steps on the support loss from the shared initialisation; the outer loss is the query
loss at the adapted weights, averaged over `meta_batch` tasks and minimised with Adam.
Everything runs in float64 on the CPU, seeded, so a seed gives the same head.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch.func import grad, vmap

from nexusforge.forge.evolve.meta_config import MetaConfig
from nexusforge.forge.evolve.meta_head import NAMES, Array, MetaHead, Window, init_params, inputs
from nexusforge.forge.evolve.meta_tasks import task_starts

Params = dict[str, torch.Tensor]
__all__ = [
    "MetaConfig",
    "MetaHead",
    "Window",
    "adapt",
    "apply",
    "initial_head",
    "inner_adapt",
    "meta_train",
    "train_pooled",
    "window_loss",
]


def window_loss(p: Params, x: torch.Tensor, mask: torch.Tensor, r: torch.Tensor,
                fee: float) -> torch.Tensor:  # fmt: skip
    """Minus the mean net return per bar (scaled units) of the head's positions on one window."""
    h = torch.tanh(x @ p["W"].T + p["c"])
    pos = torch.tanh(h @ p["v"] + x @ p["u"] + p["b"][0]) * mask
    dp = torch.diff(pos, prepend=torch.zeros(1, dtype=pos.dtype))
    return -(pos * r - fee * dp.abs()).sum() / x.shape[0]


def inner_adapt(p: Params, lr: Params, win: tuple[torch.Tensor, ...], fee: float, steps: int,
                first_order: bool = False) -> Params:  # fmt: skip
    """`steps` SGD steps on one window's loss; differentiable in `p` and `lr` (unless FO)."""
    x, mask, r = win
    g_loss: Callable[..., Params] = grad(window_loss)
    for _ in range(steps):
        g = g_loss(p, x, mask, r, fee)
        if first_order:
            g = {k: v.detach() for k, v in g.items()}
        p = {k: p[k] - lr[k] * g[k] for k in NAMES}
    return p


def meta_train(signal: Array, features: Array, returns: Array, cfg: MetaConfig, seed: int,
               names: tuple[str, ...] | None = None) -> MetaHead:  # fmt: skip
    """Meta-train a head on every row given (the caller keeps held-out rows out)."""
    data = Window(np.asarray(signal, np.float64), _2d(features), np.asarray(returns, np.float64))
    head, rng = _start(data, cfg, seed, names)
    x, mask = (torch.from_numpy(a) for a in inputs(head, data.signal, data.features))
    r = torch.from_numpy(np.nan_to_num(data.returns) / head.ret_scale)
    fee = head.fee / head.ret_scale
    starts = task_starts(len(r), cfg.support, cfg.query)
    theta = {k: torch.tensor(v, requires_grad=True) for k, v in head.params.items()}
    log_lr = {k: torch.tensor(np.log(cfg.inner_lr), requires_grad=cfg.learn_lr) for k in NAMES}
    leaves = list(theta.values()) + ([*log_lr.values()] if cfg.learn_lr else [])
    opt = torch.optim.Adam(leaves, lr=cfg.outer_lr)

    def task_loss(xs: torch.Tensor, ms: torch.Tensor, rs: torch.Tensor, xq: torch.Tensor,
                  mq: torch.Tensor, rq: torch.Tensor) -> torch.Tensor:  # fmt: skip
        lr = {k: v.exp() for k, v in log_lr.items()}
        adapted = inner_adapt(theta, lr, (xs, ms, rs), fee, cfg.steps, cfg.first_order)
        return window_loss(adapted, xq, mq, rq, fee)

    batched = vmap(task_loss)
    for _ in range(cfg.iterations):
        pick = torch.from_numpy(rng.choice(starts, size=cfg.meta_batch))
        sup = pick[:, None] + torch.arange(cfg.support)
        qry = pick[:, None] + cfg.support + torch.arange(cfg.query)
        opt.zero_grad()
        loss = batched(x[sup], mask[sup], r[sup], x[qry], mask[qry], r[qry]).mean()
        torch.autograd.backward(loss)
        opt.step()
    return _finish(head, theta, {k: float(v.detach().exp()) for k, v in log_lr.items()})


def train_pooled(signal: Array, features: Array, returns: Array, cfg: MetaConfig, seed: int,
                 names: tuple[str, ...] | None = None) -> MetaHead:  # fmt: skip
    """The non-meta baseline: the same head fitted once on all rows (Adam, full batch), with
    the configured `inner_lr` for any later fine-tuning."""
    data = Window(np.asarray(signal, np.float64), _2d(features), np.asarray(returns, np.float64))
    head, _ = _start(data, cfg, seed, names)
    x, mask = (torch.from_numpy(a) for a in inputs(head, data.signal, data.features))
    r = torch.from_numpy(np.nan_to_num(data.returns) / head.ret_scale)
    theta = {k: torch.tensor(v, requires_grad=True) for k, v in head.params.items()}
    opt = torch.optim.Adam(list(theta.values()), lr=cfg.outer_lr)
    for _ in range(cfg.iterations):
        opt.zero_grad()
        torch.autograd.backward(window_loss(theta, x, mask, r, head.fee / head.ret_scale))
        opt.step()
    return _finish(head, theta, {k: cfg.inner_lr for k in NAMES})


def initial_head(signal: Array, features: Array, returns: Array, cfg: MetaConfig, seed: int,
                 names: tuple[str, ...] | None = None) -> MetaHead:  # fmt: skip
    """The untrained head (same scaling and seeded initial weights, step size `inner_lr`):
    the baseline that adapts without meta-training."""
    data = Window(np.asarray(signal, np.float64), _2d(features), np.asarray(returns, np.float64))
    return _start(data, cfg, seed, names)[0]


def adapt(head: MetaHead, recent: Window) -> MetaHead:
    """The head after `head.steps` inner steps on `recent` (realised rows before now)."""
    x, mask = (torch.from_numpy(a) for a in inputs(head, recent.signal, _2d(recent.features)))
    r = torch.from_numpy(np.nan_to_num(np.asarray(recent.returns, np.float64)) / head.ret_scale)
    p = {k: torch.from_numpy(v.copy()) for k, v in head.params.items()}
    lr = {k: torch.tensor(v, dtype=torch.float64) for k, v in head.lr.items()}
    out = inner_adapt(p, lr, (x, mask, r), head.fee / head.ret_scale, head.steps)
    return head.with_params({k: v.detach().numpy() for k, v in out.items()})


def apply(head: MetaHead, signal: Array, features: Array) -> Array:
    """Positions in [-1, 1] from the head (0 where the signal is NaN)."""
    x, mask = (torch.from_numpy(a) for a in inputs(head, signal, _2d(features)))
    p = {k: torch.from_numpy(v) for k, v in head.params.items()}
    with torch.no_grad():
        h = torch.tanh(x @ p["W"].T + p["c"])
        return (torch.tanh(h @ p["v"] + x @ p["u"] + p["b"][0]) * mask).numpy()


def _2d(features: Array) -> Array:
    f = np.asarray(features, np.float64)
    return f.reshape(-1, 0) if f.size == 0 and f.ndim == 1 else f.reshape(f.shape[0], -1)


def _start(
    data: Window, cfg: MetaConfig, seed: int, names: tuple[str, ...] | None
) -> tuple[MetaHead, np.random.Generator]:
    """Input scaling from the training rows, seeded initial weights, and the task sampler."""
    rng = np.random.default_rng(seed)
    raw = np.column_stack([data.signal, data.features])
    if not np.isfinite(data.signal).any() or not np.isfinite(data.returns).any():
        raise ValueError("meta training needs rows with a finite signal and return")
    mean, std = _column_scale(raw)
    ret_scale = float(np.nanstd(data.returns)) or 1.0
    k = data.features.shape[1]
    feats = names if names is not None else tuple(f"f{i}" for i in range(k))
    if len(feats) != k:
        raise ValueError(f"{len(feats)} feature names for {k} feature columns")
    params = init_params(k + 1, cfg.hidden, rng)
    lr = {n: cfg.inner_lr for n in NAMES}
    head = MetaHead(feats, mean, std, ret_scale, cfg.fee_bps * 1e-4, cfg.steps, cfg.support,
                    cfg.query, params, lr)  # fmt: skip
    return head, rng


def _column_scale(raw: Array) -> tuple[Array, Array]:
    """Mean and std of each column over its finite rows; an all-NaN or constant column gets
    (0 or its value, 1): it carries nothing, and must stay finite."""
    ok = np.isfinite(raw)
    n = np.maximum(ok.sum(axis=0), 1)
    vals = np.where(ok, raw, 0.0)
    mean = vals.sum(axis=0) / n
    std = np.sqrt(np.where(ok, (raw - mean) ** 2, 0.0).sum(axis=0) / n)
    return mean, np.where(std > 1e-12, std, 1.0)


def _finish(head: MetaHead, theta: Params, lr: dict[str, float]) -> MetaHead:
    params = {k: v.detach().numpy().copy() for k, v in theta.items()}
    return head.with_params(params).with_lr(lr)
