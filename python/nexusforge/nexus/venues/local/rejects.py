"""Bybit v5 retCodes the local exchange answers with, and the exception that carries one.

A handler raises `Reject(code, message)`; the transport turns it into the venue's envelope
(`retCode`/`retMsg`, HTTP 200). Nothing here is an error of the exchange itself.
"""

from __future__ import annotations

from nexusforge.errors import VenueError

OK = 0
PARAMS = 10001
TIMESTAMP = 10002
BAD_KEY = 10003
BAD_SIGN = 10004
RATE_LIMIT = 10006
SERVER_ERROR = 10016
ROUTE_NOT_FOUND = 10017
ORDER_NOT_EXISTS = 110001
INSUFFICIENT_AVAILABLE = 110007
REDUCE_ONLY_ZERO = 110017
TOO_MANY_ORDERS = 110020
DUPLICATE_LINK_ID = 110072
NOTIONAL_TOO_LOW = 110094
WS_REPEAT_AUTH = 20001
WS_UNKNOWN_OP = 10404

MAX_OPEN_ORDERS_PER_SYMBOL = 500


class Reject(VenueError):
    """A request the venue refuses, with Bybit's retCode and a human message."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
