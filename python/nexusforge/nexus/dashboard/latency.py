"""A latency histogram the engine records into and the dashboard reads (p50/p99, Prometheus).

Fixed bucket bounds, so recording is one bisect and an increment (cheap on the hot path), and
the buckets map one to one onto a Prometheus histogram (cumulative since start, as Prometheus
wants). The page's percentiles come from the same buckets over the last `window` samples only (a
ring of bucket indexes), so they follow a change in the distribution however long the engine runs.
"""

from __future__ import annotations

import bisect
from collections import deque
from collections.abc import Sequence

from nexusforge.errors import ConfigError
from nexusforge.nexus.dashboard.snapshot import LatencyView

# 25 µs … 2.5 s: tick-to-order sits at the low end, REST round trips at the high end.
DEFAULT_BOUNDS_S: tuple[float, ...] = (
    0.000025,
    0.00005,
    0.0001,
    0.00025,
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
)
DEFAULT_WINDOW = 10_000  # samples behind the page's percentiles


class LatencyHistogram:
    """Counts of observed latencies per bucket, their sum and count; and the per-bucket counts
    of the last `window` samples."""

    def __init__(
        self, name: str, bounds_s: Sequence[float] = DEFAULT_BOUNDS_S, window: int = DEFAULT_WINDOW
    ) -> None:
        bounds = tuple(float(b) for b in bounds_s)
        if not bounds or any(b <= 0 for b in bounds) or list(bounds) != sorted(set(bounds)):
            raise ConfigError(f"latency {name}: bounds must be positive and increasing")
        if window < 1:
            raise ConfigError(f"latency {name}: window must be at least 1 sample")
        self.name = name
        self.bounds_s = bounds
        self._counts = [0] * (len(bounds) + 1)
        self._sum = 0.0
        self._count = 0
        self._ring: deque[int] = deque(maxlen=window)  # bucket index of each recent sample
        self._recent = [0] * (len(bounds) + 1)

    def observe(self, seconds: float) -> None:
        """Records one latency (negative values, from clock steps, count as 0)."""
        s = max(seconds, 0.0)
        i = bisect.bisect_left(self.bounds_s, s)
        self._counts[i] += 1
        self._sum += s
        self._count += 1
        ring = self._ring
        if len(ring) == ring.maxlen:
            self._recent[ring[0]] -= 1  # the oldest sample leaves the window
        ring.append(i)
        self._recent[i] += 1

    def view(self) -> LatencyView:
        """An immutable copy for a snapshot."""
        return LatencyView(
            self.name,
            self.bounds_s,
            tuple(self._counts),
            self._sum,
            self._count,
            recent=tuple(self._recent),
        )
