"""Found by chaos seed 5001: SIGTERM during a venue outage. Every REST call answered 502, the
back-off grew to 60 s, and the final venue check at the stop waited behind it until the sender
gave up and killed the engine. The stop's venue check is now bounded; the engine exits cleanly
and the next start reconciles. A stop during start-up (its venue reads retry with back-off)
now abandons the start instead of waiting it out."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from chaosx import trading

from nexusforge.chaos.engine_proc import CLEAN_EXITS, EngineProcess, write_engine_config
from nexusforge.chaos.runner import KEY, ChaosConfig, exchange_config
from nexusforge.nexus.venues.local import LocalExchange


@pytest.mark.slow
@pytest.mark.parametrize("phase", ["starting", "trading"])
def test_sigterm_during_a_venue_outage_exits_cleanly(
    phase: str, shared_data: Path, tmp_path: Path
) -> None:
    cfg = ChaosConfig(seed=0, duration_s=0, folder=tmp_path, shared_data=shared_data)
    with LocalExchange(exchange_config(cfg)) as ex:
        if phase == "starting":  # the start's venue reads retry with back-off, and never succeed
            _outage(ex)
        engine_cfg = write_engine_config(tmp_path, ex.port, cfg.symbol, "0")
        engine = EngineProcess(engine_cfg, tmp_path / "engine.log", KEY, cfg.secret)
        if phase == "starting":  # wait for the start's first failed venue read and retry
            deadline = time.monotonic() + 45
            while time.monotonic() < deadline and "start: " not in _log(tmp_path):
                time.sleep(0.2)
            assert "start: " in _log(tmp_path), _log(tmp_path)[-2000:]
        if phase == "trading":
            deadline = time.monotonic() + 45
            while time.monotonic() < deadline and not trading(tmp_path, cfg.symbol):
                time.sleep(0.2)
            assert trading(tmp_path, cfg.symbol), (tmp_path / "engine.log").read_text()[-2000:]
            _outage(ex)
        time.sleep(3.0)  # deep enough into the back-off that waiting it out would take long
        assert engine.alive(), (tmp_path / "engine.log").read_text()[-2000:]
        code_at_stop = engine.stop(timeout_s=25)
    log = (tmp_path / "engine.log").read_text()
    assert code_at_stop in CLEAN_EXITS, log[-3000:]
    expected = "stopped during start-up" if phase == "starting" else "final venue check"
    assert expected in log, log[-3000:]


def _log(folder: Path) -> str:
    path = folder / "engine.log"
    return path.read_text() if path.exists() else ""


def _outage(ex: LocalExchange) -> None:
    ex.fail_next_requests(100_000, 10016, "Bad Gateway", http_status=502, scope="any")
