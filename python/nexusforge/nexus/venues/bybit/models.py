"""Typed Bybit v5 wire records (msgspec): REST results and private-stream items.

Prices and quantities that Bybit always fills are `Decimal`, parsed exactly from the venue's
strings; fields Bybit sometimes sends as `""` stay `str` and have a `Decimal | None` accessor.
Unknown fields are ignored (and reported once by `SchemaWatch`); a record missing a required
field fails alone, counted and logged, without taking its neighbours down.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

import msgspec

ZERO = Decimal(0)


def opt_decimal(raw: str) -> Decimal | None:
    """`Decimal(raw)`, or None for Bybit's empty value `""` (or anything not a finite number)."""
    if not raw:
        return None
    try:
        value = Decimal(raw)
    except InvalidOperation:
        return None
    return value if value.is_finite() else None


class BybitEnvelope(msgspec.Struct, frozen=True):
    """Every REST reply: `retCode` 0 is success; `result` is decoded per endpoint."""

    retCode: int
    retMsg: str = ""
    result: msgspec.Raw = msgspec.Raw(b"{}")
    time: int = 0


class BybitPage(msgspec.Struct, frozen=True):
    """A list result with its cursor; items stay raw until converted one by one."""

    items: list[dict[str, Any]] = msgspec.field(default_factory=list, name="list")
    nextPageCursor: str | None = None
    category: str = ""


class BybitServerTime(msgspec.Struct, frozen=True):
    """GET /v5/market/time."""

    timeSecond: str
    timeNano: str = ""

    def ms(self) -> int:
        """Server time in ms (from timeNano when present)."""
        if self.timeNano:
            return int(self.timeNano) // 1_000_000
        return int(self.timeSecond) * 1000


class BybitOrderbook(msgspec.Struct, frozen=True):
    """GET /v5/market/orderbook: bids descending, asks ascending, as (price, size)."""

    s: str
    b: list[tuple[Decimal, Decimal]]
    a: list[tuple[Decimal, Decimal]]
    ts: int
    u: int
    seq: int = 0
    cts: int = 0


class BybitKline(msgspec.Struct, frozen=True):
    """One candle of GET /v5/market/kline."""

    start_ms: int
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal
    turnover: Decimal


class BybitKlineResult(msgspec.Struct, frozen=True):
    """GET /v5/market/kline result: rows of 7 strings, newest first."""

    rows: list[tuple[str, Decimal, Decimal, Decimal, Decimal, Decimal, Decimal]] = msgspec.field(
        name="list"
    )
    symbol: str = ""
    category: str = ""


class BybitOrderAck(msgspec.Struct, frozen=True):
    """create/amend/cancel reply: an acknowledgement only, never proof of a fill."""

    orderId: str
    orderLinkId: str = ""


class BybitCancelAll(msgspec.Struct, frozen=True):
    """cancel-all reply; `success` is the string "1"."""

    acks: list[BybitOrderAck] = msgspec.field(default_factory=list, name="list")
    success: str = ""


class BybitOrder(msgspec.Struct, frozen=True):
    """An order record (/v5/order/realtime and the `order` stream)."""

    orderId: str
    symbol: str
    side: str
    orderType: str
    orderStatus: str
    qty: Decimal
    orderLinkId: str = ""
    price: str = ""
    avgPrice: str = ""
    leavesQty: str = ""
    cumExecQty: Decimal = ZERO
    cumExecValue: Decimal = ZERO
    timeInForce: str = ""
    positionIdx: int = 0
    reduceOnly: bool = False
    cancelType: str = ""
    rejectReason: str = ""
    createdTime: str = ""
    updatedTime: str = ""
    category: str = ""


class BybitExecution(msgspec.Struct, frozen=True):
    """One fill (or funding/ADL row) from /v5/execution/list or the `execution` stream."""

    symbol: str
    execId: str
    orderId: str
    side: str
    execPrice: Decimal
    execQty: Decimal
    execValue: Decimal
    execFee: Decimal
    execType: str
    execTime: str
    orderLinkId: str = ""
    isMaker: bool = False
    feeRate: str = ""
    feeCurrency: str = ""
    orderType: str = ""
    orderPrice: str = ""
    orderQty: str = ""
    leavesQty: str = ""
    closedSize: str = ""
    execPnl: str = ""
    markPrice: str = ""
    seq: int | None = None
    category: str = ""

    @property
    def exec_time_ms(self) -> int:
        """execTime as an int (ms)."""
        return int(self.execTime)

    @property
    def is_trade(self) -> bool:
        """True for rows that change inventory through our own orders (not Funding etc.)."""
        return self.execType == "Trade"


class BybitPosition(msgspec.Struct, frozen=True):
    """A position row (/v5/position/list and the `position` stream)."""

    symbol: str
    size: Decimal
    side: str = ""
    positionIdx: int = 0
    avgPrice: str = ""
    entryPrice: str = ""
    markPrice: str = ""
    unrealisedPnl: str = ""
    cumRealisedPnl: str = ""
    leverage: str = ""
    positionStatus: str = ""
    seq: int = -1
    updatedTime: str = ""
    category: str = ""

    @property
    def signed_size(self) -> Decimal:
        """Size with the sign of the side (Sell negative)."""
        return -self.size if self.side == "Sell" else self.size

    @property
    def avg_price(self) -> Decimal | None:
        """Average entry (REST `avgPrice`, WS `entryPrice`), None when flat or absent."""
        return opt_decimal(self.avgPrice) or opt_decimal(self.entryPrice)


class BybitWalletCoin(msgspec.Struct, frozen=True):
    """One coin of a wallet account."""

    coin: str
    equity: str = ""
    walletBalance: str = ""
    unrealisedPnl: str = ""
    cumRealisedPnl: str = ""
    locked: str = ""


class BybitWallet(msgspec.Struct, frozen=True):
    """One account of /v5/account/wallet-balance and the `wallet` stream."""

    accountType: str = ""  # absent in some stream messages
    totalEquity: str = ""
    totalWalletBalance: str = ""
    totalMarginBalance: str = ""
    totalAvailableBalance: str = ""
    coin: list[BybitWalletCoin] = []
