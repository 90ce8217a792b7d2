"""The dashboard's only view of the engine: a small read-only Protocol.

The web app, `/api/state` and `/metrics` call `snapshot()` (cheap, on the event loop; it must not
block on I/O for long) and, only after the operator's token and confirmation were checked,
`trigger_kill(reason)`. A source that cannot act (a journal being read) says so with `can_kill`;
the app then refuses the action whatever the token. Two sources exist: `LiveSource` (the engine's
objects, in its process) and `JournalSource` (a journal file, read-only).
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from nexusforge.nexus.dashboard.snapshot import Snapshot


@runtime_checkable
class DashboardSource(Protocol):
    """What the dashboard reads (and the one action it may ask for)."""

    @property
    def can_kill(self) -> bool:
        """Whether `trigger_kill` does anything here (False for read-only sources)."""
        ...

    def snapshot(self) -> Snapshot:
        """The state now, as an immutable snapshot."""
        ...

    def trigger_kill(self, reason: str) -> None:
        """Trips the global kill switch (flatten everything); only called when `can_kill`."""
        ...
