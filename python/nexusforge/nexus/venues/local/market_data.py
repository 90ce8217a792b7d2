"""Public market endpoints and the ticker record shared with the `tickers` topic."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from nexusforge.market.instruments import Instrument
from nexusforge.nexus.venues.local import params as p
from nexusforge.nexus.venues.local import rejects as rc
from nexusforge.nexus.venues.local.rejects import Reject
from nexusforge.nexus.venues.local.trades import interval_ms
from nexusforge.nexus.venues.local.venue import Venue
from nexusforge.nexus.venues.local.wire import fmt

DAY_MS = 86_400_000
HOUR_MS = 3_600_000
FUNDING_MS = 8 * HOUR_MS


def server_time(now_ms: int) -> dict[str, Any]:
    return {"timeSecond": str(now_ms // 1000), "timeNano": str(now_ms * 1_000_000)}


def instruments_info(venue: Venue, params: p.Params) -> dict[str, Any]:
    p.linear(params)
    symbol = p.optional(params, "symbol")
    symbols = sorted(venue.instruments) if symbol is None else [symbol]
    items = [instrument_record(venue.instruments[s]) for s in symbols if s in venue.instruments]
    return {"category": "linear", "list": items, "nextPageCursor": ""}


def instrument_record(inst: Instrument) -> dict[str, Any]:
    base = inst.symbol.removesuffix("USDT")
    scale = max(0, -int(inst.tick_size.normalize().as_tuple().exponent))
    return {
        "symbol": inst.symbol,
        "contractType": "LinearPerpetual",
        "status": inst.status,
        "baseCoin": base,
        "quoteCoin": "USDT",
        "settleCoin": "USDT",
        "launchTime": "0",
        "deliveryTime": "0",
        "deliveryFeeRate": "",
        "priceScale": str(scale),
        "leverageFilter": {"minLeverage": "1", "maxLeverage": "100.00", "leverageStep": "0.01"},
        "priceFilter": {
            "minPrice": fmt(inst.min_price),
            "maxPrice": fmt(inst.max_price),
            "tickSize": fmt(inst.tick_size),
        },
        "lotSizeFilter": {
            "maxOrderQty": fmt(inst.max_qty),
            "minOrderQty": fmt(inst.min_qty),
            "qtyStep": fmt(inst.qty_step),
            "postOnlyMaxOrderQty": fmt(inst.max_qty),
            "maxMktOrderQty": fmt(inst.max_market_qty),
            "minNotionalValue": fmt(inst.min_notional),
        },
        "unifiedMarginTrade": True,
        "fundingInterval": 480,
        "copyTrading": "none",
        "upperFundingRate": "0.005",
        "lowerFundingRate": "-0.005",
        "isPreListing": False,
        "preListingInfo": None,
        "riskParameters": {"priceLimitRatioX": "0.05", "priceLimitRatioY": "0.1"},
        "symbolType": "",
    }


def orderbook(venue: Venue, params: p.Params) -> dict[str, Any]:
    p.linear(params)
    inst = venue.instrument(params)
    depth = p.integer(params, "limit", 25, 1, 1000)
    now = venue.now_ms()
    return {
        "s": inst.symbol,
        "b": [
            [fmt(lv.price), fmt(lv.qty)] for lv in venue.market.levels(inst.symbol, "Buy", depth)
        ],
        "a": [
            [fmt(lv.price), fmt(lv.qty)] for lv in venue.market.levels(inst.symbol, "Sell", depth)
        ],
        "ts": now,
        "u": venue.book_u.get(inst.symbol, 0),
        "seq": venue.book_u.get(inst.symbol, 0),
        "cts": now,
    }


def kline(venue: Venue, params: p.Params) -> dict[str, Any]:
    if params.get("category", "linear") != "linear":
        raise Reject(rc.PARAMS, "params error: category must be linear")
    inst = venue.instrument(params)
    length = interval_ms(p.text(params, "interval"))
    start = p.integer(params, "start", -1, 0, 2**53)
    end = p.integer(params, "end", -1, 0, 2**53)
    limit = p.integer(params, "limit", 200, 1, 1000)
    bars = venue.trades.candles(
        inst.symbol, length, start if start >= 0 else None, end if end >= 0 else None, limit
    )
    rows = [
        [str(b.start), fmt(b.open), fmt(b.high), fmt(b.low), fmt(b.close), fmt(b.volume),
         fmt(b.turnover)]
        for b in bars
    ]  # fmt: skip
    return {"category": "linear", "symbol": inst.symbol, "list": rows}


def recent_trades(venue: Venue, params: p.Params) -> dict[str, Any]:
    p.linear(params)
    inst = venue.instrument(params)
    limit = p.integer(params, "limit", 500, 1, 1000)
    rows = [
        {
            "execId": t.trade_id,
            "symbol": inst.symbol,
            "price": fmt(t.price),
            "size": fmt(t.qty),
            "side": t.side,
            "time": str(t.ts_ms),
            "isBlockTrade": False,
            "isRPITrade": False,
            "seq": str(t.seq),
        }
        for t in venue.trades.recent(inst.symbol, limit)
    ]
    return {"category": "linear", "list": rows}


def tickers(venue: Venue, params: p.Params) -> dict[str, Any]:
    p.linear(params)
    symbol = p.optional(params, "symbol")
    symbols = sorted(venue.instruments) if symbol is None else [venue.instrument(params).symbol]
    return {"category": "linear", "list": [ticker(venue, s) for s in symbols]}


def ticker(venue: Venue, symbol: str) -> dict[str, Any]:
    """The linear ticker fields, from the book, our prints and the configured funding rate."""
    now = venue.now_ms()
    bid = venue.market.levels(symbol, "Buy", 1)
    ask = venue.market.levels(symbol, "Sell", 1)
    mark = venue.market.mark_price(symbol)
    last = venue.trades.last(symbol)
    last_px = last.price if last is not None else mark
    day = venue.trades.window(symbol, now - DAY_MS)
    prices = [t.price for t in day]
    prev = day[0].price if day else last_px
    change = (last_px - prev) / prev if last_px is not None and prev else Decimal(0)
    hour = venue.trades.window(symbol, now - HOUR_MS)
    return {
        "symbol": symbol,
        "tickDirection": "ZeroPlusTick",
        "lastPrice": fmt(last_px),
        "markPrice": fmt(mark),
        "indexPrice": fmt(mark),
        "prevPrice24h": fmt(prev),
        "price24hPcnt": fmt(change.quantize(Decimal("1e-6"))),
        "highPrice24h": fmt(max(prices) if prices else last_px),
        "lowPrice24h": fmt(min(prices) if prices else last_px),
        "prevPrice1h": fmt(hour[0].price if hour else last_px),
        "openInterest": fmt(
            sum(
                (abs(q.size) for q in venue.account.positions.values() if q.symbol == symbol),
                Decimal(0),
            )
        ),
        "openInterestValue": "0",
        "turnover24h": fmt(sum((t.price * t.qty for t in day), Decimal(0))),
        "volume24h": fmt(sum((t.qty for t in day), Decimal(0))),
        "fundingRate": fmt(venue.config.funding_rate),
        "nextFundingTime": str(now - now % FUNDING_MS + FUNDING_MS),
        "bid1Price": fmt(bid[0].price) if bid else "",
        "bid1Size": fmt(bid[0].qty) if bid else "",
        "ask1Price": fmt(ask[0].price) if ask else "",
        "ask1Size": fmt(ask[0].qty) if ask else "",
        "fundingIntervalHour": "8",
        "fundingCap": "0.005",
        "predictedDeliveryPrice": "",
        "basisRate": "",
        "deliveryFeeRate": "",
        "deliveryTime": "0",
        "preOpenPrice": "",
        "preQty": "",
        "curPreListingPhase": "",
    }
