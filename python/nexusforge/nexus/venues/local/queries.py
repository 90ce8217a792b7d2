"""Read-only account endpoints: orders, executions (cursor pagination), positions, wallet, fees.

Cursors are opaque to clients; here they name the position of the last item returned, so a
page never repeats or skips an item even while new fills arrive between pages.
"""

from __future__ import annotations

from typing import Any

from nexusforge.nexus.venues.local import params as p
from nexusforge.nexus.venues.local import rejects as rc
from nexusforge.nexus.venues.local.orders import Order
from nexusforge.nexus.venues.local.rejects import Reject
from nexusforge.nexus.venues.local.venue import Venue
from nexusforge.nexus.venues.local.wire import fmt, order_record, position_record, wallet_record

SEVEN_DAYS_MS = 7 * 86_400_000
RECENT_CLOSED = 500


def open_orders(venue: Venue, params: p.Params) -> dict[str, Any]:
    """GET /v5/order/realtime: open orders, or (`openOnly=1`) the most recent closed ones."""
    p.linear(params)
    closed = p.integer(params, "openOnly", 0, 0, 2) == 1
    orders = _orders(venue, params, want_open=not closed)
    if closed:
        orders = orders[:RECENT_CLOSED]
    return _page(params, orders, 20, 50)


def order_history(venue: Venue, params: p.Params) -> dict[str, Any]:
    """GET /v5/order/history: closed orders, newest first."""
    p.linear(params)
    return _page(params, _orders(venue, params, want_open=False), 20, 50)


def executions(venue: Venue, params: p.Params) -> dict[str, Any]:
    """GET /v5/execution/list: fills newest first, filtered, `cursor` paginated."""
    p.linear(params)
    start = p.integer(params, "startTime", -1, 0, 2**53)
    end = p.integer(params, "endTime", -1, 0, 2**53)
    now = venue.now_ms()
    if start >= 0 and end >= 0 and not 0 <= end - start <= SEVEN_DAYS_MS:
        raise Reject(rc.PARAMS, "params error: endTime - startTime must be within 7 days")
    if start < 0 and end < 0:
        start, end = now - SEVEN_DAYS_MS, now
    elif start < 0:
        start = end - SEVEN_DAYS_MS
    elif end < 0:
        end = start + SEVEN_DAYS_MS
    exec_type = p.optional(params, "execType")
    keep = _exec_filter(params)
    rows = [
        (i, e) for i, e in enumerate(venue.executions)
        if keep(e) and start <= int(e["execTime"]) <= end
        and (exec_type is None or e["execType"] == exec_type)
    ]  # fmt: skip
    rows.reverse()
    limit = p.integer(params, "limit", 50, 1, 100)
    cursor = _cursor(params)
    if cursor is not None:
        rows = [(i, e) for i, e in rows if i < cursor]
    page = rows[:limit]
    more = len(rows) > limit
    return {
        "category": "linear",
        "list": [e for _, e in page],
        "nextPageCursor": f"e{page[-1][0]}" if more else "",
    }


def positions(venue: Venue, params: p.Params) -> dict[str, Any]:
    """GET /v5/position/list: with `symbol` even a flat row; with `settleCoin` non-zero rows."""
    p.linear(params)
    symbol = p.optional(params, "symbol")
    if symbol is not None:
        if symbol not in venue.instruments:
            raise Reject(rc.PARAMS, f"params error: symbol invalid: {symbol}")
        symbols = [symbol]
    elif p.optional(params, "settleCoin") == "USDT":
        symbols = sorted(s for s, pos in venue.account.positions.items() if pos.size)
    else:
        raise Reject(rc.PARAMS, "params error: symbol or settleCoin is required")
    lev = venue.account.leverage
    rows = [
        position_record(venue.account.position(s), venue.market.mark_price(s), lev) for s in symbols
    ]
    return {"category": "linear", "list": rows, "nextPageCursor": ""}


def wallet(venue: Venue, params: p.Params) -> dict[str, Any]:
    """GET /v5/account/wallet-balance (accountType=UNIFIED)."""
    if p.text(params, "accountType") != "UNIFIED":
        raise Reject(rc.PARAMS, "params error: accountType only support UNIFIED")
    coins = p.optional(params, "coin")
    entry = wallet_record(venue.account, venue.marks(), venue.order_im())
    if coins is not None and "USDT" not in coins.split(","):
        entry["coin"] = []
    return {"list": [entry]}


def fee_rates(venue: Venue, params: p.Params) -> dict[str, Any]:
    """GET /v5/account/fee-rate: the tier's rates for one or every symbol."""
    symbol = p.optional(params, "symbol")
    symbols = [symbol] if symbol is not None else sorted(venue.instruments)
    maker, taker = fmt(venue.maker_rate), fmt(venue.taker_rate)
    rows = [{"symbol": s, "takerFeeRate": taker, "makerFeeRate": maker} for s in symbols]
    return {"list": rows}


def _orders(venue: Venue, params: p.Params, *, want_open: bool) -> list[Order]:
    found = _by_id(venue, params)
    if found is not None:
        return found  # a lookup by id answers whatever the order's status
    match = venue.scope(params)
    chosen = [o for o in venue.orders.values() if o.is_open == want_open and match(o.symbol)]
    return sorted(chosen, key=lambda o: (o.created_ms, o.order_id), reverse=True)


def _by_id(venue: Venue, params: p.Params) -> list[Order] | None:
    if p.optional(params, "orderId") is None and p.optional(params, "orderLinkId") is None:
        return None
    order = venue.find_order(params)
    return [order] if order is not None else []


def _exec_filter(params: p.Params) -> Any:
    order_id = p.optional(params, "orderId")
    if order_id is not None:
        return lambda e: e["orderId"] == order_id
    link = p.optional(params, "orderLinkId")
    if link is not None:
        return lambda e: e["orderLinkId"] == link
    symbol = p.optional(params, "symbol")
    if symbol is not None:
        return lambda e: e["symbol"] == symbol
    base = p.optional(params, "baseCoin")
    if base is not None:
        return lambda e: e["symbol"] == f"{base}USDT"
    return lambda e: True


def _cursor(params: p.Params) -> int | None:
    raw = p.optional(params, "cursor")
    if raw is None:
        return None
    if not (raw[:1] in ("e", "o") and raw[1:].isdigit()):
        raise Reject(rc.PARAMS, "params error: cursor invalid")
    return int(raw[1:])


def _page(params: p.Params, orders: list[Order], default: int, most: int) -> dict[str, Any]:
    limit = p.integer(params, "limit", default, 1, most)
    cursor = _cursor(params)
    start = cursor if cursor is not None else 0
    page = orders[start : start + limit]
    more = len(orders) > start + limit
    return {
        "category": "linear",
        "list": [order_record(o) for o in page],
        "nextPageCursor": f"o{start + limit}" if more else "",
    }
