"""Benchmark: wall time of the validation gate on one Forge run, before and after the speed work.

Data: a Forge run with the default config over the real Bybit BTCUSDT 5 m candles and funding
of 2025 (`--run RUN` reuses a finished run folder; otherwise it is made from
`../shared/data/history` into a temporary store first and its time is printed apart).

Baseline, in the same process on the same run folder: the gate's earlier workload, reproduced
by settings — the null re-scoring on one thread (`threads = 1`), the DoWhy refuters run for
every candidate (`refute_all = true`) with every graph parent as a common cause
(`screen_alpha = 1.0`), and the Monte Carlo paths of each candidate held in one matrix (as
before the chunking; same figures). After: the default `GateConfig()`. Both use the default
thresholds and workload otherwise (19 null histories, 1000 bootstrap paths, 16 PBO blocks).
Last line: `RESULT gate_s_before=<s> gate_s_after=<s> speedup=<x> cpu_s_before=<s>
cpu_s_after=<s>` (wall seconds, and CPU seconds of every thread of the process).
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

import nexusforge
from nexusforge.data.ingest import ingest
from nexusforge.forge.evolve.run import ForgeConfig, run_forge
from nexusforge.forge.validate import bootstrap
from nexusforge.forge.validate.config import GateConfig
from nexusforge.forge.validate.gate import GateResult, validate_run
from nexusforge.forge.validate.refute import RefuteConfig

HISTORY = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "history"
FILES = ("bybit_linear_BTCUSDT_5m_2025.csv.gz", "bybit_linear_BTCUSDT_funding_8h_2025.csv.gz")


@contextmanager
def unchunked_monte_carlo() -> Iterator[None]:
    """The Monte Carlo as it was: every path of a candidate in one matrix."""
    saved = bootstrap.CHUNK_VALUES
    bootstrap.CHUNK_VALUES = sys.maxsize
    try:
        yield
    finally:
        bootstrap.CHUNK_VALUES = saved


def make_run(root: Path) -> Path:
    """The default Forge run on the real 2025 history (store built in `root`)."""
    store = root / "store"
    for name in FILES:
        if ingest(HISTORY / name, store).failed:
            raise SystemExit(f"could not ingest {name}")
    out = root / "run"
    started = time.perf_counter()
    run_forge(ForgeConfig(), store, out)
    print(f"forge run (default config): {time.perf_counter() - started:.0f} s", flush=True)
    return out


def timed(run: Path, cfg: GateConfig, out: Path) -> tuple[float, float, GateResult]:
    """Wall and CPU seconds (every thread of this process) for the whole gate on `run`; on a
    shared machine the CPU time is the steadier figure."""
    wall, cpu = time.perf_counter(), time.process_time()
    res = validate_run(run, cfg, out)
    return time.perf_counter() - wall, time.process_time() - cpu, res


def verdicts(res: GateResult) -> list[tuple[str, bool, tuple[str, ...]]]:
    """Each decision's challenger, verdict and the checks that ran and failed."""
    return [(j.decision.source, j.decision.passed, tuple(j.decision.failed)) for j in res.judged]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--run", type=Path, help="a finished Forge run folder (default: make one)")
    args = ap.parse_args()
    print(f"machine: {platform.platform()} python {sys.version.split()[0]} "
          f"nexusforge {nexusforge.__version__} cpus {os.cpu_count()} "
          f"load {os.getloadavg()[0]:.1f}", flush=True)  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="nf-gate-speed-") as tmp:
        run = args.run or make_run(Path(tmp))
        before_cfg = GateConfig(threads=1, refute_all=True, refute=RefuteConfig(screen_alpha=1.0))
        with unchunked_monte_carlo():
            before, cpu_b, res_b = timed(run, before_cfg, Path(tmp) / "before")
        print(f"before: {before:.0f} s (cpu {cpu_b:.0f} s)  {verdicts(res_b)}", flush=True)
        after, cpu_a, res_a = timed(run, GateConfig(), Path(tmp) / "after")
        print(f"after:  {after:.0f} s (cpu {cpu_a:.0f} s)  {verdicts(res_a)}", flush=True)
        same = [v[1] for v in verdicts(res_b)] == [v[1] for v in verdicts(res_a)]
        dsr_b = [j.evidence.dsr.dsr for j in res_b.judged]
        dsr_a = [j.evidence.dsr.dsr for j in res_a.judged]
        print(f"same verdicts: {same}; same DSR: {np.allclose(dsr_b, dsr_a)}; "
              f"load {os.getloadavg()[0]:.1f}")  # fmt: skip
    print(f"RESULT gate_s_before={before:.1f} gate_s_after={after:.1f} "
          f"speedup={before / after:.2f} cpu_s_before={cpu_b:.1f} "
          f"cpu_s_after={cpu_a:.1f}")  # fmt: skip


if __name__ == "__main__":
    main()
