"""The Pit Crew and CWO inside a running engine, against the local exchange over loopback: a
challenger dropped into the folder is admitted and shadow-traded and shows on the dashboard
source; a bad file is rejected while trading goes on; weights are re-allocated and journaled;
a hot swap in the middle of live trading (orders in flight) loses no fill: afterwards every
ledger equals the venue's own executions and Σ ledgers == the venue position."""

from __future__ import annotations

import asyncio
import sqlite3
import sys
from decimal import Decimal
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parents[1] / "engine"))

from enginex import (
    KEY,
    SECRET,
    drive,
    exchange_config,
    expected_states,
    fetch_venue,
    journal_states,
    write_config,
)
from pitcrew_fixtures import challenger_text, expr_of

from nexusforge.nexus.config import load_config
from nexusforge.nexus.dashboard.engine_source import EngineSource
from nexusforge.nexus.engine import Engine
from nexusforge.nexus.model import ModelState
from nexusforge.nexus.pit_crew import Verdict, hot_swap, promoted_strategies
from nexusforge.nexus.run import venue_config
from nexusforge.nexus.venues.bybit import Credentials
from nexusforge.nexus.venues.local import LocalExchange

EDGE_FAST = {"op": "clip", "args": [{"op": "ema", "args": [{"col": "imb_1"}], "k": 3}],
             "params": [-1.0, 1.0]}  # fmt: skip


async def wait_for(cond: object, timeout_s: float = 20.0, what: object = "") -> None:
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout_s
    while not cond():  # type: ignore[operator]
        assert loop.time() < end, f"condition not reached in time: {what}"
        await asyncio.sleep(0.05)


@pytest.mark.slow
def test_shadow_cwo_and_live_hot_swap(shared_data: Path, tmp_path: Path) -> None:
    folder = tmp_path / "challengers"
    folder.mkdir()
    (folder / "good.json").write_text(challenger_text(EDGE_FAST))
    swapped: dict[str, object] = {}

    async def script(engine: Engine) -> None:
        crew = engine.pit_crew
        assert crew is not None
        crew.config = type(crew.config)(folder, poll_s=0.2, sample_s=0.2)
        await wait_for(lambda: len(crew.shadows) == 1, what="admission")
        (shadow,) = crew.shadows.values()
        await wait_for(lambda: shadow.stats.fills >= 3, what=shadow.stats)
        (folder / "bad.json").write_text('{"kind": "nexusforge.challenger", "sch')
        await wait_for(lambda: (folder / "rejected" / "bad.json.reason.json").exists())
        source = EngineSource(engine)
        try:
            (view,) = source.snapshot().challengers
            assert view.name == shadow.key and len(view.equity_series) > 0
        finally:
            source.close()
        await wait_for(lambda: len(engine.cwo.history) >= 2, what="two reallocations")
        await wait_for(lambda: bool(engine.router.inflight) or engine.state.fills > 40)
        # the swap, as the crew makes it, while orders may be in flight
        victim = engine.models[0]
        verdict = Verdict(victim.name, victim.slot, 10, 1.0, 0.1, 5.0, 1e-6, 9.0, True, "test")
        mid = engine.state.mid
        assert mid is not None
        swap = hot_swap(engine.models, shadow, verdict, mid, engine.journal, crew.decisions)
        del crew.shadows[shadow.key]
        swapped["fills_before"] = len(victim.ledger.fills)
        n = engine.state.fills
        await wait_for(lambda: engine.state.fills >= n + 20, what="trading goes on after the swap")
        swapped["swap"] = swap
        swapped["fills_after"] = len(engine.models[0].ledger.fills)

    async def main() -> None:
        cfg = load_config(cfg_path)
        engine = Engine(cfg, venue_config(cfg), Credentials(KEY, SECRET))

        async def started_then_script() -> None:
            await wait_for(lambda: engine.pit_crew is not None, what="engine start")
            await script(engine)

        await drive(engine, started_then_script, 60)

    with LocalExchange(exchange_config(shared_data)) as ex:
        cfg_path = write_config(tmp_path, ex.port, challenger_dir="challengers", cwo_interval_s=1.0)
        asyncio.run(main())
        venue, position = fetch_venue(ex.port)
    journal = tmp_path / "journal.sqlite"
    want, want_orphan = expected_states(journal, venue)
    got, got_orphan = journal_states(journal)
    assert got == want and got_orphan.state == want_orphan.state  # nothing lost, nothing twice
    total = sum((s.inventory for s in got.values()), Decimal(0)) + got_orphan.inventory
    assert total == position
    swap = swapped["swap"]
    assert swap.challenger.state is ModelState.ACTIVE  # type: ignore[attr-defined]
    assert swapped["fills_after"] > swapped["fills_before"]  # type: ignore[operator]
    assert promoted_strategies(journal) == {0: expr_of(EDGE_FAST)}
    with sqlite3.connect(journal) as db:
        stamps = {t for (t,) in db.execute("SELECT ts_ms FROM weights")}
        weights = db.execute("SELECT slot, weight FROM weights ORDER BY id DESC LIMIT 6").fetchall()
        kinds = [k for (k,) in db.execute("SELECT kind FROM pit_crew_decisions ORDER BY id")]
    assert len(stamps) >= 3  # the start's equal weights, then at least two reallocations
    assert sum(Decimal(w) for _, w in weights) == 1
    assert kinds[:2] == ["admitted", "shadow_started"] and "rejected" in kinds
    assert "promoted" in kinds
