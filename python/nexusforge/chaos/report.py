"""Text of chaos results: one line per run and the RESULT line of BENCHMARKS.md."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from nexusforge.chaos.runner import ChaosResult


def run_line(r: ChaosResult) -> str:
    """One run: seed, injections, kills, fills checked and the verdict."""
    v = r.verdict
    state = "ok" if r.ok else "FAILED"
    return (f"seed {r.seed}: {state}  faults={r.fault_count} restarts={r.restarts} "
            f"crashes={r.crashes} venue_fills={v.venue_fills} mismatches={v.ledger_mismatches} "
            f"lost={v.lost_fills} unknown_open={v.unknown_open_orders} deaths={v.deaths} "
            f"after_death={v.traded_after_death} wall={r.wall_s:.1f}s")  # fmt: skip


def result_line(results: Sequence[ChaosResult]) -> str:
    """`RESULT chaos_runs=<n> faults=<f> restarts=<k> ledger_mismatches=<m> lost_fills=<l>`."""
    faults = sum(r.fault_count for r in results)
    restarts = sum(r.restarts for r in results)
    mismatches = sum(r.verdict.ledger_mismatches for r in results)
    lost = sum(r.verdict.lost_fills for r in results)
    return (f"RESULT chaos_runs={len(results)} faults={faults} restarts={restarts} "
            f"ledger_mismatches={mismatches} lost_fills={lost}")  # fmt: skip


def default_shared_data() -> Path:
    """The recordings: $NEXUSFORGE_SHARED/data, else shared/ beside the checkout."""
    root = os.environ.get("NEXUSFORGE_SHARED")
    shared = Path(root) if root else Path(__file__).resolve().parents[3].parent / "shared"
    return shared / "data"
