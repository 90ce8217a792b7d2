"""Per-key token buckets by endpoint group, and the `X-Bapi-Limit-*` values Bybit reports.

A bucket holds `limit` tokens and refills at `limit` per second (a smooth rolling window). A
request takes one token; an empty bucket answers 10006 with the time the next token is due.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from nexusforge.nexus.venues.local.config import RateLimits
from nexusforge.nexus.venues.local.rejects import RATE_LIMIT, Reject

ORDER_WRITE = "order_write"
ORDER_READ = "order_read"
ACCOUNT_READ = "account_read"
GROUPS = (ORDER_WRITE, ORDER_READ, ACCOUNT_READ)


@dataclass(frozen=True, slots=True)
class LimitStatus:
    """What one request saw: the limit, tokens left after it, when the bucket is next usable."""

    limit: int
    remaining: int
    reset_ms: int

    def headers(self) -> dict[str, str]:
        return {
            "X-Bapi-Limit": str(self.limit),
            "X-Bapi-Limit-Status": str(self.remaining),
            "X-Bapi-Limit-Reset-Timestamp": str(self.reset_ms),
        }


@dataclass
class _Bucket:
    limit: int
    tokens: float
    at_ms: float


class RateLimiter:
    """Token buckets keyed by (api key, group)."""

    def __init__(self, limits: RateLimits) -> None:
        self._limits = limits
        self._buckets: dict[tuple[str, str], _Bucket] = {}

    def take(self, key: str, group: str, now_ms: int) -> LimitStatus:
        """Take one token, or raise `Reject(10006)`; the status goes into the reply headers."""
        bucket = self._bucket(key, group, now_ms)
        elapsed = max(0.0, now_ms - bucket.at_ms)
        bucket.tokens = min(float(bucket.limit), bucket.tokens + elapsed * bucket.limit / 1000)
        bucket.at_ms = now_ms
        if bucket.tokens < 1.0:
            wait_ms = math.ceil((1.0 - bucket.tokens) * 1000 / bucket.limit)
            status = LimitStatus(bucket.limit, 0, now_ms + wait_ms)
            raise RateLimited(status)
        bucket.tokens -= 1.0
        return LimitStatus(bucket.limit, int(bucket.tokens), now_ms)

    def _bucket(self, key: str, group: str, now_ms: int) -> _Bucket:
        found = self._buckets.get((key, group))
        if found is None:
            limit = int(getattr(self._limits, group))
            found = self._buckets[(key, group)] = _Bucket(limit, float(limit), now_ms)
        return found


class RateLimited(Reject):
    """10006 with the bucket status (pybit sleeps until `X-Bapi-Limit-Reset-Timestamp`)."""

    def __init__(self, status: LimitStatus) -> None:
        super().__init__(RATE_LIMIT, "Too many visits. Exceeded the API Rate Limit.")
        self.status = status
