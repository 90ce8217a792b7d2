"""The quiet end of a chaos run ends the faults: REST failures armed for more requests than the
engine made no longer answer the final checks (chaos seed 5001 ended inside such an outage)."""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path

from nexusforge.chaos.inject import Injector
from nexusforge.chaos.runner import KEY, ChaosConfig, exchange_config
from nexusforge.nexus.venues.bybit import BybitConfig, BybitRestClient, Credentials
from nexusforge.nexus.venues.bybit.errors import BybitError
from nexusforge.nexus.venues.local import LocalExchange


def test_settle_disarms_pending_rest_failures(shared_data: Path, tmp_path: Path) -> None:
    cfg = ChaosConfig(seed=0, duration_s=0, folder=tmp_path, shared_data=shared_data)

    async def server_time(port: int) -> int | str:
        config = dataclasses.replace(BybitConfig.custom(port=port), max_retries=0)
        async with BybitRestClient(config, Credentials(KEY, cfg.secret)) as rest:
            try:
                return await rest.sync_time()
            except BybitError as exc:
                return type(exc).__name__

    with LocalExchange(exchange_config(cfg)) as ex:
        injector = Injector(ex)
        ex.fail_next_requests(1000, 10016, "Bad Gateway", http_status=502)
        before = asyncio.run(server_time(ex.port))
        injector.settle()
        after = asyncio.run(server_time(ex.port))
    assert isinstance(before, str)  # the armed outage answers
    assert isinstance(after, int)  # disarmed: the venue answers again
