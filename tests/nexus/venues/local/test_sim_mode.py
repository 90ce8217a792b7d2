"""Sim mode: the HF-ABM's agents in a live matching engine, our orders among theirs."""

from __future__ import annotations

import time
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from localx import KEY, SECRET, Signed, Ws, ok

from nexusforge.forge.sim.config import SimConfig
from nexusforge.forge.sim.engine import EngineConfig, MatchingEngine
from nexusforge.forge.sim.run import run_sim
from nexusforge.nexus.venues.local import ApiKey, ExchangeConfig, LocalExchange, Secret
from nexusforge.nexus.venues.local.market.sim import CANCEL, MARKET, SUBMIT, SimMarket, agent_ops

SYM = "BTCUSDT"
MAKER, TAKER = Decimal("0.0002"), Decimal("0.00055")


@pytest.fixture
def sim() -> Iterator[LocalExchange]:
    cfg = ExchangeConfig(mode="sim", keys=(ApiKey(KEY, Secret(SECRET)),), start_paused=True)
    with LocalExchange(cfg) as ex:
        yield ex


@pytest.fixture
def sim_client(sim: LocalExchange) -> Iterator[Signed]:
    client = Signed(sim.rest_url)
    yield client
    client.close()


def fills_of(client: Signed, order_id: str) -> list[dict[str, Any]]:
    rows = ok(client.get("/v5/execution/list", category="linear", orderId=order_id))["list"]
    return list(reversed(rows))


def test_agent_requests_replayed_alone_reproduce_the_simulators_trades() -> None:
    cfg = SimConfig.scenario(seed=3, duration_s=30.0)
    result = run_sim(cfg)
    engine = MatchingEngine(EngineConfig(cfg.tick_size, cfg.lot_size))
    ids: dict[int, int] = {}
    for op in agent_ops(result.events, cfg.tick_size, cfg.lot_size):
        side = "buy" if op.side > 0 else "sell"
        if op.op == SUBMIT:
            ids[op.order] = engine.submit_limit(op.ts_ns, op.agent, side, op.price, op.qty, op.tif)  # type: ignore[arg-type]
        elif op.op == MARKET:
            ids[op.order] = engine.submit_market(op.ts_ns, op.agent, side, op.qty)
        elif op.op == CANCEL and op.order in ids:
            engine.cancel(op.ts_ns, op.agent, ids[op.order])
        elif op.order in ids:
            engine.amend(op.ts_ns, op.agent, ids[op.order], op.qty or None, op.price or None)
    events = engine.take_events()
    trades = events.filter(events["kind"] == "trade")
    ours = list(zip(trades["price"].to_list(), trades["qty"].to_list(), strict=True))
    tick, lot = cfg.tick_size, cfg.lot_size
    theirs = [
        (round(p / tick), round(q / lot))
        for p, q in zip(
            result.trades["price"].to_list(), result.trades["qty"].to_list(), strict=True
        )
    ]
    assert len(theirs) > 50 and ours == theirs


def test_market_order_walks_the_engine_book(sim: LocalExchange, sim_client: Signed) -> None:
    asks = sim.levels(SYM, "Sell", 5)
    qty = asks[0].qty + asks[1].qty / 2
    qty = qty.quantize(Decimal("0.001"))
    order = ok(sim_client.order(symbol=SYM, side="Buy", orderType="Market", qty=str(qty)))
    fills = fills_of(sim_client, order["orderId"])
    by_price: dict[Decimal, Decimal] = {}
    for fill in fills:  # one fill per resting agent order, as on a real venue
        by_price[Decimal(fill["execPrice"])] = by_price.get(
            Decimal(fill["execPrice"]), 0
        ) + Decimal(fill["execQty"])
        assert Decimal(fill["execFee"]) == Decimal(fill["execValue"]) * TAKER
    assert by_price == {asks[0].price: asks[0].qty, asks[1].price: qty - asks[0].qty}
    assert sim.levels(SYM, "Sell", 1)[0] == asks[1].__class__(
        asks[1].price, asks[1].qty - (qty - asks[0].qty)
    )


def test_our_resting_order_is_on_the_book_and_fills_in_the_queue(
    sim: LocalExchange, sim_client: Signed
) -> None:
    bid = sim.levels(SYM, "Buy", 1)[0]
    order = ok(sim_client.order(symbol=SYM, side="Buy", orderType="Limit", qty="0.05",
                                price=str(bid.price)))  # fmt: skip
    assert sim.levels(SYM, "Buy", 1)[0].qty == bid.qty + Decimal("0.05")  # behind the queue
    for _ in range(200):
        if fills_of(sim_client, order["orderId"]):
            break
        sim.step_market(200)
    fills = fills_of(sim_client, order["orderId"])
    assert fills and all(f["isMaker"] is True for f in fills)
    assert sum(Decimal(f["execQty"]) for f in fills) <= Decimal("0.05")
    for fill in fills:
        assert Decimal(fill["execPrice"]) == bid.price
        assert Decimal(fill["execFee"]) == Decimal(fill["execValue"]) * MAKER
    position = ok(sim_client.get("/v5/position/list", category="linear", symbol=SYM))["list"][0]
    assert Decimal(position["size"]) == sum(Decimal(f["execQty"]) for f in fills)


def test_cancel_removes_our_order_from_the_engine(sim: LocalExchange, sim_client: Signed) -> None:
    ask = sim.levels(SYM, "Sell", 1)[0].price
    price = ask + 50  # a level of our own, far from the touch
    order = ok(sim_client.order(symbol=SYM, side="Sell", orderType="Limit", qty="0.3",
                                price=str(price)))  # fmt: skip
    assert (price, Decimal("0.3")) in {(lv.price, lv.qty) for lv in sim.levels(SYM, "Sell", 200)}
    ok(sim_client.post("/v5/order/cancel", category="linear", symbol=SYM, orderId=order["orderId"]))
    assert price not in {lv.price for lv in sim.levels(SYM, "Sell", 200)}


def test_running_sim_publishes_a_consistent_book() -> None:
    cfg = ExchangeConfig(mode="sim", keys=(ApiKey(KEY, Secret(SECRET)),), speed=0.0)
    with LocalExchange(cfg) as ex:
        ws = Ws(ex.ws_public_url)
        ws.send({"op": "subscribe", "args": [f"orderbook.50.{SYM}", f"publicTrade.{SYM}"]})
        ws.recv()
        snapshot = ws.until(f"orderbook.50.{SYM}")
        book = {s: dict(snapshot["data"][s]) for s in ("b", "a")}
        last_u, trades, deadline = snapshot["data"]["u"], 0, time.monotonic() + 1.0
        while time.monotonic() < deadline:
            message = ws.recv()
            if message.get("topic") == f"publicTrade.{SYM}":
                trades += len(message["data"])
                continue
            data = message["data"]
            assert data["u"] == last_u + 1
            last_u = data["u"]
            for side in ("b", "a"):
                for price, size in data[side]:
                    if size == "0":
                        del book[side][price]  # KeyError: a delete of an unpublished level
                    else:
                        book[side][price] = size
        ws.close()
    assert trades > 0 and last_u > snapshot["data"]["u"] + 10
    assert max(map(Decimal, book["b"])) < min(map(Decimal, book["a"]))


def test_amend_down_keeps_the_queue_place_and_a_new_price_loses_it(
    sim: LocalExchange, sim_client: Signed
) -> None:
    market = sim.market
    assert isinstance(market, SimMarket)
    price = sim.levels(SYM, "Buy", 1)[0].price - 5
    order = ok(sim_client.order(symbol=SYM, side="Buy", orderType="Limit", qty="0.2",
                                price=str(price)))["orderId"]  # fmt: skip
    [before] = market.engine.open_orders(market.our_agent)

    def amend(**change: str) -> None:
        ok(sim_client.post("/v5/order/amend", category="linear", symbol=SYM, orderId=order,
                           **change))  # fmt: skip

    amend(qty="0.1")
    [smaller] = market.engine.open_orders(market.our_agent)
    assert (smaller.id, smaller.priority, smaller.leaves) == (before.id, before.priority, 100)
    amend(price=str(price - 1))
    [moved] = market.engine.open_orders(market.our_agent)
    assert moved.priority != before.priority and moved.price == before.price - 2  # 0.5 ticks
    [record] = ok(sim_client.get("/v5/order/realtime", category="linear", orderId=order))["list"]
    assert (record["qty"], Decimal(record["price"])) == ("0.1", price - 1)
