"""Rate limiting on a fake clock: buckets, venue headers, 10006 resets, hard back-off."""

from __future__ import annotations

import asyncio
import logging

import pytest

from nexusforge.nexus.venues.bybit.ratelimit import (
    EndpointClass,
    LimitPolicy,
    RateLimiter,
    TokenBucket,
)


class FakeClock:
    """Time moves only when someone sleeps."""

    def __init__(self) -> None:
        self.t = 1000.0
        self.sleeps: list[float] = []

    def wall_ms(self) -> int:
        return int(self.t * 1000)

    def monotonic(self) -> float:
        return self.t

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.t += seconds


def acquire_n(limiter: RateLimiter, cls: EndpointClass, n: int) -> None:
    async def go() -> None:
        for _ in range(n):
            await limiter.acquire(cls)

    asyncio.run(go())


def test_bucket_paces_order_writes_at_ten_per_second() -> None:
    clock = FakeClock()
    limiter = RateLimiter(clock)
    acquire_n(limiter, EndpointClass.ORDER_WRITE, 25)
    assert clock.t - 1000 == pytest.approx(1.5, abs=1e-6)  # 10 from the burst, 15 at 10/s
    assert limiter.waits == 15 and all(s <= 0.1 + 1e-9 for s in clock.sleeps)


def test_classes_are_independent() -> None:
    clock = FakeClock()
    limiter = RateLimiter(clock)
    acquire_n(limiter, EndpointClass.ORDER_WRITE, 10)
    acquire_n(limiter, EndpointClass.ORDER_READ, 50)
    assert clock.sleeps == []


def test_headers_remaining_zero_blocks_until_reset_and_limit_adapts() -> None:
    clock = FakeClock()
    limiter = RateLimiter(clock)
    server_now = 5_000_000
    limiter.observe(
        EndpointClass.ORDER_READ,
        {
            "x-bapi-limit": "20",
            "x-bapi-limit-status": "0",
            "x-bapi-limit-reset-timestamp": str(server_now + 700),
        },
        server_now,
    )
    assert limiter.wait_time(EndpointClass.ORDER_READ) == pytest.approx(0.7)
    acquire_n(limiter, EndpointClass.ORDER_READ, 1)
    assert clock.t - 1000 == pytest.approx(0.7)
    # The bucket (now 20/s, as the venue said) refilled 14 tokens during the 0.7 s block:
    # one was used above, 13 more go at once, the other 7 at 20/s.
    acquire_n(limiter, EndpointClass.ORDER_READ, 20)
    assert clock.t - 1000 == pytest.approx(0.7 + 7 / 20, abs=1e-6)


def test_garbage_headers_are_ignored(caplog: pytest.LogCaptureFixture) -> None:
    limiter = RateLimiter(FakeClock())
    limiter.observe(EndpointClass.ORDER_READ, {"x-bapi-limit-status": "lots"}, 0)
    assert limiter.wait_time(EndpointClass.ORDER_READ) == 0
    assert "not an integer" in caplog.text


def test_10006_waits_for_reset_with_a_growing_floor() -> None:
    clock = FakeClock()
    policy = LimitPolicy(min_wait_s=0.2, max_wait_s=5.0, default_reset_s=2.0)
    limiter = RateLimiter(clock, policy=policy)
    cls = EndpointClass.ORDER_WRITE
    assert limiter.on_rate_limited(cls, reset_ms=10_500, server_now_ms=10_000) == 0.5
    # A reset already past (or a lying header) never allows a tight loop: the floor grows.
    waits = [limiter.on_rate_limited(cls, reset_ms=0, server_now_ms=10_000) for _ in range(6)]
    assert waits == [0.4, 0.8, 1.6, 3.2, 5.0, 5.0]
    assert limiter.on_rate_limited(cls, None, 10_000) == 5.0
    limiter.on_success(cls)
    assert limiter.on_rate_limited(cls, None, 10_000) == 2.0
    assert limiter.wait_time(EndpointClass.ORDER_READ) == 0  # other classes unaffected


def test_server_errors_and_bans_block_every_class(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    clock = FakeClock()
    limiter = RateLimiter(clock, policy=LimitPolicy(server_error_base_s=1.0, max_wait_s=6.0))
    assert [limiter.on_server_error() for _ in range(4)] == [1.0, 2.0, 4.0, 6.0]
    assert all(limiter.wait_time(c) == pytest.approx(6.0) for c in EndpointClass)
    limiter.on_banned()
    assert limiter.wait_time(EndpointClass.PUBLIC) == pytest.approx(600.0)
    assert "403" in caplog.text


def test_requests_in_flight_together_count_as_one_server_error() -> None:
    """Five requests sent at once all fail in one outage: one strike, not a 16 s wait."""
    clock = FakeClock()
    limiter = RateLimiter(clock, policy=LimitPolicy(server_error_base_s=1.0, max_wait_s=60.0))
    sent = clock.monotonic()
    clock.t += 0.1
    waits = [limiter.on_server_error(sent) for _ in range(5)]
    assert waits == [1.0, 1.0, 1.0, 1.0, 1.0]
    clock.t += 1.0  # the retry goes out after the block and fails again: now it doubles
    retry_sent = clock.monotonic()
    clock.t += 0.1
    assert limiter.on_server_error(retry_sent) == 2.0
    assert limiter.on_server_error(sent) == pytest.approx(2.0)  # a straggler of the first burst


def test_bucket_rejects_nonsense() -> None:
    with pytest.raises(ValueError):
        TokenBucket(0, 1, 0.0)
    with pytest.raises(ValueError):
        TokenBucket(1, 0.5, 0.0)
