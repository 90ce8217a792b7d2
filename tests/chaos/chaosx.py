"""What the engine-process chaos tests watch from outside: its journal, read-only."""

from __future__ import annotations

from pathlib import Path

from nexusforge.nexus.journal import Journal


def trading(folder: Path, symbol: str) -> bool:
    """The engine is past its start: models are set up and an order intent was journaled."""
    path = folder / "journal.sqlite"
    try:
        with Journal(path, readonly=True) as j:
            return bool(j.models()) and j.first_intent_time_ms(symbol) is not None
    except Exception:  # not created yet, or being created right now
        return False
