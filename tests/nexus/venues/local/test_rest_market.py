"""Public REST endpoints against the replayed real XRPUSDT ob500 book."""

from __future__ import annotations

from decimal import Decimal

from localx import Signed, ok

from nexusforge.market.instruments import parse_instruments_response
from nexusforge.nexus.venues.local import LocalExchange


def test_time_is_the_server_clock(client: Signed) -> None:
    reply = client.public("/v5/market/time")
    result = ok(reply)
    # The result and the envelope read the clock at two moments of one request.
    assert 0 <= reply["time"] - int(result["timeNano"]) // 1_000_000 < 50
    assert int(result["timeSecond"]) == int(result["timeNano"]) // 1_000_000_000


def test_instruments_info_parses_with_the_package_rules(client: Signed) -> None:
    reply = client.public("/v5/market/instruments-info", category="linear", symbol="XRPUSDT")
    rules = parse_instruments_response(reply)["XRPUSDT"]
    assert rules.tick_size == Decimal("0.0001")  # the recorded price grid
    assert rules.qty_step == Decimal("1")  # XRPUSDT sizes are whole coins
    item = reply["result"]["list"][0]
    assert item["contractType"] == "LinearPerpetual" and item["settleCoin"] == "USDT"


def test_orderbook_is_the_recorded_book(exchange: LocalExchange, client: Signed) -> None:
    book = ok(client.public("/v5/market/orderbook", category="linear", symbol="XRPUSDT", limit=5))
    bids = exchange.levels("XRPUSDT", "Buy", 5)
    asks = exchange.levels("XRPUSDT", "Sell", 5)
    assert book["b"] == [[str(lv.price.normalize()), str(lv.qty)] for lv in bids]
    assert book["a"] == [[str(lv.price.normalize()), str(lv.qty)] for lv in asks]
    prices_b = [Decimal(p) for p, _ in book["b"]]
    prices_a = [Decimal(p) for p, _ in book["a"]]
    assert prices_b == sorted(prices_b, reverse=True) and prices_a == sorted(prices_a)
    assert prices_b[0] < prices_a[0]
    assert isinstance(book["u"], int) and isinstance(book["ts"], int)


def test_orderbook_moves_with_the_replay(exchange: LocalExchange, client: Signed) -> None:
    first = ok(client.public("/v5/market/orderbook", category="linear", symbol="XRPUSDT"))
    assert exchange.step_market(10) == 10
    later = ok(client.public("/v5/market/orderbook", category="linear", symbol="XRPUSDT"))
    assert later["u"] == first["u"] + 10
    assert (later["b"], later["a"]) != (first["b"], first["a"])


def test_tickers_top_of_book_and_kline_after_a_trade(client: Signed) -> None:
    ticker = ok(client.public("/v5/market/tickers", category="linear", symbol="XRPUSDT"))["list"][0]
    book = ok(client.public("/v5/market/orderbook", category="linear", symbol="XRPUSDT", limit=1))
    assert [ticker["bid1Price"], ticker["bid1Size"]] == book["b"][0]
    assert [ticker["ask1Price"], ticker["ask1Size"]] == book["a"][0]
    empty = ok(client.public("/v5/market/kline", category="linear", symbol="XRPUSDT", interval="1"))
    assert empty["list"] == []
    ok(client.order(symbol="XRPUSDT", side="Buy", orderType="Market", qty="50"))
    bars = ok(client.public("/v5/market/kline", category="linear", symbol="XRPUSDT", interval="1"))
    start, o, h, lo, c, volume, turnover = bars["list"][0]
    assert o == h == lo == c == book["a"][0][0]  # 50 coins fit in the best ask
    assert volume == "50" and Decimal(turnover) == 50 * Decimal(o)
    assert int(start) % 60_000 == 0
    trades = ok(client.public("/v5/market/recent-trade", category="linear", symbol="XRPUSDT"))
    assert trades["list"][0]["side"] == "Buy" and trades["list"][0]["size"] == "50"


def test_bad_requests(client: Signed) -> None:
    assert client.public("/v5/market/orderbook", category="linear", symbol="NOPE")["retCode"] == (
        10001
    )
    assert client.public("/v5/market/orderbook", category="spot", symbol="XRPUSDT")["retCode"] == (
        10001
    )
    assert (
        client.public("/v5/market/orderbook", category="linear", symbol="XRPUSDT", limit=0)[
            "retCode"
        ]
        == 10001
    )
    assert (
        client.public("/v5/market/kline", category="linear", symbol="XRPUSDT", interval="7")[
            "retCode"
        ]
        == 10001
    )
    missing = client.public("/v5/market/nothing-here")
    assert missing["retCode"] == 10017
    assert client.last is not None and client.last.status_code == 404
