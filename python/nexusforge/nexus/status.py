"""`nexusforge nexus status`: every model's books rebuilt from the journal (read-only, safe while
the engine runs), marked at the venue's mid, and checked against the venue's position.

Reading the venue needs it reachable (the local exchange lives in the engine's process under
`make run`); when it is not, the report says so and shows the journal alone.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from nexusforge.errors import ConfigError
from nexusforge.nexus.config import EngineConfig
from nexusforge.nexus.journal import Journal, ModelStatus, status
from nexusforge.nexus.run import credentials, venue_config
from nexusforge.nexus.venues.bybit import BybitError, BybitRestClient

log = logging.getLogger(__name__)
ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class StatusReport:
    """The journal's books and, when reachable, the venue's view of the same account."""

    symbol: str
    models: tuple[ModelStatus, ...]
    ledgers_total: Decimal
    orphan: Decimal
    venue_position: Decimal | None
    mid: Decimal | None
    venue_error: str | None

    @property
    def reconciled(self) -> bool | None:
        """Σ ledgers == venue position (None when the venue could not be read)."""
        if self.venue_position is None:
            return None
        return self.ledgers_total == self.venue_position

    def to_json(self) -> dict[str, Any]:
        """Plain JSON values (decimals as exact strings)."""
        return {
            "symbol": self.symbol,
            "models": [_model_json(m) for m in self.models],
            "ledgers_total": str(self.ledgers_total),
            "orphan": str(self.orphan),
            "venue_position": _s(self.venue_position),
            "mid": _s(self.mid),
            "reconciled": self.reconciled,
            "venue_error": self.venue_error,
        }


def _s(v: Decimal | None) -> str | None:
    return None if v is None else str(v)


def _model_json(m: ModelStatus) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k in m.__slots__:
        v = getattr(m, k)
        out[k] = str(v) if isinstance(v, Decimal) else v
    return out


async def venue_view(cfg: EngineConfig) -> tuple[Decimal | None, Decimal | None, str | None]:
    """(position, mid, error) of the configured venue's account."""
    try:
        async with BybitRestClient(venue_config(cfg), credentials(cfg)) as rest:
            rows = await rest.positions(cfg.symbol)
            ob = await rest.orderbook(cfg.symbol, limit=1)
    except (BybitError, ConfigError, OSError) as exc:
        return None, None, f"{type(exc).__name__}: {exc}"
    position = sum((r.signed_size for r in rows if r.symbol == cfg.symbol), ZERO)
    mid = (Decimal(ob.b[0][0]) + Decimal(ob.a[0][0])) / 2 if ob.b and ob.a else None
    return position, mid, None


async def nexus_status(cfg: EngineConfig, *, query_venue: bool = True) -> StatusReport:
    """The report for `cfg`'s journal (JournalError when there is none)."""
    position: Decimal | None = None
    mid: Decimal | None = None
    error: str | None = "not queried"
    if query_venue:
        position, mid, error = await venue_view(cfg)
    with Journal(cfg.journal, readonly=True) as journal:
        marks = {} if mid is None else {cfg.symbol: mid}
        models = tuple(status(journal, marks))
        book = journal.rebuild().get(cfg.symbol)
    total = ZERO if book is None else book.total_inventory()
    orphan = ZERO if book is None else book.orphan.inventory
    return StatusReport(cfg.symbol, models, total, orphan, position, mid, error)
