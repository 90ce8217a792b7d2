"""`nexusforge nexus status --json` from a real journal file; the venue unreachable is reported,
not fatal; a bad config exits 2 naming the key."""

from __future__ import annotations

import json
import socket
from decimal import Decimal
from pathlib import Path

from typer.testing import CliRunner

from nexusforge.cli import app
from nexusforge.nexus.executions import ExecId, Execution
from nexusforge.nexus.journal import Journal


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # closed again when we return: nothing listens there


def test_status_json_reads_the_journal_and_says_the_venue_is_unreachable(tmp_path: Path) -> None:
    journal = tmp_path / "journal.sqlite"
    with Journal(journal) as j:
        j.record_model(0, "a", "LTCUSDT", Decimal(1000))
        j.record_model(1, "b", "LTCUSDT", Decimal(1000))
        link = j.allocator().next(1)
        fill = Execution(
            exec_id=ExecId("e1"), symbol="LTCUSDT", exec_type="Trade", side=1,
            price=Decimal("313.25"), qty=Decimal("0.3"), fee=Decimal("0.05168625"),
            exec_time_ms=1, order_link_id=link,
        )  # fmt: skip
        assert j.record_execution(fill, "ws")
    cfg = tmp_path / "engine.toml"
    cfg.write_text(
        f'[engine]\njournal = "journal.sqlite"\n[venue]\nkind = "custom"\nport = {closed_port()}\n'
        '[[models]]\nname = "a"\nstrategy = "champion:ofi_momentum"\n'
        '[[models]]\nname = "b"\nstrategy = "champion:ofi_momentum"\n'
    )
    env = {"NEXUSFORGE_BYBIT_API_KEY": "k", "NEXUSFORGE_BYBIT_API_SECRET": "s"}
    result = CliRunner().invoke(app, ["nexus", "status", "--config", str(cfg), "--json"], env=env)
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    by_name = {m["name"]: m for m in report["models"]}
    assert by_name["b"]["inventory"] == "0.3" and by_name["b"]["fees"] == "0.05168625"
    assert by_name["a"]["inventory"] == "0" and report["ledgers_total"] == "0.3"
    assert report["reconciled"] is None and report["venue_error"]


def test_bad_config_exits_2_naming_the_key(tmp_path: Path) -> None:
    cfg = tmp_path / "engine.toml"
    cfg.write_text("[engine]\nround_interval = 1\n")
    result = CliRunner().invoke(app, ["nexus", "run", "--config", str(cfg), "--duration", "1s"])
    assert result.exit_code == 2 and "engine.round_interval" in result.output
    result = CliRunner().invoke(app, ["nexus", "run", "--duration", "soon"])
    assert result.exit_code == 2 and "--duration" in result.output
