"""One snapshot per interval, shared by every client (page streams, `/api/state`, `/metrics`).

The engine's loop builds at most one snapshot per `max_age_s` however many browsers watch, and
each is encoded to JSON once.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from nexusforge.nexus.dashboard.snapshot import Snapshot
from nexusforge.nexus.dashboard.source import DashboardSource
from nexusforge.nexus.dashboard.state_json import encode


@dataclass(frozen=True, slots=True)
class Cached:
    """A snapshot, its JSON and a version number that grows when the JSON changes."""

    snapshot: Snapshot
    body: bytes
    version: int


class SnapshotCache:
    """Wraps a source; `current()` rebuilds when the cached snapshot is older than max_age_s."""

    def __init__(
        self,
        source: DashboardSource,
        *,
        actions: bool,
        max_age_s: float = 0.5,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.source = source
        self.actions = actions
        self.max_age_s = max_age_s
        self._clock = clock
        self._at = -float("inf")
        self._cached: Cached | None = None

    def current(self) -> Cached:
        """The latest snapshot (fresh when the cached one is too old)."""
        now = self._clock()
        if self._cached is None or now - self._at >= self.max_age_s:
            snap = self.source.snapshot()
            body = encode(snap, actions=self.actions)
            version = 0 if self._cached is None else self._cached.version
            if self._cached is None or self._cached.body != body:
                version += 1
            self._cached, self._at = Cached(snap, body, version), now
        return self._cached

    def invalidate(self) -> None:
        """Forces the next `current()` to rebuild (after an action changed the state)."""
        self._at = -float("inf")
