"""Benchmark: implementation shortfall of the IEL policy vs always-market and always-passive,
in held-out simulator episodes and on replayed Bybit recordings; and the live decision time.

Policy: the shipped `nexus/policies/iel.onnx` run through the live layer (`IelPolicy.decide`,
onnxruntime, manifest checked). Simulator: `--episodes` intents (default 300, episode seeds
5000…) in the calm scenario's flows of seeds 101-104 — the policy was trained on flows 1-8, so
these markets are unseen; same intents for all three choosers. Replayed real data: the Bybit
recordings in the shared data folder (`bybit/market/bybit_legacy_v2_linear_ws_20210417.txt`:
~30 s of eight linear perpetuals' books and 101 trades; the XRPUSDT orderbook.500 head file has
no trades), `--real-per-symbol` seeded intents per symbol (0.5-4x the median touch size, 3-8
steps of 2 s), resting orders filled by the conservative rule (only trades printing through our
price fill us). Shortfall is in bps of arrival notional vs the arrival mid, fees from the cost
model (VIP0). Decision time: median over `--decisions` calls of `IelPolicy.decide` on one state
(checks + onnxruntime, one thread), wall clock on this machine.

Last line: `RESULT iel_shortfall_bps=<a> market_shortfall_bps=<b> passive_shortfall_bps=<c>
onnx_decision_us=<d>`, where each shortfall is the mean of the simulator mean and the real-data
mean (each set weighted equally); the two sets' own figures are printed above it.
"""

from __future__ import annotations

import argparse
import logging
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort

import nexusforge
from nexusforge.forge.execution_rl import EnvConfig, Tactic
from nexusforge.forge.execution_rl.evaluate import Chooser, always, evaluate
from nexusforge.forge.execution_rl.real import mean_shortfall, read_tapes
from nexusforge.forge.sim.real import default_data_dir
from nexusforge.nexus.execution import IelPolicy

HELD_OUT_FLOWS = (101, 102, 103, 104)
REAL_FILES = ("bybit/market/bybit_legacy_v2_linear_ws_20210417.txt",)


def policy_chooser(policy: IelPolicy) -> Chooser:
    return lambda obs: int(policy.decide(obs).tactic)


def decision_us(policy: IelPolicy, n: int) -> tuple[float, float]:
    """Median and 99th percentile of one `decide` call, µs."""
    state = np.array([0.8, 0.6, 1.5, 0.2, 0.1, 0.5], dtype=np.float32)
    for _ in range(2_000):
        policy.decide(state)
    times = np.empty(n)
    for i in range(n):
        t0 = time.perf_counter_ns()
        policy.decide(state)
        times[i] = time.perf_counter_ns() - t0
    return float(np.median(times) / 1e3), float(np.percentile(times, 99) / 1e3)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--episodes", type=int, default=300)
    ap.add_argument("--real-per-symbol", type=int, default=60)
    ap.add_argument("--decisions", type=int, default=20_000)
    ap.add_argument("--seed", type=int, default=5_000)
    ap.add_argument("--data", type=Path, default=None, help="shared data folder")
    args = ap.parse_args()
    # The capture's client-side lines are skipped by the reader; a count is enough here.
    logging.getLogger("nexusforge.data.readers").setLevel(logging.ERROR)
    print(
        f"machine: {platform.machine()} {platform.processor() or ''} cpus={os.cpu_count()} "
        f"load={os.getloadavg()[0]:.1f}; python {sys.version.split()[0]}; nexusforge "
        f"{nexusforge.__version__}; onnxruntime {ort.__version__}; seed {args.seed}"
    )
    policy = IelPolicy.load()
    if not policy.loaded:
        sys.exit(f"the shipped policy did not load: {policy.reason}")
    choosers = {
        "iel": policy_chooser(policy),
        "market": always(Tactic.MARKET),
        "passive": always(Tactic.PASSIVE),
    }
    sim_cfg = EnvConfig(flow_seeds=HELD_OUT_FLOWS)
    seeds = range(args.seed, args.seed + args.episodes)
    sim = {k: evaluate(sim_cfg, seeds, c) for k, c in choosers.items()}
    for k, r in sim.items():
        print(f"sim  {k:8s} {r.mean:7.3f} bps ± {r.sem:.3f} (n={r.shortfall_bps.size})")
    data = args.data or default_data_dir()
    tapes = [t for f in REAL_FILES for t in read_tapes(data / f)]
    real: dict[str, float] = {}
    for k, c in choosers.items():
        real[k], n = mean_shortfall(
            tapes, c, per_tape=args.real_per_symbol, seed=args.seed, step_s=2.0,
            min_steps=3, max_steps=8,
        )  # fmt: skip
        print(f"real {k:8s} {real[k]:7.3f} bps (n={n} intents, {len(tapes)} symbols)")
    print(f"default-tactic fallbacks during the runs: {policy.fallbacks}")
    med, p99 = decision_us(policy, args.decisions)
    print(f"decision: median {med:.1f} µs, p99 {p99:.1f} µs")
    avg = {k: 0.5 * (sim[k].mean + real[k]) for k in choosers}
    print(
        f"RESULT iel_shortfall_bps={avg['iel']:.3f} market_shortfall_bps={avg['market']:.3f} "
        f"passive_shortfall_bps={avg['passive']:.3f} onnx_decision_us={med:.1f}"
    )


if __name__ == "__main__":
    main()
