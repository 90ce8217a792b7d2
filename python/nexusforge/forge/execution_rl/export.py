"""Export a trained policy: the deterministic action head as ONNX, its weights as a tensor-only
`state_dict`, and a JSON manifest (inputs in order, actions, scaling, seed, sha256).

The exported network takes the UNSCALED state (`execution_state.FEATURES` order, float32, shape (n,
6)); the scaling is folded into its first layer, and the manifest records it for readers. Outputs:
`action` (int64 argmax, what live inference uses) and `logits`. Nothing here is pickled: the weights
file holds tensors only and is read back with `torch.load(weights_only=True)`.
"""

from __future__ import annotations

import hashlib
import json
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from nexusforge.errors import ConfigError
from nexusforge.forge.execution_rl.train import Trained
from nexusforge.market.execution_state import DEFAULT_TACTIC, FEATURES, TACTICS

FORMAT_VERSION = 1
OPSET = 17
INPUT_NAME = "state"
OUTPUT_NAMES = ("action", "logits")


class PolicyNet(nn.Module):
    """The policy MLP (tanh, as SB3's default) and the action logits, on UNSCALED states: the
    scaling is folded into the first layer (two graph nodes fewer per live decision)."""

    def __init__(self, hidden: tuple[int, ...]) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        width = len(FEATURES)
        for h in hidden:
            layers += [nn.Linear(width, h), nn.Tanh()]
            width = h
        self.body = nn.Sequential(*layers)
        self.head = nn.Linear(width, len(TACTICS))

    def forward(self, state: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        logits = self.head(self.body(state))
        return torch.argmax(logits, dim=-1), logits


def policy_net(trained: Trained) -> PolicyNet:
    """The deterministic action head of a trained SB3 PPO policy, scaling folded in:
    W (x - m) / s + b = (W / s) x + (b - W (m / s))."""
    policy = trained.model.policy
    body, head = policy.mlp_extractor.policy_net, policy.action_net
    assert isinstance(body, nn.Sequential) and isinstance(head, nn.Linear)
    net = PolicyNet(trained.config.hidden)
    src = [m for m in body if isinstance(m, nn.Linear)] + [head]
    dst = [m for m in net.body if isinstance(m, nn.Linear)] + [net.head]
    mean = torch.as_tensor(trained.scaling.mean, dtype=torch.float64)
    std = torch.as_tensor(trained.scaling.std, dtype=torch.float64)
    with torch.no_grad():
        for s, d in zip(src, dst, strict=True):
            d.weight.copy_(s.weight)
            d.bias.copy_(s.bias)
        first = dst[0]
        w = first.weight.double()
        first.bias.copy_((first.bias.double() - w @ (mean / std)).float())
        first.weight.copy_((w / std).float())
    return net.eval()


@dataclass(frozen=True, slots=True)
class Manifest:
    """What the live layer checks before it trusts `iel.onnx` (see `nexus/execution.py`)."""

    format_version: int
    onnx_file: str
    sha256: str
    weights_file: str
    input_name: str
    output_names: list[str]
    features: list[str]
    actions: list[str]
    default_action: str
    scaling_mean: list[float]
    scaling_std: list[float]
    hidden: list[int]
    seed: int
    timesteps: int
    env: dict[str, Any]

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True) + "\n"


def sha256_file(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def export(trained: Trained, folder: Path, name: str = "iel") -> Manifest:
    """Writes `<name>.onnx`, `<name>.pt` (tensors only) and `<name>.json` into `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    net = policy_net(trained)
    onnx_path, weights_path = folder / f"{name}.onnx", folder / f"{name}.pt"
    export_onnx(net, onnx_path)
    torch.save({k: v.clone() for k, v in net.state_dict().items()}, weights_path)
    env = asdict(trained.config.env)
    env["costs"] = asdict(trained.config.env.costs)
    manifest = Manifest(
        format_version=FORMAT_VERSION,
        onnx_file=onnx_path.name,
        sha256=sha256_file(onnx_path),
        weights_file=weights_path.name,
        input_name=INPUT_NAME,
        output_names=list(OUTPUT_NAMES),
        features=list(FEATURES),
        actions=list(TACTICS),
        default_action=DEFAULT_TACTIC.name.lower(),
        scaling_mean=[float(x) for x in trained.scaling.mean],
        scaling_std=[float(x) for x in trained.scaling.std],
        hidden=list(trained.config.hidden),
        seed=trained.config.seed,
        timesteps=trained.config.timesteps,
        env=env,
    )
    (folder / f"{name}.json").write_text(manifest.to_json(), encoding="utf-8")
    return manifest


def export_onnx(net: PolicyNet, path: Path) -> None:
    """The network as ONNX with a dynamic batch dimension (legacy TorchScript exporter)."""
    dummy = torch.zeros(1, len(FEATURES), dtype=torch.float32)
    with warnings.catch_warnings():
        # The legacy exporter on purpose: the dynamo one needs onnxscript (not a dependency)
        # and this 3-layer MLP has no control flow for it to handle better; its deprecation
        # notices (and those of what it calls) are silenced for this call only.
        warnings.simplefilter("ignore", DeprecationWarning)
        _legacy_export(net, dummy, path)


def _legacy_export(net: PolicyNet, dummy: torch.Tensor, path: Path) -> None:
    torch.onnx.export(
        net,
        (dummy,),
        str(path),
        input_names=[INPUT_NAME],
        output_names=list(OUTPUT_NAMES),
        dynamic_axes={INPUT_NAME: {0: "n"}, "action": {0: "n"}, "logits": {0: "n"}},
        opset_version=OPSET,
        dynamo=False,
    )


def load_policy_net(weights: Path, hidden: tuple[int, ...]) -> PolicyNet:
    """A `PolicyNet` from a tensor-only weights file (never unpickles objects)."""
    state = torch.load(weights, map_location="cpu", weights_only=True)
    if not isinstance(state, dict):
        raise ConfigError(f"{weights}: not a policy weights file")
    net = PolicyNet(hidden)
    net.load_state_dict(state)
    return net.eval()
