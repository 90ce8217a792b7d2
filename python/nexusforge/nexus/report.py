"""Plain-text tables of a run's summary and of `nexus status` (the CLI prints them)."""

from __future__ import annotations

from decimal import Decimal

from nexusforge.nexus.engine import Summary
from nexusforge.nexus.status import StatusReport

HEADER = f"{'slot':>4} {'model':<18} {'state':<7} {'inventory':>12} {'equity':>14} {'fees':>12}"


def _num(v: Decimal | None, places: int = 4) -> str:
    return "-" if v is None else f"{v:.{places}f}"


def summary_text(s: Summary) -> str:
    """The end-of-run summary: per-model books, the venue position and the reconciliation."""
    lines = [f"Nexus run on {s.symbol}: {s.rounds} rounds, {s.orders_sent} orders, "
             f"{s.fills} fills, {s.md_messages} market-data messages", HEADER]  # fmt: skip
    for m in s.models:
        lines.append(
            f"{m.slot:>4} {m.name:<18} {m.state:<7} {m.inventory:>12} {_num(m.equity):>14} "
            f"{_num(m.fees):>12}  fills {m.fills}"
        )
    lines.append(f"orphan position {s.orphan}; ledgers total {s.ledgers_total}; "
                 f"venue position {s.venue_position}")  # fmt: skip
    if s.venue_position is None:
        why = s.alert or "no venue answer at the stop"
        lines.append(f"reconciled: unknown ({why}; the next start reconciles)")
    else:
        lines.append("reconciled: yes" if s.reconciled else f"reconciled: NO ({s.alert})")
    return "\n".join(lines)


def status_text(r: StatusReport) -> str:
    """`nexus status`: the journal's books marked at the venue's mid, and the reconciliation."""
    lines = [f"Nexus status on {r.symbol} (mid {r.mid})", HEADER]
    for m in r.models:
        lines.append(
            f"{m.slot:>4} {m.name:<18} {m.state:<7} {m.inventory:>12} {_num(m.equity):>14} "
            f"{_num(m.fees):>12}"
        )
    lines.append(f"orphan position {r.orphan}; ledgers total {r.ledgers_total}; "
                 f"venue position {r.venue_position}")  # fmt: skip
    if r.reconciled is None:
        lines.append(f"reconciled: unknown (venue not read: {r.venue_error})")
    else:
        lines.append("reconciled: yes" if r.reconciled else "reconciled: NO")
    return "\n".join(lines)
