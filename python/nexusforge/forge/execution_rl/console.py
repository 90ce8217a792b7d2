"""`nexusforge forge iel-train`: train, export, and compare with the baselines on held-out seeds."""

from __future__ import annotations

import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from nexusforge.forge.execution_rl.env import EnvConfig
from nexusforge.forge.execution_rl.evaluate import always, evaluate, onnx_chooser
from nexusforge.forge.execution_rl.export import export
from nexusforge.forge.execution_rl.train import TrainConfig, train
from nexusforge.market.execution_state import Tactic

#: Held-out simulator flows and episode seeds (training uses flows 1-8).
HELD_OUT_FLOWS = (101, 102, 103, 104)
HELD_OUT_SEED0 = 5_000


def train_command(out: Path, seed: int, timesteps: int, episodes: int, console: Console) -> None:
    """Trains with `seed`, writes the policy files into `out`, prints a shortfall table."""
    t0 = time.perf_counter()
    with console.status(f"training PPO for {timesteps} steps (seed {seed})"):
        trained = train(TrainConfig(seed=seed, timesteps=timesteps))
    manifest = export(trained, out)
    console.print(
        f"trained in {time.perf_counter() - t0:.0f} s; wrote {out / manifest.onnx_file} "
        f"(sha256 {manifest.sha256[:16]}…) and its manifest"
    )
    if episodes <= 0:
        return
    held_out = EnvConfig(flow_seeds=HELD_OUT_FLOWS)
    seeds = range(HELD_OUT_SEED0, HELD_OUT_SEED0 + episodes)
    table = Table(title=f"implementation shortfall, {episodes} held-out simulator episodes")
    for col in ("chooser", "mean bps", "± s.e."):
        table.add_column(col)
    choosers = {
        "IEL policy (ONNX)": onnx_chooser(out / manifest.onnx_file),
        "always market": always(Tactic.MARKET),
        "always passive": always(Tactic.PASSIVE),
    }
    for name, choose in choosers.items():
        r = evaluate(held_out, seeds, choose)
        table.add_row(name, f"{r.mean:.3f}", f"{r.sem:.3f}")
    console.print(table)
