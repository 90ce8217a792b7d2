"""The latency window: the page's percentiles follow a shift in the distribution long after the
window filled, while the Prometheus buckets keep counting since start; and the engine source
takes only new samples from the router's bounded ring."""

from __future__ import annotations

import asyncio
import time
from collections import deque
from pathlib import Path

import pytest

from nexusforge.errors import ConfigError
from nexusforge.nexus import order_router
from nexusforge.nexus.dashboard.engine_source import observe_new
from nexusforge.nexus.dashboard.latency import LatencyHistogram
from nexusforge.nexus.intents import OrderIntent
from nexusforge.nexus.journal import Journal
from nexusforge.nexus.order_router import OrderRouter
from nexusforge.nexus.venues.bybit import BybitConfig, BybitRestClient, Credentials
from nexusforge.nexus.venues.local import ApiKey, ExchangeConfig, LocalExchange, Secret

KEY, SECRET = "latency-test-key", "latency-test-secret"
XRP = "bybit/market/bybit_XRPUSDT_ob500_2024-12-01_head50.data.zip"


def _bucket(h: LatencyHistogram, x: float) -> tuple[float, float]:
    bounds = (0.0, *h.bounds_s)
    i = next(k for k in range(1, len(bounds)) if x <= bounds[k])
    return bounds[i - 1], bounds[i]


def test_percentiles_follow_a_shift_after_more_than_window_samples() -> None:
    h = LatencyHistogram("tick_to_order", window=1000)
    for _ in range(5000):
        h.observe(80e-6)
    lo, hi = _bucket(h, 80e-6)
    assert lo <= h.view().percentile(0.99) <= hi
    for _ in range(999):
        h.observe(0.04)
    # one fast sample is still in the window: p50 has moved, the fastest percentile has not
    assert h.view().percentile(0.0001) <= hi
    h.observe(0.04)
    view = h.view()
    lo, hi = _bucket(h, 0.04)
    for q in (0.01, 0.5, 0.99):
        assert lo <= view.percentile(q) <= hi
    assert sum(view.recent) == 1000
    # Prometheus still sees every sample since start
    assert view.count == sum(view.counts) == 6000
    assert abs(view.sum_s - (5000 * 80e-6 + 1000 * 0.04)) < 1e-9


def test_a_short_history_uses_every_sample() -> None:
    h = LatencyHistogram("x", window=50)
    for x in (0.001, 0.002, 0.003):
        h.observe(x)
    view = h.view()
    assert view.recent == view.counts and sum(view.recent) == 3


def test_window_must_hold_a_sample() -> None:
    with pytest.raises(ConfigError, match="window"):
        LatencyHistogram("x", window=0)


def test_engine_source_takes_only_new_samples_from_the_router_ring() -> None:
    ring: deque[int] = deque(maxlen=100)
    h = LatencyHistogram("tick_to_order", window=10_000)
    total = 0
    for _ in range(250):  # more than the ring holds before the first look
        ring.append(1_000_000)  # 1 ms
        total += 1
    seen = observe_new(h, ring, total, 0)
    assert seen == 250 and h.view().count == 100  # the 150 the ring dropped are gone
    for _ in range(30):
        ring.append(50_000_000)  # 50 ms
        total += 1
    seen = observe_new(h, ring, total, seen)
    assert seen == 280 and h.view().count == 130
    assert h.view().counts[h.bounds_s.index(0.05)] == 30
    assert observe_new(h, ring, total, seen) == 280 and h.view().count == 130


def test_the_router_keeps_recording_past_its_ring(
    shared_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The freeze: the router stopped appending after MAX_LATENCY_SAMPLES, so the dashboard's
    # latencies stood still for the rest of a session. A real router against the local
    # exchange, its ring shrunk to 3: every order is still counted and the dashboard sees them.
    monkeypatch.setattr(order_router, "MAX_LATENCY_SAMPLES", 3)
    cfg = ExchangeConfig(
        keys=(ApiKey(KEY, Secret(SECRET)),), replay_files=(shared_data / XRP,), start_paused=True
    )

    async def scenario(port: int) -> OrderRouter:
        journal = Journal(tmp_path / "journal.sqlite")
        links = journal.allocator()
        async with BybitRestClient(BybitConfig.custom(port=port), Credentials(KEY, SECRET)) as rest:
            inst = (await rest.instruments("XRPUSDT"))["XRPUSDT"]
            router = OrderRouter(rest, journal, "XRPUSDT")
            for i in range(5):
                side = 1 if i % 2 == 0 else -1
                intent = OrderIntent(links.next(1), 1, "XRPUSDT", side, inst.min_qty, False)
                router.submit([intent], (time.perf_counter_ns(), time.thread_time_ns()))
                await router.drain()
        journal.close()
        return router

    with LocalExchange(cfg) as ex:
        ex.step_market(1)
        router = asyncio.run(scenario(ex.port))
    assert router.latency_count == 5 and len(router.latencies_ns) == 3
    h = LatencyHistogram("tick_to_order")
    assert observe_new(h, router.latencies_ns, router.latency_count, 0) == 5
    assert h.view().count == 3
    assert h.view().sum_s == pytest.approx(sum(router.latencies_ns) / 1e9, rel=1e-12)
