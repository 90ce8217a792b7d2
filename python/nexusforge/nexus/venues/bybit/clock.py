"""Time sources the venue client reads, injectable so tests can run on a fake clock.

`wall_ms` is local UTC in ms (what request timestamps start from); `monotonic` measures waits.
"""

from __future__ import annotations

import asyncio
import time
from typing import Protocol


class Clock(Protocol):
    """What the client needs from time: wall ms, a monotonic reading and an async sleep."""

    def wall_ms(self) -> int:
        """Local UTC time in ms since the epoch."""
        ...

    def monotonic(self) -> float:
        """Seconds on a clock that never goes back."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Wait `seconds` (cancellable)."""
        ...


class SystemClock:
    """The machine's clocks and asyncio's sleep."""

    def wall_ms(self) -> int:
        return time.time_ns() // 1_000_000

    def monotonic(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(seconds, 0.0))
