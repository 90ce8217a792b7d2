"""The exchange itself, free of any transport: order entry, fills, the account, its history.

Every request method returns the `result` object of Bybit's reply or raises `Reject`. Effects
(executions, order snapshots, positions, wallet) go to the bound `VenueEvents` after the
request's own work is done, in the order execution -> order -> position -> wallet.
Everything runs on one event loop; no method awaits, so each request is atomic.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from itertools import count
from typing import Any, Protocol

from nexusforge.market.instruments import Instrument, Rounding
from nexusforge.nexus.venues.local import params as p
from nexusforge.nexus.venues.local import rejects as rc
from nexusforge.nexus.venues.local.account import Account
from nexusforge.nexus.venues.local.config import ExchangeConfig
from nexusforge.nexus.venues.local.market.base import (
    MakerFill,
    MarketBackend,
    MarketTrade,
    Side,
)
from nexusforge.nexus.venues.local.orders import LINK_ID, Order
from nexusforge.nexus.venues.local.rejects import Reject
from nexusforge.nexus.venues.local.trades import Print, TradeHistory
from nexusforge.nexus.venues.local.wire import fmt, order_record, position_record, wallet_record

log = logging.getLogger(__name__)
PROTECTION = Decimal("0.03")  # market orders become IOC limits 3 % through the touch
TIF = ("GTC", "IOC", "FOK", "PostOnly")


class VenueEvents(Protocol):
    """Where the venue's effects go (the websocket hubs)."""

    def private(self, kind: str, records: list[dict[str, Any]]) -> None: ...

    def public_trade(self, symbol: str, trade: Print) -> None: ...

    def book_changed(self, symbol: str, reset: bool) -> None: ...


@dataclass
class _Batch:
    executions: list[dict[str, Any]] = field(default_factory=list)
    orders: dict[str, Order] = field(default_factory=dict)
    symbols: set[str] = field(default_factory=set)
    wallet: bool = False


class Venue:
    """One account trading on one market backend."""

    def __init__(
        self, config: ExchangeConfig, market: MarketBackend, clock: Callable[[], int]
    ) -> None:
        self.config = config
        self.market = market
        self.now_ms = clock
        self.account = Account(config.initial_balance, config.leverage)
        self.maker_rate, self.taker_rate = config.fee_rates
        self.orders: dict[str, Order] = {}
        self.open_by_link: dict[str, str] = {}
        self.last_by_link: dict[str, str] = {}
        self.executions: list[dict[str, Any]] = []
        self.trades = TradeHistory()
        self.book_u: dict[str, int] = {}
        self._seq = count(1)
        self._batch: _Batch | None = None
        self.events: VenueEvents | None = None
        market.bind(self)

    @property
    def instruments(self) -> dict[str, Instrument]:
        return self.market.instruments

    def instrument(self, params: p.Params) -> Instrument:
        symbol = p.text(params, "symbol")
        inst = self.instruments.get(symbol)
        if inst is None:
            raise Reject(rc.PARAMS, f"params error: symbol invalid: {symbol}")
        return inst

    def marks(self) -> dict[str, Decimal | None]:
        return {s: self.market.mark_price(s) for s in self.account.positions}

    def order_im(self) -> Decimal:
        open_orders = (o for o in self.orders.values() if o.is_open)
        return sum((o.leaves * o.price / self.account.leverage for o in open_orders), Decimal(0))

    def available(self) -> Decimal:
        marks = self.marks()
        return self.account.equity(marks) - self.account.position_im(marks) - self.order_im()

    # ---- market listener ----

    def on_book(self, symbol: str, reset: bool) -> None:
        self.book_u[symbol] = self.book_u.get(symbol, 0) + 1
        if self.events is not None:
            self.events.book_changed(symbol, reset)

    def on_trade(self, trade: MarketTrade) -> None:
        self._print(trade.symbol, trade.price, trade.qty, trade.side, trade.trade_id)

    def on_maker_fills(self, symbol: str, fills: list[MakerFill]) -> None:
        with self._batching():
            for fill in fills:
                order = self.orders.get(fill.order_id)
                if order is None or not order.is_open:
                    log.warning("maker fill for unknown or closed order %s ignored", fill.order_id)
                    continue
                qty = min(fill.qty, order.leaves)
                if order.reduce_only:
                    qty = min(qty, self.account.reducible(symbol, order.side))
                if qty > 0:
                    self._execute(order, fill.price, qty, maker=True)
                if order.reduce_only and not self.account.reducible(symbol, order.side):
                    self._cancel(order, "CancelByReduceOnly")
                else:
                    order.settle(self.now_ms(), keep_open=True)
                    self._closed(order)

    # ---- order entry ----

    def create_order(self, params: p.Params) -> dict[str, Any]:
        p.linear(params)
        inst = self.instrument(params)
        side: Side = p.choice(params, "side", ("Buy", "Sell"))  # type: ignore[assignment]
        order_type = p.choice(params, "orderType", ("Market", "Limit"))
        tif = "IOC" if order_type == "Market" else p.choice(params, "timeInForce", TIF, "GTC")
        if p.integer(params, "positionIdx", 0, 0, 2) != 0:
            raise Reject(rc.PARAMS, "position idx not match position mode (one-way only)")
        link = self._new_link_id(params)
        reduce_only, close_on_trigger = (
            p.flag(params, "reduceOnly"),
            p.flag(params, "closeOnTrigger"),
        )
        qty = self._order_qty(params, inst.symbol, side, reduce_only, close_on_trigger)
        price = self._order_price(params, inst, side, order_type)
        unpriced = order_type == "Market" and self._reference(inst.symbol, side) is None
        self._check_rules(inst, price, qty, order_type == "Market", unpriced=unpriced)
        if sum(o.is_open and o.symbol == inst.symbol for o in self.orders.values()) >= 500:
            raise Reject(rc.TOO_MANY_ORDERS, "too many open orders (500 per symbol)")
        if not reduce_only:
            ref = price if order_type == "Limit" else self._reference(inst.symbol, side)
            self._check_margin(inst.symbol, side, qty, ref)
        now = self.now_ms()
        last = self.trades.last(inst.symbol)
        order = Order(
            order_id=str(uuid.uuid4()), order_link_id=link, symbol=inst.symbol, side=side,
            order_type=order_type, price=price, qty=qty, time_in_force=tif,
            reduce_only=reduce_only, close_on_trigger=close_on_trigger, created_ms=now,
            last_price_on_created=last.price if last else self.market.mark_price(inst.symbol),
            updated_ms=now,
        )  # fmt: skip
        self.orders[order.order_id] = order
        if link:
            self.open_by_link[link] = self.last_by_link[link] = order.order_id
        with self._batching():
            self._enter(order)
        return {"orderId": order.order_id, "orderLinkId": order.order_link_id}

    def amend_order(self, params: p.Params) -> dict[str, Any]:
        p.linear(params)
        inst = self.instrument(params)
        order = self._open_order(params, inst.symbol)
        qty = p.decimal(params, "qty") or order.qty
        price = p.decimal(params, "price") or order.price
        if qty == order.qty and price == order.price:
            raise Reject(rc.PARAMS, "order not modified")
        if qty <= order.cum_qty:
            raise Reject(rc.PARAMS, "qty must be greater than the filled qty")
        self._check_rules(inst, price, qty, False)
        with self._batching():  # the backend re-rests it (keeping its queue place if it may)
            order.qty, order.price, order.updated_ms = qty, price, self.now_ms()
            self._work(order)
        return {"orderId": order.order_id, "orderLinkId": order.order_link_id}

    def cancel_order(self, params: p.Params) -> dict[str, Any]:
        p.linear(params)
        inst = self.instrument(params)
        order = self._open_order(params, inst.symbol)
        with self._batching():
            self._cancel(order, "CancelByUser")
        return {"orderId": order.order_id, "orderLinkId": order.order_link_id}

    def cancel_all(self, params: p.Params) -> dict[str, Any]:
        p.linear(params)
        match = self.scope(params)
        cancelled = [o for o in self.orders.values() if o.is_open and match(o.symbol)]
        with self._batching():
            for order in cancelled:
                self._cancel(order, "CancelByUser")
        items = [{"orderId": o.order_id, "orderLinkId": o.order_link_id} for o in cancelled]
        return {"list": items, "success": "1"}

    # ---- internals: order entry ----

    def _new_link_id(self, params: p.Params) -> str:
        link = p.optional(params, "orderLinkId") or ""
        if link and not LINK_ID.match(link):
            raise Reject(rc.PARAMS, "orderLinkId must be 1-36 chars of [A-Za-z0-9_-]")
        if link in self.open_by_link:
            raise Reject(rc.DUPLICATE_LINK_ID, "OrderLinkedID is duplicate")
        return link

    def _order_qty(
        self, params: p.Params, symbol: str, side: str, reduce_only: bool, close: bool
    ) -> Decimal:
        qty = p.decimal(params, "qty")
        if qty is None or qty < 0 or (qty == 0 and not (reduce_only and close)):
            raise Reject(rc.PARAMS, "params error: qty must be > 0")
        if reduce_only:
            reducible = self.account.reducible(symbol, side)
            if not reducible:
                raise Reject(
                    rc.REDUCE_ONLY_ZERO,
                    "current position is zero, cannot fix reduce-only order qty",
                )
            qty = reducible if qty == 0 else min(qty, reducible)
        return qty

    def _order_price(self, params: p.Params, inst: Instrument, side: Side, kind: str) -> Decimal:
        if kind == "Limit":
            price = p.decimal(params, "price")
            if price is None or price <= 0:
                raise Reject(rc.PARAMS, "params error: price is required for a Limit order")
            return price
        ref = self._reference(inst.symbol, side)
        if ref is None:
            return inst.min_price if side == "Sell" else inst.max_price
        if side == "Buy":
            return min(inst.round_price(ref * (1 + PROTECTION), Rounding.UP), inst.max_price)
        return max(inst.round_price(ref * (1 - PROTECTION), Rounding.DOWN), inst.min_price)

    def _check_rules(
        self,
        inst: Instrument,
        price: Decimal,
        qty: Decimal,
        market: bool,
        *,
        unpriced: bool = False,
    ) -> None:
        problem = inst.order_problem(price, qty, market=market)
        if problem is None:
            return
        if unpriced and problem.startswith("notional"):
            return  # nothing to price a market order against: it meets nothing and is cancelled
        code = rc.NOTIONAL_TOO_LOW if problem.startswith("notional") else rc.PARAMS
        raise Reject(code, f"params error: {problem}")

    def _reference(self, symbol: str, side: Side) -> Decimal | None:
        """The price a market order would meet first: the opposite touch, else the mark."""
        touch = self.market.levels(symbol, "Sell" if side == "Buy" else "Buy", 1)
        return touch[0].price if touch else self.market.mark_price(symbol)

    def _check_margin(self, symbol: str, side: str, qty: Decimal, ref: Decimal | None) -> None:
        """Initial margin of the opening part plus a taker fee must fit the available balance."""
        if ref is None:
            return  # an empty book: the market order meets nothing and is cancelled
        opening = max(Decimal(0), qty - self.account.reducible(symbol, side))
        need = opening * ref / self.account.leverage + qty * ref * self.taker_rate
        if need > self.available():
            raise Reject(rc.INSUFFICIENT_AVAILABLE, "ab not enough for new order")

    def _enter(self, order: Order) -> None:
        order.transition("New", self.now_ms())
        self._work(order)

    def _work(self, order: Order) -> None:
        """Take what the order's price allows, then rest, finish or cancel the rest."""
        now = self.now_ms()
        limit = order.price
        assert self._batch is not None
        self._batch.orders[order.order_id] = order
        if order.time_in_force == "PostOnly" and self._crosses(order):
            order.reject_reason = "EC_PostOnlyWillTakeLiquidity"
            self._cancel(order, "CancelByUser")
            return
        fok = order.time_in_force == "FOK"
        if fok and self.market.available(order.symbol, order.side, order.price) < order.leaves:
            order.reject_reason = "EC_NoEnoughQtyToFill"
            self._cancel(order, "CancelByUser")
            return
        for fill in self.market.take(order.symbol, order.side, order.leaves, limit):
            self._execute(order, fill.price, fill.qty, maker=False)
        rests = order.order_type == "Limit" and order.time_in_force in ("GTC", "PostOnly")
        if rests and order.leaves > 0:
            self.market.rest(order.order_id, order.symbol, order.side, order.price, order.leaves)
        if not rests and order.leaves > 0 and not order.cum_qty:
            order.reject_reason = "EC_NoImmediateQtyToFill"
        if not rests and order.leaves > 0:
            order.cancel_type = "UNKNOWN"
        order.settle(now, keep_open=rests)
        self._closed(order)

    def _crosses(self, order: Order) -> bool:
        touch = self.market.levels(order.symbol, "Sell" if order.side == "Buy" else "Buy", 1)
        if not touch:
            return False
        return (
            order.price >= touch[0].price if order.side == "Buy" else order.price <= touch[0].price
        )

    def _execute(self, order: Order, price: Decimal, qty: Decimal, *, maker: bool) -> None:
        now, seq = self.now_ms(), next(self._seq)
        rate = self.maker_rate if maker else self.taker_rate
        value = price * qty
        fee = value * rate
        effect = self.account.apply_fill(order.symbol, order.side, qty, price, fee, now, seq)
        order.add_fill(price, qty, fee)
        order.updated_ms = now
        mark = self.market.mark_price(order.symbol)
        record = {
            "category": "linear", "symbol": order.symbol, "execId": str(uuid.uuid4()),
            "orderId": order.order_id, "orderLinkId": order.order_link_id, "side": order.side,
            "orderType": order.order_type, "stopOrderType": "UNKNOWN", "createType": "CreateByUser",
            "orderPrice": fmt(order.price), "orderQty": fmt(order.qty),
            "leavesQty": fmt(order.qty - order.cum_qty), "execPrice": fmt(price),
            "execQty": fmt(qty), "execValue": fmt(value), "execFee": fmt(fee),
            "feeRate": fmt(rate), "feeCurrency": "USDT", "isMaker": maker, "execType": "Trade",
            "execTime": str(now), "execPnl": fmt(effect.pnl), "closedSize": fmt(effect.closed_size),
            "markPrice": fmt(mark), "seq": seq, "blockTradeId": "", "tradeIv": "", "markIv": "",
            "indexPrice": fmt(mark), "underlyingPrice": "", "extraFees": "", "isLeverage": "",
            "marketUnit": "",
        }  # fmt: skip
        self.executions.append(record)
        assert self._batch is not None
        self._batch.executions.append(record)
        self._batch.orders[order.order_id] = order
        self._batch.symbols.add(order.symbol)
        self._batch.wallet = True
        if not maker:
            self._print(order.symbol, price, qty, order.side, str(uuid.uuid4()))

    def _cancel(self, order: Order, cancel_type: str) -> None:
        self.market.unrest(order.order_id)
        order.cancel_type = cancel_type
        order.transition("Cancelled", self.now_ms())
        self._closed(order)
        assert self._batch is not None
        self._batch.orders[order.order_id] = order
        self._batch.symbols.add(order.symbol)

    def _closed(self, order: Order) -> None:
        if not order.is_open:
            self.market.unrest(order.order_id)
            if self.open_by_link.get(order.order_link_id) == order.order_id:
                del self.open_by_link[order.order_link_id]

    def _open_order(self, params: p.Params, symbol: str) -> Order:
        order = self.find_order(params)
        if order is None or not order.is_open or order.symbol != symbol:
            raise Reject(rc.ORDER_NOT_EXISTS, "order not exists or too late to cancel")
        return order

    def find_order(self, params: p.Params) -> Order | None:
        """By `orderId` (wins) or `orderLinkId` (the latest order with that id)."""
        order_id = p.optional(params, "orderId")
        if order_id is not None:
            return self.orders.get(order_id)
        link = p.optional(params, "orderLinkId")
        if link is None:
            raise Reject(rc.PARAMS, "params error: orderId or orderLinkId is required")
        found = self.last_by_link.get(link)
        return self.orders.get(found) if found else None

    def scope(self, params: p.Params) -> Callable[[str], bool]:
        """Which symbols a request covers: `symbol`, `baseCoin` or `settleCoin` (one required)."""
        symbol = p.optional(params, "symbol")
        if symbol is not None:
            return lambda s: s == symbol
        base = p.optional(params, "baseCoin")
        if base is not None:
            return lambda s: s == f"{base}USDT"
        if p.optional(params, "settleCoin") == "USDT":
            return lambda s: True
        raise Reject(rc.PARAMS, "params error: symbol, baseCoin or settleCoin is required")

    def _print(self, symbol: str, price: Decimal, qty: Decimal, side: str, trade_id: str) -> None:
        trade = Print(self.now_ms(), price, qty, side, trade_id, next(self._seq))
        self.trades.add(symbol, trade)
        if self.events is not None:
            self.events.public_trade(symbol, trade)

    @contextmanager
    def _batching(self) -> Iterator[None]:
        """Collect a request's effects and publish them once it is done (nested: outermost)."""
        if self._batch is not None:
            yield
            return
        self._batch = batch = _Batch()
        try:
            yield
        finally:
            self._batch = None
            self._publish(batch)

    def _publish(self, batch: _Batch) -> None:
        if self.events is None:
            return
        if batch.executions:
            self.events.private("execution", batch.executions)
        if batch.orders:
            records = [order_record(o, ws=True) for o in batch.orders.values()]
            self.events.private("order", records)
        symbols = batch.symbols | {o.symbol for o in batch.orders.values()}
        if symbols:
            lev = self.account.leverage
            records = [
                position_record(self.account.position(s), self.market.mark_price(s), lev, ws=True)
                for s in sorted(symbols)
            ]
            self.events.private("position", records)
        if batch.wallet:
            self.events.private(
                "wallet", [wallet_record(self.account, self.marks(), self.order_im())]
            )
