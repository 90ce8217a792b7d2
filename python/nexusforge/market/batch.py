"""Features and MTFA over a whole history, in polars: the batch twin of `features.py`/`mtfa.py`.

Every function here equals its streaming counterpart fed the same data (max abs difference
≤ 1e-9, NaN in the same places) and never looks ahead. See `batch_features.py` (event clock) and
`batch_mtfa.py` (bars, bar features, multi-timeframe alignment).
"""

from nexusforge.market.batch_features import TopLevelsLike, event_features, merge_events
from nexusforge.market.batch_mtfa import (
    BAR_COLUMNS,
    bar_event_features,
    bar_features,
    bars_from_candles,
    bars_from_trades,
    mtfa_plan,
    mtfa_table,
    resample_bars,
)
from nexusforge.market.features import FeatureConfig
from nexusforge.market.mtfa import MtfaConfig

__all__ = [
    "BAR_COLUMNS",
    "FeatureConfig",
    "MtfaConfig",
    "TopLevelsLike",
    "bar_event_features",
    "bar_features",
    "bars_from_candles",
    "bars_from_trades",
    "event_features",
    "merge_events",
    "mtfa_plan",
    "mtfa_table",
    "resample_bars",
]
