"""MAML head: deterministic per seed; strictly causal tasks and walk-forward; on a planted
regime-switching series (the signal's edge flips sign between regimes) the adapted meta head
beats the unadapted head, a head fitted once on all data and an untrained head given the same
adaptation, out of sample; end to end on real Bybit BTCUSDT 5 m history (figures printed)."""

from __future__ import annotations

import math
from pathlib import Path

import msgspec
import numpy as np
import pytest
import torch

from nexusforge.forge.backtest.run import SeriesSpec
from nexusforge.forge.evolve.meta import inner_adapt, meta_train, window_loss
from nexusforge.forge.evolve.meta_config import MetaConfig
from nexusforge.forge.evolve.meta_head import (
    NAMES,
    MetaHead,
    Window,
    adapt_np,
    inputs,
    loss_grad,
)
from nexusforge.forge.evolve.meta_report import (
    BARS_PER_YEAR_5M,
    MOMENTUM,
    compare,
    regime_switching,
    table_window,
)
from nexusforge.forge.evolve.meta_tasks import figures, task_starts, walk_forward
from nexusforge.forge.evolve.table import ResearchTable, load_research_table
from nexusforge.strategy import codec

torch.set_num_threads(1)
SMALL = MetaConfig(support=64, query=16, iterations=15, meta_batch=4, hidden=3)
PLANTED = MetaConfig(support=192, query=48, iterations=60, meta_batch=8)


def small_data(seed: int = 0, rows: int = 600) -> Window:
    return regime_switching(seed, rows=rows)


def test_same_seed_same_head_other_seed_other_head() -> None:
    d = small_data()
    a, b = (meta_train(d.signal, d.features, d.returns, SMALL, 3) for _ in range(2))
    c = meta_train(d.signal, d.features, d.returns, SMALL, 4)
    for k in a.params:
        np.testing.assert_array_equal(a.params[k], b.params[k])
    assert a.lr == b.lr
    assert any(not np.array_equal(a.params[k], c.params[k]) for k in a.params)


def test_meta_training_moves_weights_and_step_sizes_first_and_second_order() -> None:
    d = small_data(1)
    so = meta_train(d.signal, d.features, d.returns, SMALL, 0)
    fo = meta_train(
        d.signal, d.features, d.returns, msgspec.structs.replace(SMALL, first_order=True), 0
    )
    assert so.lr != {k: SMALL.inner_lr for k in so.lr}  # learned step sizes
    assert any(not np.allclose(so.params[k], fo.params[k]) for k in so.params)
    fixed = meta_train(
        d.signal, d.features, d.returns, msgspec.structs.replace(SMALL, learn_lr=False), 0
    )
    assert fixed.lr == {k: SMALL.inner_lr for k in fixed.lr}


def test_empty_or_constant_inputs_stay_finite_and_no_signal_is_refused() -> None:
    d = small_data(4)
    feats = np.column_stack([np.full(d.signal.size, np.nan), np.full(d.signal.size, 2.0)])
    head = meta_train(d.signal, feats, d.returns, SMALL, 0, ("empty", "flat"))
    assert np.all(np.isfinite(head.mean)) and list(head.std[1:]) == [1.0, 1.0]
    with pytest.raises(ValueError, match="finite signal"):
        meta_train(np.full(d.signal.size, np.nan), d.features, d.returns, SMALL, 0)


def _meta_objective(head: MetaHead, sup: Window, qry: Window) -> float:
    """Query loss after NumPy adaptation on the support window (scaled units)."""
    x, m = inputs(head, qry.signal, qry.features)
    r = qry.returns / head.ret_scale
    return loss_grad(adapt_np(head, sup).params, x, m, r, head.fee / head.ret_scale)[0]


@pytest.mark.parametrize("first_order", [False, True])
def test_meta_gradient_second_order_exact_first_order_at_adapted_weights(first_order: bool) -> None:
    """Second order: the autograd meta-gradient through `inner_adapt` equals central finite
    differences of (adapt, then query loss). First order: it equals the query loss gradient at
    the adapted weights (the inner steps' Jacobian taken as the identity)."""
    d = small_data(6, rows=200)
    sup, qry = d.rows(slice(10, 100)), d.rows(slice(100, 160))
    head = meta_train(d.signal, d.features, d.returns, SMALL, 0)
    tens = [torch.from_numpy(a) for a in (*inputs(head, sup.signal, sup.features),
            sup.returns / head.ret_scale, *inputs(head, qry.signal, qry.features),
            qry.returns / head.ret_scale)]  # fmt: skip
    fee = head.fee / head.ret_scale
    theta = {k: torch.tensor(v, requires_grad=True) for k, v in head.params.items()}
    lr = {k: torch.tensor(v, dtype=torch.float64) for k, v in head.lr.items()}
    adapted = inner_adapt(theta, lr, tuple(tens[:3]), fee, head.steps, first_order)
    torch.autograd.backward(window_loss(adapted, tens[3], tens[4], tens[5], fee))
    if first_order:
        x, m = inputs(head, qry.signal, qry.features)
        want = loss_grad(adapt_np(head, sup).params, x, m, qry.returns / head.ret_scale, fee)[1]
    else:
        want = {}
        for k, v in head.params.items():
            g = np.zeros_like(v)
            for i in np.ndindex(v.shape):
                hi, lo = v.copy(), v.copy()
                hi[i] += 1e-6
                lo[i] -= 1e-6
                up = _meta_objective(head.with_params({**head.params, k: hi}), sup, qry)
                dn = _meta_objective(head.with_params({**head.params, k: lo}), sup, qry)
                g[i] = (up - dn) / 2e-6
            want[k] = g
    for k in NAMES:
        got = theta[k].grad
        assert got is not None
        np.testing.assert_allclose(got.numpy(), want[k], atol=1e-6, rtol=1e-5)


def test_tasks_put_query_after_support_inside_the_rows() -> None:
    s = task_starts(100, 30, 10)
    assert s[0] == 0 and s[-1] + 30 + 10 == 100
    with pytest.raises(ValueError):
        task_starts(39, 30, 10)


def test_walk_forward_never_looks_ahead() -> None:
    """Changing rows >= T (signal, features, returns) leaves every position before T as it was."""
    d = small_data(2)
    head = meta_train(d.signal, d.features, d.returns, SMALL, 1)
    cut = 400
    rng = np.random.default_rng(9)
    future = Window(d.signal.copy(), d.features.copy(), d.returns.copy())
    future.signal[cut:] = rng.uniform(-1, 1, d.signal.size - cut)
    future.features[cut:] *= 7.0
    future.returns[cut - 1 :] = rng.normal(0, 0.05, d.signal.size - cut + 1)  # realised at >= T
    a, b = walk_forward(head, d, 64, 16), walk_forward(head, future, 64, 16)
    np.testing.assert_array_equal(a[:cut], b[:cut])
    assert not np.array_equal(a[cut:], b[cut:])


def test_adaptation_reads_returns_of_its_window_only() -> None:
    d = small_data(3)
    head = meta_train(d.signal, d.features, d.returns, SMALL, 2)
    win = d.rows(slice(100, 164))
    flipped = Window(win.signal, win.features, -win.returns)
    a, b = adapt_np(head, win), adapt_np(head, flipped)
    assert not np.allclose(a.params["u"], b.params["u"])


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_planted_regime_switch_maml_adaptation_wins_out_of_sample(seed: int) -> None:
    c = compare(regime_switching(seed, rows=8000), 4000, PLANTED, seed, BARS_PER_YEAR_5M)
    f = {k: v.mean_bps for k, v in c.figures.items()}
    print(seed, {k: round(v, 3) for k, v in f.items()})
    assert f["maml_adapted"] > 0.5  # net of 6 bp per unit traded
    for other in ("maml_unadapted", "pooled", "pooled_adapted", "scratch_adapted", "signal"):
        assert f["maml_adapted"] > f[other], other
    assert c.figures["maml_adapted"].sharpe > c.figures["pooled"].sharpe


def test_without_regimes_adaptation_has_nothing_to_find() -> None:
    """Control: with no edge at all, no head earns a planted-sized return out of sample."""
    d = regime_switching(5, rows=8000, edge=0.0)
    c = compare(d, 4000, PLANTED, 5, BARS_PER_YEAR_5M)
    assert c.figures["maml_adapted"].mean_bps < 0.3


@pytest.mark.slow
def test_real_history_end_to_end(real_store: Path) -> None:
    table = load_research_table(real_store, SeriesSpec("bybit_linear", "BTCUSDT", 300))
    table = ResearchTable(table.frame.tail(12_000), table.bars_per_year, table.horizon)
    cfg = MetaConfig(iterations=40, meta_batch=8)
    win = table_window(table, codec.loads(MOMENTUM), cfg.features)
    c = compare(win, 6000, cfg, 0, table.bars_per_year, cfg.features)
    print("real bybit_linear BTCUSDT 5m, last 12000 bars, OOS rows 6000..12000:")
    for k, f in c.figures.items():
        print(f"  {k:<16} {f.as_dict()}")
        assert all(math.isfinite(v) for v in (f.mean_bps, f.total_return, f.turnover))
    assert c.head.features == cfg.features and c.figures["maml_adapted"].exposure > 0
    pos = walk_forward(c.head, win, 6000, cfg.query)
    assert np.all(np.abs(pos) <= 1.0)
    same = figures(pos[6000:], win.returns[6000:], cfg.fee_bps * 1e-4, table.bars_per_year)
    assert same == c.figures["maml_adapted"]
