"""Schema and account-config drift: convert raw records one at a time and say what changed.

A record that misses a required field is skipped, counted and logged with its id (it never takes
its neighbours down); a field we do not know is logged once per record type (Bybit adds fields);
a `positionIdx` that does not fit the configured position mode is logged and counted.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable
from typing import Any, TypeVar

import msgspec

from nexusforge.nexus.venues.bybit.config import PositionMode

log = logging.getLogger(__name__)

T = TypeVar("T", bound=msgspec.Struct)
_ID_FIELDS = ("execId", "orderId", "orderLinkId", "symbol")
MAX_NEW_FIELDS = 200


def expected_position_idx(mode: PositionMode) -> frozenset[int]:
    """positionIdx values valid in `mode` (0 one-way; 1/2 hedge buy/sell)."""
    return frozenset({0}) if mode is PositionMode.ONE_WAY else frozenset({1, 2})


class SchemaWatch:
    """Converts raw records into typed ones, counting and logging every kind of drift."""

    def __init__(self, mode: PositionMode = PositionMode.ONE_WAY) -> None:
        self.mode = mode
        self.bad_records: Counter[str] = Counter()
        self.new_fields: dict[str, set[str]] = {}
        self.position_idx_mismatches = 0
        self._known: dict[type[msgspec.Struct], frozenset[str]] = {}

    def convert(self, items: Iterable[Any], cls: type[T], where: str) -> list[T]:
        """Every item of `items` that converts to `cls`; the others are counted and logged."""
        known = self._known.get(cls)
        if known is None:
            known = frozenset(f.encode_name for f in msgspec.structs.fields(cls))
            self._known[cls] = known
        out: list[T] = []
        for item in items:
            if not isinstance(item, dict):
                self._reject(where, cls, f"a {type(item).__name__}, not an object", item)
                continue
            self._note_new_fields(cls, known, item, where)
            try:
                out.append(msgspec.convert(item, cls))
            except msgspec.ValidationError as exc:
                self._reject(where, cls, str(exc), item)
        return out

    def check_position_idx(self, position_idx: int, symbol: str, where: str) -> bool:
        """True when `position_idx` fits the configured mode; logs and counts a mismatch."""
        if position_idx in expected_position_idx(self.mode):
            return True
        self.position_idx_mismatches += 1
        log.error(
            "bybit account drift on %s: %s has positionIdx %d but the configured mode is %s; "
            "check the account's position mode (one-way vs hedge)",
            where,
            symbol,
            position_idx,
            self.mode.value,
        )
        return False

    def _note_new_fields(
        self, cls: type[msgspec.Struct], known: frozenset[str], item: dict[str, Any], where: str
    ) -> None:
        seen = self.new_fields.setdefault(cls.__name__, set())
        if len(seen) >= MAX_NEW_FIELDS:  # a venue inventing names cannot grow this forever
            return
        fresh = [k for k in item if k not in known and k not in seen][: MAX_NEW_FIELDS - len(seen)]
        if fresh:
            seen.update(fresh)
            log.info(
                "bybit %s: fields not in %s (ignored): %s",
                where,
                cls.__name__,
                ", ".join(sorted(fresh)),
            )

    def _reject(self, where: str, cls: type[msgspec.Struct], why: str, item: object) -> None:
        self.bad_records[cls.__name__] += 1
        ids = {k: item[k] for k in _ID_FIELDS if isinstance(item, dict) and k in item}
        log.error("bybit %s: skipped a %s record (%s); ids %s", where, cls.__name__, why, ids)
