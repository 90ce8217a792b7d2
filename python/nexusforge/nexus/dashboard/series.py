"""A bounded time series for charts: whole-session coverage in at most `max_points` points.

Points closer than the current step replace the last one (the latest value always shows); when
the series is full, every other point is dropped and the step doubles, so a long session keeps
its whole shape at a coarser resolution and memory stays bounded.
"""

from __future__ import annotations

from decimal import Decimal

from nexusforge.errors import ConfigError


class SeriesRecorder:
    """(ts_ms, value) points, thinned as they accumulate."""

    def __init__(self, max_points: int = 1200, min_step_ms: int = 1000) -> None:
        if max_points < 4 or min_step_ms < 0:
            raise ConfigError("series: max_points >= 4 and min_step_ms >= 0 required")
        self.max_points = max_points
        self.step_ms = min_step_ms
        self._points: list[tuple[int, Decimal]] = []

    def add(self, ts_ms: int, value: Decimal) -> None:
        """Appends a point (or replaces the last one when it is closer than the step)."""
        pts = self._points
        if pts and ts_ms < pts[-1][0]:
            return  # never draw backwards in time
        if len(pts) >= 2 and ts_ms - pts[-2][0] < self.step_ms:
            pts[-1] = (ts_ms, value)
            return
        pts.append((ts_ms, value))
        if len(pts) > self.max_points:
            # keep the first and the newest point so the curve's ends never move
            self._points = [*pts[:-1:2], pts[-1]]
            self.step_ms = max(1, self.step_ms) * 2

    @property
    def points(self) -> tuple[tuple[int, Decimal], ...]:
        """The points, oldest first."""
        return tuple(self._points)

    @property
    def last(self) -> Decimal | None:
        """The newest value, if any."""
        return self._points[-1][1] if self._points else None
