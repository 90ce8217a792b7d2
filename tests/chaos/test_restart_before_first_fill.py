"""Found by the chaos runs (seed 2001): kill -9 after an order filled at the venue but before
ANY venue fill was journaled. On restart the journal has no "last known execution", so the
engine looked up no venue history at all, adopted the fill's position as an orphan, flattened
it with a real trade, and traded again when the fill was recovered later (two needless trades,
fees, and an orphan ledger priced at the venue's average)."""

from __future__ import annotations

import asyncio
import time
from decimal import Decimal
from pathlib import Path

import pytest

from nexusforge.chaos.check import check, venue_view
from nexusforge.chaos.engine_proc import EngineProcess, write_engine_config
from nexusforge.chaos.runner import KEY, ChaosConfig, exchange_config
from nexusforge.nexus.intents import OrderIntent
from nexusforge.nexus.journal import Journal
from nexusforge.nexus.venues.bybit import BybitConfig, BybitRestClient, Credentials
from nexusforge.nexus.venues.bybit.orders import OrderRequest
from nexusforge.nexus.venues.local import LocalExchange

QTY = Decimal("2.5")


async def send(port: int, creds: Credentials, intent: OrderIntent) -> None:
    request = OrderRequest(symbol=intent.symbol, side="Buy", order_type="Market", qty=intent.qty,
                           order_link_id=intent.order_link_id)  # fmt: skip
    async with BybitRestClient(BybitConfig.custom(port=port), creds) as rest:
        await rest.create_order(request)


def engine_for(cfg: Path, folder: Path, secret: str, seconds: float) -> None:
    engine = EngineProcess(cfg, folder / "engine.log", KEY, secret)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and engine.alive():
        time.sleep(0.1)
    assert engine.stop() == 0, (folder / "engine.log").read_text()[-3000:]


@pytest.mark.slow
def test_a_fill_before_the_first_journaled_one_is_recovered_not_adopted(
    shared_data: Path, tmp_path: Path
) -> None:
    cfg = ChaosConfig(seed=0, duration_s=0, folder=tmp_path, shared_data=shared_data)
    creds = Credentials(KEY, cfg.secret)
    with LocalExchange(exchange_config(cfg)) as ex:
        ex.pause_market()
        ex.step_market(200)  # a book to fill against; nothing moves after this
        engine_cfg = write_engine_config(tmp_path, ex.port, cfg.symbol, "0")
        engine_for(engine_cfg, tmp_path, cfg.secret, 6)  # registers its models, cannot trade
        journal = tmp_path / "journal.sqlite"
        with Journal(journal) as j:  # what the engine does before a send, then kill -9
            assert j.models() and j.last_exec_time_ms(cfg.symbol) is None  # no venue fill yet
            link = j.allocator().next(0)
            intent = OrderIntent(link, 0, cfg.symbol, 1, QTY, False)
            j.record_intent(intent)
        asyncio.run(send(ex.port, creds, intent))
        engine_for(engine_cfg, tmp_path, cfg.secret, 6)
        venue = asyncio.run(venue_view(BybitConfig.custom(port=ex.port), creds, cfg.symbol))
    with Journal(journal, readonly=True) as j:
        kinds = [e.exec_type for e in j.executions()]
        book = j.rebuild()[cfg.symbol]
    assert "Adopted" not in kinds  # the fill was found, not invented as an orphan
    assert book.ledgers["imb_fast"].state.inventory == QTY
    assert venue.position == QTY
    assert check(journal, venue, cfg.symbol).problems == ()
