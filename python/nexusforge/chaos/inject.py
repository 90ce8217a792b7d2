"""One scheduled fault applied to a running `LocalExchange` through its in-process fault API."""

from __future__ import annotations

import threading

from nexusforge.chaos.schedule import Fault
from nexusforge.nexus.venues.local import LocalExchange

# Bybit's own codes and messages for the REST faults, and the requests each can hit (a
# timestamp error needs a signed request; an order reject needs an order).
REST_FAULTS: dict[str, tuple[int, str, int, str]] = {
    "rest_10002": (10002, "invalid request, please check your server timestamp", 200, "private"),
    "rest_10006": (10006, "Too many visits!", 200, "any"),
    "rest_10016": (10016, "Server error", 200, "any"),
    "rest_5xx": (10016, "Bad Gateway", 502, "any"),
    "reject_orders": (110007, "ab not enough for new order", 200, "order"),
}


class Injector:
    """Applies faults; keeps the venue clock's total skew (it only moves forward)."""

    def __init__(self, ex: LocalExchange) -> None:
        self.ex = ex
        self.skew_ms = 0
        self.resumes: list[threading.Timer] = []

    def apply(self, fault: Fault) -> None:
        ex, kind, n = self.ex, fault.kind, fault.count
        if kind in REST_FAULTS:
            code, message, status, scope = REST_FAULTS[kind]
            ex.fail_next_requests(n, code, message, http_status=status, scope=scope)
        elif kind == "drop_private":
            ex.drop_private_connections()
        elif kind == "drop_public":
            ex.drop_public_connections()
        elif kind == "duplicate_executions":
            ex.duplicate_next_executions(n)
        elif kind == "delay_executions":
            ex.delay_next_executions(n, fault.arg)
        elif kind == "lose_book":
            ex.lose_next_book_messages(n)
        elif kind == "rest_timeout":
            ex.delay_next_requests(1, fault.arg)
        elif kind == "clock_skew":
            self.skew_ms += int(fault.arg)
            ex.skew_clock(self.skew_ms)
        elif kind == "stale_market":
            self._stall(fault.arg)
        else:
            raise ValueError(f"unknown fault kind {kind!r}")

    def _stall(self, seconds: float) -> None:
        self.ex.pause_market()
        timer = threading.Timer(seconds, self.ex.resume_market)
        timer.daemon = True
        timer.start()
        self.resumes.append(timer)

    def settle(self) -> None:
        """Ends the faults before the final checks: pending market stalls run out, and REST
        failures or delays armed for more requests than the engine made are disarmed."""
        for timer in self.resumes:
            timer.join()
        self.ex.fail_next_requests(0)
        self.ex.delay_next_requests(0, 0.0)
