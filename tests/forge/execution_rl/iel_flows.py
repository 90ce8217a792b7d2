"""Hand-made agent flows for the execution environment tests (tick 0.5, lot 0.01)."""

from __future__ import annotations

import numpy as np

from nexusforge.forge.execution_rl.flow import AgentFlow
from nexusforge.forge.sim.engine import OP_LIMIT, OP_MARKET

TICK, LOT, NS = 0.5, 0.01, 1_000_000_000
# (ts_s, op, agent, side, price_ticks, lots)
Op = tuple[float, int, int, int, int, int]


def flow(ops: list[Op]) -> AgentFlow:
    """An `AgentFlow` of GTC limit and market submissions, with a flat one-second mid series."""
    cols = list(zip(*ops, strict=True))
    n = len(ops)
    return AgentFlow(
        seed=0,
        tick_size=TICK,
        lot_size=LOT,
        our_agent=10,
        op=np.asarray(cols[1], dtype=np.uint8),
        ts=(np.asarray(cols[0]) * NS).astype(np.int64),
        agent=np.asarray(cols[2], dtype=np.uint32),
        side=np.asarray(cols[3], dtype=np.int8),
        price=np.asarray(cols[4], dtype=np.int64),
        qty=np.asarray(cols[5], dtype=np.int64),
        tif=np.zeros(n, dtype=np.uint8),
        sim_id=np.arange(1, n + 1, dtype=np.int64),
        mid_ts=np.arange(0, 100, dtype=np.int64) * NS,
        mids=np.full(100, 99.5),
    )


# Asks 100.0 x 2 lots and 101.0 x 3 lots, bids 99.0 x 5 lots: mid 99.5.
WALK = [
    (1.0, OP_LIMIT, 1, -1, 200, 2),
    (1.0, OP_LIMIT, 1, -1, 202, 3),
    (1.0, OP_LIMIT, 1, 1, 198, 5),
]
# Bids 99.0 x 5, asks 100.0 x 5; sellers cross at 3 s (7 lots) and 4 s (10 lots).
QUEUE = [
    (1.0, OP_LIMIT, 1, -1, 200, 5),
    (1.0, OP_LIMIT, 1, 1, 198, 5),
    (3.0, OP_MARKET, 2, -1, 0, 7),
    (4.0, OP_MARKET, 2, -1, 0, 10),
]
