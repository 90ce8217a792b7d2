"""Sim backend: the HF-ABM's agents trade in a live matching engine, and so do we.

The simulator (`nexusforge.forge.sim.run_sim`) produces the agents' order flow for a stretch of
simulated time; their requests (limit, market and IOC submissions, cancels, amends) are fed in
time order into a live Rust `MatchingEngine`, where our orders rest and trade with theirs under
price-time priority, queue positions included. The agents do not react to our orders (their
flow was drawn in advance); what they would have traded with, we may have taken first, and the
engine then refuses their later requests for it, as a venue would.

When a stretch ends (with `loop`) the agents' resting orders are cancelled and the next
stretch (the next seed) starts in the same engine, so our resting orders live on.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from decimal import Decimal

import polars as pl

from nexusforge.errors import ConfigError
from nexusforge.forge.sim.config import SimConfig
from nexusforge.forge.sim.engine import EngineConfig, MatchingEngine
from nexusforge.forge.sim.run import run_sim
from nexusforge.market.costs import Side as EngineSide
from nexusforge.market.instruments import Instrument
from nexusforge.nexus.venues.local.config import ExchangeConfig
from nexusforge.nexus.venues.local.market.base import (
    Liquidity,
    MakerFill,
    MarketBackend,
    MarketListener,
    MarketTrade,
    PxLevel,
    Side,
)
from nexusforge.nexus.venues.local.market.grid import Grid

log = logging.getLogger(__name__)
STRETCH_S = 300.0  # simulated seconds of agent flow drawn at a time
SUBMIT, MARKET, CANCEL, AMEND = 0, 1, 2, 3


@dataclass(frozen=True, slots=True)
class AgentOp:
    """One request of an agent, as the simulator logged it (price in ticks, qty in lots)."""

    ts_ns: int
    op: int
    agent: int
    order: int  # the simulator's order id (mapped to the live engine's)
    side: int
    price: int
    qty: int
    tif: str


def agent_ops(events: pl.DataFrame, tick: float, lot: float) -> list[AgentOp]:
    """The requests behind a simulator event log (consequences such as trades are dropped)."""
    unfilled = set(
        events.filter((pl.col("event") == "cancelled") & (pl.col("reason") == "unfilled"))[
            "order_id"
        ].to_list()
    )
    ops: list[AgentOp] = []
    for row in events.iter_rows(named=True):
        kind, order = row["event"], int(row["order_id"])
        qty = round(float(row["qty"]) / lot)
        if kind == "accepted":
            price = row["price"]
            if price is None:
                ops.append(
                    AgentOp(
                        row["ts_ns"], MARKET, row["agent"], order, row["side"], 0, qty, "market"
                    )
                )
                continue
            tif = "ioc" if order in unfilled else "gtc"
            ticks = round(float(price) / tick)
            ops.append(
                AgentOp(row["ts_ns"], SUBMIT, row["agent"], order, row["side"], ticks, qty, tif)
            )
        elif kind == "cancelled" and row["reason"] == "user":
            ops.append(AgentOp(row["ts_ns"], CANCEL, row["agent"], order, 0, 0, 0, ""))
        elif kind == "amended":
            price = row["price"]
            ticks = 0 if price is None else round(float(price) / tick)
            ops.append(AgentOp(row["ts_ns"], AMEND, row["agent"], order, 0, ticks, qty, ""))
    return ops


class SimMarket:
    """A `MarketBackend` on a live matching engine fed by the simulator's agents."""

    def __init__(self, config: SimConfig, symbol: str, *, speed: float, loop: bool, paused: bool):
        self.sim = config
        self.symbol = symbol
        self.speed, self.loop = speed, loop
        self.tick = Decimal(repr(config.tick_size))
        self.lot = Decimal(repr(config.lot_size))
        self.grid = Grid(self.tick, self.lot)
        self.engine = MatchingEngine(EngineConfig(config.tick_size, config.lot_size))
        self.instruments = {symbol: _instrument(symbol, self.tick, self.lot)}
        self._listener: MarketListener | None = None
        self._running = asyncio.Event()
        if not paused:
            self._running.set()
        self._ours: dict[str, int] = {}  # exchange order id -> engine order id
        self._by_engine: dict[int, str] = {}
        self._agent_ids: dict[int, int] = {}  # simulator order id -> engine order id
        self.stretch = 0
        self._ops: list[AgentOp] = []
        self._pos = 0
        self._clock_ns = 0  # simulated time of the last op played
        self._base_ns = 0  # simulated time where the current stretch starts
        self.events_played = 0
        self.our_agent = 0
        self._draw()
        self.step(self._warmup())

    # ---- agent flow ----

    def _draw(self) -> None:
        cfg = self.sim.with_overrides({"seed": self.sim.seed + self.stretch,
                                       "duration_s": STRETCH_S,
                                       "sampling.record_events": True})  # fmt: skip
        result = run_sim(cfg)
        self.our_agent = len(result.agents)
        self._ops = agent_ops(result.events, self.sim.tick_size, self.sim.lot_size)
        self._pos = 0
        self._base_ns = self._clock_ns
        if not self._ops:
            raise ConfigError("the simulator produced no agent orders for this scenario")

    def _warmup(self) -> int:
        """Ops until both sides of the book are quoted (the market makers' first quotes)."""
        for index, op in enumerate(self._ops):
            if op.ts_ns > self._ops[0].ts_ns + 2_000_000_000:
                return index
        return min(len(self._ops), 100)

    def _next_stretch(self) -> None:
        for agent in range(self.our_agent):
            self.engine.cancel_all(self._clock_ns, agent)
        self.engine.take_events()
        self._agent_ids.clear()
        self.stretch += 1
        log.info("simulator stretch %d starts", self.stretch)
        self._draw()

    def bind(self, listener: MarketListener) -> None:
        self._listener = listener

    # ---- what the market shows ----

    def levels(self, symbol: str, side: Side, depth: int) -> list[PxLevel]:
        if symbol != self.symbol:
            return []
        frame = self.engine.depth(_code(side), depth)
        return [
            PxLevel(Decimal(int(p)) * self.tick, Decimal(int(q)) * self.lot)
            for p, q in zip(frame["price"].to_list(), frame["qty"].to_list(), strict=True)
        ]

    def book_text(self, symbol: str, side: Side, depth: int) -> list[tuple[str, str]]:
        if symbol != self.symbol:
            return []
        frame = self.engine.depth(_code(side), depth)
        pairs = zip(frame["price"].to_list(), frame["qty"].to_list(), strict=True)
        return [self.grid.text(int(p), int(q)) for p, q in pairs]

    def mark_price(self, symbol: str) -> Decimal | None:
        bid, ask = self.engine.best_bid(), self.engine.best_ask()
        if symbol != self.symbol or bid is None or ask is None:
            return None
        mid_ticks = (bid[0] + ask[0]) // 2
        return Decimal(mid_ticks) * self.tick

    # ---- our orders ----

    def take(self, symbol: str, side: Side, qty: Decimal, limit: Decimal | None) -> list[Liquidity]:
        lots = int(qty / self.lot)
        code = _code(side)
        if limit is None:
            order = self.engine.submit_market(self._clock_ns, self.our_agent, code, lots)
        else:
            ticks = int(limit / self.tick)
            order = self.engine.submit_limit(
                self._clock_ns, self.our_agent, code, ticks, lots, "ioc"
            )
        fills = [
            Liquidity(Decimal(int(t["price"])) * self.tick, Decimal(int(t["qty"])) * self.lot)
            for t in self._drain()
            if t["order"] == order
        ]
        return fills

    def available(self, symbol: str, side: Side, limit: Decimal) -> Decimal:
        opposite: Side = "Sell" if side == "Buy" else "Buy"
        fits = (
            lv.qty
            for lv in self.levels(symbol, opposite, 1000)
            if (lv.price <= limit if side == "Buy" else lv.price >= limit)
        )
        return sum(fits, Decimal(0))

    def rest(self, order_id: str, symbol: str, side: Side, price: Decimal, qty: Decimal) -> None:
        ticks, lots = int(price / self.tick), int(qty / self.lot)
        if self._amend(order_id, ticks, lots):
            return
        self.unrest(order_id)
        code = _code(side)
        engine_id = self.engine.submit_limit(self._clock_ns, self.our_agent, code, ticks, lots)
        self._ours[order_id] = engine_id
        self._by_engine[engine_id] = order_id
        self._deliver(self._drain())

    def _amend(self, order_id: str, ticks: int, lots: int) -> bool:
        """Change a resting order's size in place at the same price (the engine keeps its queue
        place when the size goes down, as Bybit does); False when it must be re-placed."""
        engine_id = self._ours.get(order_id)
        resting = None if engine_id is None else self.engine.order(engine_id)
        if engine_id is None or resting is None or resting.price != ticks:
            return False
        if lots != resting.leaves:
            self.engine.amend(self._clock_ns, self.our_agent, engine_id, resting.filled + lots)
            self._deliver(self._drain())
        return True

    def unrest(self, order_id: str) -> None:
        engine_id = self._ours.pop(order_id, None)
        if engine_id is not None:
            self._by_engine.pop(engine_id, None)
            self.engine.cancel(self._clock_ns, self.our_agent, engine_id)
            self._drain()

    # ---- playing the agents ----

    def pause(self) -> None:
        self._running.clear()

    def resume(self) -> None:
        self._running.set()

    async def run(self) -> None:
        while True:
            await self._running.wait()
            op = self._peek()
            if op is None:
                return
            wait_ns = self._base_ns + op.ts_ns - self._clock_ns
            if self.speed > 0 and wait_ns > 0:
                await asyncio.sleep(wait_ns / 1e9 / self.speed)
                if not self._running.is_set():
                    continue
            elif self.speed == 0:
                await asyncio.sleep(0)
            self.step(1)

    def step(self, events: int) -> int:
        played = 0
        while played < events:
            op = self._peek()
            if op is None:
                break
            self._pos += 1
            self._clock_ns = max(self._clock_ns, self._base_ns + op.ts_ns)
            self._play(op)
            played += 1
        self.events_played += played
        return played

    def _peek(self) -> AgentOp | None:
        if self._pos >= len(self._ops):
            if not self.loop:
                return None
            self._next_stretch()
        return self._ops[self._pos]

    def _play(self, op: AgentOp) -> None:
        ts = self._clock_ns
        side: EngineSide = "buy" if op.side > 0 else "sell"
        if op.op == SUBMIT:
            self._agent_ids[op.order] = self.engine.submit_limit(
                ts,
                op.agent,
                side,
                op.price,
                op.qty,
                op.tif,  # type: ignore[arg-type]
            )
        elif op.op == MARKET:
            self._agent_ids[op.order] = self.engine.submit_market(ts, op.agent, side, op.qty)
        else:
            engine_id = self._agent_ids.get(op.order)
            if engine_id is None:
                return
            if op.op == CANCEL:
                self.engine.cancel(ts, op.agent, engine_id)
            else:
                self.engine.amend(ts, op.agent, engine_id, op.qty or None, op.price or None)
        self._deliver(self._drain())

    def _drain(self) -> list[dict[str, int]]:
        """Trades the engine made since the last drain (other events are consequences)."""
        events = self.engine.take_events()
        trades = events.filter(pl.col("kind") == "trade")
        cols = ["order", "agent", "side", "price", "qty", "maker_order", "maker_leaves"]
        return [
            dict(zip(cols, map(int, row), strict=True)) for row in trades.select(cols).iter_rows()
        ]

    def _deliver(self, trades: list[dict[str, int]]) -> None:
        if self._listener is None:
            return
        fills = [
            MakerFill(self._by_engine[t["maker_order"]], Decimal(t["price"]) * self.tick,
                      Decimal(t["qty"]) * self.lot)
            for t in trades
            if t["maker_order"] in self._by_engine
        ]  # fmt: skip
        for t in trades:
            if t["maker_order"] in self._by_engine and t["maker_leaves"] == 0:
                self._ours.pop(self._by_engine.pop(t["maker_order"]), None)
        if fills:
            self._listener.on_maker_fills(self.symbol, fills)
        for t in trades:
            if t["agent"] != self.our_agent:
                self._listener.on_trade(self._print(t))
        self._listener.on_book(self.symbol, False)

    def _print(self, trade: dict[str, int]) -> MarketTrade:
        return MarketTrade(
            symbol=self.symbol,
            price=Decimal(trade["price"]) * self.tick,
            qty=Decimal(trade["qty"]) * self.lot,
            side="Buy" if trade["side"] > 0 else "Sell",
            trade_id=f"sim-{self.stretch}-{trade['order']}-{trade['maker_order']}",
        )


def _code(side: Side) -> EngineSide:
    return "buy" if side == "Buy" else "sell"


def _instrument(symbol: str, tick: Decimal, lot: Decimal) -> Instrument:
    return Instrument(
        symbol=symbol, tick_size=tick, qty_step=lot, min_qty=lot, max_qty=lot * 10**6,
        max_market_qty=lot * 10**6, min_notional=Decimal(5), min_price=tick,
        max_price=tick * (2**40),
    )  # fmt: skip


def build_sim_market(config: ExchangeConfig) -> MarketBackend:
    """The simulator market for `config` (the calm scenario, seeded by `sim_seed`)."""
    sim = SimConfig.scenario(seed=config.sim_seed)
    return SimMarket(sim, config.sim_symbol, speed=config.speed, loop=config.loop,
                     paused=config.start_paused)  # fmt: skip
