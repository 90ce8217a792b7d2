"""Bybit v5 record shapes (order, execution, position, wallet, envelopes) from our state.

Money and sizes go out as plain decimal strings (`format(normalize, "f")`: never exponents),
times in REST records as ms strings, in envelopes as ints — exactly as Bybit writes them.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from nexusforge.nexus.venues.local.account import Account, Position
from nexusforge.nexus.venues.local.orders import Order

COIN = "USDT"


def fmt(value: Decimal | None) -> str:
    """A Decimal as Bybit prints it: no exponent, no trailing zeros; None as ""."""
    if value is None:
        return ""
    text = format(value.normalize(), "f")
    return "0" if text in ("-0", "0") else text


def envelope(result: Any, now_ms: int, code: int = 0, message: str = "OK") -> dict[str, Any]:
    return {
        "retCode": code,
        "retMsg": message,
        "result": result if code == 0 else {},
        "retExtInfo": {},
        "time": now_ms,
    }


def order_record(order: Order, *, ws: bool = False) -> dict[str, Any]:
    """An order as `/v5/order/realtime` lists it (plus the extra fields of the WS topic)."""
    leaves = order.leaves
    record: dict[str, Any] = {
        "orderId": order.order_id,
        "orderLinkId": order.order_link_id,
        "blockTradeId": "",
        "symbol": order.symbol,
        "price": fmt(order.price),
        "qty": fmt(order.qty),
        "side": order.side,
        "isLeverage": "",
        "positionIdx": 0,
        "orderStatus": order.status,
        "cancelType": order.cancel_type,
        "rejectReason": order.reject_reason,
        "avgPrice": fmt(order.avg_price) if order.cum_qty else "",
        "leavesQty": fmt(leaves),
        "leavesValue": fmt(leaves * order.price),
        "cumExecQty": fmt(order.cum_qty),
        "cumExecValue": fmt(order.cum_value),
        "cumExecFee": fmt(order.cum_fee),
        "cumFeeDetail": {COIN: fmt(order.cum_fee)} if order.cum_qty else {},
        "timeInForce": order.time_in_force,
        "orderType": order.order_type,
        "stopOrderType": "",
        "orderIv": "",
        "triggerPrice": "",
        "takeProfit": "",
        "stopLoss": "",
        "tpTriggerBy": "",
        "slTriggerBy": "",
        "triggerDirection": 0,
        "triggerBy": "",
        "lastPriceOnCreated": fmt(order.last_price_on_created),
        "reduceOnly": order.reduce_only,
        "closeOnTrigger": order.close_on_trigger,
        "smpType": "None",
        "smpGroup": 0,
        "smpOrderId": "",
        "tpslMode": "",
        "tpLimitPrice": "",
        "slLimitPrice": "",
        "placeType": "",
        "createType": "CreateByUser",
        "parentOrderLinkId": "",
        "createdTime": str(order.created_ms),
        "updatedTime": str(order.updated_ms),
    }
    if ws:
        record.update(category="linear", feeCurrency=COIN, closedPnl="0")
    return record


def position_record(
    pos: Position, mark: Decimal | None, leverage: Decimal, *, ws: bool = False
) -> dict[str, Any]:
    """A position as `/v5/position/list` lists it (one-way mode, `positionIdx` 0)."""
    size = abs(pos.size)
    avg = pos.avg_price
    mark_px = mark if mark is not None else avg
    record: dict[str, Any] = {
        "positionIdx": 0,
        "riskId": 1,
        "riskLimitValue": "2000000",
        "symbol": pos.symbol,
        "side": pos.side,
        "size": fmt(size),
        "avgPrice": fmt(avg),
        "positionValue": fmt(pos.cost),
        "tradeMode": 0,
        "positionStatus": "Normal",
        "autoAddMargin": 0,
        "adlRankIndicator": 2 if size else 0,
        "leverage": fmt(leverage),
        "positionBalance": fmt(pos.cost / leverage),
        "markPrice": fmt(mark_px),
        "liqPrice": "",
        "bustPrice": "",
        "positionMM": "0",
        "positionIM": fmt(size * mark_px / leverage),
        "tpslMode": "Full",
        "takeProfit": "0",
        "stopLoss": "0",
        "trailingStop": "0",
        "unrealisedPnl": fmt(pos.unrealised(mark)),
        "curRealisedPnl": fmt(pos.cur_realised),
        "cumRealisedPnl": fmt(pos.cum_realised),
        "seq": pos.seq,
        "isReduceOnly": False,
        "sessionAvgPrice": "",
        "breakEvenPrice": "",
        "createdTime": str(pos.created_ms),
        "updatedTime": str(pos.updated_ms),
    }
    if ws:
        record.update(category="linear", entryPrice=fmt(avg))
    return record


def wallet_record(
    account: Account, marks: Mapping[str, Decimal | None], order_im: Decimal
) -> dict[str, Any]:
    """The UNIFIED account entry of `/v5/account/wallet-balance` with its USDT coin."""
    upl = account.unrealised(marks)
    equity = account.wallet + upl
    position_im = account.position_im(marks)
    available = max(Decimal(0), equity - position_im - order_im)
    coin = {
        "coin": COIN,
        "equity": fmt(equity),
        "usdValue": fmt(equity),
        "walletBalance": fmt(account.wallet),
        "locked": "0",
        "unrealisedPnl": fmt(upl),
        "cumRealisedPnl": fmt(account.cum_realised),
        "totalOrderIM": fmt(order_im),
        "totalPositionIM": fmt(position_im),
        "totalPositionMM": "0",
        "borrowAmount": "0",
        "accruedInterest": "0",
        "availableToWithdraw": fmt(available),
        "availableToBorrow": "",
        "bonus": "0",
        "collateralSwitch": True,
        "marginCollateral": True,
        "spotBorrow": "0",
        "spotHedgingQty": "0",
    }
    return {
        "accountType": "UNIFIED",
        "totalEquity": fmt(equity),
        "totalWalletBalance": fmt(account.wallet),
        "totalMarginBalance": fmt(equity),
        "totalAvailableBalance": fmt(available),
        "totalPerpUPL": fmt(upl),
        "totalInitialMargin": fmt(position_im + order_im),
        "totalMaintenanceMargin": "0",
        "accountIMRate": fmt(_ratio(position_im + order_im, equity)),
        "accountMMRate": "0",
        "accountLTV": "0",
        "coin": [coin],
    }


def _ratio(num: Decimal, den: Decimal) -> Decimal:
    return (num / den).quantize(Decimal("1e-4")) if den > 0 else Decimal(0)
