"""The seeded fault schedule: which fault, when, how many messages; and when to `kill -9`.

The same seed gives the same schedule (times relative to the run's start), so a failing run can
be replayed by its seed. Faults follow a Poisson process; restarts are spread over the run.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

# Every fault the local exchange can inject (see inject.py for what each does), with weights.
FAULT_WEIGHTS: dict[str, float] = {
    "drop_private": 1.0,  # private WS closed mid-stream (fills missed until REST recovery)
    "drop_public": 1.0,  # public WS closed mid-stream (book resubscribed from a snapshot)
    "duplicate_executions": 1.0,  # execution messages sent twice (same execId)
    "delay_executions": 1.0,  # execution messages held back: later ones overtake (reorder)
    "lose_book": 1.0,  # book deltas lost on the way (a gap in `u`)
    "rest_10002": 0.5,  # timestamp outside recv_window
    "rest_10006": 0.5,  # rate limited
    "rest_10016": 0.5,  # venue server error
    "rest_5xx": 0.5,  # HTTP 502 from a proxy
    "rest_timeout": 0.1,  # a reply held past the client's timeout (an ambiguous order)
    "reject_orders": 0.5,  # business rejects (insufficient balance)
    "clock_skew": 0.3,  # the venue's clock jumps ahead of the engine's
    "stale_market": 0.3,  # data stops while pongs still arrive, then resumes
}
FAULT_KINDS = tuple(FAULT_WEIGHTS)


@dataclass(frozen=True, slots=True)
class Fault:
    """One injection `at_s` seconds into the run; `count` messages/requests, `arg` a size."""

    at_s: float
    kind: str
    count: int
    arg: float


@dataclass(frozen=True, slots=True)
class Schedule:
    """Faults and engine kills of one run, in time order."""

    seed: int
    duration_s: float
    faults: tuple[Fault, ...]
    kills_s: tuple[float, ...]


def build_schedule(
    seed: int, duration_s: float, faults_per_s: float = 2.0, restarts: int = 2
) -> Schedule:
    """The schedule of `seed`: faults over the run's first 85 % (a quiet tail lets it settle)."""
    rng = random.Random(seed)  # noqa: S311 (a reproducible schedule, not a secret)
    active_s = duration_s * 0.85
    faults = []
    t = rng.expovariate(faults_per_s)
    kinds, weights = list(FAULT_WEIGHTS), list(FAULT_WEIGHTS.values())
    while t < active_s:
        kind = rng.choices(kinds, weights)[0]
        count = 1 if kind == "rest_10002" else rng.randint(1, 4)  # a re-sync then succeeds
        faults.append(Fault(round(t, 3), kind, count, _arg(kind, rng)))
        t += rng.expovariate(faults_per_s)
    slots = [active_s * (i + rng.uniform(0.3, 0.9)) / restarts for i in range(restarts)]
    return Schedule(seed, duration_s, tuple(faults), tuple(round(s, 3) for s in slots))


def _arg(kind: str, rng: random.Random) -> float:
    """The fault's size: a delay in seconds or a clock jump in ms."""
    if kind == "delay_executions":
        return round(rng.uniform(0.05, 1.5), 3)
    if kind == "rest_timeout":
        return 11.0  # past the client's 10 s http timeout
    if kind == "clock_skew":
        return float(rng.randint(500, 9000))
    if kind == "stale_market":
        return round(rng.uniform(0.5, 3.0), 3)
    return 0.0
