"""Client-side rate limits: a token bucket per endpoint class, steered by the venue's headers.

Rules (brief §3.3): order create/amend/cancel 10/s, cancel-all 10/s, order and execution reads
50/s, per UID; public market data counts against the IP limit (600 per 5 s). The venue's
`X-Bapi-Limit-Status` (remaining) and `X-Bapi-Limit-Reset-Timestamp` headers override our own
count. On 10006 we wait until the reset time; on 10016 or HTTP 403 every class backs off hard.
Waits have a floor that grows with consecutive refusals, so nothing ever retries in a tight loop.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum

from nexusforge.nexus.venues.bybit.clock import Clock

log = logging.getLogger(__name__)


class EndpointClass(Enum):
    """Groups of endpoints that share one venue limit."""

    PUBLIC = "public"
    ORDER_WRITE = "order_write"
    CANCEL_ALL = "cancel_all"
    ORDER_READ = "order_read"
    ACCOUNT = "account"


DEFAULT_RATES: dict[EndpointClass, float] = {
    EndpointClass.PUBLIC: 100.0,  # under the IP limit of 600 per 5 s
    EndpointClass.ORDER_WRITE: 10.0,
    EndpointClass.CANCEL_ALL: 10.0,
    EndpointClass.ORDER_READ: 50.0,
    EndpointClass.ACCOUNT: 50.0,
}


class TokenBucket:
    """`rate` tokens per second up to `capacity`; `delay()` says how long until one is free."""

    def __init__(self, rate: float, capacity: float, now: float) -> None:
        if rate <= 0 or capacity < 1:
            raise ValueError("a token bucket needs rate > 0 and capacity >= 1")
        self.rate = rate
        self.capacity = capacity
        self._tokens = capacity
        self._stamp = now

    def _refill(self, now: float) -> None:
        self._tokens = min(self.capacity, self._tokens + (now - self._stamp) * self.rate)
        self._stamp = now

    def delay(self, now: float) -> float:
        """Seconds until a token is available (0 when one is)."""
        self._refill(now)
        # The tolerance absorbs float rounding: a sleep of exactly the computed delay must
        # yield a token, or waits of ever smaller size would follow one another.
        return 0.0 if self._tokens >= 1 - 1e-9 else (1 - self._tokens) / self.rate

    def take(self, now: float) -> None:
        """Consume one token (call after `delay` returned 0)."""
        self._refill(now)
        self._tokens -= 1

    def drain(self, now: float) -> None:
        """Empty the bucket (the venue says nothing is left)."""
        self._refill(now)
        self._tokens = min(self._tokens, 0.0)


@dataclass(frozen=True, slots=True)
class LimitPolicy:
    """How hard to back off when the venue refuses us."""

    min_wait_s: float = 0.2
    max_wait_s: float = 60.0
    default_reset_s: float = 2.0
    server_error_base_s: float = 1.0
    ban_s: float = 600.0


class RateLimiter:
    """Token buckets per endpoint class plus venue-imposed blocks (per class and global)."""

    def __init__(
        self,
        clock: Clock,
        rates: Mapping[EndpointClass, float] | None = None,
        policy: LimitPolicy | None = None,
    ) -> None:
        self._clock = clock
        self.policy = policy or LimitPolicy()
        now = clock.monotonic()
        self._buckets = {
            cls: TokenBucket(rate, max(1.0, rate), now)
            for cls, rate in {**DEFAULT_RATES, **(rates or {})}.items()
        }
        self._blocked_until = dict.fromkeys(EndpointClass, 0.0)
        self._global_until = 0.0
        self._strikes = dict.fromkeys(EndpointClass, 0)
        self._server_strikes = 0
        self._last_server_strike = -math.inf
        self.waits = 0
        self.waited_s = 0.0

    def wait_time(self, cls: EndpointClass) -> float:
        """Seconds until a request of class `cls` may be sent."""
        now = self._clock.monotonic()
        blocked = max(self._global_until, self._blocked_until[cls]) - now
        return max(blocked, self._buckets[cls].delay(now), 0.0)

    async def acquire(self, cls: EndpointClass) -> None:
        """Wait until a request of class `cls` may be sent, then count it."""
        while (delay := self.wait_time(cls)) > 0:
            self.waits += 1
            self.waited_s += delay
            await self._clock.sleep(delay)
        self._buckets[cls].take(self._clock.monotonic())

    def observe(self, cls: EndpointClass, headers: Mapping[str, str], server_now_ms: int) -> None:
        """Adopt the venue's view from the X-Bapi-Limit* headers of a response."""
        limit = _int_header(headers, "x-bapi-limit")
        remaining = _int_header(headers, "x-bapi-limit-status")
        reset_ms = _int_header(headers, "x-bapi-limit-reset-timestamp")
        bucket = self._buckets[cls]
        if limit is not None and limit > 0 and limit != bucket.rate:
            log.info("bybit rate limit for %s is %d/s (was %.0f/s)", cls.value, limit, bucket.rate)
            bucket.rate, bucket.capacity = float(limit), float(limit)
        if remaining is not None and remaining <= 0:
            bucket.drain(self._clock.monotonic())
            if reset_ms is not None:
                self._block(cls, self._until_reset(reset_ms, server_now_ms, floor=0.0))

    def on_success(self, cls: EndpointClass) -> None:
        """A request went through: forget earlier strikes."""
        self._strikes[cls] = 0
        self._server_strikes = 0

    def on_rate_limited(
        self, cls: EndpointClass, reset_ms: int | None, server_now_ms: int
    ) -> float:
        """10006: block `cls` until the venue's reset time (growing floor); returns the wait."""
        self._strikes[cls] += 1
        growth = 2.0 ** (self._strikes[cls] - 1)
        floor = min(self.policy.min_wait_s * growth, self.policy.max_wait_s)
        if reset_ms is None:
            wait = max(self.policy.default_reset_s, floor)
        else:
            wait = self._until_reset(reset_ms, server_now_ms, floor=floor)
        self._buckets[cls].drain(self._clock.monotonic())
        self._block(cls, wait)
        log.warning(
            "bybit rate limit hit on %s (strike %d): waiting %.3f s",
            cls.value,
            self._strikes[cls],
            wait,
        )
        return wait

    def on_server_error(self, sent_at: float | None = None) -> float:
        """10016 / HTTP 5xx: every class waits, doubling with each consecutive error.

        A request sent (`sent_at`, this clock) before the last strike failed in the same outage:
        it waits out the current block without doubling it, so requests in flight together count
        once and a burst of them cannot push the wait to the maximum at once."""
        now = self._clock.monotonic()
        if sent_at is not None and sent_at < self._last_server_strike:
            return max(self._global_until - now, 0.0)
        self._server_strikes += 1
        self._last_server_strike = now
        base = self.policy.server_error_base_s
        wait = min(base * 2.0 ** (self._server_strikes - 1), self.policy.max_wait_s)
        self._global_block(wait)
        log.warning(
            "bybit server error (strike %d): all requests wait %.1f s", self._server_strikes, wait
        )
        return wait

    def on_banned(self) -> float:
        """HTTP 403: the IP is limited (Bybit bans for 10 min); every class waits `ban_s`."""
        self._global_block(self.policy.ban_s)
        log.error(
            "bybit answered HTTP 403 (IP limited): all requests wait %.0f s", self.policy.ban_s
        )
        return self.policy.ban_s

    def _until_reset(self, reset_ms: int, server_now_ms: int, floor: float) -> float:
        wait = (reset_ms - server_now_ms) / 1000
        return min(max(wait, floor), self.policy.max_wait_s)

    def _block(self, cls: EndpointClass, seconds: float) -> None:
        until = self._clock.monotonic() + seconds
        self._blocked_until[cls] = max(self._blocked_until[cls], until)

    def _global_block(self, seconds: float) -> None:
        self._global_until = max(self._global_until, self._clock.monotonic() + seconds)


def _int_header(headers: Mapping[str, str], name: str) -> int | None:
    raw = headers.get(name)
    if raw is None:
        return None
    try:
        return int(raw.strip())
    except ValueError:
        log.warning("bybit header %s=%r is not an integer; ignored", name, raw)
        return None
