"""What an execution policy sees and chooses: the tactics, the state features and their formulas.

One module for both sides of the IEL contract: training in the simulator
(`forge/execution_rl`) and live inference (`nexus/execution.py`) build the state with the same
`state_vector`, and the names in `TACTICS` and `FEATURES`, in order, are written into the
policy's manifest; the live layer refuses a policy whose lists differ. Every feature is
side-normalised (a buy and a mirrored sell see the same state) and finite.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import IntEnum

import numpy as np
import numpy.typing as npt


class Tactic(IntEnum):
    """What to do with the rest of an order intent now (the action index is the value)."""

    MARKET = 0  # cross the spread for everything left
    PASSIVE = 1  # rest a limit order at our own best price (join the queue)
    INSIDE = 2  # rest a limit order one tick inside the spread (at best when the spread is 1 tick)
    POST_THEN_CROSS = 3  # post-only at best; what is left after the timeout crosses
    WAIT = 4  # send nothing new; a resting order keeps its place


TACTICS: tuple[str, ...] = tuple(t.name.lower() for t in Tactic)
#: The tactic used when no policy can be trusted (missing/corrupt file, bad state): crossing
#: is the only tactic that always completes the intent, so a broken policy never leaves a
#: model away from its target.
DEFAULT_TACTIC = Tactic.MARKET
FEATURES: tuple[str, ...] = (
    "remaining_frac",  # qty left / intent qty, in [0, 1]
    "time_left_frac",  # time left / horizon, in [0, 1]
    "spread_bps",  # (ask - bid) / mid
    "imbalance",  # (bid qty - ask qty) / (bid qty + ask qty) at the touch, times our side
    "vol_bps",  # std of 1 s mid log changes over the last 30 s, in bps
    "queue_log",  # log1p(qty ahead of us at our price / qty left)
)
VOL_WINDOW = 30  # one-second mid samples in the volatility feature


@dataclass(frozen=True, slots=True)
class Touch:
    """Best bid/ask and their sizes (instrument units)."""

    bid: float
    bid_qty: float
    ask: float
    ask_qty: float

    @property
    def mid(self) -> float:
        return 0.5 * (self.bid + self.ask)

    def two_sided(self) -> bool:
        return (
            self.bid_qty > 0
            and self.ask_qty > 0
            and math.isfinite(self.bid)
            and math.isfinite(self.ask)
            and 0 < self.bid < self.ask
        )


def vol_bps(mids: npt.ArrayLike) -> float:
    """Std of log changes of one-second mids, in bps (0 with fewer than 3 usable samples)."""
    m = np.asarray(mids, dtype=np.float64)
    m = m[np.isfinite(m) & (m > 0)]
    if m.size < 3:
        return 0.0
    return float(np.std(np.diff(np.log(m))) * 1e4)


def state_vector(
    side: int,
    remaining_frac: float,
    time_left_frac: float,
    touch: Touch,
    vol: float,
    queue_ahead: float,
    qty_left: float,
) -> npt.NDArray[np.float32]:
    """The policy input in `FEATURES` order (unscaled)."""
    total = touch.bid_qty + touch.ask_qty
    imbalance = side * (touch.bid_qty - touch.ask_qty) / total if total > 0 else 0.0
    spread = (touch.ask - touch.bid) / touch.mid * 1e4
    queue = math.log1p(max(queue_ahead, 0.0) / qty_left) if qty_left > 0 else 0.0
    return np.array(
        [
            min(max(remaining_frac, 0.0), 1.0),
            min(max(time_left_frac, 0.0), 1.0),
            spread,
            imbalance,
            vol,
            queue,
        ],
        dtype=np.float32,
    )
