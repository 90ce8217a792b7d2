"""Impact calibration: exact recovery on a constructed line, a sane coefficient on real candles."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest

from nexusforge.errors import DataError
from nexusforge.market.impact import calibrate_impact, fit_line


def test_fit_line_recovers_slope_and_intercept() -> None:
    x = np.linspace(0.1, 3.0, 50)
    b, a, r2 = fit_line(x, 0.7 + 0.45 * x)
    assert b == pytest.approx(0.45, rel=1e-12)
    assert a == pytest.approx(0.7, rel=1e-12)
    assert r2 == pytest.approx(1.0, rel=1e-12)


def test_flat_volume_cannot_be_fitted() -> None:
    rng = np.random.default_rng(7)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.001, 500)))
    with pytest.raises(DataError, match="no spread"):
        calibrate_impact(close, np.full(500, 3.0), window=50)


def test_volume_driven_moves_are_found() -> None:
    # returns whose size grows with sqrt(volume share): the fit must find a clearly positive slope
    rng = np.random.default_rng(11)
    n = 20_000
    volume = rng.lognormal(0.0, 0.8, n)
    share = volume / np.exp(0.8**2 / 2)  # lognormal mean
    r = 0.001 * (0.2 + 0.8 * np.sqrt(share)) * rng.choice([-1.0, 1.0], n)
    close = 100 * np.exp(np.concatenate(([0.0], np.cumsum(r[1:]))))
    fit = calibrate_impact(close, volume, window=500)
    assert fit.eta > 0.5 and fit.r2 > 0.5
    noise = calibrate_impact(close, rng.permutation(volume), window=500)
    assert abs(noise.eta) < 0.05  # volume unrelated to moves: no slope


def test_real_bybit_btc_5m(shared_data: Path) -> None:
    frame = pl.read_csv(shared_data / "history/bybit_linear_BTCUSDT_5m_2025.csv.gz")
    fit = calibrate_impact(frame["close"].to_numpy(), frame["volume"].to_numpy(), window=288)
    assert fit.n_used + fit.n_skipped == frame.height - 1
    assert fit.n_used > 100_000
    # busy bars move more: an O(1) coefficient (about 1.0 on this file) that explains a good
    # part of |r| / sigma, as the square-root-law literature finds
    assert 0.3 < fit.eta < 3.0
    assert fit.r2 > 0.2


def test_bad_candles_are_rejected() -> None:
    with pytest.raises(DataError, match="equal length"):
        calibrate_impact(np.ones(10), np.ones(9))
    with pytest.raises(DataError, match="finite"):
        calibrate_impact(np.array([1.0, np.nan] * 300), np.ones(600), window=10)
