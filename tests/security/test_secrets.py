"""A short engine session (DEBUG logs, faults that force re-auth and kill -9) with a known secret;
then every output is scanned for it: engine logs, the journal (and its WAL), the run folder, the
exchange side's own logs, and the dashboard's page, /api/state and /metrics over that journal."""

from __future__ import annotations

import asyncio
import logging
import secrets
import threading
import time
from pathlib import Path

import httpx
import pytest

from nexusforge.chaos import ChaosConfig, run_chaos
from nexusforge.nexus.dashboard import JournalSource, dashboard_server


@pytest.mark.slow
def test_the_api_secret_appears_in_no_output(
    shared_data: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    secret = "sk-" + secrets.token_hex(16)
    caplog.set_level(logging.INFO)  # the exchange side (the engine child logs at DEBUG)
    cfg = ChaosConfig(seed=4, duration_s=14, folder=tmp_path / "run", shared_data=shared_data,
                      faults_per_s=2.0, restarts=1, settle_s=1.0, log_level="DEBUG",
                      secret=secret)  # fmt: skip
    result = run_chaos(cfg)
    assert "drop_private" in result.faults or result.restarts  # it re-authenticated
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert any(p.name == "journal.sqlite" for p in files)
    assert (tmp_path / "run" / "engine.log").stat().st_size > 10_000  # DEBUG: it logged a lot
    needle = secret.encode()
    leaked = [str(p) for p in files if needle in p.read_bytes()]
    assert leaked == []
    assert secret not in caplog.text and len(caplog.records) > 0
    for path, text in dashboard_pages(tmp_path / "run" / "journal.sqlite").items():
        assert secret not in text, path


def dashboard_pages(journal: Path) -> dict[str, str]:
    """The page, /api/state and /metrics of the dashboard served over `journal` on loopback."""
    server = dashboard_server(JournalSource(journal), "127.0.0.1", 0, None)
    port = server.port
    thread = threading.Thread(target=asyncio.run, args=(server.serve_socket(),), daemon=True)
    thread.start()
    try:
        while not server.started:
            time.sleep(0.02)
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
            replies = {p: client.get(p) for p in ("/", "/api/state", "/metrics")}
    finally:
        server.should_exit = True
        thread.join(timeout=10)
    assert all(r.status_code == 200 for r in replies.values()), replies
    assert "nexus" in replies["/metrics"].text  # a real exposition, not an empty page
    return {p: r.text for p, r in replies.items()}
