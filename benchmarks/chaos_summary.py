"""K seeded chaos runs (engine child process vs the local exchange, faults + kill -9), then

    RESULT chaos_runs=<n> faults=<f> restarts=<k> ledger_mismatches=<m> lost_fills=<l>

Default: 5 runs of 30 s (a few minutes). The issue's figure (>= 100 runs, >= 10,000 faults,
>= 100 restarts): `--runs 100 --seconds 60 --faults-per-s 2 --restarts 2`.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from nexusforge.chaos import ChaosConfig, run_chaos
from nexusforge.chaos.report import default_shared_data, result_line, run_line


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--seed", type=int, default=1000, help="first seed")
    ap.add_argument("--seconds", type=float, default=30.0, help="length of each run")
    ap.add_argument("--faults-per-s", type=float, default=2.5)
    ap.add_argument("--restarts", type=int, default=2, help="kill -9 per run")
    ap.add_argument("--folder", type=Path, default=None, help="keep run folders here")
    args = ap.parse_args()
    base = args.folder or Path(tempfile.mkdtemp(prefix="nexusforge-chaos-"))
    results = []
    for seed in range(args.seed, args.seed + args.runs):
        cfg = ChaosConfig(seed, args.seconds, base / f"seed-{seed}", default_shared_data(),
                          args.faults_per_s, args.restarts)  # fmt: skip
        results.append(run_chaos(cfg))
        print(run_line(results[-1]), flush=True)
        for problem in results[-1].verdict.problems[:10]:
            print(f"  {problem}", flush=True)
    print(f"run folders: {base}")
    print(result_line(results))
    return 0 if all(r.ok for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
