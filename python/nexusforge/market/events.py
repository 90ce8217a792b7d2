"""Typed market events and the column layout that crosses from Python to the Rust core.

Book updates cross as *level rows*: one row per price level changed by a venue message, in
struct-of-arrays form (one numpy array per column), so a whole recording is applied in one call.
Timestamps are integer nanoseconds since the Unix epoch: `exch_ts` is the venue's stamp,
`local_ts` when we received it (equal to `exch_ts` when the recording has no receive time).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import polars as pl

from nexusforge.errors import DataError

# Flag bits of a level row (`flags` column, uint8).
FLAG_SNAPSHOT = 1  # the row's message is a snapshot: its first row clears the book
FLAG_BEGIN = 2  # first row of a message
FLAG_END = 4  # last row of a message: id, gap and crossed-book checks run here
FLAG_EMPTY = 8  # the message changed no level; the row only marks it (price and qty ignored)

SIDE_BID = 1
SIDE_ASK = -1

# Column name -> numpy dtype of the level rows. The Rust core takes exactly these arrays.
BOOK_COLUMNS: dict[str, np.dtype[np.generic]] = {
    "exch_ts": np.dtype(np.int64),
    "local_ts": np.dtype(np.int64),
    "update_id": np.dtype(np.int64),
    "prev_update_id": np.dtype(np.int64),  # the id this delta continues from; 0 on snapshots
    "price": np.dtype(np.float64),
    "qty": np.dtype(np.float64),
    "side": np.dtype(np.int8),
    "flags": np.dtype(np.uint8),
}

TRADE_COLUMNS: dict[str, np.dtype[np.generic]] = {
    "exch_ts": np.dtype(np.int64),
    "local_ts": np.dtype(np.int64),
    "price": np.dtype(np.float64),
    "qty": np.dtype(np.float64),
    "side": np.dtype(np.int8),  # taker side: +1 buy, -1 sell
}


@dataclass(frozen=True, slots=True)
class BookLevelRows:
    """A batch of level rows, one array per column of `BOOK_COLUMNS`, all the same length."""

    exch_ts: npt.NDArray[np.int64]
    local_ts: npt.NDArray[np.int64]
    update_id: npt.NDArray[np.int64]
    prev_update_id: npt.NDArray[np.int64]
    price: npt.NDArray[np.float64]
    qty: npt.NDArray[np.float64]
    side: npt.NDArray[np.int8]
    flags: npt.NDArray[np.uint8]

    def __len__(self) -> int:
        return len(self.price)

    @classmethod
    def from_frame(cls, frame: pl.DataFrame) -> BookLevelRows:
        """Level rows from a `book_events` table (one venue and symbol, in arrival order)."""
        missing = [c for c in BOOK_COLUMNS if c not in frame.columns]
        if missing:
            raise DataError(f"book rows need columns {missing}")
        return cls(
            **{c: frame[c].to_numpy().astype(dt, copy=False) for c, dt in BOOK_COLUMNS.items()}
        )


@dataclass(frozen=True, slots=True)
class Trade:
    """One public trade; `side` is the taker's (+1 buy, -1 sell)."""

    exch_ts: int
    local_ts: int
    price: float
    qty: float
    side: int
    trade_id: str
