"""Python face of the Rust L2 order book (Bybit v5 snapshot/delta rules, Binance diff depth).

A book takes whole batches of level rows (`BookLevelRows`) or raw venue JSON in one call.
Messages that break the id chain, cross the book or carry bad levels are skipped and counted
(`stats()`), and the book reports `is_valid == False` until the next snapshot.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from nexusforge import _core
from nexusforge.errors import (
    BookError,
    CoreInputError,
    CoreMalformedError,
    MalformedMessageError,
)
from nexusforge.market.events import BOOK_COLUMNS, BookLevelRows

BOOK_FORMATS = ("bybit", "binance")

# Per-message status from `parse_book_messages`.
STATUS_BOOK = 0
STATUS_OTHER = 1  # a message of another kind (trade, ticker, op reply): skipped
STATUS_MALFORMED = 2


@dataclass(frozen=True, slots=True)
class Level:
    """One price level."""

    price: float
    qty: float


@dataclass(frozen=True, slots=True)
class WalkCost:
    """What walking one side of the book for a quantity fills; partial when the book is thin."""

    avg_price: float  # NaN when nothing filled
    filled_qty: float
    notional: float


@dataclass(frozen=True, slots=True)
class BookStats:
    """What happened to the messages a book has seen."""

    snapshots: int
    deltas_applied: int
    level_updates: int
    deltas_before_snapshot: int
    skipped_while_invalid: int
    stale: int
    gaps: int
    crossed: int
    bad_messages: int
    replayed: int  # held deltas applied after the (older) snapshot they continue


@dataclass(frozen=True, slots=True)
class TopLevels:
    """Top-of-book after every message; level arrays are (n_messages, depth), NaN where empty."""

    exch_ts: npt.NDArray[np.int64]
    local_ts: npt.NDArray[np.int64]
    update_id: npt.NDArray[np.int64]
    valid: npt.NDArray[np.bool_]
    bid_px: npt.NDArray[np.float64]
    bid_qty: npt.NDArray[np.float64]
    ask_px: npt.NDArray[np.float64]
    ask_qty: npt.NDArray[np.float64]

    def __len__(self) -> int:
        return len(self.exch_ts)


@dataclass(frozen=True, slots=True)
class ParsedBook:
    """Level rows of the book messages, and what happened to every input message."""

    rows: BookLevelRows
    seq: npt.NDArray[np.int64]  # Bybit data.seq per row (0 where absent)
    status: npt.NDArray[np.uint8]  # per input message: STATUS_BOOK / _OTHER / _MALFORMED
    errors: list[str]  # the first few parse errors, "message <i>: <reason>"
    malformed: int  # how many messages were malformed in all


@contextmanager
def _core_errors() -> Iterator[None]:
    """Re-raise Rust core errors as the package's own classes."""
    try:
        yield
    except CoreMalformedError as exc:
        raise MalformedMessageError(str(exc)) from exc
    except CoreInputError as exc:
        raise BookError(str(exc)) from exc


def _row_arrays(rows: BookLevelRows) -> _core._RowArrays:
    """Check dtypes and lengths of the level-row columns; return them contiguous, in order."""
    n = len(rows.price)
    cols = []
    for name, dtype in BOOK_COLUMNS.items():
        arr = getattr(rows, name)
        if not isinstance(arr, np.ndarray) or arr.ndim != 1:
            raise BookError(f"column {name} must be a 1-D numpy array")
        if arr.dtype != dtype:
            raise BookError(f"column {name} has dtype {arr.dtype}, expected {dtype}")
        if len(arr) != n:
            raise BookError(f"column {name} has {len(arr)} rows, price has {n}")
        cols.append(np.ascontiguousarray(arr))
    return tuple(cols)  # type: ignore[return-value]


def _check_tick_size(tick_size: float) -> float:
    tick = float(tick_size)
    if not (np.isfinite(tick) and tick > 0):
        raise BookError(f"tick_size must be finite and > 0, got {tick_size!r}")
    return tick


def _messages(messages: Sequence[bytes], fmt: str) -> list[bytes]:
    if fmt not in BOOK_FORMATS:
        raise BookError(f"unknown book format {fmt!r}; expected one of {BOOK_FORMATS}")
    out = list(messages)
    for i, m in enumerate(out):
        if not isinstance(m, bytes):
            raise BookError(f"message {i} is {type(m).__name__}, expected bytes")
    return out


def _line_count(data: bytes) -> int:
    """Messages in a newline-separated buffer (a final newline ends the last one)."""
    return data.count(b"\n") + (0 if not data or data.endswith(b"\n") else 1)


def _local_ts(local_ts: npt.ArrayLike | None, n: int) -> npt.NDArray[np.int64] | None:
    if local_ts is None:
        return None
    arr = np.ascontiguousarray(local_ts, dtype=np.int64)
    if arr.shape != (n,):
        raise BookError(f"local_ts has shape {arr.shape}, expected ({n},)")
    return arr


class OrderBook:
    """An L2 book keyed by integer tick (`round(price / tick_size)`), held in Rust."""

    def __init__(self, tick_size: float) -> None:
        with _core_errors():
            self._inner = _core.OrderBook(_check_tick_size(tick_size))

    def apply(self, rows: BookLevelRows) -> None:
        """Apply a batch of whole messages (BEGIN..END rows)."""
        cols = _row_arrays(rows)
        with _core_errors():
            self._inner.apply_rows(cols)

    def apply_json(
        self, messages: Sequence[bytes], fmt: str, local_ts: npt.ArrayLike | None = None
    ) -> int:
        """Parse raw venue messages and apply the book ones; returns how many were malformed."""
        msgs = _messages(messages, fmt)
        with _core_errors():
            return self._inner.apply_json(msgs, fmt, _local_ts(local_ts, len(msgs)))

    def apply_json_lines(self, data: bytes, fmt: str, local_ts: npt.ArrayLike | None = None) -> int:
        """Like `apply_json` for one buffer of newline-separated messages (one crossing)."""
        _messages([], fmt)
        n = _line_count(data)
        with _core_errors():
            return self._inner.apply_json_lines(bytes(data), fmt, _local_ts(local_ts, n))

    def best_bid(self) -> Level | None:
        best = self._inner.best_bid()
        return None if best is None else Level(*best)

    def best_ask(self) -> Level | None:
        best = self._inner.best_ask()
        return None if best is None else Level(*best)

    def mid(self) -> float | None:
        return self._inner.mid()

    def microprice(self) -> float | None:
        """(bid * ask_qty + ask * bid_qty) / (bid_qty + ask_qty)."""
        return self._inner.microprice()

    def spread(self) -> float | None:
        return self._inner.spread()

    def depth(self, n: int) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        """Top `n` levels as (k, 2) price/qty arrays: bids high to low, asks low to high."""
        if n < 0:
            raise BookError(f"depth must be >= 0, got {n}")
        bids, asks = self._inner.depth(int(n))
        return bids.reshape(-1, 2), asks.reshape(-1, 2)

    def cost_to_buy(self, qty: float) -> WalkCost:
        """Walk the asks for `qty`."""
        with _core_errors():
            return WalkCost(*self._inner.cost_to_buy(float(qty)))

    def cost_to_sell(self, qty: float) -> WalkCost:
        """Walk the bids for `qty`."""
        with _core_errors():
            return WalkCost(*self._inner.cost_to_sell(float(qty)))

    @property
    def is_valid(self) -> bool:
        return self._inner.is_valid

    @property
    def last_update_id(self) -> int:
        return self._inner.last_update_id

    @property
    def tick_size(self) -> float:
        return self._inner.tick_size

    def stats(self) -> BookStats:
        return BookStats(**self._inner.stats())


def replay_top_levels(rows: BookLevelRows, tick_size: float, depth: int) -> TopLevels:
    """Replay rows through a fresh book; the top `depth` levels after every message."""
    if depth < 1:
        raise BookError(f"depth must be >= 1, got {depth}")
    cols = _row_arrays(rows)
    with _core_errors():
        out = _core.replay_top_levels(cols, _check_tick_size(tick_size), int(depth))

    def levels(name: str) -> npt.NDArray[np.float64]:
        return np.asarray(out[name], dtype=np.float64).reshape(-1, depth)

    return TopLevels(
        exch_ts=np.asarray(out["exch_ts"], dtype=np.int64),
        local_ts=np.asarray(out["local_ts"], dtype=np.int64),
        update_id=np.asarray(out["update_id"], dtype=np.int64),
        valid=np.asarray(out["valid"], dtype=np.bool_),
        bid_px=levels("bid_px"),
        bid_qty=levels("bid_qty"),
        ask_px=levels("ask_px"),
        ask_qty=levels("ask_qty"),
    )


def parse_book_messages(
    messages: Sequence[bytes], fmt: str, local_ts: npt.ArrayLike | None = None
) -> ParsedBook:
    """Turn raw venue messages ("bybit" or "binance") into level rows, in one Rust call.

    Malformed messages are reported in `status`/`errors`, never raised; `local_ts` (ns, one
    per message) defaults to the venue's stamp.
    """
    msgs = _messages(messages, fmt)
    with _core_errors():
        out = _core.parse_book_messages(msgs, fmt, _local_ts(local_ts, len(msgs)))
    return _parsed(out)


def parse_book_lines(data: bytes, fmt: str, local_ts: npt.ArrayLike | None = None) -> ParsedBook:
    """`parse_book_messages` for one buffer of newline-separated messages (a whole recording)."""
    _messages([], fmt)
    with _core_errors():
        out = _core.parse_book_lines(bytes(data), fmt, _local_ts(local_ts, _line_count(data)))
    return _parsed(out)


def _parsed(out: dict[str, object]) -> ParsedBook:
    cols = {name: np.asarray(out[name], dtype=dtype) for name, dtype in BOOK_COLUMNS.items()}
    errors = out["errors"]
    malformed = out["malformed"]
    assert isinstance(errors, list) and isinstance(malformed, int)
    return ParsedBook(
        rows=BookLevelRows(**cols),
        seq=np.asarray(out["seq"], dtype=np.int64),
        status=np.asarray(out["status"], dtype=np.uint8),
        errors=[str(e) for e in errors],
        malformed=malformed,
    )
