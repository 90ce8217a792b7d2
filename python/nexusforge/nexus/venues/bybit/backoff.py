"""Exponential backoff with jitter for reconnects: one helper, so there is no ad-hoc sleep loop."""

from __future__ import annotations

import random


class Backoff:
    """Delays that double from `min_s` up to `max_s`, each drawn in [d/2, d] (equal jitter)."""

    def __init__(self, min_s: float, max_s: float, rng: random.Random | None = None) -> None:
        if not 0 < min_s <= max_s:
            raise ValueError("need 0 < min_s <= max_s")
        self.min_s = min_s
        self.max_s = max_s
        self._rng = rng or random.Random()  # noqa: S311 - jitter, not cryptography
        self.attempt = 0

    def next(self) -> float:
        """The delay before the next attempt (and count the attempt)."""
        ceiling = min(self.max_s, self.min_s * 2.0 ** min(self.attempt, 32))
        self.attempt += 1
        return ceiling / 2 + self._rng.uniform(0, ceiling / 2)

    def reset(self) -> None:
        """Start again from `min_s` (after a connection proved healthy)."""
        self.attempt = 0
