"""Found by chaos seeds 5059 and 5083: at a stop, orders waiting behind a venue back-off were
sent after the engine's final venue check and filled where no ledger saw them. `close()` stops
the router: nothing new is planned or sent, and what is still waiting is cancelled unsent."""

from __future__ import annotations

import asyncio
from pathlib import Path

from nexusforge.nexus.intents import OrderIntent
from nexusforge.nexus.journal import Journal
from nexusforge.nexus.order_router import OrderRouter
from nexusforge.nexus.venues.bybit import BybitConfig, BybitRestClient, Credentials
from nexusforge.nexus.venues.local import ApiKey, ExchangeConfig, LocalExchange, Secret

KEY, SECRET = "close-test-key", "close-test-secret"
XRP = "bybit/market/bybit_XRPUSDT_ob500_2024-12-01_head50.data.zip"


def test_close_cancels_requests_waiting_on_a_back_off(shared_data: Path, tmp_path: Path) -> None:
    cfg = ExchangeConfig(
        keys=(ApiKey(KEY, Secret(SECRET)),), replay_files=(shared_data / XRP,), start_paused=True
    )

    async def scenario(port: int) -> tuple[int, int, int]:
        journal = Journal(tmp_path / "journal.sqlite")
        links = journal.allocator()
        async with BybitRestClient(BybitConfig.custom(port=port), Credentials(KEY, SECRET)) as rest:
            inst = (await rest.instruments("XRPUSDT"))["XRPUSDT"]
            router = OrderRouter(rest, journal, "XRPUSDT")
            sent = OrderIntent(links.next(1), 1, "XRPUSDT", 1, inst.min_qty * 10, False)
            router.submit([sent])
            await router.drain()  # one order goes out normally
            rest.limiter.on_server_error()  # a venue outage: every request waits ~1 s
            rest.limiter.on_server_error()
            rest.limiter.on_server_error()  # ... 4 s
            held = OrderIntent(links.next(2), 2, "XRPUSDT", 1, inst.min_qty * 10, False)
            router.submit([held])
            await asyncio.sleep(0.05)  # the send task is now waiting on the limiter
            await router.close(timeout_s=0.2)
            router.submit([OrderIntent(links.next(3), 3, "XRPUSDT", 1, inst.min_qty * 10, False)])
            await asyncio.sleep(4.5)  # past the back-off: a surviving request would go now
            first = await rest.find_order("XRPUSDT", sent.order_link_id)
            never = await rest.find_order("XRPUSDT", held.order_link_id)
            journal.close()
            return int(first is not None), int(never is None), router.stats.sent

    with LocalExchange(cfg) as ex:
        ex.step_market(1)
        first_known, held_unknown, sent_count = asyncio.run(scenario(ex.port))
    assert first_known == 1  # the order sent before the outage reached the venue
    assert held_unknown == 1  # the venue never saw the held order
    assert sent_count == 2  # the held one was journaled and counted, then cancelled unsent
