"""Book messages go to the Rust JSON parser (`nexusforge.market.book`); this adds venue/symbol.

The parser returns level rows without a symbol, so we keep each message's symbol and map it to
its rows: a message's rows start at a row flagged BEGIN, and rows come out in message order.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import numpy.typing as npt
import polars as pl

from nexusforge.data.readers._result import SkipLog, empty_frame
from nexusforge.data.schema import BOOK_EVENTS, SCHEMAS
from nexusforge.market.events import FLAG_BEGIN

_ERROR = re.compile(r"^message (\d+): (.*)$", re.DOTALL)
STATUS_BOOK = 0
STATUS_OTHER = 1
STATUS_MALFORMED = 2


@dataclass
class BookMessages:
    """Book messages of one source, gathered in order, parsed together in one Rust call."""

    fmt: Literal["bybit", "binance"]
    venue: str
    payloads: list[bytes] = field(default_factory=list)
    lines: list[int] = field(default_factory=list)
    symbols: list[str] = field(default_factory=list)
    local_ts: list[int] = field(default_factory=list)

    def add(self, payload: bytes, line: int, symbol: str, local_ts: int | None) -> None:
        """Queue one message; receive times must be given for all messages or for none."""
        self.payloads.append(payload)
        self.lines.append(line)
        self.symbols.append(symbol)
        if local_ts is not None:
            self.local_ts.append(local_ts)

    def frame(self, skips: SkipLog) -> pl.DataFrame:
        """Parse all queued messages into book_events rows; bad messages become counted skips."""
        if not self.payloads:
            return empty_frame(BOOK_EVENTS)
        from nexusforge.market.book import parse_book_messages

        local = np.asarray(self.local_ts, dtype=np.int64) if self.local_ts else None
        parsed = parse_book_messages(self.payloads, self.fmt, local)
        status = np.asarray(parsed.status)
        self._log_rejects(status, list(parsed.errors), skips)
        book_symbols = np.asarray(self.symbols, dtype=object)[status == STATUS_BOOK]
        rows = parsed.rows
        message_of_row = np.cumsum((rows.flags & FLAG_BEGIN) != 0) - 1
        symbol = book_symbols[message_of_row] if len(rows) else np.asarray([], dtype=object)
        return pl.DataFrame(
            {
                "venue": pl.Series([self.venue] * len(rows), dtype=pl.String()),
                "symbol": pl.Series(symbol.tolist(), dtype=pl.String()),
                "exch_ts": rows.exch_ts,
                "local_ts": rows.local_ts,
                "update_id": rows.update_id,
                "prev_update_id": rows.prev_update_id,
                "seq": np.asarray(parsed.seq, dtype=np.int64),
                "price": rows.price,
                "qty": rows.qty,
                "side": rows.side,
                "flags": rows.flags,
            },
            schema=SCHEMAS[BOOK_EVENTS],
        )

    def _log_rejects(
        self, status: npt.NDArray[np.uint8], errors: list[str], skips: SkipLog
    ) -> None:
        """Skip every rejected message; the parser keeps its first errors as `message i: why`."""
        details: dict[int, str] = {}
        for error in errors:
            match = _ERROR.match(error)
            if match:
                details[int(match[1])] = match[2]
        for index in np.flatnonzero(status != STATUS_BOOK).tolist():
            malformed = status[index] == STATUS_MALFORMED
            reason = "malformed book message" if malformed else "not a book message"
            skips.skip(self.lines[index], reason, details.get(index, ""))
