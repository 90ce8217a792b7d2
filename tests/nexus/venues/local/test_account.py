"""The account: hand-computed PnL, invariants under random fills, and the venue's own records."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st
from localx import Signed, ok

from nexusforge.nexus.venues.local import LocalExchange
from nexusforge.nexus.venues.local.account import Account

D = Decimal


def test_open_add_reduce_flip_by_hand() -> None:
    acct = Account(D(1000), D(10))
    acct.apply_fill("BTCUSDT", "Buy", D(10), D(100), D("0.5"), 1, 1)
    acct.apply_fill("BTCUSDT", "Buy", D(10), D(110), D("0.5"), 2, 2)
    pos = acct.position("BTCUSDT")
    assert (pos.size, pos.cost, pos.avg_price) == (D(20), D(2100), D(105))
    closed = acct.apply_fill("BTCUSDT", "Sell", D(15), D(120), D(1), 3, 3)
    assert (closed.closed_size, closed.pnl) == (D(15), D(225))  # 15 * (120 - 105)
    assert (pos.size, pos.cost) == (D(5), D(525))
    flip = acct.apply_fill("BTCUSDT", "Sell", D(10), D(90), D(1), 4, 4)
    assert (flip.closed_size, flip.pnl) == (D(5), D(-75))  # 5 * (90 - 105)
    assert (pos.size, pos.cost, pos.side) == (D(-5), D(450), "Sell")
    assert acct.wallet == D(1000) + D(225) - D(75) - D(3)
    assert pos.unrealised(D(80)) == D(50)  # short 5 from 90, marked at 80
    assert pos.cur_realised == D(-1)  # the short opened by the flip carries the flip's fee
    assert pos.cum_realised == D(225) - D(75) - D(3)


fills = st.lists(
    st.tuples(
        st.sampled_from(["Buy", "Sell"]),
        st.integers(1, 500).map(lambda n: D(n) / 10),
        st.integers(1000, 3000).map(lambda n: D(n) / 100),
    ),
    min_size=1,
    max_size=60,
)


@given(fills)
def test_wallet_and_position_invariants(trades: list[tuple[str, Decimal, Decimal]]) -> None:
    acct = Account(D(10_000), D(10))
    size, pnl, fees = D(0), D(0), D(0)
    for i, (side, qty, price) in enumerate(trades):
        fee = qty * price * D("0.00055")
        effect = acct.apply_fill("X", side, qty, price, fee, i, i)
        size += qty if side == "Buy" else -qty
        pnl, fees = pnl + effect.pnl, fees + fee
        pos = acct.position("X")
        assert pos.size == size
        assert pos.cost >= 0 and (pos.cost == 0) == (pos.size == 0)
        if pos.size:
            assert min(p for _, _, p in trades) <= pos.avg_price <= max(p for _, _, p in trades)
        assert acct.wallet == D(10_000) + pnl - fees
        assert acct.cum_realised == pnl - fees


def test_venue_records_agree_with_each_other(exchange: LocalExchange, client: Signed) -> None:
    orders = [("Buy", 300), ("Buy", 200), ("Sell", 600), ("Sell", 50), ("Buy", 450), ("Sell", 7)]
    for i, (side, qty) in enumerate(orders):
        ok(client.order(symbol="XRPUSDT", side=side, orderType="Market", qty=str(qty)))
        exchange.step_market(3 + i)  # the recorded book moves between orders
    fills = []
    cursor = ""
    while True:  # page through with a small limit to exercise the cursor
        params = {"category": "linear", "symbol": "XRPUSDT", "limit": 2}
        page = ok(
            client.get("/v5/execution/list", **params, **({"cursor": cursor} if cursor else {}))
        )
        fills.extend(page["list"])
        cursor = page["nextPageCursor"]
        if not cursor:
            break
    assert len({f["execId"] for f in fills}) == len(fills) >= len(orders)
    assert [int(f["seq"]) for f in fills] == sorted((int(f["seq"]) for f in fills), reverse=True)
    signed = sum(D(f["execQty"]) * (1 if f["side"] == "Buy" else -1) for f in fills)
    assert signed == D(sum(q if s == "Buy" else -q for s, q in orders))
    position = ok(client.get("/v5/position/list", category="linear", symbol="XRPUSDT"))["list"][0]
    assert D(position["size"]) * (1 if position["side"] == "Buy" else -1) == signed
    assert D(position["avgPrice"]) * D(position["size"]) == D(position["positionValue"])
    pnl = sum(D(f["execPnl"]) for f in fills)
    fees = sum(D(f["execFee"]) for f in fills)
    assert D(position["cumRealisedPnl"]) == pnl - fees
    wallet = ok(client.get("/v5/account/wallet-balance", accountType="UNIFIED"))["list"][0]
    assert D(wallet["totalWalletBalance"]) == D(100_000) + pnl - fees
    assert D(wallet["totalEquity"]) == D(wallet["totalWalletBalance"]) + D(
        position["unrealisedPnl"]
    )
