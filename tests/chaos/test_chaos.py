"""Chaos: the engine as a child process vs the local exchange under a seeded fault schedule
with kill -9 restarts; every ledger checked against the venue's own executions."""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from pathlib import Path

import pytest

from nexusforge.chaos import FAULT_KINDS, ChaosConfig, ChaosResult, build_schedule, run_chaos
from nexusforge.chaos.check import VenueView, check
from nexusforge.nexus.executions import ExecId, Execution


def test_schedule_is_a_function_of_the_seed() -> None:
    a, b, c = build_schedule(7, 600), build_schedule(7, 600), build_schedule(8, 600)
    assert a == b and a != c
    assert {f.kind for f in a.faults} == set(FAULT_KINDS)  # a long run draws every kind
    assert all(0 < f.at_s < 600 * 0.85 for f in a.faults)  # a quiet tail to settle in
    assert len(a.kills_s) == 2 and all(0 < t < 600 * 0.85 for t in a.kills_s)
    assert 900 < len(a.faults) < 1500  # ~2 per second over the active 510 s


@pytest.fixture(scope="module")
def chaos_run(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> ChaosResult:
    folder = tmp_path_factory.mktemp("chaos")
    return run_chaos(ChaosConfig(seed=4, duration_s=16, folder=folder, shared_data=shared_data,
                                 faults_per_s=2.5, restarts=1, settle_s=2.0))  # fmt: skip


@pytest.mark.slow
def test_seeded_chaos_run_keeps_every_ledger_exact(chaos_run: ChaosResult) -> None:
    r = chaos_run
    assert r.verdict.problems == ()
    assert r.crashes == 0
    assert r.restarts == 1
    assert (
        r.fault_count >= 20 and len(r.faults) >= 8
    )  # many kinds, not one (seed 4: 41 of 11 kinds)
    assert r.verdict.venue_fills > 0  # it traded through the faults
    assert r.verdict.models == 6


@pytest.mark.slow
def test_the_check_catches_a_fill_the_journal_lacks(
    chaos_run: ChaosResult, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Not a check that cannot fail: one extra venue fill for model slot 0 is a lost fill, a
    ledger mismatch and a position gap."""
    journal = _journal_of(tmp_path_factory)
    fake = Execution(
        exec_id=ExecId("chaos-extra-fill"), order_link_id="nf00-chaosxtest-1", symbol="LTCUSDT",
        side=1, qty=Decimal("0.1"), price=Decimal("250.00"), fee=Decimal("0.01"),
        exec_type="Trade", exec_time_ms=1, is_maker=False,
    )  # fmt: skip
    verdict = check(journal, VenueView((fake,), (), Decimal("0.1")), "LTCUSDT")
    assert verdict.lost_fills == 1 and verdict.ledger_mismatches >= 1
    unknown = check(journal, VenueView((), ("nf09-nobody-1",), Decimal(0)), "LTCUSDT")
    assert unknown.unknown_open_orders == 1 and not unknown.ok
    assert dataclasses.replace(unknown, problems=()).ok


def _journal_of(factory: pytest.TempPathFactory) -> Path:
    found = sorted(factory.getbasetemp().glob("chaos*/journal.sqlite"))
    assert found, "the chaos run wrote no journal"
    return found[0]
