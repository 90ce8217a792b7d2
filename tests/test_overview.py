"""The `make run` job on the real bundled data: ingest, store summary, feature summaries."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from nexusforge.cli import app
from nexusforge.data.store import Store
from nexusforge.overview import event_feature_summary, ingest_bundled, mtfa_summary


@pytest.fixture(scope="module")
def store(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Store:
    target = Store(tmp_path_factory.mktemp("overview-store"))
    reports = ingest_bundled(shared_data, target)
    assert all(not r.failed for r in reports)
    return target


def test_mtfa_summary_covers_every_candle(store: Store) -> None:
    summary = mtfa_summary(store, "bybit_linear", "BTCUSDT", 300)
    assert summary.rows == 105_120 + 41_100  # the two bybit 5m BTCUSDT files
    stats = {row[0]: row for row in summary.stats.iter_rows()}
    assert set(stats) >= {"m5_ret", "m15_clv", "h1_rv"}
    assert stats["m5_clv"][1] == summary.rows  # CLV is defined on every bar with a range
    assert -1.0 <= stats["h1_clv"][4] <= stats["h1_clv"][5] <= 1.0


def test_event_summary_on_the_xrp_archive(store: Store) -> None:
    summary = event_feature_summary(store, "bybit_linear", "XRPUSDT")
    stats = {row[0]: row for row in summary.stats.iter_rows()}
    assert summary.rows == 50  # one row per book message of the ob500 head
    assert stats["spread_ticks"][1] == 50
    assert stats["imb_1"][4] >= -1.0 and stats["imb_1"][5] <= 1.0


def test_overview_command_prints_store_and_features(shared_data: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app, ["overview", "--shared", str(shared_data.parent), "--store", str(tmp_path / "s")]
    )
    assert result.exit_code == 0, result.output
    for text in ("book_events", "MTFA bybit_linear BTCUSDT", "event features binance_usdm"):
        assert text in result.output


def test_overview_without_shared_data_is_a_clear_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["overview", "--shared", str(tmp_path)])
    assert result.exit_code == 2
    flat = "".join(ch for ch in result.output if ch.isalnum())  # rich wraps it in a box
    assert "notfoundputsharedbesidethecheckout" in flat
