"""Typed Bybit errors: one class per retCode family, sorted by what the caller can do.

VenueError (nexusforge.errors)
└── BybitError                      base: `code`, `message` (retMsg), `endpoint`
    ├── BybitRetryableError         the request was refused before processing; retry is safe
    │   ├── BybitTimestampError        10002  outside recv_window: re-sync time, retry
    │   ├── BybitRateLimitError        10006  wait for X-Bapi-Limit-Reset-Timestamp
    │   ├── BybitOrderBusyError        110079 order being processed, try later
    │   └── BybitUnreachableError      the connection could not be opened; nothing was sent
    ├── BybitAmbiguousError         the request may have taken effect: reconcile, never resend
    │   ├── BybitServerError           10016, HTTP 5xx  service error or restarting
    │   └── BybitTransportError        timeout or connection lost after sending
    ├── BybitBannedError            HTTP 403: the IP is limited or geo-blocked; back off hard
    ├── BybitAuthError              10003 key, 10004 sign, 10005 permission, 10010 IP whitelist
    ├── BybitRequestError           the request itself is wrong (10001, 10014, 10017, 10029)
    │   └── BybitPositionIdxError      10001 "position idx not match position mode"
    ├── BybitOrderError             the order was rejected (110xxx); the subclass names why
    │   ├── BybitOrderNotFoundError    110001
    │   ├── BybitOrderClosedError      110008, 110010
    │   ├── BybitInsufficientBalanceError  110004, 110007, 110012, 110044, 110045
    │   └── BybitDuplicateOrderLinkIdError 110072
    └── BybitProtocolError          the reply is not what the protocol says (bad JSON, fields)
CredentialsError (ConfigError)      keys missing, keyfile permissions too open
"""

from __future__ import annotations

from nexusforge.errors import ConfigError, VenueError


class CredentialsError(ConfigError):
    """Credentials are missing, malformed, or stored unsafely."""


class BybitError(VenueError):
    """A Bybit request failed; `code` is the retCode (or the HTTP status for HTTP errors)."""

    def __init__(self, code: int, message: str, endpoint: str = "") -> None:
        self.code = code
        self.message = message
        self.endpoint = endpoint
        where = f" on {endpoint}" if endpoint else ""
        super().__init__(f"Bybit retCode {code}{where}: {message}")


class BybitRetryableError(BybitError):
    """Refused before processing: the same request may be sent again."""


class BybitTimestampError(BybitRetryableError):
    """10002: the timestamp is outside recv_window (clock drift); re-sync time first."""


class BybitRateLimitError(BybitRetryableError):
    """10006: too many requests; `reset_ms` is when the venue says the limit resets."""

    def __init__(self, code: int, message: str, endpoint: str = "") -> None:
        super().__init__(code, message, endpoint)
        self.reset_ms: int | None = None


class BybitOrderBusyError(BybitRetryableError):
    """110079: the order is being processed; try later."""


class BybitUnreachableError(BybitRetryableError):
    """The connection could not be opened (refused, connect timeout): nothing reached the venue."""


class BybitAmbiguousError(BybitError):
    """The request may or may not have taken effect; reconcile before doing anything else."""


class BybitServerError(BybitAmbiguousError):
    """10016 or HTTP 5xx: a server error or restart."""


class BybitTransportError(BybitAmbiguousError):
    """The connection failed or timed out after the request may have been sent."""


class BybitBannedError(BybitError):
    """HTTP 403 (IP rate limit or geo block): stop and back off for minutes."""


class BybitAuthError(BybitError):
    """The key, signature, permission or IP whitelist was refused; retrying will not help."""


class BybitRequestError(BybitError):
    """The request is malformed (parameters, route, symbol)."""


class BybitPositionIdxError(BybitRequestError):
    """10001 naming positionIdx: the account's position mode differs from the configured one."""


class BybitOrderError(BybitError):
    """The venue rejected an order operation."""


class BybitOrderNotFoundError(BybitOrderError):
    """110001: the order does not exist (unknown, or already closed)."""


class BybitOrderClosedError(BybitOrderError):
    """110008 / 110010: the order is already filled or cancelled."""


class BybitInsufficientBalanceError(BybitOrderError):
    """Wallet or available balance, or margin, is insufficient."""


class BybitDuplicateOrderLinkIdError(BybitOrderError):
    """110072: the orderLinkId was used before."""


class BybitProtocolError(BybitError):
    """The venue's reply does not follow the protocol (unparseable, missing fields)."""


CODE_CLASSES: dict[int, type[BybitError]] = {
    10001: BybitRequestError,
    10002: BybitTimestampError,
    10003: BybitAuthError,
    10004: BybitAuthError,
    10005: BybitAuthError,
    10006: BybitRateLimitError,
    10010: BybitAuthError,
    10014: BybitRequestError,
    10016: BybitServerError,
    10017: BybitRequestError,
    10029: BybitRequestError,
    10404: BybitRequestError,  # order-entry WS: unknown op or bad category
    10429: BybitRateLimitError,  # order-entry WS: system throttling
    20006: BybitRequestError,  # order-entry WS: duplicate reqId
    110001: BybitOrderNotFoundError,
    110003: BybitOrderError,
    110004: BybitInsufficientBalanceError,
    110007: BybitInsufficientBalanceError,
    110008: BybitOrderClosedError,
    110010: BybitOrderClosedError,
    110012: BybitInsufficientBalanceError,
    110017: BybitOrderError,
    110020: BybitOrderError,
    110044: BybitInsufficientBalanceError,
    110045: BybitInsufficientBalanceError,
    110072: BybitDuplicateOrderLinkIdError,
    110079: BybitOrderBusyError,
    110094: BybitOrderError,
}


def error_for(code: int, message: str, endpoint: str = "") -> BybitError:
    """The typed error for a non-zero retCode (unknown codes give the `BybitError` base)."""
    if code == 10001 and "position idx" in message.lower():
        return BybitPositionIdxError(code, message, endpoint)
    cls = CODE_CLASSES.get(code)
    if cls is None:
        cls = BybitOrderError if 110000 <= code < 120000 else BybitError
    return cls(code, message, endpoint)


def http_error_for(status: int, body: str, endpoint: str = "") -> BybitError:
    """The typed error for a non-200 HTTP status."""
    text = body[:200]
    if status == 403:
        return BybitBannedError(status, f"HTTP 403 (IP limited or geo-blocked): {text}", endpoint)
    if status == 401:
        return BybitAuthError(status, f"HTTP 401: {text}", endpoint)
    if status == 429:
        return BybitRateLimitError(status, f"HTTP 429 system protection: {text}", endpoint)
    if status >= 500:
        return BybitServerError(status, f"HTTP {status}: {text}", endpoint)
    return BybitRequestError(status, f"HTTP {status}: {text}", endpoint)
