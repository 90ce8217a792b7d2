"""A batch of raw venue messages, and the small helpers every message reader shares."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

NS_PER_MS = 1_000_000


@dataclass
class MessageBatch:
    """Raw messages of one source: payloads, their 1-based line numbers, receive times (ns)."""

    payloads: list[bytes] = field(default_factory=list)
    lines: list[int] = field(default_factory=list)
    local_ts: list[int] | None = None

    def __len__(self) -> int:
        return len(self.payloads)

    def add(self, payload: bytes, line: int, local_ts: int | None = None) -> None:
        """Append one message; `local_ts` must be given for all messages or for none."""
        self.payloads.append(payload)
        self.lines.append(line)
        if local_ts is not None:
            if self.local_ts is None:
                self.local_ts = []
            self.local_ts.append(local_ts)

    def local(self, index: int, exch_ts: int) -> int:
        """Receive time of message `index`, or `exch_ts` when the recording has none."""
        return exch_ts if self.local_ts is None else self.local_ts[index]


def ndjson_batch(content: bytes, first_line: int = 1) -> MessageBatch:
    """One message per non-blank line."""
    batch = MessageBatch()
    for number, line in enumerate(content.split(b"\n"), start=first_line):
        if line.strip():
            batch.add(line.strip(), number)
    return batch


class BadValue(ValueError):
    """A field holds a value we refuse (not a number, negative size, unknown side)."""


def ns_from_ms(ms: int, name: str) -> int:
    """Epoch ms to ns when it fits the tables' Int64 columns (a corrupt digit can overflow)."""
    ns = ms * NS_PER_MS
    if not 0 <= ns < 2**63:
        raise BadValue(f"{name} out of range")
    return ns


def positive(text: str, name: str) -> float:
    """A strictly positive, finite number from a decimal string."""
    value = number(text, name)
    if value <= 0:
        raise BadValue(f"non-positive {name}")
    return value


def non_negative(text: str, name: str) -> float:
    """A finite number >= 0 from a decimal string."""
    value = number(text, name)
    if value < 0:
        raise BadValue(f"negative {name}")
    return value


def number(text: str, name: str) -> float:
    """A finite float from a decimal string; 'nan', 'inf' and junk are refused."""
    try:
        value = float(text)
    except ValueError:
        raise BadValue(f"{name} is not a number") from None
    if not math.isfinite(value):
        raise BadValue(f"{name} is not finite")
    return value


def taker_side(text: str) -> int:
    """Bybit's taker side word to +1 (Buy) / -1 (Sell)."""
    if text == "Buy":
        return 1
    if text == "Sell":
        return -1
    raise BadValue("unknown side")
