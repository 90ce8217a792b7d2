"""Python face of the Rust matching engine (`rust/src/sim/matching`): price-time priority on a
tick grid, every request answered by events, and Bybit-shaped L2 snapshots and deltas.

Prices are integer ticks and quantities integer lots (`EngineConfig.ticks`/`lots` convert
from instrument units). A bad order is not an exception: it is answered by a `rejected` event,
as a venue would. Amends take the new *total* quantity (filled included), as on Bybit;
lowering it at the same price keeps the queue position, anything else loses it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt
import polars as pl

from nexusforge import _core
from nexusforge.errors import BookError, ConfigError, CoreInputError
from nexusforge.market.costs import CostModel, Side

TimeInForce = Literal["gtc", "ioc", "fok", "post_only"]
StpMode = Literal["cancel_taker", "cancel_maker", "cancel_both"]

_CODES: dict[str, list[str]] = dict(_core.matching_codes())
_SIDE_CODE: dict[str, int] = {"buy": 1, "sell": -1}
_SIDE_NAME: dict[int, Side] = {1: "buy", -1: "sell"}
_TIFS: tuple[str, ...] = ("gtc", "ioc", "fok", "post_only")
_STPS: tuple[str, ...] = ("cancel_taker", "cancel_maker", "cancel_both")

#: Request codes of `OpBatch.op`.
OP_LIMIT, OP_MARKET, OP_CANCEL, OP_AMEND = 0, 1, 2, 3

EVENT_KINDS = pl.Enum(_CODES["kind"])


@dataclass(frozen=True, slots=True)
class EngineConfig:
    """Instrument grid, fee rates (fractions of notional; negative is a rebate) and STP mode."""

    tick_size: float
    lot_size: float
    maker_fee: float = 0.0002
    taker_fee: float = 0.00055
    stp: StpMode = "cancel_taker"

    def __post_init__(self) -> None:
        for name in ("tick_size", "lot_size"):
            v = getattr(self, name)
            if not (math.isfinite(v) and v > 0):
                raise ConfigError(f"{name} must be finite and > 0, got {v!r}")
        for name in ("maker_fee", "taker_fee"):
            v = getattr(self, name)
            if not (math.isfinite(v) and abs(v) < 1):
                raise ConfigError(f"{name} must be finite with |rate| < 1, got {v!r}")
        if self.stp not in _STPS:
            raise ConfigError(f"stp must be one of {_STPS}, got {self.stp!r}")

    @classmethod
    def from_costs(
        cls, tick_size: float, lot_size: float, costs: CostModel, stp: StpMode = "cancel_taker"
    ) -> EngineConfig:
        """Fees from the one cost model (`nexusforge.market.costs.CostModel`)."""
        return cls(tick_size, lot_size, costs.maker_fee, costs.taker_fee, stp)

    def ticks(self, price: float) -> int:
        """Nearest tick of a price."""
        return round(price / self.tick_size)

    def lots(self, qty: float) -> int:
        """Whole lots in a quantity (rounded down, as Bybit rounds order qty)."""
        return math.floor(qty / self.lot_size + 1e-9)

    def price(self, ticks: int) -> float:
        return ticks * self.tick_size


@dataclass(frozen=True, slots=True)
class RestingOrder:
    """An order on the book; `qty` is its total (after amends), `leaves` what is unfilled."""

    id: int
    agent: int
    client_id: int
    side: Side
    price: int
    qty: int
    leaves: int
    tif: TimeInForce
    reduce_only: bool
    created_ts: int
    priority: int

    @property
    def filled(self) -> int:
        return self.qty - self.leaves


@dataclass(frozen=True, slots=True)
class L2Update:
    """A Bybit-style book message: the top N levels (snapshot) or the changed ones (delta;
    qty 0 removes a level); `u` counts updates, `seq` is the engine's request sequence."""

    snapshot: bool
    u: int
    seq: int
    ts: int
    bids: tuple[tuple[int, int], ...]
    asks: tuple[tuple[int, int], ...]


@dataclass(frozen=True, slots=True)
class RunCounts:
    ops: int
    events: int
    trades: int


@dataclass(frozen=True, slots=True)
class OpBatch:
    """Requests as columns, one per row, for `MatchingEngine.run_ops` (one Rust loop).

    `op` is OP_LIMIT, OP_MARKET, OP_CANCEL or OP_AMEND; `side` +1/-1; `tif` a code of
    ("gtc", "ioc", "fok", "post_only"); `target` the order id of a cancel or amend; for an
    amend, `qty`/`price` <= 0 mean unchanged.
    """

    op: npt.NDArray[np.uint8]
    ts: npt.NDArray[np.int64]
    agent: npt.NDArray[np.uint32]
    side: npt.NDArray[np.int8]
    price: npt.NDArray[np.int64]
    qty: npt.NDArray[np.int64]
    tif: npt.NDArray[np.uint8]
    target: npt.NDArray[np.uint64]


def _side_code(side: str) -> int:
    try:
        return _SIDE_CODE[side]
    except KeyError:
        raise BookError(f"side must be 'buy' or 'sell', got {side!r}") from None


class MatchingEngine:
    """One instrument's limit order book and matcher; events buffer until `take_events`."""

    def __init__(self, config: EngineConfig) -> None:
        self.config = config
        self._inner = _core.MatchingEngineCore(
            config.tick_size, config.lot_size, config.maker_fee, config.taker_fee, config.stp
        )

    def submit_limit(
        self,
        ts: int,
        agent: int,
        side: Side,
        price: int,
        qty: int,
        tif: TimeInForce = "gtc",
        *,
        client_id: int = 0,
        reduce_only: bool = False,
    ) -> int:
        """Submit a limit order (price in ticks, qty in lots); returns its id."""
        if tif not in _TIFS:
            raise BookError(f"tif must be one of {_TIFS}, got {tif!r}")
        return self._inner.submit(
            ts, agent, client_id, _side_code(side), qty, price, tif, reduce_only
        )

    def submit_market(
        self,
        ts: int,
        agent: int,
        side: Side,
        qty: int,
        *,
        client_id: int = 0,
        reduce_only: bool = False,
    ) -> int:
        """Submit a market order: walks the book, the unfilled rest is cancelled."""
        return self._inner.submit(
            ts, agent, client_id, _side_code(side), qty, None, "market", reduce_only
        )

    def cancel(self, ts: int, agent: int, order_id: int) -> bool:
        """Cancel a resting order of `agent`; False (and a rejected event) when it cannot."""
        return self._inner.cancel(ts, agent, order_id)

    def cancel_all(self, ts: int, agent: int) -> int:
        """Cancel every resting order of `agent` (one event each); returns how many."""
        return self._inner.cancel_all(ts, agent)

    def amend(
        self, ts: int, agent: int, order_id: int, qty: int | None = None, price: int | None = None
    ) -> bool:
        """Set a resting order's total qty and/or price; False (and an event) when refused."""
        return self._inner.amend(ts, agent, order_id, qty, price)

    def run_ops(self, ops: OpBatch, *, keep_events: bool = False) -> RunCounts:
        """Apply a batch of requests in one Rust call (GIL released); events are kept in the
        buffer only when asked (otherwise counted and dropped)."""
        try:
            n = self._inner.run_ops(
                np.ascontiguousarray(ops.op, dtype=np.uint8),
                np.ascontiguousarray(ops.ts, dtype=np.int64),
                np.ascontiguousarray(ops.agent, dtype=np.uint32),
                np.ascontiguousarray(ops.side, dtype=np.int8),
                np.ascontiguousarray(ops.price, dtype=np.int64),
                np.ascontiguousarray(ops.qty, dtype=np.int64),
                np.ascontiguousarray(ops.tif, dtype=np.uint8),
                np.ascontiguousarray(ops.target, dtype=np.uint64),
                keep_events,
            )
        except CoreInputError as e:
            raise BookError(str(e)) from e
        return RunCounts(*n)

    def take_events(self) -> pl.DataFrame:
        """Drain the buffered events, one row each, in the order they happened.

        `kind` is accepted, rejected, trade, cancelled or amended; for trades `order`,
        `agent`, `side` and `leaves` are the taker's and `maker_*` the maker's; `qty` is the
        accepted qty, trade qty, cancelled remainder or amended total; `detail` is the TIF
        (accepted; "market" for market orders), the reason (rejected, cancelled) or
        kept_priority / lost_priority (amended); `action` names what a rejection refused.
        """
        cols = self._inner.take_events()
        return (
            pl.DataFrame({k: pl.Series(k, v) for k, v in cols.items()})
            .with_columns(
                pl.col("kind").replace_strict(_code_map("kind"), return_dtype=EVENT_KINDS),
                _detail().alias("detail"),
                _named("action", _CODES["action"]).alias("action"),
            )
            .drop("code")
        )

    @property
    def pending_events(self) -> int:
        return self._inner.pending_events()

    def best_bid(self) -> tuple[int, int] | None:
        """(price ticks, total lots) of the best bid."""
        return self._inner.best_bid()

    def best_ask(self) -> tuple[int, int] | None:
        return self._inner.best_ask()

    def depth(self, side: Side, levels: int) -> pl.DataFrame:
        """Top `levels` of one side, best first: price (ticks) and qty (lots)."""
        if levels < 0:
            raise BookError(f"levels must be >= 0, got {levels}")
        price, qty = self._inner.depth(_side_code(side), levels)
        return pl.DataFrame({"price": price, "qty": qty})

    def order(self, order_id: int) -> RestingOrder | None:
        t = self._inner.order(order_id)
        if t is None:
            return None
        agent, client_id, side, price, qty, leaves, tif, reduce_only, ts, priority = t
        return RestingOrder(
            order_id,
            agent,
            client_id,
            _SIDE_NAME[side],
            price,
            qty,
            leaves,
            _TIFS[tif],  # type: ignore[arg-type]  # resting orders are gtc or post_only
            reduce_only,
            ts,
            priority,
        )

    def open_orders(self, agent: int) -> list[RestingOrder]:
        """The agent's resting orders, oldest id first."""
        orders = (self.order(i) for i in sorted(self._inner.open_orders(agent)))
        return [o for o in orders if o is not None]

    def position(self, agent: int) -> int:
        """Net filled lots of `agent` (long > 0)."""
        return self._inner.position(agent)

    @property
    def seq(self) -> int:
        """Requests handled so far."""
        return self._inner.seq()

    @property
    def order_count(self) -> int:
        return self._inner.order_count()

    def level_count(self, side: Side) -> int:
        return self._inner.level_count(_side_code(side))


def _code_map(column: str) -> dict[int, str]:
    return dict(enumerate(_CODES[column]))


def _named(column: str, names: list[str]) -> pl.Expr:
    """Names for a code column; null where a row has no code."""
    mapping = dict(enumerate(names))
    return pl.col(column).replace_strict(mapping, default=None, return_dtype=pl.String)


def _detail() -> pl.Expr:
    """TIF (accepted), reason (rejected, cancelled), priority kept or lost (amended)."""
    expr = pl.lit(None, dtype=pl.String)
    for kind, names in (
        ("accepted", _CODES["tif"]),
        ("rejected", _CODES["reject"]),
        ("cancelled", _CODES["cancel"]),
        ("amended", ["lost_priority", "kept_priority"]),
    ):
        code = _CODES["kind"].index(kind)
        expr = pl.when(pl.col("kind") == code).then(_named("code", names)).otherwise(expr)
    return expr


def _update(
    t: tuple[bool, int, int, int, list[tuple[int, int]], list[tuple[int, int]]],
) -> L2Update:
    snapshot, u, seq, ts, bids, asks = t
    return L2Update(snapshot, u, seq, ts, tuple(bids), tuple(asks))


class L2Publisher:
    """Bybit-shaped L2 updates of one engine's top `depth` levels (like `orderbook.{depth}`)."""

    def __init__(self, depth: int) -> None:
        if depth < 1:
            raise ConfigError(f"depth must be >= 1, got {depth}")
        self._inner = _core.L2PublisherCore(depth)

    @property
    def depth(self) -> int:
        return self._inner.depth()

    def publish(self, engine: MatchingEngine, ts: int) -> L2Update | None:
        """The first call gives a snapshot, later ones a delta of what changed, or None."""
        t = self._inner.publish(engine._inner, ts)
        return None if t is None else _update(t)

    def publish_snapshot(self, engine: MatchingEngine, ts: int) -> L2Update:
        """A fresh snapshot (consumers replace their book)."""
        return _update(self._inner.publish_snapshot(engine._inner, ts))

    def current(self, engine: MatchingEngine, ts: int) -> L2Update | None:
        """The last published book as a snapshot with the same `u`, for a new subscriber."""
        t = self._inner.current(engine._inner, ts)
        return None if t is None else _update(t)
