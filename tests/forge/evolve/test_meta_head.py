"""The NumPy head (the live engine's path) equals the torch head: forward, loss gradient and
few-step adaptation to 1e-9 on random inputs; its JSON form round-trips exactly, rides in a
challenger file, and bad documents are refused; importing it never loads torch."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import torch

from nexusforge.forge.evolve import meta
from nexusforge.forge.evolve.meta_head import (
    NAMES,
    MetaHead,
    Window,
    adapt_np,
    apply_np,
    from_json,
    inputs,
    loss_grad,
    to_json,
)
from nexusforge.strategy import artifact, codec

torch.set_num_threads(1)
EXPR = '{"schema": 1, "expr": {"op": "tanh", "args": [{"col": "x"}]}}'


def random_head(seed: int, k: int = 2, hidden: int = 3) -> MetaHead:
    rng = np.random.default_rng(seed)
    d = k + 1
    params = {
        "W": rng.normal(size=(hidden, d)),
        "c": rng.normal(size=hidden),
        "v": rng.normal(size=hidden),
        "u": rng.normal(size=d),
        "b": rng.normal(size=1),
    }
    lr = {n: float(rng.uniform(0.05, 2.0)) for n in NAMES}
    return MetaHead(
        tuple(f"f{i}" for i in range(k)),
        rng.normal(size=d),
        rng.uniform(0.5, 2, d),
        float(rng.uniform(1e-4, 1e-2)),
        float(rng.uniform(0, 1e-3)),
        4,
        50,
        12,
        params,
        lr,
    )


def random_window(seed: int, n: int = 80, k: int = 2) -> Window:
    rng = np.random.default_rng(seed + 100)
    sig = np.tanh(rng.normal(size=n))
    sig[:5] = np.nan  # warm-up rows are flat
    sig[rng.integers(0, n, 4)] = np.nan
    feats = rng.normal(size=(n, k)) * 3
    feats[rng.integers(0, n, 3), 0] = np.nan
    return Window(sig, feats, rng.normal(0, 5e-3, n))


@pytest.mark.parametrize("seed", range(6))
def test_numpy_path_equals_torch_path(seed: int) -> None:
    head, win = random_head(seed, hidden=seed % 4), random_window(seed)
    np.testing.assert_allclose(
        apply_np(head, win.signal, win.features),
        meta.apply(head, win.signal, win.features),
        atol=1e-9,
        rtol=0,
    )
    a_np, a_t = adapt_np(head, win), meta.adapt(head, win)
    for k in NAMES:
        np.testing.assert_allclose(a_np.params[k], a_t.params[k], atol=1e-9, rtol=0)
        assert head.params[k].size == 0 or not np.allclose(a_np.params[k], head.params[k])
    np.testing.assert_allclose(
        apply_np(a_np, win.signal, win.features),
        meta.apply(a_t, win.signal, win.features),
        atol=1e-9,
        rtol=0,
    )


def test_gradient_matches_autograd() -> None:
    head, win = random_head(3), random_window(3)
    x, mask = inputs(head, win.signal, win.features)
    r, fee = win.returns / head.ret_scale, head.fee / head.ret_scale
    loss, g = loss_grad(head.params, x, mask, r, fee)
    p = {k: torch.tensor(v, requires_grad=True) for k, v in head.params.items()}
    lt = meta.window_loss(p, torch.from_numpy(x), torch.from_numpy(mask), torch.from_numpy(r), fee)
    torch.autograd.backward(lt)
    assert abs(loss - float(lt.detach())) < 1e-12
    for k in NAMES:
        g_t = p[k].grad
        assert g_t is not None
        np.testing.assert_allclose(g[k], g_t.numpy(), atol=1e-10, rtol=0)


def test_positions_bounded_and_flat_without_signal() -> None:
    head, win = random_head(1), random_window(1)
    pos = apply_np(head, win.signal, win.features)
    assert np.all(np.abs(pos) <= 1.0) and np.all(pos[np.isnan(win.signal)] == 0.0)


def test_json_round_trip_is_exact_and_rides_in_a_challenger(tmp_path) -> None:  # type: ignore[no-untyped-def]
    head = random_head(2)
    doc = json.loads(json.dumps(to_json(head)))
    back = from_json(doc)
    assert to_json(back) == to_json(head)
    win = random_window(2)
    np.testing.assert_array_equal(
        apply_np(back, win.signal, win.features), apply_np(head, win.signal, win.features)
    )
    ch = artifact.Challenger(
        codec.loads(EXPR), {"fitness": 0.1}, {"rows": "80"}, {"run": "t"}, head=to_json(head)
    )
    loaded = artifact.read(artifact.write(ch, tmp_path))
    assert loaded.head is not None and to_json(from_json(loaded.head)) == to_json(head)


def test_linear_head_round_trips() -> None:
    head = random_head(4, k=0, hidden=0)
    assert from_json(json.loads(json.dumps(to_json(head)))).hidden == 0


@pytest.mark.parametrize(
    "change",
    [
        lambda d: d.pop("params"),
        lambda d: d.__setitem__("kind", "other"),
        lambda d: d["params"].__setitem__("u", [1.0]),
        lambda d: d["params"]["v"].__setitem__(0, "1.0"),
        lambda d: d["params"]["b"].__setitem__(0, True),
        lambda d: d["std"].__setitem__(0, 0.0),
        lambda d: d["lr"].__setitem__("W", -1.0),
        lambda d: d.__setitem__("steps", 1.5),
        lambda d: d.__setitem__("query", -1),
        lambda d: d.pop("query"),
        lambda d: d.__setitem__("features", "f0"),
        lambda d: d["params"].__setitem__("W", [[1.0e400, 0, 0]] * 3),
    ],
)
def test_bad_head_documents_are_refused(change) -> None:  # type: ignore[no-untyped-def]
    doc = json.loads(json.dumps(to_json(random_head(5))))
    change(doc)
    with pytest.raises(ValueError):
        from_json(doc)


def test_live_path_never_imports_torch() -> None:
    code = (
        "import sys; import nexusforge.forge.evolve.meta_head, nexusforge.forge.evolve.meta_tasks, "
        "nexusforge.forge.evolve.run; assert 'torch' not in sys.modules, 'torch imported'"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
