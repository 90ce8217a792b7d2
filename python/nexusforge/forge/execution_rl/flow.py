"""The simulator's agent order flow, replayed into a live matching engine with our orders in it.

`run_sim` draws a stretch of agent requests (limit, IOC and market submissions, cancels, amends)
from the seeded HF-ABM; `Replay` feeds them in time order into a fresh Rust `MatchingEngine`
through `run_ops` (one Rust call per stretch of time), where our orders rest and trade with theirs
under price-time priority. The agents do not react to our orders (their flow was drawn in
advance); what we take first, the engine refuses them later, as a venue would. Agent order ids
are remapped: the engine numbers every submission in order, ours included.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import numpy.typing as npt
import polars as pl

from nexusforge.forge.sim.config import SimConfig
from nexusforge.forge.sim.engine import (
    OP_AMEND,
    OP_CANCEL,
    OP_LIMIT,
    OP_MARKET,
    EngineConfig,
    MatchingEngine,
    OpBatch,
    TimeInForce,
)
from nexusforge.forge.sim.run import run_sim
from nexusforge.market.costs import CostModel, Side

_GTC, _IOC = 0, 1
I64 = npt.NDArray[np.int64]


@dataclass(frozen=True, slots=True)
class AgentFlow:
    """One seeded stretch of agent requests as columns, and the one-second mids it produced."""

    seed: int
    tick_size: float
    lot_size: float
    our_agent: int
    op: npt.NDArray[np.uint8]
    ts: I64
    agent: npt.NDArray[np.uint32]
    side: npt.NDArray[np.int8]
    price: I64
    qty: I64
    tif: npt.NDArray[np.uint8]
    sim_id: I64  # the simulator's id of the order submitted, cancelled or amended
    mid_ts: I64
    mids: npt.NDArray[np.float64]

    @property
    def end_ns(self) -> int:
        return int(self.ts[-1]) if self.ts.size else 0

    def mids_before(self, ts_ns: int, count: int) -> npt.NDArray[np.float64]:
        """The last `count` one-second mids stamped at or before `ts_ns`."""
        end = int(np.searchsorted(self.mid_ts, ts_ns, side="right"))
        return self.mids[max(0, end - count) : end]


def _flow_columns(events: pl.DataFrame, tick: float, lot: float) -> pl.DataFrame:
    """The requests behind a simulator event log (trades, rejections: consequences, dropped)."""
    unfilled = events.filter((pl.col("event") == "cancelled") & (pl.col("reason") == "unfilled"))[
        "order_id"
    ]
    ticks = (pl.col("price") / tick).round().cast(pl.Int64).fill_null(0)
    accepted = pl.col("event") == "accepted"
    op = (
        pl.when(accepted & pl.col("price").is_null())
        .then(OP_MARKET)
        .when(accepted)
        .then(OP_LIMIT)
        .when(pl.col("event") == "cancelled")
        .then(OP_CANCEL)
        .otherwise(OP_AMEND)
    )
    keep = (
        accepted
        | ((pl.col("event") == "cancelled") & (pl.col("reason") == "user"))
        | (pl.col("event") == "amended")
    )
    return events.filter(keep).select(
        op.cast(pl.UInt8).alias("op"),
        pl.col("ts_ns").cast(pl.Int64).alias("ts"),
        pl.col("agent").cast(pl.UInt32),
        pl.col("side").cast(pl.Int8),
        ticks.alias("price"),
        (pl.col("qty") / lot).round().cast(pl.Int64).alias("qty"),
        pl.when(pl.col("order_id").is_in(unfilled.implode()))
        .then(_IOC)
        .otherwise(_GTC)
        .cast(pl.UInt8)
        .alias("tif"),
        pl.col("order_id").cast(pl.Int64).alias("sim_id"),
    )


@lru_cache(maxsize=64)
def agent_flow(scenario: str, seed: int, duration_s: float) -> AgentFlow:
    """The agents' requests of one seeded run of `scenario` (cached: runs are deterministic)."""
    cfg = SimConfig.scenario(scenario).with_overrides(
        {"seed": seed, "duration_s": duration_s, "sampling.record_events": True}
    )
    result = run_sim(cfg)
    cols = _flow_columns(result.events, cfg.tick_size, cfg.lot_size)
    top = result.top.drop_nulls("mid")
    return AgentFlow(
        seed=seed,
        tick_size=cfg.tick_size,
        lot_size=cfg.lot_size,
        our_agent=result.agents.height,
        op=cols["op"].to_numpy(),
        ts=cols["ts"].to_numpy(),
        agent=cols["agent"].to_numpy(),
        side=cols["side"].to_numpy(),
        price=cols["price"].to_numpy(),
        qty=cols["qty"].to_numpy(),
        tif=cols["tif"].to_numpy(),
        sim_id=cols["sim_id"].to_numpy(),
        mid_ts=top["ts_ns"].to_numpy().astype(np.int64),
        mids=top["mid"].to_numpy().astype(np.float64),
    )


class Replay:
    """A matching engine fed by one `AgentFlow`; we submit as agent `flow.our_agent`."""

    def __init__(self, flow: AgentFlow, costs: CostModel) -> None:
        self.flow = flow
        self.engine = MatchingEngine(EngineConfig.from_costs(flow.tick_size, flow.lot_size, costs))
        self.agent = flow.our_agent
        self.now_ns = 0
        self._pos = 0
        self._next_id = 1  # the engine numbers every submission from 1, rejected ones included
        size = int(flow.sim_id.max()) + 1 if flow.sim_id.size else 1
        self._ids = np.zeros(size, dtype=np.uint64)  # sim id -> engine id (0: none)

    def advance(self, until_ns: int, *, keep_events: bool) -> None:
        """Plays every agent request stamped at or before `until_ns`."""
        f = self.flow
        end = int(np.searchsorted(f.ts, until_ns, side="right"))
        sl = slice(self._pos, end)
        self._pos = end
        self.now_ns = max(self.now_ns, until_ns)
        op = f.op[sl]
        if op.size == 0:
            return
        submits = (op == OP_LIMIT) | (op == OP_MARKET)
        ids = (self._next_id + np.cumsum(submits) - 1).astype(np.uint64)
        self._ids[f.sim_id[sl][submits]] = ids[submits]
        self._next_id += int(submits.sum())
        target = np.where(submits, 0, self._ids[f.sim_id[sl]]).astype(np.uint64)
        batch = OpBatch(
            op, f.ts[sl], f.agent[sl], f.side[sl], f.price[sl], f.qty[sl], f.tif[sl], target
        )
        self.engine.run_ops(batch, keep_events=keep_events)

    def submit_limit(self, side: int, price: int, lots: int, post_only: bool) -> int:
        self._next_id += 1
        tif: TimeInForce = "post_only" if post_only else "gtc"
        return self.engine.submit_limit(self.now_ns, self.agent, _name(side), price, lots, tif)

    def submit_market(self, side: int, lots: int) -> int:
        self._next_id += 1
        return self.engine.submit_market(self.now_ns, self.agent, _name(side), lots)

    def cancel(self, order_id: int) -> None:
        self.engine.cancel(self.now_ns, self.agent, order_id)


def _name(side: int) -> Side:
    return "buy" if side > 0 else "sell"
