"""Order entry over REST: lifecycle, validation and the retCodes Bybit answers with."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from localx import Signed, config, ok

from nexusforge.nexus.venues.local import LocalExchange

SYM = {"symbol": "XRPUSDT"}


def limit(client: Signed, side: str, qty: str, price: str, **extra: object) -> dict[str, object]:
    return client.order(**SYM, side=side, orderType="Limit", qty=qty, price=price, **extra)


def realtime(client: Signed, **params: object) -> list[dict[str, object]]:
    return list(ok(client.get("/v5/order/realtime", category="linear", **params))["list"])


def test_limit_order_rests_amends_and_cancels(client: Signed) -> None:
    created = ok(limit(client, "Buy", "100", "1.9", orderLinkId="a-1"))
    [order] = realtime(client, **SYM)
    assert order["orderId"] == created["orderId"] and order["orderLinkId"] == "a-1"
    assert (order["orderStatus"], order["price"], order["qty"]) == ("New", "1.9", "100")
    assert order["leavesQty"] == "100" and order["cumExecQty"] == "0" and order["avgPrice"] == ""
    ok(client.post("/v5/order/amend", category="linear", **SYM, orderLinkId="a-1", price="1.91",
                   qty="120"))  # fmt: skip
    [order] = realtime(client, orderId=created["orderId"])
    assert (order["price"], order["qty"], order["leavesQty"]) == ("1.91", "120", "120")
    ok(client.post("/v5/order/cancel", category="linear", **SYM, orderId=created["orderId"]))
    assert realtime(client, **SYM) == []
    [closed] = ok(client.get("/v5/order/history", category="linear", **SYM))["list"]
    assert (closed["orderStatus"], closed["cancelType"]) == ("Cancelled", "CancelByUser")


def test_cancel_or_amend_unknown_order_is_110001(client: Signed) -> None:
    for path in ("/v5/order/cancel", "/v5/order/amend"):
        reply = client.post(path, category="linear", **SYM, orderId="no-such-id", price="1.9")
        assert reply["retCode"] == 110001
    created = ok(limit(client, "Buy", "10", "1.9"))
    ok(client.post("/v5/order/cancel", category="linear", **SYM, orderId=created["orderId"]))
    again = client.post("/v5/order/cancel", category="linear", **SYM, orderId=created["orderId"])
    assert again["retCode"] == 110001  # already closed


def test_order_link_id_is_unique_among_open_orders(client: Signed) -> None:
    ok(limit(client, "Buy", "10", "1.9", orderLinkId="dup"))
    assert limit(client, "Buy", "10", "1.8", orderLinkId="dup")["retCode"] == 110072
    ok(client.post("/v5/order/cancel", category="linear", **SYM, orderLinkId="dup"))
    ok(limit(client, "Buy", "10", "1.8", orderLinkId="dup"))  # free again once closed
    assert limit(client, "Buy", "10", "1.8", orderLinkId="x" * 37)["retCode"] == 10001
    assert limit(client, "Buy", "10", "1.8", orderLinkId="bad id!")["retCode"] == 10001


def test_validation_against_instrument_rules(client: Signed) -> None:
    assert limit(client, "Buy", "10", "1.90005")["retCode"] == 10001  # off the tick grid
    assert limit(client, "Buy", "10.5", "1.9")["retCode"] == 10001  # off the lot grid
    assert limit(client, "Buy", "1", "1.9")["retCode"] == 110094  # 1.9 USDT < 5 notional
    assert limit(client, "Buy", "0", "1.9")["retCode"] == 10001
    assert limit(client, "Hold", "10", "1.9")["retCode"] == 10001
    assert limit(client, "Buy", "10", "1.9", positionIdx=1)["retCode"] == 10001
    assert client.order(**SYM, side="Buy", orderType="Limit", qty="10")["retCode"] == 10001
    assert limit(client, "Buy", "10", "1.9", timeInForce="GTD")["retCode"] == 10001


def test_insufficient_balance_is_110007(shared_data: Path) -> None:
    with LocalExchange(config(shared_data, initial_balance=Decimal("100"))) as ex:
        ex.step_market(1)
        client = Signed(ex.rest_url)
        # 10x leverage: 100 USDT carries ~1000 USDT of XRP (~510 coins at 1.95).
        assert limit(client, "Buy", "600", "1.9")["retCode"] == 110007
        ok(limit(client, "Buy", "400", "1.9"))
        assert limit(client, "Buy", "200", "1.9")["retCode"] == 110007  # open orders hold margin
        client.close()


def test_reduce_only_needs_a_position(client: Signed) -> None:
    reply = client.order(**SYM, side="Sell", orderType="Market", qty="10", reduceOnly=True)
    assert reply["retCode"] == 110017
    ok(client.order(**SYM, side="Buy", orderType="Market", qty="30"))
    ok(client.order(**SYM, side="Sell", orderType="Market", qty="100", reduceOnly=True))
    position = ok(client.get("/v5/position/list", category="linear", **SYM))["list"][0]
    assert position["size"] == "0" and position["side"] == ""  # capped at 30, not flipped


def test_post_only_that_would_take_is_cancelled(exchange: LocalExchange, client: Signed) -> None:
    ask = exchange.levels("XRPUSDT", "Sell", 1)[0].price
    created = ok(limit(client, "Buy", "10", str(ask), timeInForce="PostOnly"))
    [order] = realtime(client, orderId=created["orderId"])
    assert order["orderStatus"] == "Cancelled"
    assert order["rejectReason"] == "EC_PostOnlyWillTakeLiquidity"
    assert order["cumExecQty"] == "0"


def test_ioc_and_fok_leftovers(exchange: LocalExchange, client: Signed) -> None:
    best = exchange.levels("XRPUSDT", "Sell", 1)[0]
    qty = str(best.qty + 5)  # more than the best level, limited to its price
    ioc = ok(limit(client, "Buy", qty, str(best.price), timeInForce="IOC"))
    [order] = realtime(client, orderId=ioc["orderId"])
    assert order["orderStatus"] == "Cancelled" and order["cumExecQty"] == str(best.qty)
    fok = ok(limit(client, "Buy", qty, str(best.price), timeInForce="FOK"))
    [order] = realtime(client, orderId=fok["orderId"])
    assert order["orderStatus"] == "Cancelled" and order["cumExecQty"] == "0"
    fills = ok(client.get("/v5/execution/list", category="linear", orderId=fok["orderId"]))
    assert fills["list"] == []


def test_cancel_all_by_symbol(client: Signed) -> None:
    ids = {ok(limit(client, "Buy", "10", f"1.9{i}"))["orderId"] for i in range(3)}
    reply = ok(client.post("/v5/order/cancel-all", category="linear", **SYM))
    assert reply["success"] == "1"
    assert {item["orderId"] for item in reply["list"]} == ids
    assert realtime(client, **SYM) == []
    assert client.post("/v5/order/cancel-all", category="linear")["retCode"] == 10001


def test_realtime_pages_with_a_cursor(client: Signed) -> None:
    ids = [ok(limit(client, "Buy", "10", "1.8"))["orderId"] for _ in range(5)]
    first = ok(client.get("/v5/order/realtime", category="linear", **SYM, limit=2))
    second = ok(client.get("/v5/order/realtime", category="linear", **SYM, limit=2,
                           cursor=first["nextPageCursor"]))  # fmt: skip
    third = ok(client.get("/v5/order/realtime", category="linear", **SYM, limit=2,
                          cursor=second["nextPageCursor"]))  # fmt: skip
    seen = [o["orderId"] for page in (first, second, third) for o in page["list"]]
    assert sorted(seen) == sorted(ids) and len(seen) == 5
    assert third["nextPageCursor"] == ""


def test_fok_counts_liquidity_we_already_took(exchange: LocalExchange, client: Signed) -> None:
    best = exchange.levels("XRPUSDT", "Sell", 1)[0]
    half = best.qty // 2
    ok(client.order(**SYM, side="Buy", orderType="Market", qty=str(half)))
    # The recorded level still shows best.qty, but only the rest of it is there for us.
    fok = ok(limit(client, "Buy", str(best.qty - half + 1), str(best.price), timeInForce="FOK"))
    [order] = realtime(client, orderId=fok["orderId"])
    assert order["orderStatus"] == "Cancelled" and order["cumExecQty"] == "0"
    fits = ok(limit(client, "Buy", str(best.qty - half), str(best.price), timeInForce="FOK"))
    [order] = realtime(client, orderId=fits["orderId"])
    assert order["orderStatus"] == "Filled"
