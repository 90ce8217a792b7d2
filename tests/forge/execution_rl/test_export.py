"""Export: the ONNX policy and the torch policy give the same action on 10,000 random states
(a freshly trained SB3 policy and the shipped one); the manifest vouches for the file; training
is deterministic per seed; the live features equal the training features."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
import torch

from nexusforge.forge.execution_rl import FEATURES, TACTICS, EnvConfig
from nexusforge.forge.execution_rl.export import export, load_policy_net, sha256_file
from nexusforge.forge.execution_rl.train import TrainConfig, train
from nexusforge.market import execution_state
from nexusforge.nexus import execution as live_side

N_STATES = 10_000
TINY = TrainConfig(
    seed=3,
    timesteps=64,
    n_steps=64,
    batch_size=32,
    scale_episodes=4,
    env=EnvConfig(flow_seeds=(11,), flow_s=200.0, warmup_s=30.0, max_steps=5),
)


def _states(mean: np.ndarray, std: np.ndarray, seed: int) -> np.ndarray:
    """Random states around the training distribution, and well outside it."""
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((N_STATES, len(FEATURES))) * rng.choice([0.5, 2.0, 6.0], (N_STATES, 1))
    return (mean + z * std).astype(np.float32)


def _onnx_actions(path: Path, states: np.ndarray) -> np.ndarray:
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(["action"], {"state": states})[0]


@pytest.mark.slow
def test_trained_policy_exports_to_the_same_actions(tmp_path: Path) -> None:
    trained = train(TINY)
    manifest = export(trained, tmp_path)
    assert manifest.sha256 == sha256_file(tmp_path / "iel.onnx")
    assert json.loads((tmp_path / "iel.json").read_text())["seed"] == TINY.seed
    states = _states(trained.scaling.mean, trained.scaling.std, 1)
    net = load_policy_net(tmp_path / "iel.pt", TINY.hidden)
    with torch.no_grad():
        torch_actions, torch_logits = (t.numpy() for t in net(torch.from_numpy(states)))
    onnx = _onnx_actions(tmp_path / "iel.onnx", states)
    assert len(set(onnx.tolist())) > 1  # a policy that answers one action would prove little
    np.testing.assert_array_equal(onnx, torch_actions)
    # The exported net is SB3's policy with the scaling folded into its first layer: the same
    # logits up to float32 rounding, so the same action wherever the top two are not tied.
    obs = torch.from_numpy(trained.scaling.apply(states))
    with torch.no_grad():
        sb3_logits = trained.model.policy.get_distribution(obs).distribution.logits.numpy()
    log_probs = torch.log_softmax(torch.from_numpy(torch_logits), dim=1).numpy()
    np.testing.assert_allclose(log_probs, sb3_logits, atol=1e-5)  # SB3 normalises its logits
    sb3, _ = trained.model.predict(trained.scaling.apply(states), deterministic=True)
    top2 = np.sort(torch_logits, axis=1)[:, -2:]
    clear = top2[:, 1] - top2[:, 0] > 1e-4
    assert clear.mean() > 0.99
    np.testing.assert_array_equal(onnx[clear], sb3[clear])
    # Same seed, same network.
    again = export(train(TINY), tmp_path / "again")
    assert again.sha256 == manifest.sha256


def test_shipped_onnx_matches_its_torch_weights() -> None:
    folder = live_side.default_manifest().parent
    meta = json.loads((folder / "iel.json").read_text())
    net = load_policy_net(folder / meta["weights_file"], tuple(meta["hidden"]))
    states = _states(np.array(meta["scaling_mean"]), np.array(meta["scaling_std"]), 2)
    with torch.no_grad():
        torch_actions = net(torch.from_numpy(states))[0].numpy()
    onnx = _onnx_actions(folder / meta["onnx_file"], states)
    np.testing.assert_array_equal(onnx, torch_actions)
    policy = live_side.IelPolicy.load()
    live = np.array([int(policy.decide(s).tactic) for s in states[:2_000]])
    np.testing.assert_array_equal(live, torch_actions[:2_000])


def test_shipped_policy_speaks_the_shared_contract() -> None:
    """The bundled policy was trained on the state and actions that the live layer builds."""
    meta = json.loads(live_side.default_manifest().read_text())
    assert tuple(meta["features"]) == execution_state.FEATURES == FEATURES
    assert tuple(meta["actions"]) == execution_state.TACTICS == TACTICS
    assert meta["default_action"] == execution_state.DEFAULT_TACTIC.name.lower()
    assert live_side.state_vector is execution_state.state_vector
