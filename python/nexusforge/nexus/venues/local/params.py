"""Reading request parameters the way Bybit does: strings or numbers, 10001 on anything bad."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from nexusforge.nexus.venues.local.rejects import PARAMS, Reject

Params = Mapping[str, Any]


def text(params: Params, name: str, default: str | None = None) -> str:
    """A required (or defaulted) string parameter."""
    value = params.get(name, default)
    if value is None or value == "":
        if default is not None:
            return default
        raise Reject(PARAMS, f"params error: {name} is required")
    if not isinstance(value, str):
        raise Reject(PARAMS, f"params error: {name} must be a string")
    return value


def optional(params: Params, name: str) -> str | None:
    value = params.get(name)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise Reject(PARAMS, f"params error: {name} must be a string")
    return value


def decimal(params: Params, name: str) -> Decimal | None:
    """A decimal given as a string or a JSON number; None when absent or empty."""
    value = params.get(name)
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise Reject(PARAMS, f"params error: {name} must be a decimal string")
    try:
        parsed = Decimal(str(value))
    except InvalidOperation:
        raise Reject(PARAMS, f"params error: {name} is not a number") from None
    if not parsed.is_finite():
        raise Reject(PARAMS, f"params error: {name} is not finite")
    return parsed


def flag(params: Params, name: str) -> bool:
    value = params.get(name, False)
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value in ("true", "false"):
        return value == "true"
    raise Reject(PARAMS, f"params error: {name} must be a boolean")


def integer(params: Params, name: str, default: int, lo: int, hi: int) -> int:
    """An int in [lo, hi] given as a number or a digit string."""
    value = params.get(name)
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        raise Reject(PARAMS, f"params error: {name} must be an integer")
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise Reject(PARAMS, f"params error: {name} must be an integer") from None
    if not lo <= number <= hi:
        raise Reject(PARAMS, f"params error: {name} must be in [{lo}, {hi}]")
    return number


def choice(params: Params, name: str, allowed: tuple[str, ...], default: str | None = None) -> str:
    value = text(params, name, default)
    if value not in allowed:
        raise Reject(PARAMS, f"params error: {name} must be one of {list(allowed)}")
    return value


def linear(params: Params) -> None:
    """Only `category=linear` is traded here."""
    if params.get("category") != "linear":
        raise Reject(PARAMS, "params error: category must be linear")
