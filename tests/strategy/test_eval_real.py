"""Vector equals stream on random expressions over the MTFA table of real Binance BTCUSDT bars."""

from pathlib import Path

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings

from nexusforge.data.ingest import ingest
from nexusforge.data.store import Store
from nexusforge.market.batch import bars_from_candles, mtfa_table
from nexusforge.market.mtfa import MtfaConfig
from nexusforge.strategy import Expr, StreamEvaluator, evaluate
from nexusforge.testing.expressions import expressions

MIN = 60_000_000_000
CFG = MtfaConfig(base_ns=MIN, timeframes_ns=(15 * MIN, 60 * MIN), n_bars=20)
HISTORY = "history/binance_usdm_BTCUSDT_1m_20250504_20250624.csv.gz"
ROWS = 3000


@pytest.fixture(scope="module")
def table(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> pl.DataFrame:
    store = Store(tmp_path_factory.mktemp("strategy_store"))
    ingest(shared_data / HISTORY, store)
    candles = store.scan("bars").collect().sort("open_ts").head(ROWS)
    bars = bars_from_candles(candles, int(candles["interval_s"][0]) * 1_000_000_000)
    return mtfa_table(bars, CFG).drop("close_ts")


def test_columns_are_real_features_with_warmup_nans(table: pl.DataFrame) -> None:
    assert table.height == ROWS and table.width >= 4
    assert table.null_count().sum_horizontal().item() == 0
    assert np.isnan(table.to_numpy()).any()


def test_vector_equals_stream_on_real_features(table: pl.DataFrame) -> None:
    names = table.columns

    @settings(max_examples=25)
    @given(expressions(names, max_depth=5, max_window=30))
    def check(e: Expr) -> None:
        whole = evaluate(e, table)
        s = StreamEvaluator(e, names)
        rows = table.to_numpy()
        streamed = np.array([s.update(r) for r in rows[:600]])
        assert np.array_equal(whole[:600], streamed, equal_nan=True)
        assert np.array_equal(whole, evaluate(e, table, block_rows=97), equal_nan=True)

    check()
