"""`/metrics` parsed back with prometheus_client's own parser: the per-model values equal the
journal's books, histograms are well formed, every family is present."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from pathlib import Path

from dashboard_fixtures import MODELS, SYMBOL, families, new_session

from nexusforge.nexus.dashboard import JournalSource
from nexusforge.nexus.dashboard.latency import LatencyHistogram
from nexusforge.nexus.dashboard.metrics import render
from nexusforge.nexus.dashboard.snapshot import (
    AlertView,
    KillSwitchView,
    ReconciliationView,
    VenueView,
)
from nexusforge.nexus.journal import Journal, status


def test_model_values_equal_the_journals_books(tmp_path: Path) -> None:
    session = new_session(tmp_path / "j.sqlite")
    session.trade(0, 1, "0.010", "50000")
    session.trade(1, -1, "0.020", "50010", fee="0.2")
    session.trade(0, -1, "0.004", "50100")
    session.journal.record_state(2, "active", "dead", "sudden death: equity -1 <= 0")
    snap = JournalSource(tmp_path / "j.sqlite").snapshot()
    got = families(render(snap))
    want = status(Journal(tmp_path / "j.sqlite", readonly=True), {SYMBOL: Decimal("50100")})
    for st in want:
        key = (("model", st.name), ("symbol", SYMBOL))
        assert got["nexus_model_equity_usdt"][key] == float(st.equity or 0)
        assert got["nexus_model_inventory"][key] == float(st.inventory)
        assert got["nexus_model_realized_pnl_usdt"][key] == float(st.realized)
        assert got["nexus_model_fees_usdt"][key] == float(st.fees)
        assert got["nexus_model_weight"][key] == 0.3
    state = got["nexus_model_state"]
    assert state[(("model", "ofi_momentum"), ("state", "dead"))] == 1.0
    assert state[(("model", "ofi_momentum"), ("state", "active"))] == 0.0
    assert state[(("model", "book_imbalance"), ("state", "active"))] == 1.0
    assert got["nexus_model_fills_total"][(("model", "book_imbalance"),)] == 2
    assert got["nexus_model_orders_total"][(("model", "flow_pressure"),)] == 1
    assert got["nexus_alerts"][(("level", "critical"),)] == 1
    assert got["nexus_reconciliation_status"][(("status", "unknown"),)] == 1
    assert got["nexus_kill_switch_tripped"][()] == 0
    assert set(got["nexus_model_equity_usdt"]) == {
        (("model", n), ("symbol", SYMBOL)) for n in MODELS.values()
    }


def test_venue_counters_latency_histograms_and_health(tmp_path: Path) -> None:
    session = new_session(tmp_path / "j.sqlite")
    base = JournalSource(tmp_path / "j.sqlite").snapshot()
    h = LatencyHistogram("tick_to_order")
    for us in (30, 80, 80, 400, 900, 5000):
        h.observe(us / 1e6)
    h.observe(100.0)  # beyond the last bound: counted in +Inf
    venue = VenueView("public", "ws://127.0.0.1:1/v5/public/linear", True, False, 1234, 50.5,
                      3, 2, 1, 4)  # fmt: skip
    snap = replace(
        base,
        venues=(venue,),
        latencies=(h.view(),),
        reconciliation=ReconciliationView("alert", "venue 1 != ledgers 0"),
        alerts=(AlertView(1, "warning", "gap"), AlertView(2, "critical", "recon")),
        kill_switch=KillSwitchView(True, "file"),
    )
    got = families(render(snap))
    stream = (("stream", "public"),)
    assert got["nexus_venue_messages_total"][stream] == 1234
    assert got["nexus_venue_gaps_total"][stream] == 3
    assert got["nexus_venue_reconnects_total"][stream] == 2
    assert got["nexus_venue_malformed_total"][stream] == 1
    assert got["nexus_venue_stale_total"][stream] == 4
    assert got["nexus_venue_connected"][stream] == 1
    assert got["nexus_venue_messages_per_second"][stream] == 50.5
    assert got["nexus_book_valid"][stream] == 0
    buckets = {
        dict(k)["le"]: v
        for k, v in got["nexus_latency_seconds_bucket"].items()
        if dict(k)["name"] == "tick_to_order"
    }
    assert buckets["5e-05"] == 1 and buckets["0.0001"] == 3 and buckets["0.001"] == 5
    assert buckets["+Inf"] == 7 == got["nexus_latency_seconds_count"][(("name", "tick_to_order"),)]
    values = [buckets[k] for k in sorted(buckets, key=lambda b: float(b))]
    assert values == sorted(values)  # cumulative
    assert abs(got["nexus_latency_seconds_sum"][(("name", "tick_to_order"),)] - 100.00649) < 1e-9
    assert got["nexus_reconciliation_status"][(("status", "alert"),)] == 1
    assert got["nexus_alerts"][(("level", "warning"),)] == 1
    assert got["nexus_kill_switch_tripped"][()] == 1
    session.journal.close()
