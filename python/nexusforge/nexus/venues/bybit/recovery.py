"""Recovering fills missed while the private stream was down, exactly once (dedup by execId).

Bybit does not replay private messages after a reconnect (brief §7.7): every fill pushed while we
were away must be read back from GET /v5/execution/list, from the last execTime we know (the
venue allows windows of at most 7 days), and applied once. `ExecIdSet` is the memory of what was
already delivered, shared by the stream and the recovery so an overlap never doubles a fill.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from nexusforge.nexus.venues.bybit.models import BybitExecution
from nexusforge.nexus.venues.bybit.rest import BybitRestClient

WINDOW_MS = 7 * 24 * 3600 * 1000
# Fills can reach the REST index slightly out of execTime order; re-reading a minute before the
# last known fill costs a few duplicates, which the execId set drops.
OVERLAP_MS = 60_000


@dataclass(frozen=True, slots=True)
class ExecMark:
    """The newest fill we know of: its execTime (ms) and execId."""

    time_ms: int
    exec_id: str


class ExecIdSet:
    """The execIds already delivered, keeping the newest `capacity` of them in memory.

    `known` (e.g. `Journal.has_execution`) answers for the older ones, so a bounded memory still
    refuses a fill delivered hours ago; without it, an id older than `capacity` is forgotten.
    """

    def __init__(self, capacity: int = 500_000, known: Callable[[str], bool] | None = None) -> None:
        if capacity < 1:
            raise ValueError("capacity must be >= 1")
        self.capacity = capacity
        self._known = known
        self._ids: dict[str, None] = {}

    def add(self, exec_id: str) -> bool:
        """Remember `exec_id`; True when it is new."""
        if exec_id in self._ids:
            return False
        if self._known is not None and self._known(exec_id):
            return False
        self._ids[exec_id] = None
        if len(self._ids) > self.capacity:
            del self._ids[next(iter(self._ids))]
        return True

    def __contains__(self, exec_id: object) -> bool:
        if exec_id in self._ids:
            return True
        return isinstance(exec_id, str) and self._known is not None and self._known(exec_id)

    def __len__(self) -> int:
        return len(self._ids)


def newest(mark: ExecMark | None, executions: list[BybitExecution]) -> ExecMark | None:
    """The later of `mark` and the newest of `executions`."""
    for ex in executions:
        if mark is None or (ex.exec_time_ms, ex.execId) > (mark.time_ms, mark.exec_id):
            mark = ExecMark(ex.exec_time_ms, ex.execId)
    return mark


async def recover_executions(
    rest: BybitRestClient,
    since_ms: int,
    seen: ExecIdSet,
    *,
    symbol: str | None = None,
) -> list[BybitExecution]:
    """Fills with execTime >= `since_ms` - overlap that are not in `seen`, oldest first.

    Every row is returned, Funding and ADL rows included: `execType` says what each one is.
    """
    end = rest.time.now_ms() + 1000
    start = max(since_ms - OVERLAP_MS, 0)
    found: list[BybitExecution] = []
    while start <= end:
        stop = min(start + WINDOW_MS - 1, end)
        found.extend(await rest.executions(symbol=symbol, start_ms=start, end_ms=stop))
        start = stop + 1
    found.sort(key=lambda ex: (ex.exec_time_ms, ex.execId))
    return [ex for ex in found if seen.add(ex.execId)]
