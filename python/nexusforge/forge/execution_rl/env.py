"""A Gymnasium environment: work one order intent in a seeded simulated market.

Each episode is an intent of random side, size and horizon placed at a random time into one of the
seeded agent flows (`flow.py`). Every `step_s` the agent picks a tactic (`execution_state.Tactic`);
the market then runs for `step_s`. When the horizon ends, whatever is left crosses the spread.
Reward is minus the shortfall the step's fills added (bps of the intent against its arrival mid,
fees from the one cost model), so an episode's rewards sum to minus its implementation shortfall.
The same seed gives the same episode (`reset(seed=...)`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import gymnasium as gym
import numpy as np
import numpy.typing as npt
import polars as pl

from nexusforge.errors import ConfigError
from nexusforge.forge.execution_rl.flow import AgentFlow, Replay, agent_flow
from nexusforge.forge.execution_rl.shortfall import Shortfall
from nexusforge.market.costs import CostModel
from nexusforge.market.execution_state import (
    FEATURES,
    TACTICS,
    VOL_WINDOW,
    Tactic,
    Touch,
    state_vector,
    vol_bps,
)

Obs = npt.NDArray[np.float32]
NS = 1_000_000_000


@dataclass(frozen=True, slots=True)
class EnvConfig:
    """Where episodes come from and how intents are drawn (sizes in base units)."""

    scenario: str = "calm"
    flow_seeds: tuple[int, ...] = (1, 2, 3, 4, 5, 6, 7, 8)
    flow_s: float = 600.0
    warmup_s: float = 60.0
    step_s: float = 5.0
    min_steps: int = 3
    max_steps: int = 12
    min_qty: float = 0.05
    max_qty: float = 1.5
    costs: CostModel = field(default_factory=CostModel)

    def __post_init__(self) -> None:
        if not self.flow_seeds:
            raise ConfigError("flow_seeds must not be empty")
        if not (0 < self.min_steps <= self.max_steps):
            raise ConfigError("need 0 < min_steps <= max_steps")
        if not (0 < self.min_qty <= self.max_qty):
            raise ConfigError("need 0 < min_qty <= max_qty")
        latest = self.warmup_s + self.max_steps * self.step_s + 2 * self.step_s
        if latest > self.flow_s:
            raise ConfigError(f"flow_s {self.flow_s} is too short for the warm-up and horizon")


@dataclass(slots=True)
class Episode:
    """The intent being worked and what has happened to it."""

    side: int
    lots: int
    steps: int
    left: int
    step: int
    shortfall: Shortfall
    resting: int | None = None  # our resting order's engine id
    fills: int = 0


class ExecutionEnv(gym.Env[Obs, int]):
    """Observation: `execution_state.FEATURES` (unscaled); action: an `execution_state.Tactic`."""

    def __init__(
        self, config: EnvConfig | None = None, flows: Sequence[AgentFlow] | None = None
    ) -> None:
        """`flows` replaces the simulator runs of `config.flow_seeds` (hand-made markets)."""
        self.config = config or EnvConfig()
        self._flows = tuple(flows) if flows is not None else None
        # Discrete holds numpy ints; the env accepts any int-like action index.
        self.action_space = gym.spaces.Discrete(len(TACTICS))  # type: ignore[assignment]
        self.observation_space = gym.spaces.Box(
            -np.inf, np.inf, shape=(len(FEATURES),), dtype=np.float32
        )
        self._replay: Replay | None = None
        self._ep: Episode | None = None
        self._view = Touch(math.nan, 0.0, math.nan, 0.0)

    # ---- gym API ----

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[Obs, dict[str, Any]]:
        """A new intent; `options` may fix `side` (+1/-1), `lots`, `steps` and `start_s`."""
        super().reset(seed=seed)
        c, rng, opt = self.config, self.np_random, options or {}
        if self._flows is not None:
            flow = self._flows[int(rng.integers(len(self._flows)))]
        else:
            flow = agent_flow(c.scenario, int(rng.choice(c.flow_seeds)), c.flow_s)
        steps = int(rng.integers(c.min_steps, c.max_steps + 1))
        latest = c.flow_s - (steps + 2) * c.step_s
        start_ns = int(rng.uniform(c.warmup_s, latest) * NS)
        side = 1 if rng.random() < 0.5 else -1
        lots = max(1, round(rng.uniform(c.min_qty, c.max_qty) / flow.lot_size))
        steps, side = int(opt.get("steps", steps)), int(opt.get("side", side))
        lots, start_ns = int(opt.get("lots", lots)), int(opt.get("start_s", start_ns / NS) * NS)
        self._replay = Replay(flow, c.costs)
        self._replay.advance(start_ns, keep_events=False)
        self._replay.engine.take_events()
        view = self._touch()
        if not view.two_sided():
            raise ConfigError(f"flow {flow.seed}: no two-sided book at {start_ns} ns")
        sf = Shortfall(side, lots * flow.lot_size, view.mid, c.costs)
        self._ep = Episode(side, lots, steps, lots, 0, sf)
        return self._obs(), self._info()

    def step(self, action: int) -> tuple[Obs, float, bool, bool, dict[str, Any]]:
        ep, rp = self._episode()
        before = ep.shortfall.total_bps
        tactic = Tactic(int(action))
        self._act(tactic)
        if ep.left > 0:
            rp.advance(rp.now_ns + int(self.config.step_s * NS), keep_events=True)
            self._book_fills()
        ep.step += 1
        if ep.left > 0 and (tactic is Tactic.POST_THEN_CROSS or ep.step >= ep.steps):
            self._cross()
        done = ep.left == 0
        reward = -(ep.shortfall.total_bps - before)
        return self._obs(), reward, done, False, self._info()

    # ---- tactics ----

    def _act(self, tactic: Tactic) -> None:
        if tactic is Tactic.MARKET:
            self._cross()
        elif tactic is Tactic.WAIT:
            return
        else:
            self._rest(self._limit_price(tactic), post_only=tactic is Tactic.POST_THEN_CROSS)

    def _limit_price(self, tactic: Tactic) -> int:
        ep, rp = self._episode()
        bid, ask = rp.engine.best_bid(), rp.engine.best_ask()
        own = bid if ep.side > 0 else ask
        other = ask if ep.side > 0 else bid
        if own is None and other is None:
            raise ConfigError("the simulated book is empty")
        if own is None:
            assert other is not None
            return other[0] - ep.side  # one tick off the far touch: never crosses
        price = own[0]
        if tactic is Tactic.INSIDE and other is not None and abs(other[0] - price) > 1:
            price += ep.side
        return price

    def _rest(self, price: int, post_only: bool) -> None:
        """Rests the rest of the intent at `price`; a resting order already there keeps its
        place in the queue."""
        ep, rp = self._episode()
        if ep.resting is not None:
            r = rp.engine.order(ep.resting)
            if r is not None and r.price == price and r.leaves == ep.left:
                return
            self._cancel()
        ep.resting = rp.submit_limit(ep.side, price, ep.left, post_only)
        self._book_fills()

    def _cancel(self) -> None:
        ep, rp = self._episode()
        if ep.resting is not None:
            rp.cancel(ep.resting)
            ep.resting = None
            self._book_fills()

    def _cross(self) -> None:
        """Cancels the resting order and sends a market order for what is left; a book too
        thin to fill it all is charged the rest at its far touch plus one tick per level
        missing (documented penalty; it does not happen in the built-in scenarios)."""
        ep, rp = self._episode()
        self._cancel()
        rp.submit_market(ep.side, ep.left)
        self._book_fills()
        if ep.left > 0:
            far = rp.engine.best_ask() if ep.side > 0 else rp.engine.best_bid()
            tick = rp.flow.tick_size
            price = (far[0] + ep.side) * tick if far is not None else self._view.mid
            ep.shortfall.add(price, ep.left * rp.flow.lot_size, "taker")
            ep.left = 0

    def _book_fills(self) -> None:
        """Books our fills among the engine's new events (maker or taker)."""
        ep, rp = self._episode()
        events = rp.engine.take_events()
        trades = events.filter(
            (pl.col("kind") == "trade")
            & ((pl.col("agent") == rp.agent) | (pl.col("maker_agent") == rp.agent))
        )
        lot, tick = rp.flow.lot_size, rp.flow.tick_size
        for taker_agent, price, qty, maker_leaves in trades.select(
            "agent", "price", "qty", "maker_leaves"
        ).iter_rows():
            taker = taker_agent == rp.agent
            ep.shortfall.add(price * tick, qty * lot, "taker" if taker else "maker")
            ep.left -= qty
            ep.fills += 1
            if not taker and maker_leaves == 0:
                ep.resting = None

    # ---- state ----

    def _episode(self) -> tuple[Episode, Replay]:
        if self._ep is None or self._replay is None:
            raise ConfigError("call reset() before step()")
        return self._ep, self._replay

    def _touch(self) -> Touch:
        assert self._replay is not None
        e, tick, lot = self._replay.engine, self._replay.flow.tick_size, self._replay.flow.lot_size
        bid, ask = e.best_bid(), e.best_ask()
        if bid is not None and ask is not None:
            self._view = Touch(bid[0] * tick, bid[1] * lot, ask[0] * tick, ask[1] * lot)
        return self._view  # a one-sided moment keeps the last two-sided touch

    def _obs(self) -> Obs:
        ep, rp = self._episode()
        view = self._touch()
        flow: AgentFlow = rp.flow
        vol = vol_bps(flow.mids_before(rp.now_ns, VOL_WINDOW))
        return state_vector(
            ep.side,
            ep.left / ep.lots,
            (ep.steps - ep.step) / ep.steps,
            view,
            vol,
            self._queue_ahead(view),
            ep.left * flow.lot_size,
        )

    def _queue_ahead(self, view: Touch) -> float:
        """Size ahead of our resting order at its price, else the size at our own touch."""
        ep, rp = self._episode()
        r = None if ep.resting is None else rp.engine.order(ep.resting)
        own_qty = view.bid_qty if ep.side > 0 else view.ask_qty
        if r is None:
            return own_qty
        depth = rp.engine.depth(r.side, 50)
        at = depth.filter(pl.col("price") == r.price)["qty"]
        level = int(at[0]) if at.len() else 0
        return max(level - r.leaves, 0) * rp.flow.lot_size

    def _info(self) -> dict[str, Any]:
        ep, _ = self._episode()
        sf = ep.shortfall
        return {
            "shortfall_bps": sf.total_bps,
            "fee_bps": sf.fee_bps,
            "filled_frac": sf.filled / sf.qty,
            "fills": ep.fills,
        }
