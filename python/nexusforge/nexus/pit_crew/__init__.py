"""The Pit Crew: challenger intake, shadow trading, the promotion rule and the hot swap."""

from nexusforge.nexus.pit_crew.compare import CompareConfig, Verdict, compare
from nexusforge.nexus.pit_crew.crew import PitCrew, PitCrewConfig
from nexusforge.nexus.pit_crew.intake import Admitted, Intake, Rejection
from nexusforge.nexus.pit_crew.promotion import LedgerStatement, Promotion, hot_swap
from nexusforge.nexus.pit_crew.record import (
    DecisionLog,
    challenger_views,
    promoted_heads,
    promoted_strategies,
)
from nexusforge.nexus.pit_crew.shadow import MarketStats, MarketView, Shadow, market_view

__all__ = [
    "Admitted",
    "CompareConfig",
    "DecisionLog",
    "Intake",
    "LedgerStatement",
    "MarketStats",
    "MarketView",
    "PitCrew",
    "PitCrewConfig",
    "Promotion",
    "Rejection",
    "Shadow",
    "Verdict",
    "challenger_views",
    "compare",
    "hot_swap",
    "market_view",
    "promoted_heads",
    "promoted_strategies",
]
