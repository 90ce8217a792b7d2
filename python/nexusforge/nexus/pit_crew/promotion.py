"""Hot swap: a challenger takes a champion's slot between two rounds, without a restart.

Handover rule (documented, and why): the slot's venue ledger stays where it is and the promoted
challenger inherits it — its position, cash and open orders — at the mark. No order is sent and
no booking is made, so nothing can be lost or counted twice: fills of orders still in flight
carry the slot's orderLinkId and land in the same ledger, and Σ ledgers == venue position is
unchanged. The champion's tenure is closed with a statement of that ledger at the mark (equity,
inventory, average entry, cash, realized, fees, funding, fill count); the challenger's virtual
ledger is closed the same way. Both statements go into the decision log, and both ledgers are
kept in memory (`Promotion`). The slot keeps its name (it names the ledger in the journal); the
log says which strategy trades in it. The swap is one list assignment on the event loop between
market-data callbacks, and the challenger's expression windows are already warm (it saw every
row), so no market data is dropped and the first target after the swap is a real one.
Journal order: decision log, then the two state changes (champion active → shadow, challenger
shadow → active, both on the slot), then the objects change.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from decimal import Decimal
from typing import Any

from nexusforge.errors import StateTransitionError
from nexusforge.nexus.journal import Journal
from nexusforge.nexus.ledger import Ledger
from nexusforge.nexus.model import ModelEvent, ModelState, TradingModel
from nexusforge.nexus.pit_crew.compare import Verdict
from nexusforge.nexus.pit_crew.record import DecisionLog
from nexusforge.nexus.pit_crew.shadow import Shadow
from nexusforge.strategy import codec


@dataclass(frozen=True, slots=True)
class LedgerStatement:
    """A ledger's closing figures at a mark."""

    model: str
    mark: Decimal
    equity: Decimal
    inventory: Decimal
    avg_entry: Decimal
    cash: Decimal
    realized: Decimal
    fees: Decimal
    funding: Decimal
    fills: int

    def to_json(self) -> dict[str, Any]:
        """Exact decimals as strings."""
        return {k: str(v) if isinstance(v, Decimal) else v for k, v in asdict(self).items()}


def statement(ledger: Ledger, mark: Decimal) -> LedgerStatement:
    """The ledger's figures at `mark`."""
    s = ledger.state
    return LedgerStatement(
        ledger.model, mark, s.equity(mark), s.inventory, s.avg_entry, s.cash, s.realized, s.fees,
        s.funding, ledger.fill_count,
    )  # fmt: skip


@dataclass(frozen=True, slots=True)
class Promotion:
    """One hot swap: who left, who came in, and the closed ledgers kept."""

    slot: int
    champion: TradingModel
    challenger: TradingModel
    sha256: str
    verdict: Verdict
    champion_closed: LedgerStatement
    challenger_closed: LedgerStatement
    virtual_ledger: Ledger


def hot_swap(
    models: list[TradingModel],
    shadow: Shadow,
    verdict: Verdict,
    mark: Decimal,
    journal: Journal | None,
    decisions: DecisionLog,
) -> Promotion:
    """Puts `shadow`'s model into `verdict.slot` in place of its ACTIVE champion."""
    i = next((k for k, m in enumerate(models) if m.slot == verdict.slot), None)
    if i is None:
        raise StateTransitionError(f"no model in slot {verdict.slot}")
    champion, new = models[i], shadow.model
    if champion.state is not ModelState.ACTIVE or new.state is not ModelState.SHADOW:
        raise StateTransitionError(
            f"swap needs an active champion and a shadow, got {champion.state.value} and "
            f"{new.state.value}"
        )
    closed_champion = statement(champion.ledger, mark)
    closed_virtual = statement(new.ledger, mark)
    decisions.record("promoted", shadow.key, champion.slot, {
        "sha256": shadow.sha256, "champion": champion.name, "verdict": verdict.to_json(),
        "champion_closed": closed_champion.to_json(),
        "challenger_closed": closed_virtual.to_json(),
        "strategy": _strategy_doc(new),
        "head": new.head.to_json() if new.head is not None else None,  # a restart rebuilds it
        "handover": "slot ledger inherited at the mark (no order, no booking)",
    })  # fmt: skip
    if journal is not None:
        why = f"replaced by {shadow.key} ({verdict.reason})"
        journal.record_state(champion.slot, "active", "shadow", why)
        journal.record_state(champion.slot, "shadow", "active", f"{shadow.key} promoted")
    virtual = new.ledger
    champion.apply_event(ModelEvent.DEMOTE)
    new.apply_event(ModelEvent.PROMOTE)
    new.slot, new.name, new.ledger = champion.slot, champion.name, champion.ledger
    new.set_weight(champion.weight)
    models[i] = new
    return Promotion(
        champion.slot, champion, new, shadow.sha256, verdict, closed_champion, closed_virtual,
        virtual,
    )  # fmt: skip


def _strategy_doc(m: TradingModel) -> dict[str, Any]:
    """The codec document of a model's strategy (schema + expr), for a restart to load."""
    return {"schema": codec.SCHEMA_VERSION, "expr": codec.to_dict(m.strategy)}
