"""Fills in replay mode against real recordings, checked with independent code.

Taker fills must equal the walk of the recorded book at that moment, as the package's Rust book
and cost model compute it from the raw recording; fees must be exact Decimal products at the
VIP0 rates; maker fills follow the documented conservative rule.
"""

from __future__ import annotations

import math
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
from localx import XRP, Signed, ok

from nexusforge.data.readers import pick_reader
from nexusforge.market.book import OrderBook, replay_top_levels
from nexusforge.market.costs import BYBIT_FEE_TIERS, CostModel
from nexusforge.market.events import FLAG_BEGIN, BookLevelRows
from nexusforge.nexus.venues.local import LocalExchange
from nexusforge.nexus.venues.local.market.replay import ReplayMarket
from nexusforge.nexus.venues.local.market.tape import TRADE

MAKER, TAKER = (Decimal(repr(r)) for r in BYBIT_FEE_TIERS["VIP0"])


def recorded_rows(shared_data: Path) -> BookLevelRows:
    path = shared_data / XRP
    frames = pick_reader(path).read(path, b"").frames  # type: ignore[union-attr]
    return BookLevelRows.from_frame(frames["book_events"])


def first_messages(rows: BookLevelRows, n: int) -> BookLevelRows:
    begins = np.flatnonzero((rows.flags & FLAG_BEGIN) != 0)
    end = int(begins[n]) if n < len(begins) else len(rows)
    return BookLevelRows(**{k: getattr(rows, k)[:end] for k in rows.__dataclass_fields__})


def fills_of(client: Signed, order_id: str) -> list[dict[str, Any]]:
    rows = ok(client.get("/v5/execution/list", category="linear", orderId=order_id))["list"]
    return list(reversed(rows))  # oldest first


def test_market_buy_walks_the_recorded_book(
    shared_data: Path, exchange: LocalExchange, client: Signed
) -> None:
    book = OrderBook(0.0001)
    book.apply(first_messages(recorded_rows(shared_data), 1))  # the exchange played 1 message
    asks = book.depth(10)[1]
    qty = int(asks[:3, 1].sum() + asks[3, 1] // 2)  # three whole levels and half the fourth
    order = ok(client.order(symbol="XRPUSDT", side="Buy", orderType="Market", qty=str(qty)))
    fills = fills_of(client, order["orderId"])
    expected = [(p, q) for p, q in asks[:3].tolist()] + [(asks[3, 0], asks[3, 1] // 2)]
    assert [(float(f["execPrice"]), float(f["execQty"])) for f in fills] == expected
    notional = sum(Decimal(f["execPrice"]) * Decimal(f["execQty"]) for f in fills)
    walk = book.cost_to_buy(qty)
    assert math.isclose(float(notional / qty), walk.avg_price, rel_tol=1e-12)
    bids, asks_top = book.best_bid(), book.best_ask()
    assert bids is not None and asks_top is not None
    cost = CostModel(impact_eta=0.0, impact_gamma=0.0).price_fill(
        "buy", qty, (bids.price + asks_top.price) / 2, bids.price, asks_top.price,
        depth=book.depth(1000),
    )  # fmt: skip
    assert math.isclose(cost.price, walk.avg_price, rel_tol=1e-12)
    total_fee = Decimal(0)
    for fill in fills:
        value = Decimal(fill["execPrice"]) * Decimal(fill["execQty"])
        assert Decimal(fill["execValue"]) == value
        assert Decimal(fill["execFee"]) == value * TAKER  # exact, no rounding
        assert fill["feeRate"] == "0.00055" and fill["isMaker"] is False
        total_fee += Decimal(fill["execFee"])
    assert math.isclose(float(total_fee), cost.fee, rel_tol=1e-12)
    wallet = ok(client.get("/v5/account/wallet-balance", accountType="UNIFIED"))["list"][0]
    assert Decimal(wallet["totalWalletBalance"]) == Decimal(100000) - total_fee


def test_taken_liquidity_is_not_taken_twice(exchange: LocalExchange, client: Signed) -> None:
    first, second = exchange.levels("XRPUSDT", "Sell", 2)
    ok(client.order(symbol="XRPUSDT", side="Buy", orderType="Market", qty=str(first.qty)))
    again = ok(client.order(symbol="XRPUSDT", side="Buy", orderType="Market", qty="10"))
    [fill] = fills_of(client, again["orderId"])
    assert Decimal(fill["execPrice"]) == second.price  # the best level was used up by us
    assert exchange.levels("XRPUSDT", "Sell", 1)[0] == first  # the published book is the record


def test_market_sell_walks_the_bids(exchange: LocalExchange, client: Signed) -> None:
    bids = exchange.levels("XRPUSDT", "Buy", 2)
    qty = bids[0].qty + 7
    order = ok(client.order(symbol="XRPUSDT", side="Sell", orderType="Market", qty=str(qty)))
    fills = fills_of(client, order["orderId"])
    assert [(Decimal(f["execPrice"]), Decimal(f["execQty"])) for f in fills] == [
        (bids[0].price, bids[0].qty),
        (bids[1].price, Decimal(7)),
    ]
    position = ok(client.get("/v5/position/list", category="linear", symbol="XRPUSDT"))["list"][0]
    assert position["side"] == "Sell" and Decimal(position["size"]) == qty


def test_resting_sell_fills_only_when_the_recorded_bid_crosses_it(
    shared_data: Path, exchange: LocalExchange, client: Signed
) -> None:
    top = replay_top_levels(recorded_rows(shared_data), 0.0001, 1)
    ours = 1.9534  # two ticks above the first ask: it rests
    crossing = int(np.flatnonzero(top.bid_px[:, 0] >= ours - 1e-9)[0])
    assert crossing > 8  # the bid first reaches 1.9533 (one tick below us): no fill then
    order = ok(client.order(symbol="XRPUSDT", side="Sell", orderType="Limit", qty="100000",
                            price=str(ours)))  # fmt: skip
    assert exchange.step_market(crossing - 1) == crossing - 1  # up to just before the cross
    assert fills_of(client, order["orderId"]) == []
    exchange.step_market(1)
    [fill] = fills_of(client, order["orderId"])
    shown = Decimal(repr(float(top.bid_qty[crossing, 0])))
    assert Decimal(fill["execQty"]) == min(Decimal(100000), shown)
    assert Decimal(fill["execPrice"]) == Decimal("1.9534") and fill["isMaker"] is True
    assert Decimal(fill["execFee"]) == Decimal(fill["execValue"]) * MAKER


def _sell_print_with_room(ex: LocalExchange, market: ReplayMarket) -> tuple[str, Decimal, Decimal]:
    """Step to just before a recorded taker-sell print with a tick of room below the ask.

    Returns the symbol, the print's price and its size.
    """
    played, booked = 0, set()
    for index, event in enumerate(market.tape.events):
        if event.kind != TRADE:
            booked.add(event.symbol)
            continue
        row = market.tape.symbols[event.symbol].trades.row(event.start, named=True)
        if event.symbol not in booked or row["side"] > 0:
            continue
        played += ex.step_market(index - played)
        inst = market.instruments[event.symbol]
        price = inst.round_price(Decimal(repr(row["price"])))
        asks = ex.levels(event.symbol, "Sell", 1)
        if asks and price + inst.tick_size < asks[0].price:
            return event.symbol, price, Decimal(repr(row["qty"])).quantize(inst.qty_step)
    raise AssertionError("no sell print with room below the ask")


def test_print_through_our_bid_fills_it(
    legacy_exchange: LocalExchange, legacy_client: Signed
) -> None:
    market = legacy_exchange.market
    assert isinstance(market, ReplayMarket)
    symbol, price, size = _sell_print_with_room(legacy_exchange, market)
    ours = price + market.instruments[symbol].tick_size
    at = ok(legacy_client.order(symbol=symbol, side="Buy", orderType="Limit", qty=str(size),
                                price=str(price)))  # fmt: skip
    through = ok(legacy_client.order(symbol=symbol, side="Buy", orderType="Limit",
                                     qty=str(size * 3), price=str(ours)))  # fmt: skip
    legacy_exchange.step_market(1)  # the print
    assert fills_of(legacy_client, at["orderId"]) == []  # a print at our price: queue unknown
    [fill] = fills_of(legacy_client, through["orderId"])
    assert Decimal(fill["execQty"]) == size and Decimal(fill["execPrice"]) == ours
    assert fill["isMaker"] is True and Decimal(fill["execFee"]) == ours * size * MAKER
    [order] = ok(legacy_client.get("/v5/order/realtime", category="linear",
                                   orderId=through["orderId"]))["list"]  # fmt: skip
    assert order["orderStatus"] == "PartiallyFilled"
    assert Decimal(order["leavesQty"]) == size * 2
