"""Trailing-window VMD features: equal to per-window decompositions, causal, thread-independent,
equal in batch and streaming form, and strict about bad input."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nexusforge.errors import ConfigError, DataError
from nexusforge.market.vmd import VmdStream, feature_names, vmd, vmd_features


@pytest.fixture(scope="module")
def eth_log_close(shared_data: Path) -> np.ndarray:
    path = shared_data / "history" / "bybit_linear_ETHUSDT_5m_2025.csv.gz"
    close = pl.read_csv(path, columns=["close"], n_rows=3000)["close"].to_numpy()
    return np.log(close)


def stack(features: dict[str, np.ndarray], k: int) -> np.ndarray:
    return np.column_stack([features[name] for name in feature_names(k)])


def random_walk(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.log(100.0) + np.cumsum(0.002 * rng.standard_normal(n))


def test_rows_equal_direct_decomposition(eth_log_close: np.ndarray) -> None:
    series = eth_log_close[:400]
    window, stride, k = 64, 5, 3
    feats = stack(vmd_features(series, window=window, stride=stride, k=k), k)
    assert feats.shape == (400, 2 * k)
    assert np.isnan(feats[: window - 1]).all()
    for t in range(window - 1, 400):
        anchor = window - 1 + (t + 1 - window) // stride * stride
        direct = vmd(series[anchor + 1 - window : anchor + 1], k=k)
        order = np.argsort(direct.omega, kind="stable")
        expected = np.concatenate([direct.modes[order, -1], direct.omega[order]])
        np.testing.assert_array_equal(feats[t], expected)


def test_centre_frequencies_are_sorted(eth_log_close: np.ndarray) -> None:
    feats = vmd_features(eth_log_close[:600], window=128, stride=4, k=4)
    freqs = np.column_stack([feats[f"vmd_freq{i}"] for i in range(4)])[127:]
    assert np.all(np.diff(freqs, axis=1) >= 0)
    assert np.all((freqs >= 0) & (freqs < 0.5))


def test_thread_count_does_not_change_results(eth_log_close: np.ndarray) -> None:
    series = eth_log_close[:1500]
    base = stack(vmd_features(series, window=96, k=3, threads=1), 3)
    for threads in (2, 5):
        other = stack(vmd_features(series, window=96, k=3, threads=threads), 3)
        np.testing.assert_array_equal(base, other)
    np.testing.assert_array_equal(base, stack(vmd_features(series, window=96, k=3), 3))


def test_stream_equals_batch(eth_log_close: np.ndarray) -> None:
    series = eth_log_close[:500].copy()
    series[300] = np.nan
    batch = stack(vmd_features(series, window=64, stride=3, k=3, alpha=1500.0), 3)
    stream = VmdStream(window=64, stride=3, k=3, alpha=1500.0)
    for t, x in enumerate(series):
        last, freq = stream.update(float(x))
        np.testing.assert_array_equal(np.concatenate([last, freq]), batch[t])
    assert stream.seen == 500


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    window=st.sampled_from([8, 16, 24, 40]),
    stride=st.integers(1, 6),
    cut=st.integers(0, 149),
    bump=st.one_of(st.floats(-1.0, 1.0).filter(lambda v: v != 0.0), st.just(float("nan"))),
)
def test_no_look_ahead(seed: int, window: int, stride: int, cut: int, bump: float) -> None:
    series = random_walk(150, seed)
    base = stack(vmd_features(series, window=window, stride=stride, k=2), 2)
    changed = series.copy()
    rng = np.random.default_rng(seed)
    changed[cut + 1 :] += bump * rng.random(150 - cut - 1)
    after = stack(vmd_features(changed, window=window, stride=stride, k=2), 2)
    np.testing.assert_array_equal(base[: cut + 1], after[: cut + 1])


def test_prefix_gives_the_same_rows(eth_log_close: np.ndarray) -> None:
    full = stack(vmd_features(eth_log_close[:700], window=32, stride=7, k=2), 2)
    part = stack(vmd_features(eth_log_close[:455], window=32, stride=7, k=2), 2)
    np.testing.assert_array_equal(full[:455], part)


def test_nan_in_window_gives_nan_rows() -> None:
    series = random_walk(120, 3)
    series[50] = np.nan
    series[90] = np.inf
    feats = stack(vmd_features(series, window=16, k=2), 2)
    bad = np.zeros(120, dtype=bool)
    bad[50:66] = True
    bad[90:106] = True
    assert np.isnan(feats[bad]).all()
    assert np.isfinite(feats[15:][~bad[15:]]).all()


def test_short_series_is_all_nan() -> None:
    feats = vmd_features(random_walk(20, 1), window=32, k=2)
    assert all(np.isnan(v).all() and len(v) == 20 for v in feats.values())
    assert list(feats) == ["vmd_mode0", "vmd_mode1", "vmd_freq0", "vmd_freq1"]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"window": 31},
        {"window": 6, "k": 2},
        {"window": 16, "k": 9},
        {"k": 0},
        {"k": True},
        {"alpha": float("nan")},
        {"alpha": float("inf")},
        {"alpha": 0.0},
        {"tol": -1e-7},
        {"max_iter": 1},
        {"stride": 0},
        {"stride": 1.5},
        {"threads": 0},
    ],
)
def test_bad_parameters_raise_config_error(kwargs: dict[str, object]) -> None:
    with pytest.raises(ConfigError):
        vmd_features(random_walk(200, 0), **kwargs)  # type: ignore[arg-type]
    stream_kwargs = {key: v for key, v in kwargs.items() if key != "threads"}
    if stream_kwargs:
        with pytest.raises(ConfigError):
            VmdStream(**stream_kwargs)  # type: ignore[arg-type]


def test_bad_arrays_raise_data_error() -> None:
    with pytest.raises(DataError, match="one-dimensional"):
        vmd_features(np.zeros((10, 10)))
    with pytest.raises(DataError, match="numeric"):
        vmd_features(["a", "b"])
    with pytest.raises(DataError, match="needs a number"):
        VmdStream(window=16, k=2).update("x")  # type: ignore[arg-type]


def test_vmd_rejects_bad_signals_and_parameters() -> None:
    signal = random_walk(64, 2)
    with_nan = signal.copy()
    with_nan[10] = np.nan
    with pytest.raises(DataError, match="NaN"):
        vmd(with_nan)
    with pytest.raises(DataError, match="at least"):
        vmd(signal[:7], k=1)
    with pytest.raises(ConfigError, match="init"):
        vmd(signal, init=2)
    with pytest.raises(ConfigError, match="tau"):
        vmd(signal, tau=-0.1)
    with pytest.raises(ConfigError, match="dc"):
        vmd(signal, dc=1)  # type: ignore[arg-type]


def test_strided_input_gives_the_same_rows() -> None:
    """A strided view is accepted (copied once into contiguous memory)."""
    series = random_walk(200, 4)
    doubled = np.repeat(series, 2)[::2]
    np.testing.assert_array_equal(
        stack(vmd_features(series, window=16, k=2), 2),
        stack(vmd_features(doubled, window=16, k=2), 2),
    )


def test_batch_releases_the_gil(shared_data: Path) -> None:
    """While Rust works in one thread, Python keeps running in another."""
    path = shared_data / "history" / "bybit_linear_BTCUSDT_5m_2025.csv.gz"
    series = np.log(pl.read_csv(path, columns=["close"], n_rows=40_000)["close"].to_numpy())
    started = threading.Event()

    def work() -> None:
        started.set()
        vmd_features(series, window=128, k=3, threads=1)

    worker = threading.Thread(target=work)
    begin = time.perf_counter()
    worker.start()
    started.wait()
    last, max_gap = time.perf_counter(), 0.0
    while worker.is_alive():
        now = time.perf_counter()
        max_gap, last = max(max_gap, now - last), now
        time.sleep(0.001)
    duration = time.perf_counter() - begin
    assert duration > 0.2, "too little work to tell"
    assert max_gap < 0.5 * duration, (max_gap, duration)
