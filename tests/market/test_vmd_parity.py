"""`vmd` against the reference implementation vmdpy, on real log prices and synthetic signals.

Achieved agreement: modes within 1e-14 and centre frequencies within 1e-11 (relative), with the
same iteration count; lengths whose half is prime (FFT by Bluestein in both) are the loosest.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest
from vmdpy import VMD

from nexusforge.market.vmd import vmd

MODE_RTOL = 1e-12
OMEGA_RTOL = 1e-10


@pytest.fixture(scope="module")
def btc_log_close(shared_data: Path) -> np.ndarray:
    path = shared_data / "history" / "bybit_linear_BTCUSDT_5m_2025.csv.gz"
    close = pl.read_csv(path, columns=["close"])["close"].to_numpy()
    return np.log(close)


def assert_matches_vmdpy(
    signal: np.ndarray,
    k: int,
    alpha: float = 2000.0,
    tau: float = 0.0,
    dc: bool = False,
    init: int = 1,
    tol: float = 1e-7,
) -> None:
    u_ref, _, omega_hist = VMD(signal, alpha, tau, k, dc, init, tol)
    out = vmd(signal, k=k, alpha=alpha, tau=tau, dc=dc, init=init, tol=tol)
    assert out.modes.shape == u_ref.shape
    # vmdpy returns the omega history; its last row is the final centre frequencies.
    assert out.iterations == omega_hist.shape[0]
    mode_err = np.max(np.abs(out.modes - u_ref)) / np.max(np.abs(u_ref))
    assert mode_err < MODE_RTOL, mode_err
    np.testing.assert_allclose(out.omega, omega_hist[-1], rtol=OMEGA_RTOL, atol=1e-15)


@pytest.mark.parametrize("length", [128, 256, 255])
@pytest.mark.parametrize("k", [2, 3, 5])
def test_real_log_price_windows(btc_log_close: np.ndarray, length: int, k: int) -> None:
    rng = np.random.default_rng(length * 10 + k)
    for start in rng.integers(0, len(btc_log_close) - length, size=4):
        assert_matches_vmdpy(btc_log_close[start : start + length], k)


def test_real_log_prices_demeaned_and_scaled(btc_log_close: np.ndarray) -> None:
    """Returns-scale input runs many more iterations, which stresses error growth."""
    window = btc_log_close[50_000:50_256]
    scaled = (window - window.mean()) * 100.0
    assert_matches_vmdpy(scaled, 4)


def synthetic(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    return (
        np.cos(2 * np.pi * 0.02 * t)
        + 0.5 * np.cos(2 * np.pi * 0.13 * t + 1.0)
        + 0.2 * np.sin(2 * np.pi * 0.31 * t)
        + 0.05 * rng.standard_normal(n)
    )


@pytest.mark.parametrize("n", [128, 300, 301])
@pytest.mark.parametrize(
    ("tau", "dc", "init"),
    [(0.0, False, 1), (0.1, False, 1), (0.0, True, 0), (0.3, True, 1), (0.0, False, 0)],
)
def test_sinusoids_plus_noise(n: int, tau: float, dc: bool, init: int) -> None:
    assert_matches_vmdpy(synthetic(n, n), 3, tau=tau, dc=dc, init=init)


def test_iteration_cap_matches_vmdpy() -> None:
    signal = synthetic(128, 5)
    _, _, omega_hist = VMD(signal, 2000.0, 0.0, 4, False, 0, 0.0)
    out = vmd(signal, k=4, init=0, tol=0.0)
    assert out.iterations == omega_hist.shape[0] == 499


def test_odd_length_drops_last_sample() -> None:
    signal = synthetic(201, 2)
    odd, even = vmd(signal), vmd(signal[:-1])
    assert odd.modes.shape == (3, 200)
    np.testing.assert_array_equal(odd.modes, even.modes)
    np.testing.assert_array_equal(odd.omega, even.omega)
