"""Execution rows (fills, funding, forced fills) from Bybit's private WS and REST, as exact values.

Every money and quantity field is a `Decimal` parsed from the venue's string; a float never
touches a ledger. Each row is classified by `execType` into what it does to a ledger:

    Trade                 FILL     changes inventory and cash
    AdlTrade, BustTrade   FORCED   like a fill, flagged (auto-deleveraging, liquidation)
    Funding               FUNDING  changes cash only (execFee > 0: we paid, < 0: we received)
    anything else         IGNORED  logged and counted, never applied as a trade (Delivery, Settle,
                                   BlockTrade, MovePosition, UNKNOWN, or a name Bybit adds later)

Only `category` linear rows are applied: the all-in-one `execution` topic of a unified account
also carries spot and option fills, and spot BTCUSDT has the same symbol as the perpetual. A row
without a category is taken as linear (REST rows carry it once per page, in `result.category`).

Schema drift: extra fields are ignored; a row missing a field the ledger needs (execId, price,
qty, fee, a Buy/Sell side for fills) is skipped with a reason, counted and logged, and the other
rows of the same message still apply. `execution.fast` rows carry no fee, so they cannot keep an
exact ledger: they are refused (subscribe to `execution` for the ledger). Never raises on a bad
row; raises `MalformedMessageError` only when the envelope itself is unusable.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from enum import Enum
from typing import Any, NewType

import msgspec

from nexusforge.errors import DataError, MalformedMessageError

log = logging.getLogger(__name__)

ExecId = NewType("ExecId", str)


class ExecKind(Enum):
    """What an execution row does to a ledger."""

    FILL = "fill"
    FORCED = "forced"
    FUNDING = "funding"
    IGNORED = "ignored"


EXEC_KINDS: dict[str, ExecKind] = {
    "Trade": ExecKind.FILL,
    # Our own crossing step books these (nexus/intents.py); Bybit never sends them.
    "Internal": ExecKind.FILL,
    "AdlTrade": ExecKind.FORCED,
    "BustTrade": ExecKind.FORCED,
    # Reconciliation adopts a venue position nobody's fills explain into the orphan ledger
    # (nexus/journal.py); Bybit never sends it, and it never goes to a model's ledger.
    "Adopted": ExecKind.FORCED,
    "Funding": ExecKind.FUNDING,
}
INVENTORY_KINDS = frozenset({ExecKind.FILL, ExecKind.FORCED})
LINEAR = "linear"
SIDES = {"Buy": 1, "Sell": -1}


class Execution(msgspec.Struct, frozen=True, kw_only=True):
    """One execution row, exact. `side` is +1 buy / -1 sell (0 when the venue gave none)."""

    exec_id: ExecId
    symbol: str
    exec_type: str
    side: int
    price: Decimal
    qty: Decimal
    fee: Decimal
    exec_time_ms: int
    order_id: str = ""
    order_link_id: str = ""
    fee_rate: Decimal | None = None
    is_maker: bool = False
    mark_price: Decimal | None = None
    closed_size: Decimal | None = None
    leaves_qty: Decimal | None = None
    seq: int | None = None
    category: str = LINEAR

    @property
    def kind(self) -> ExecKind:
        """FILL / FORCED / FUNDING / IGNORED, from `exec_type` (IGNORED unless linear)."""
        if self.category != LINEAR:
            return ExecKind.IGNORED
        return EXEC_KINDS.get(self.exec_type, ExecKind.IGNORED)

    @property
    def signed_qty(self) -> Decimal:
        """Quantity with the side's sign: + bought, − sold."""
        return self.qty * self.side

    @property
    def forced(self) -> bool:
        """An ADL or bankruptcy (liquidation) fill that we did not order."""
        return self.kind is ExecKind.FORCED

    @property
    def sort_key(self) -> tuple[int, str]:
        """The canonical order: execution time, then execId (Bybit allows equal execTimes)."""
        return (self.exec_time_ms, self.exec_id)


class BybitExecutionRow(msgspec.Struct, kw_only=True):
    """The wire shape of one execution item (WS `execution` data item or REST list item)."""

    category: str = ""
    execId: str = ""
    symbol: str = ""
    execType: str = ""
    side: str = ""
    execPrice: str = ""
    execQty: str = ""
    execFee: str | None = None
    execTime: str | int = ""
    orderId: str = ""
    orderLinkId: str | None = ""
    feeRate: str | None = ""
    isMaker: bool = False
    markPrice: str | None = ""
    closedSize: str | None = ""
    leavesQty: str | None = ""
    seq: int | None = None


class ParsedExecutions(msgspec.Struct, frozen=True):
    """Rows that parsed, and (index, reason) for each row skipped."""

    rows: tuple[Execution, ...]
    skipped: tuple[tuple[int, str], ...] = ()
    next_cursor: str = ""


class _Envelope(msgspec.Struct):
    topic: str = ""
    data: list[msgspec.Raw] | None = None


class _RowSkip(Exception):
    """One row cannot be used; carries the reason."""


_ROW_DECODER = msgspec.json.Decoder(BybitExecutionRow, strict=False)
_ENVELOPE_DECODER = msgspec.json.Decoder(_Envelope)
WS_TOPICS = ("execution", "execution.linear")


def parse_ws_message(raw: bytes | str) -> ParsedExecutions:
    """Rows of one private-WS `execution` message (topic `execution` or `execution.linear`)."""
    try:
        env = _ENVELOPE_DECODER.decode(raw)
    except (msgspec.DecodeError, msgspec.ValidationError, UnicodeDecodeError) as exc:
        raise MalformedMessageError(f"execution message: {exc}") from None
    if env.topic.startswith("execution.fast"):
        raise MalformedMessageError("execution.fast rows carry no fee; subscribe to `execution`")
    if env.topic not in WS_TOPICS or env.data is None:
        raise MalformedMessageError(f"not an execution message (topic {env.topic!r})")
    return _parse_rows([bytes(r) for r in env.data])


def parse_rest_page(body: dict[str, Any]) -> ParsedExecutions:
    """Rows of one GET /v5/execution/list page: the full envelope or its bare `result`."""
    if not isinstance(body, dict):
        raise MalformedMessageError(
            f"execution list response is {type(body).__name__}, not an object"
        )
    if body.get("retCode", 0) != 0:
        code, msg = body.get("retCode"), body.get("retMsg")
        raise DataError(f"execution list failed: retCode={code} {msg}")
    result = body.get("result", body)
    items = result.get("list") if isinstance(result, dict) else None
    if not isinstance(items, list):
        raise MalformedMessageError("execution list response has no result.list")
    page_category = str(result.get("category") or LINEAR)
    parsed = _parse_rows([msgspec.json.encode(item) for item in items], page_category)
    cursor = result.get("nextPageCursor") or ""
    return ParsedExecutions(parsed.rows, parsed.skipped, str(cursor))


def _parse_rows(items: list[bytes], category: str = LINEAR) -> ParsedExecutions:
    rows: list[Execution] = []
    skipped: list[tuple[int, str]] = []
    for i, item in enumerate(items):
        try:
            rows.append(to_execution(_ROW_DECODER.decode(item), category))
        except (msgspec.DecodeError, msgspec.ValidationError, UnicodeDecodeError, _RowSkip) as exc:
            skipped.append((i, str(exc)))
            log.warning("execution row %d skipped: %s", i, exc)
    return ParsedExecutions(tuple(rows), tuple(skipped))


def from_fields(fields: Mapping[str, object], category: str = LINEAR) -> Execution:
    """An Execution from Bybit-named fields already decoded elsewhere (e.g. the venue client's
    struct as a dict; Decimal values allowed); MalformedMessageError with the reason if unusable."""
    plain = {k: str(v) if isinstance(v, Decimal) else v for k, v in fields.items()}
    try:
        return to_execution(msgspec.convert(plain, BybitExecutionRow, strict=False), category)
    except (msgspec.ValidationError, _RowSkip) as exc:
        raise MalformedMessageError(f"execution row: {exc}") from None


def to_execution(row: BybitExecutionRow, category: str = LINEAR) -> Execution:
    """The exact domain row of one wire row (`category` when the row has none); raises
    `_RowSkip` with the reason."""
    if not row.execId:
        raise _RowSkip("missing execId")
    if not row.symbol:
        raise _RowSkip(f"{row.execId}: missing symbol")
    kind = EXEC_KINDS.get(row.execType, ExecKind.IGNORED)
    side = SIDES.get(row.side, 0)
    if kind in INVENTORY_KINDS and side == 0:
        raise _RowSkip(f"{row.execId}: side {row.side!r} is neither Buy nor Sell")
    if row.execFee is None:
        raise _RowSkip(f"{row.execId}: missing execFee")
    return Execution(
        exec_id=ExecId(row.execId),
        symbol=row.symbol,
        exec_type=row.execType,
        side=side,
        price=_required(row.execPrice, "execPrice", row.execId, nonneg=True),
        qty=_required(row.execQty, "execQty", row.execId, nonneg=True),
        fee=_required(row.execFee, "execFee", row.execId, nonneg=False),
        exec_time_ms=_time(row.execTime, row.execId),
        order_id=row.orderId,
        order_link_id=row.orderLinkId or "",
        fee_rate=_optional(row.feeRate),
        is_maker=row.isMaker,
        mark_price=_optional(row.markPrice),
        closed_size=_optional(row.closedSize),
        leaves_qty=_optional(row.leavesQty),
        seq=row.seq,
        category=row.category or category,
    )


def _decimal(raw: str) -> Decimal:
    value = Decimal(raw)
    if not value.is_finite():
        raise InvalidOperation(f"{raw!r} is not finite")
    return value


def _required(raw: str, name: str, exec_id: str, *, nonneg: bool) -> Decimal:
    try:
        value = _decimal(raw)
    except (InvalidOperation, ValueError):
        raise _RowSkip(f"{exec_id}: {name} {raw!r} is not a decimal") from None
    if nonneg and value < 0:
        raise _RowSkip(f"{exec_id}: {name} {raw!r} is negative")
    return value


def _optional(raw: str | None) -> Decimal | None:
    """Optional fields: `""`/absent/unparsable give None (they are informational only)."""
    if not raw:
        return None
    try:
        return _decimal(raw)
    except (InvalidOperation, ValueError):
        return None


def _time(raw: str | int, exec_id: str) -> int:
    try:
        value = int(raw)
    except (TypeError, ValueError):
        raise _RowSkip(f"{exec_id}: execTime {raw!r} is not an integer (ms)") from None
    if value < 0:
        raise _RowSkip(f"{exec_id}: execTime {raw!r} is negative")
    return value


def encode(e: Execution) -> bytes:
    """JSON of one row (Decimals as strings), for the journal."""
    return msgspec.json.encode(e)


_DOMAIN_DECODER = msgspec.json.Decoder(Execution)


def decode(raw: bytes | str) -> Execution:
    """The row `encode` wrote; raises MalformedMessageError on anything else."""
    try:
        return _DOMAIN_DECODER.decode(raw)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise MalformedMessageError(f"journal execution row: {exc}") from None
