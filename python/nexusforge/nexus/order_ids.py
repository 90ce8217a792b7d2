"""orderLinkId: which model an order (and so every fill of it) belongs to, unique for ever.

Form: `nf<slot>-<run>-<seq>`, e.g. `nf03-k3x9q2mb7d-1f4a` — `slot` two decimal digits (the
model's slot, `ENGINE_SLOT` for the engine's own orders, e.g. flattening an orphaned position),
`run` the journal's id (lowercase base36, fixed when the journal file is created), `seq` lowercase
base36, drawn from blocks the journal reserves and commits before any id in them is used. At most
2 + 2 + 1 + 12 + 1 + 12 = 30 characters, inside Bybit's 36, from `[a-z0-9-]` ⊂ `[A-Za-z0-9_-]`.

Uniqueness: within a run the sequence only rises; across restarts the journal hands out the next
unused block (a crash wastes at most the rest of one block, never reuses an id); a new journal
file gets a new random run id. Must never hand out an id before its block is committed.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import NewType

from nexusforge.errors import ConfigError

OrderLinkId = NewType("OrderLinkId", str)

MAX_LEN = 36
PREFIX = "nf"
MAX_SLOT = 99
ENGINE_SLOT = 99
RUN_ID_LEN = 10
MAX_SEQ = 36**12 - 1
BYBIT_ALLOWED = re.compile(r"[A-Za-z0-9_-]{1,36}")
_OURS = re.compile(r"nf(\d{2})-([0-9a-z]{1,12})-([0-9a-z]{1,12})")
_ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz"


@dataclass(frozen=True, slots=True)
class LinkIdParts:
    """The pieces of one of our orderLinkIds."""

    slot: int
    run_id: str
    seq: int


def base36(n: int) -> str:
    """Lowercase base36 of a non-negative integer."""
    if n < 0:
        raise ValueError(f"negative {n}")
    digits = []
    while True:
        n, r = divmod(n, 36)
        digits.append(_ALPHABET[r])
        if n == 0:
            return "".join(reversed(digits))


def new_run_id() -> str:
    """A random run id: RUN_ID_LEN base36 characters (~52 bits)."""
    return base36(secrets.randbelow(36**RUN_ID_LEN)).rjust(RUN_ID_LEN, "0")


def check_run_id(run_id: str) -> str:
    """The run id, or ConfigError when it is not 1..12 lowercase base36 characters."""
    if not re.fullmatch(r"[0-9a-z]{1,12}", run_id):
        raise ConfigError(f"run id {run_id!r} must be 1..12 characters of [0-9a-z]")
    return run_id


def make(slot: int, run_id: str, seq: int) -> OrderLinkId:
    """The orderLinkId of sequence `seq` of `slot` in run `run_id`."""
    if not 0 <= slot <= MAX_SLOT:
        raise ConfigError(f"slot {slot} outside 0..{MAX_SLOT}")
    if not 0 <= seq <= MAX_SEQ:
        raise ConfigError(f"sequence {seq} outside 0..{MAX_SEQ}")
    link = f"{PREFIX}{slot:02d}-{check_run_id(run_id)}-{base36(seq)}"
    assert len(link) <= MAX_LEN and BYBIT_ALLOWED.fullmatch(link)
    return OrderLinkId(link)


def parse(link: str) -> LinkIdParts | None:
    """The parts of one of our ids; None for any other id ("", manual orders, other software)."""
    m = _OURS.fullmatch(link)
    if m is None:
        return None
    return LinkIdParts(int(m.group(1)), m.group(2), int(m.group(3), 36))


def slot_of(link: str) -> int | None:
    """The model slot an orderLinkId names, or None when it is not ours."""
    parts = parse(link)
    return None if parts is None else parts.slot


# reserve(n) -> first sequence of a committed block of n; the journal implements it.
Reserve = Callable[[int], int]


class LinkIdAllocator:
    """Hands out orderLinkIds from journal-reserved blocks of sequence numbers."""

    def __init__(self, run_id: str, reserve: Reserve, block: int = 1024) -> None:
        if block < 1:
            raise ConfigError(f"block size must be >= 1, got {block}")
        self.run_id = check_run_id(run_id)
        self._reserve = reserve
        self._block = block
        self._next = 0
        self._end = 0

    def next(self, slot: int) -> OrderLinkId:
        """A fresh id for `slot`; reserves (and commits) a new block when this one is used up."""
        if self._next >= self._end:
            self._next = self._reserve(self._block)
            self._end = self._next + self._block
        seq = self._next
        self._next += 1
        return make(slot, self.run_id, seq)
