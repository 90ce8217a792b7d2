"""The research table: forward return strictly after the features, gap handling, bad input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest

from nexusforge.errors import DataError
from nexusforge.forge.backtest.run import SeriesSpec
from nexusforge.forge.evolve.table import (
    TARGET,
    from_bars,
    load_research_table,
    longest_run,
    read_table,
)


def test_forward_return_is_after_features_and_past_return_before(real_store: Path) -> None:
    table = load_research_table(real_store, SeriesSpec())
    close = table.close
    fwd = table.frame[TARGET].to_numpy()
    past = table.frame["ret_h1"].to_numpy()
    np.testing.assert_allclose(fwd[:-1], np.log(close[1:] / close[:-1]), rtol=0, atol=1e-12)
    np.testing.assert_allclose(past[1:], fwd[:-1], rtol=0, atol=0)
    assert np.isnan(fwd[-1]) and np.isnan(past[0])
    assert TARGET not in table.features and "close" not in table.features
    assert table.height == 105_120 and table.bars_per_year == pytest.approx(105_120)


def test_changing_the_future_changes_no_feature_before_it(real_store: Path) -> None:
    table = load_research_table(real_store, SeriesSpec())
    frame = table.frame.head(3000)
    cut = 2000
    close = frame["close"].to_numpy().copy()
    close[cut:] *= 1.5
    feats = frame.select([c for c in table.features if c != "ret_h1"])
    a = from_bars(frame["close_ts"], frame["close"], feats, bars_per_year=1.0)
    b = from_bars(frame["close_ts"], close, feats, bars_per_year=1.0)
    left, right = a.frame.head(cut), b.frame.head(cut)
    assert left.drop(TARGET, "close").equals(right.drop(TARGET, "close"))
    # Only the last forward return before the cut may see the change.
    same = left[TARGET].to_numpy()[: cut - 1] == right[TARGET].to_numpy()[: cut - 1]
    assert same.all()


def test_longest_run_picks_the_gap_free_stretch() -> None:
    ts = np.array([0, 1, 2, 10, 11, 12, 13, 20], dtype=np.int64)
    assert longest_run(ts, 1) == slice(3, 7)
    assert longest_run(np.array([], dtype=np.int64), 1) == slice(0, 0)


def test_write_read_checks_hash(tmp_path: Path, planted) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "t.parquet"
    sha = planted.write(path)
    back = read_table(path, sha)
    assert back.frame.equals(planted.frame) and back.bars_per_year == planted.bars_per_year
    with pytest.raises(DataError, match="sha256"):
        read_table(path, "0" * 64)


def test_bad_input_is_refused() -> None:
    feats = pl.DataFrame({"x": [1.0, 2.0, 3.0]})
    with pytest.raises(DataError, match="reserved"):
        from_bars([0, 1, 2], [1.0, 2.0, 3.0], feats.rename({"x": "close"}), bars_per_year=1.0)
    with pytest.raises(DataError, match="positive"):
        from_bars([0, 1, 2], [1.0, -2.0, 3.0], feats, bars_per_year=1.0)
    with pytest.raises(DataError, match="one row per bar"):
        from_bars([0, 1], [1.0, 2.0], feats, bars_per_year=1.0)
    with pytest.raises(DataError, match="horizon"):
        from_bars([0, 1, 2], [1.0, 2.0, 3.0], feats, bars_per_year=1.0, horizon=0)


def test_store_without_the_series_is_a_clear_error(real_store: Path, tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no 300s candles for bybit_linear DOGEUSDT"):
        load_research_table(real_store, SeriesSpec(symbol="DOGEUSDT"))
    with pytest.raises(DataError, match="not a folder"):
        load_research_table(tmp_path / "nope", SeriesSpec())
    with pytest.raises(DataError, match="no bars table"):
        load_research_table(tmp_path, SeriesSpec())
