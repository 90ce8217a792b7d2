"""One reader per source format, and `pick_reader`, which chooses one by file name and content.

Every reader has the signature `read(path, head) -> ReadResult`, where `head` is the first few
KB of the decompressed content, and returns frames already in the store's table schemas.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from nexusforge.data.readers._archive import read_head
from nexusforge.data.readers._messages import MessageBatch
from nexusforge.data.readers._result import ReadResult, SkipLog
from nexusforge.data.readers.binance_usdm import read_binance_capture, sniff_binance_capture
from nexusforge.data.readers.bybit_v2 import read_bybit_v2, sniff_bybit_v2
from nexusforge.data.readers.bybit_ws import (
    read_bybit_batch,
    read_bybit_json,
    read_bybit_ndjson,
    sniff_bybit_json,
    sniff_bybit_ndjson,
)
from nexusforge.data.readers.history_csv import read_history, sniff_history
from nexusforge.data.readers.lean import read_lean, sniff_lean

ReadFn = Callable[[Path, bytes], ReadResult]
SniffFn = Callable[[Path, bytes], bool]


@dataclass(frozen=True)
class Reader:
    """A named source format: how to recognise it and how to read it."""

    name: str
    sniff: SniffFn
    read: ReadFn


READERS: tuple[Reader, ...] = (
    Reader("history-csv", sniff_history, read_history),
    Reader("lean", sniff_lean, read_lean),
    Reader("binance-capture", sniff_binance_capture, read_binance_capture),
    Reader("bybit-v2-capture", sniff_bybit_v2, read_bybit_v2),
    Reader("bybit-ws-json", sniff_bybit_json, read_bybit_json),
    Reader("bybit-ws-ndjson", sniff_bybit_ndjson, read_bybit_ndjson),
)


def pick_reader(path: Path, head: bytes | None = None) -> Reader | None:
    """The first reader that recognises `path`, or None when no reader knows it."""
    if head is None:
        head = read_head(path)
    for reader in READERS:
        if reader.sniff(path, head):
            return reader
    return None


__all__ = [
    "READERS",
    "MessageBatch",
    "ReadResult",
    "Reader",
    "SkipLog",
    "pick_reader",
    "read_bybit_batch",
]
