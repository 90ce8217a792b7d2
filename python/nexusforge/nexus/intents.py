"""From each model's target position to order intents: lot rounding, limits, reduce-only, crossing.

All six models trade in ONE venue account, so their orders can meet. The rule here is an
internal crossing step: in each decision round the wanted trades of active models that point in
opposite directions are matched against each other first, at the round's mark price (mid), with no
fee, and booked as two internal fills (execType "Internal", one per model, each with its own
orderLinkId so the Book routes it). Only the net residual goes to the venue. Why: the account's
position is the sum of the models', so an internal cross changes the sum by zero (the invariant
holds), it saves both models the spread and the taker fee, and no order of ours can ever trade
with another order of ours at the venue (Bybit's self-match prevention would only cancel one side
of a resting cross, leaving the other model's trade undone). Matching is greedy in slot order
(buyers and sellers each by ascending slot), deterministic; quantities stay lot multiples.

reduceOnly is per ACCOUNT at Bybit, not per model, and the orders of one batch may execute in
any order. So a batch's model-closing parts are sent reduce-only only when the WHOLE batch
reduces the account's position without crossing zero (same direction against it, total size
≤ |position|): then every order reduces the account whatever order they fill in. Otherwise no
order of the batch is reduce-only (Bybit would reject or shrink it while the model needs it).

Never sends an order outside the lot rules: quantities are lot multiples, chunks stay within the
market-order maximum, a remainder under the minimum order qty is left as dust (reported, not
traded). Targets are capped at ±`IntentLimits.max_position` per model.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from nexusforge.errors import ConfigError
from nexusforge.market.instruments import Instrument, Rounding
from nexusforge.nexus.executions import ExecId, Execution
from nexusforge.nexus.order_ids import OrderLinkId

ZERO = Decimal(0)
INTERNAL = "Internal"


@dataclass(frozen=True, slots=True)
class OrderIntent:
    """A market order we mean to send (journaled before it is sent)."""

    order_link_id: OrderLinkId
    slot: int
    symbol: str
    side: int
    qty: Decimal
    reduce_only: bool
    reason: str = "target"
    order_type: str = "Market"

    @property
    def signed_qty(self) -> Decimal:
        """+qty for a buy, −qty for a sell."""
        return self.qty * self.side

    def to_bybit(self) -> dict[str, str | bool | int]:
        """Parameters of POST /v5/order/create (one-way mode)."""
        return {
            "category": "linear",
            "symbol": self.symbol,
            "side": "Buy" if self.side > 0 else "Sell",
            "orderType": self.order_type,
            "qty": str(self.qty),
            "orderLinkId": self.order_link_id,
            "reduceOnly": self.reduce_only,
            "positionIdx": 0,
        }


@dataclass(frozen=True, slots=True)
class WorkingOrder:
    """An order of a model that may still fill: `leaves_qty` still open, signed by `side`."""

    order_link_id: str
    side: int
    leaves_qty: Decimal
    reduce_only: bool = False

    @property
    def signed_leaves(self) -> Decimal:
        """+leaves for a buy, −leaves for a sell."""
        return self.leaves_qty * self.side


@dataclass(frozen=True, slots=True)
class IntentLimits:
    """Per-model cap on |position| (base units) and an optional cap per order."""

    max_position: Decimal
    max_order_qty: Decimal | None = None

    def __post_init__(self) -> None:
        if self.max_position < 0:
            raise ConfigError(f"max_position must be >= 0, got {self.max_position}")
        if self.max_order_qty is not None and self.max_order_qty <= 0:
            raise ConfigError(f"max_order_qty must be > 0, got {self.max_order_qty}")


@dataclass(frozen=True, slots=True)
class TradeNeed:
    """What one model wants to trade this round, before crossing; `cancel` are stale orders."""

    slot: int
    qty: Decimal
    cancel: tuple[str, ...] = ()


def need(
    slot: int,
    target: Decimal,
    inventory: Decimal,
    working: Sequence[WorkingOrder],
    instrument: Instrument,
    limits: IntentLimits,
) -> TradeNeed:
    """Signed qty to trade so inventory + working orders reach the (capped, lot-rounded) target.

    Working orders on the side of the new trade count as if filled; those against it are stale
    and listed for cancelling (they no longer count). A need under the minimum order qty is 0.
    """
    capped = max(-limits.max_position, min(limits.max_position, target))
    capped = _toward_zero(capped, instrument)
    pending = sum((w.signed_leaves for w in working), ZERO)
    delta = capped - inventory - pending
    stale = tuple(w.order_link_id for w in working if w.side * delta < 0)
    if stale:
        keep = sum((w.signed_leaves for w in working if w.side * delta >= 0), ZERO)
        delta = capped - inventory - keep
    if abs(delta) < instrument.min_qty:
        delta = ZERO
    return TradeNeed(slot, delta, stale)


def _toward_zero(qty: Decimal, instrument: Instrument) -> Decimal:
    snapped = instrument.round_qty(abs(qty), Rounding.DOWN)
    return snapped if qty >= 0 else -snapped


@dataclass(frozen=True, slots=True)
class Cross:
    """One internal match: `qty` from seller slot to buyer slot at `price`."""

    buyer: int
    seller: int
    qty: Decimal
    price: Decimal


@dataclass(frozen=True, slots=True)
class CrossResult:
    """Matches found and what each slot still has to trade at the venue."""

    crosses: tuple[Cross, ...]
    residual: dict[int, Decimal] = field(default_factory=dict)


def cross(needs: Sequence[TradeNeed], price: Decimal) -> CrossResult:
    """Matches opposite needs of different slots greedily in slot order (see module doc)."""
    if price <= 0:
        raise ConfigError(f"crossing price must be > 0, got {price}")
    left = {n.slot: n.qty for n in needs}
    if len(left) != len(needs):
        raise ConfigError("one need per slot")
    buyers = sorted(s for s, q in left.items() if q > 0)
    sellers = sorted(s for s, q in left.items() if q < 0)
    crosses: list[Cross] = []
    i = j = 0
    while i < len(buyers) and j < len(sellers):
        b, s = buyers[i], sellers[j]
        qty = min(left[b], -left[s])
        crosses.append(Cross(b, s, qty, price))
        left[b] -= qty
        left[s] += qty
        i += left[b] == 0
        j += left[s] == 0
    return CrossResult(tuple(crosses), left)


def internal_fills(
    c: Cross, symbol: str, time_ms: int, link_id: Callable[[int], OrderLinkId]
) -> tuple[Execution, Execution]:
    """The two fills of one cross (buyer's, seller's), fee 0, each with a fresh orderLinkId."""
    legs = []
    for slot, side in ((c.buyer, 1), (c.seller, -1)):
        link = link_id(slot)
        legs.append(
            Execution(
                exec_id=ExecId(f"x-{link}"),
                symbol=symbol,
                exec_type=INTERNAL,
                side=side,
                price=c.price,
                qty=c.qty,
                fee=ZERO,
                exec_time_ms=time_ms,
                order_link_id=link,
            )
        )
    return legs[0], legs[1]


def reduces_account(account_position: Decimal, batch_qty: Decimal) -> bool:
    """Whether a batch of orders totalling `batch_qty` (signed) reduces the account's position
    in any fill order: against it and no bigger than it."""
    return account_position * batch_qty < 0 and abs(batch_qty) <= abs(account_position)


def orders(
    slot: int,
    symbol: str,
    qty: Decimal,
    inventory: Decimal,
    instrument: Instrument,
    link_id: Callable[[int], OrderLinkId],
    *,
    reduce_only_ok: bool,
    limits: IntentLimits | None = None,
    reason: str = "target",
) -> list[OrderIntent]:
    """Market order intents for a signed trade `qty` of one model, in lot-size chunks.

    The part that closes the model's inventory goes first and is reduce-only when
    `reduce_only_ok` (see `reduces_account`); the part that opens a new position never is.
    """
    if qty == 0:
        return []
    side = 1 if qty > 0 else -1
    closing = min(abs(qty), abs(inventory)) if inventory * qty < 0 else ZERO
    opening = abs(qty) - closing
    cap = _chunk_cap(instrument, limits)
    out: list[OrderIntent] = []
    for part, reduce_only in ((closing, reduce_only_ok), (opening, False)):
        for chunk in chunks(part, instrument, cap):
            link = link_id(slot)
            out.append(OrderIntent(link, slot, symbol, side, chunk, reduce_only, reason))
    return out


@dataclass(frozen=True, slots=True)
class ModelView:
    """One active model in a decision round: its target, ledger inventory and working orders."""

    slot: int
    target: Decimal
    inventory: Decimal
    working: tuple[WorkingOrder, ...] = ()


@dataclass(frozen=True, slots=True)
class RoundPlan:
    """A decision round: internal fills to book, orders to send, stale orders to cancel.

    The engine journals `fills` and `intents` before it applies or sends them."""

    fills: tuple[Execution, ...]
    intents: tuple[OrderIntent, ...]
    cancels: tuple[str, ...]


def plan_round(
    symbol: str,
    views: Sequence[ModelView],
    account_position: Decimal,
    mid: Decimal,
    instrument: Instrument,
    limits: IntentLimits,
    link_id: Callable[[int], OrderLinkId],
    time_ms: int,
) -> RoundPlan:
    """Targets of the active models -> needs -> internal crosses at `mid` -> venue orders."""
    needs = [need(v.slot, v.target, v.inventory, v.working, instrument, limits) for v in views]
    result = cross(needs, mid)
    held = {v.slot: v.inventory for v in views}
    fills: list[Execution] = []
    for c in result.crosses:
        fills.extend(internal_fills(c, symbol, time_ms, link_id))
        held[c.buyer] += c.qty
        held[c.seller] -= c.qty
    batch = sum(result.residual.values(), ZERO)
    ro_ok = reduces_account(account_position, batch)
    intents: list[OrderIntent] = []
    for slot, qty in sorted(result.residual.items()):
        intents += orders(
            slot, symbol, qty, held[slot], instrument, link_id, reduce_only_ok=ro_ok, limits=limits
        )
    cancels = tuple(link for n in needs for link in n.cancel)
    return RoundPlan(tuple(fills), tuple(intents), cancels)


def _chunk_cap(instrument: Instrument, limits: IntentLimits | None) -> Decimal:
    cap = instrument.max_market_qty
    if limits is not None and limits.max_order_qty is not None:
        cap = min(cap, limits.max_order_qty)
    return instrument.round_qty(cap, Rounding.DOWN)


def chunks(qty: Decimal, instrument: Instrument, cap: Decimal | None = None) -> list[Decimal]:
    """`qty` (≥ 0) split into lot-multiple orders ≤ cap, each ≥ min qty; a sub-minimum rest
    is folded into the previous chunk when it fits, else dropped (dust)."""
    cap = instrument.max_market_qty if cap is None else cap
    qty = instrument.round_qty(qty, Rounding.DOWN)
    if cap < instrument.min_qty:
        raise ConfigError(f"order cap {cap} is below the minimum order qty {instrument.min_qty}")
    out: list[Decimal] = []
    while qty >= instrument.min_qty:
        take = min(qty, cap)
        rest = qty - take
        if 0 < rest < instrument.min_qty:
            smaller = instrument.round_qty(take - (instrument.min_qty - rest), Rounding.DOWN)
            take = smaller if smaller >= instrument.min_qty else take
        out.append(take)
        qty -= take
    return out
