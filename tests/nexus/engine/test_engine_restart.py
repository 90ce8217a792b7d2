"""kill -9 of the engine process mid-session, then a restart: the rebuilt and reconciled ledgers
equal the venue's executions (by orderLinkId, to the last decimal), the sum equals the position."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from enginex import KEY, SECRET, exchange_config, expected_states, fetch_venue, journal_states
from enginex import write_config as write_engine_config

from nexusforge.nexus.journal import Journal
from nexusforge.nexus.venues.local import LocalExchange


def engine_process(cfg: Path, duration: str) -> subprocess.Popen[bytes]:
    env = os.environ | {"NEXUSFORGE_BYBIT_API_KEY": KEY, "NEXUSFORGE_BYBIT_API_SECRET": SECRET}
    cmd = [sys.executable, "-m", "nexusforge.cli", "nexus", "run", "--config", str(cfg)]
    return subprocess.Popen(
        [*cmd, "--duration", duration], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )


def journaled_fills(journal: Path) -> int:
    if not journal.exists():
        return 0
    try:
        with Journal(journal, readonly=True) as j:
            return sum(1 for e in j.executions() if e.exec_type == "Trade")
    except Exception:  # the engine may be creating the file right now
        return 0


@pytest.mark.slow
def test_kill_9_mid_session_then_restart_reconciles(shared_data: Path, tmp_path: Path) -> None:
    journal = tmp_path / "journal.sqlite"
    with LocalExchange(exchange_config(shared_data)) as ex:
        cfg = write_engine_config(tmp_path, ex.port)
        first = engine_process(cfg, "60s")
        deadline = time.monotonic() + 30
        while journaled_fills(journal) < 30:
            assert first.poll() is None, first.communicate()[0].decode()[-2000:]
            assert time.monotonic() < deadline, "the engine did not trade"
            time.sleep(0.1)
        first.send_signal(signal.SIGKILL)  # mid-session: orders and fills in flight
        first.communicate(timeout=10)  # reaps it and closes its pipe
        before = journaled_fills(journal)
        second = engine_process(cfg, "4s")
        out = second.communicate(timeout=60)[0].decode()
        assert second.returncode == 0, out[-3000:]
        assert "reconciled: yes" in out
        venue, position = fetch_venue(ex.port)
    want, want_orphan = expected_states(journal, venue)
    got, got_orphan = journal_states(journal)
    assert got == want and got_orphan.state == want_orphan.state
    assert sum((s.inventory for s in got.values()), got_orphan.inventory) == position
    assert journaled_fills(journal) > before  # the restarted engine traded on


@pytest.mark.slow
def test_sigusr1_flattens_everything_and_sigterm_stops_cleanly(
    shared_data: Path, tmp_path: Path
) -> None:
    journal = tmp_path / "journal.sqlite"
    with LocalExchange(exchange_config(shared_data)) as ex:
        cfg = write_engine_config(tmp_path, ex.port)
        proc = engine_process(cfg, "60s")
        deadline = time.monotonic() + 30
        while journaled_fills(journal) < 20:
            assert proc.poll() is None, proc.communicate()[0].decode()[-2000:]
            assert time.monotonic() < deadline, "the engine did not trade"
            time.sleep(0.1)
        proc.send_signal(signal.SIGUSR1)  # the kill switch
        deadline = time.monotonic() + 20
        while not flattened(journal):
            assert time.monotonic() < deadline, "not flat after the kill switch"
            time.sleep(0.1)
        proc.send_signal(signal.SIGTERM)  # a clean stop, not a flatten
        out = proc.communicate(timeout=30)[0].decode()
        venue, position = fetch_venue(ex.port)
    assert proc.returncode == 0, out[-3000:]
    assert "reconciled: yes" in out and position == 0
    got, orphan = journal_states(journal)
    assert all(s.inventory == 0 for s in got.values()) and orphan.inventory == 0
    want, _ = expected_states(journal, venue)
    assert got == want


def flattened(journal: Path) -> bool:
    with Journal(journal, readonly=True) as j:
        kinds = [(kind, detail) for _, kind, detail in j.kill_events()]
    assert all(d == "signal SIGUSR1" for k, d in kinds if k == "kill_switch")
    return ("flatten", "flat") in kinds
