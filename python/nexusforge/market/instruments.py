"""Instrument rules: tick size, lot step, order limits and exact rounding (Bybit instruments-info).

Rules are `Decimal`, parsed from the venue's strings, so rounding a price or a quantity is exact.
Rounding never moves a value in the trader's disfavour silently: callers say which way to round.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_EVEN, Decimal, InvalidOperation
from enum import Enum
from typing import Any

import numpy as np
import numpy.typing as npt

from nexusforge.errors import DataError


class Rounding(Enum):
    """Direction for snapping a value to its grid."""

    DOWN = ROUND_FLOOR
    UP = ROUND_CEILING
    NEAREST = ROUND_HALF_EVEN


@dataclass(frozen=True, slots=True)
class Instrument:
    """Trading rules of one linear contract."""

    symbol: str
    tick_size: Decimal
    qty_step: Decimal
    min_qty: Decimal
    max_qty: Decimal
    max_market_qty: Decimal
    min_notional: Decimal
    min_price: Decimal = Decimal("0")
    max_price: Decimal = Decimal("Infinity")
    status: str = "Trading"

    def round_price(self, price: Decimal, rounding: Rounding = Rounding.NEAREST) -> Decimal:
        """Snap a price to the tick grid."""
        return _snap(price, self.tick_size, rounding)

    def round_qty(self, qty: Decimal, rounding: Rounding = Rounding.DOWN) -> Decimal:
        """Snap a quantity to the lot step (down by default, so we never trade more than asked)."""
        return _snap(qty, self.qty_step, rounding)

    def order_problem(self, price: Decimal, qty: Decimal, *, market: bool = False) -> str | None:
        """Why the venue would reject this order, or None when it satisfies every rule."""
        if price % self.tick_size != 0:
            return f"price {price} is not a multiple of tick size {self.tick_size}"
        if not self.min_price <= price <= self.max_price:
            return f"price {price} outside [{self.min_price}, {self.max_price}]"
        if qty % self.qty_step != 0:
            return f"qty {qty} is not a multiple of qty step {self.qty_step}"
        if qty < self.min_qty:
            return f"qty {qty} below minimum {self.min_qty}"
        limit = self.max_market_qty if market else self.max_qty
        if qty > limit:
            return f"qty {qty} above maximum {limit}"
        if price * qty < self.min_notional:
            return f"notional {price * qty} below minimum {self.min_notional}"
        return None


def _snap(value: Decimal, step: Decimal, rounding: Rounding) -> Decimal:
    units = (value / step).quantize(Decimal(1), rounding=rounding.value)
    return (units * step).quantize(step)


def parse_instrument(item: dict[str, Any]) -> Instrument:
    """Build an Instrument from one `list` item of GET /v5/market/instruments-info."""
    symbol = str(item.get("symbol", "?"))
    try:
        price = item["priceFilter"]
        lot = item["lotSizeFilter"]
        max_qty = _dec(lot["maxOrderQty"])
        return Instrument(
            symbol=symbol,
            tick_size=_positive(_dec(price["tickSize"]), "tickSize"),
            qty_step=_positive(_dec(lot["qtyStep"]), "qtyStep"),
            min_qty=_dec(lot["minOrderQty"]),
            max_qty=max_qty,
            max_market_qty=_dec(lot.get("maxMktOrderQty", max_qty)),
            min_notional=_dec(lot.get("minNotionalValue", "0")),
            min_price=_dec(price.get("minPrice", "0")),
            max_price=_dec(price.get("maxPrice", "Infinity")),
            status=str(item.get("status", "Trading")),
        )
    except (KeyError, TypeError, InvalidOperation, ValueError) as exc:
        raise DataError(f"instrument {symbol}: bad instruments-info item ({exc!r})") from exc


def parse_instruments_response(body: dict[str, Any]) -> dict[str, Instrument]:
    """Instruments by symbol from a full instruments-info response (checks retCode)."""
    if body.get("retCode", 0) != 0:
        raise DataError(
            f"instruments-info failed: retCode={body.get('retCode')} {body.get('retMsg')}"
        )
    result = body.get("result", body)
    items = result.get("list") if isinstance(result, dict) else None
    if not isinstance(items, list):
        raise DataError("instruments-info response has no result.list")
    return {inst.symbol: inst for inst in map(parse_instrument, items)}


def _dec(raw: object) -> Decimal:
    if not isinstance(raw, str | Decimal):
        raise ValueError(f"expected a decimal string, got {type(raw).__name__}")
    value = Decimal(raw)
    if value.is_nan():
        raise ValueError("NaN is not a valid rule value")
    return value


def _positive(value: Decimal, name: str) -> Decimal:
    if value <= 0:
        raise ValueError(f"{name} must be positive, got {value}")
    return value


def infer_tick_size(prices: npt.ArrayLike) -> float:
    """Tick size of a recording with no instrument rules: the smallest step between its prices.

    Rounded to 6 significant digits so float noise in the recorded prices does not leak in.
    """
    values = np.unique(np.asarray(prices, dtype=np.float64))
    values = values[np.isfinite(values) & (values > 0)]
    steps = np.diff(values)
    steps = steps[steps > 0]
    if steps.size == 0:
        raise DataError("cannot infer a tick size from fewer than two distinct prices")
    step = float(steps.min())
    return round(step, 6 - math.floor(math.log10(step)) - 1)
