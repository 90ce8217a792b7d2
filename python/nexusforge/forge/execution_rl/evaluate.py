"""Average implementation shortfall of a tactic chooser on held-out simulator episodes.

A chooser maps the unscaled state (`execution_state.FEATURES`) to a tactic index. Baselines: always
market (cross at once) and always passive (rest at our best, re-pegged each step, the rest
crosses at the horizon). The ONNX chooser runs the exported file with onnxruntime, as live does.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import onnxruntime as ort

from nexusforge.forge.execution_rl.env import EnvConfig, ExecutionEnv, Obs
from nexusforge.market.execution_state import Tactic

Chooser = Callable[[Obs], int]


@dataclass(frozen=True, slots=True)
class EvalResult:
    """Per-episode shortfalls (bps) and their mean and standard error."""

    shortfall_bps: npt.NDArray[np.float64]

    @property
    def mean(self) -> float:
        return float(self.shortfall_bps.mean())

    @property
    def sem(self) -> float:
        n = self.shortfall_bps.size
        return float(self.shortfall_bps.std(ddof=1) / np.sqrt(n)) if n > 1 else float("nan")


def always(tactic: Tactic) -> Chooser:
    """A chooser that always picks `tactic`."""
    return lambda _obs: int(tactic)


def onnx_chooser(path: Path) -> Chooser:
    """The exported policy, run by onnxruntime on one state at a time."""
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])

    def choose(obs: Obs) -> int:
        return int(session.run(["action"], {"state": obs.reshape(1, -1)})[0][0])

    return choose


def evaluate(config: EnvConfig, seeds: Sequence[int], choose: Chooser) -> EvalResult:
    """Shortfall of `choose` on the episodes of `seeds` (the same episodes for every chooser)."""
    env = ExecutionEnv(config)
    out = np.empty(len(seeds))
    for n, seed in enumerate(seeds):
        obs, info = env.reset(seed=seed)
        done = False
        while not done:
            obs, _, done, _, info = env.step(choose(obs))
        out[n] = info["shortfall_bps"]
    return EvalResult(out)
