"""Stylized-fact estimators on synthetic series whose answer is known in closed form."""

from __future__ import annotations

import math

import numpy as np
import pytest

from nexusforge.errors import DataError
from nexusforge.forge.sim import facts

SEED = 20261124


def _rng(offset: int = 0) -> np.random.Generator:
    return np.random.default_rng(SEED + offset)


def _gaussian_with_acf(rho: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A stationary Gaussian series with ACF rho (rho[0] = 1), by circulant embedding."""
    n = len(rho)
    m = 2 * (n - 1)
    eig = np.fft.fft(np.concatenate([rho, rho[n - 2 : 0 : -1]])).real
    assert eig.min() > -1e-8 * eig.max(), "embedding is not positive semi-definite"
    w = (rng.standard_normal(m) + 1j * rng.standard_normal(m)) * np.sqrt(np.clip(eig, 0, None) / m)
    return np.fft.fft(w).real[:n]


def _power_law_rho(n: int, c: float, gamma: float) -> np.ndarray:
    k = np.arange(n, dtype=np.float64)
    rho = c * np.maximum(k, 1.0) ** -gamma
    rho[0] = 1.0
    return rho


# ---- heavy tails ----


def test_hill_recovers_the_pareto_tail_index() -> None:
    x = _rng().pareto(3.0, 200_000) + 1.0  # P(X > x) = x^-3 for x >= 1
    assert facts.hill_tail_index(x, 0.05) == pytest.approx(3.0, abs=0.12)
    assert facts.hill_tail_index_band(x) == pytest.approx(3.0, abs=0.12)


def test_hill_band_separates_student_t_tails_from_the_normal() -> None:
    rng = _rng(1)
    t3 = facts.hill_tail_index_band(rng.standard_t(3, 400_000))
    t5 = facts.hill_tail_index_band(rng.standard_t(5, 400_000))
    normal = facts.hill_tail_index_band(rng.standard_normal(400_000))
    assert t3 == pytest.approx(3.0, abs=0.35)
    # At 2.5-5 % the Hill estimate of a t(5) is biased low (its second-order term); still ordered.
    assert 3.3 < t5 < 5.5
    assert normal > t5 + 0.5 > t3 + 1.0


def test_hill_is_nan_on_too_few_points_and_rejects_a_bad_fraction() -> None:
    assert math.isnan(facts.hill_tail_index(np.arange(1.0, 20.0), 0.05))
    with pytest.raises(DataError):
        facts.hill_tail_index(np.ones(100), 0.7)
    with pytest.raises(DataError):
        facts.hill_tail_index(np.ones((10, 10)), 0.05)


def test_excess_kurtosis_of_laplace_and_normal() -> None:
    rng = _rng(2)
    assert facts.excess_kurtosis(rng.laplace(size=400_000)) == pytest.approx(3.0, abs=0.3)
    assert facts.excess_kurtosis(rng.standard_normal(400_000)) == pytest.approx(0.0, abs=0.05)
    assert math.isnan(facts.excess_kurtosis(np.ones(100)))


# ---- autocorrelation ----


def test_autocorrelation_of_an_ar1_process() -> None:
    rng = _rng(3)
    eps = rng.standard_normal(200_000)
    x = np.empty_like(eps)
    x[0] = eps[0]
    for t in range(1, len(x)):
        x[t] = 0.6 * x[t - 1] + eps[t]
    acf = facts.autocorrelation(x, 10)
    np.testing.assert_allclose(acf, 0.6 ** np.arange(1, 11), atol=0.01)


def test_autocorrelation_matches_the_direct_sum() -> None:
    x = _rng(4).standard_normal(300)
    d = x - x.mean()
    direct = np.array([np.sum(d[k:] * d[:-k]) for k in range(1, 31)]) / np.sum(d * d)
    np.testing.assert_allclose(facts.autocorrelation(x, 30), direct, atol=1e-12)
    assert np.all(np.isnan(facts.autocorrelation(np.ones(50), 5)))


def test_return_acf_inside_share_tells_iid_from_ar1() -> None:
    rng = _rng(5)
    iid = rng.standard_normal(20_000)
    ar = np.empty_like(iid)
    ar[0] = iid[0]
    for t in range(1, len(ar)):
        ar[t] = 0.8 * ar[t - 1] + iid[t]
    assert facts.return_acf_inside_share(iid) >= 0.85
    assert facts.return_acf_inside_share(ar) == 0.0
    assert math.isnan(facts.return_acf_inside_share(iid[:10]))


def test_power_law_decay_of_a_long_memory_series() -> None:
    gamma, c, n = 0.3, 0.4, 1 << 20
    x = _gaussian_with_acf(_power_law_rho(n, c, gamma), _rng(6))
    fit = facts.acf_power_law(x, 120)
    # The sample ACF of a long-memory series is biased low by about c·n^-γ·2/((1-γ)(2-γ)).
    bias = c * n**-gamma * 2 / ((1 - gamma) * (2 - gamma))
    lags = facts.log_spaced_lags(120).astype(np.float64)
    expected = facts.power_law_decay(lags, c * lags**-gamma - bias)
    assert fit.exponent == pytest.approx(expected.exponent, abs=0.04)
    assert fit.exponent == pytest.approx(gamma, abs=0.08)
    assert fit.prefactor == pytest.approx(c, rel=0.15)


def test_power_law_of_a_sign_series_with_known_correlation() -> None:
    # sign(X) for Gaussian X has ACF (2/π)·arcsin(ρ): with ρ = 0.8·k^-0.5 it is a power law
    # up to the arcsin curvature, which the expected fit on the exact ACF carries too.
    gamma, c, n = 0.5, 0.8, 1 << 19
    signs = np.sign(_gaussian_with_acf(_power_law_rho(n, c, gamma), _rng(7)))
    fit = facts.acf_power_law(signs, 200)
    lags = facts.log_spaced_lags(200).astype(np.float64)
    exact = facts.power_law_decay(lags, 2 / np.pi * np.arcsin(c * lags**-gamma))
    assert fit.exponent == pytest.approx(exact.exponent, abs=0.05)
    assert 0.45 < fit.exponent < 0.65


def test_volatility_clustering_of_garch_but_not_iid() -> None:
    rng = _rng(8)
    n, omega, alpha, beta = 60_000, 1e-6, 0.09, 0.9
    eps = rng.standard_normal(n)
    r = np.empty(n)
    var = omega / (1 - alpha - beta)
    for t in range(n):
        r[t] = math.sqrt(var) * eps[t]
        var = omega + alpha * r[t] ** 2 + beta * var
    assert facts.abs_return_acf_min(r, 120) > 0.0
    assert facts.abs_return_acf_min(eps, 120) < 0.0
    assert facts.acf_power_law(np.abs(r), 120).exponent > 0.0


def test_power_law_fit_needs_positive_points() -> None:
    fit = facts.power_law_decay(np.arange(1, 11), -np.ones(10))
    assert math.isnan(fit.exponent) and fit.points == 0
    with pytest.raises(DataError):
        facts.power_law_decay(np.arange(1, 11), np.ones(9))


# ---- impact, OFI, distributions ----


def test_impact_law_recovers_square_root_and_prefactor() -> None:
    rng = _rng(9)
    q = 10 ** rng.uniform(-4, -1, 3_000)
    impact = 0.8 * np.sqrt(q) * (1 + 0.3 * rng.standard_normal(len(q)))
    fit = facts.impact_law(q, impact)
    assert fit.exponent == pytest.approx(0.5, abs=0.03)
    assert fit.prefactor == pytest.approx(0.8, rel=0.1)
    assert fit.decades == pytest.approx(3.0, abs=0.01)
    linear = facts.impact_law(q, 2.0 * q)
    assert linear.exponent == pytest.approx(1.0, abs=1e-9)
    assert linear.prefactor == pytest.approx(2.0, rel=1e-9)


def test_order_flow_imbalance_by_hand() -> None:
    bid = [100.0, 100.0, 101.0, 100.0, 100.0]
    bid_qty = [5.0, 7.0, 2.0, 4.0, 4.0]
    ask = [102.0, 102.0, 102.0, 101.0, 102.0]
    ask_qty = [3.0, 3.0, 1.0, 6.0, 2.0]
    # t1: bid same (+7-5), ask same (-3+3) -> 2; t2: bid up (+2), ask same (-1+3) -> 4;
    # t3: bid down (-2), ask down (-6) -> -8; t4: bid same (+4-4), ask up (+6) -> 6.
    e = facts.order_flow_imbalance(bid, bid_qty, ask, ask_qty)
    np.testing.assert_array_equal(e, [0.0, 2.0, 4.0, -8.0, 6.0])


def test_ofi_regression_r2_matches_the_signal_to_noise_ratio() -> None:
    rng = _rng(10)
    x = rng.standard_normal(100_000)
    fit = facts.ofi_regression(x, 0.5 + 2.0 * x + rng.standard_normal(len(x)))
    assert fit.slope == pytest.approx(2.0, abs=0.02)
    assert fit.r2 == pytest.approx(0.8, abs=0.01)


def test_bucket_sums() -> None:
    start, total = facts.bucket_sums([0, 3, 10, 11, 35], [1.0, 2.0, 3.0, 4.0, 5.0], 10)
    np.testing.assert_array_equal(start, [0.0, 10.0, 30.0])
    np.testing.assert_array_equal(total, [3.0, 7.0, 5.0])
    with pytest.raises(DataError):
        facts.bucket_sums([0], [1.0], 0)


def test_ks_distance_of_shifted_normals_and_of_ties() -> None:
    rng = _rng(11)
    a, b = rng.standard_normal(50_000), rng.standard_normal(50_000) + 0.5
    expected = math.erf(0.25 / math.sqrt(2))  # 2Φ(d/2) − 1 for a shift d = 0.5
    assert facts.ks_distance(a, b) == pytest.approx(expected, abs=0.015)
    assert facts.ks_distance(a, rng.standard_normal(50_000)) < 0.02
    ticks = np.array([1.0, 1.0, 1.0, 2.0])
    assert facts.ks_distance(ticks, ticks[::-1]) == 0.0
    assert facts.ks_distance([1.0, 1.0], [2.0, 2.0]) == 1.0


def test_log_returns_reject_non_positive_prices() -> None:
    np.testing.assert_allclose(facts.log_returns([1.0, math.e]), [1.0])
    with pytest.raises(DataError):
        facts.log_returns([1.0, 0.0])


def test_taker_orders_merge_prints_of_one_order() -> None:
    ts = [1, 1, 1, 2, 2, 3]
    sign = [1, 1, -1, -1, -1, 1]
    qty = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]
    s, q = facts.taker_orders(ts, sign, qty)
    np.testing.assert_array_equal(s, [1.0, -1.0, -1.0, 1.0])
    np.testing.assert_array_equal(q, [3.0, 3.0, 9.0, 6.0])


def test_acf_power_law_refuses_a_fit_on_noise() -> None:
    noise = _rng(12).standard_normal(5_000)
    loose = facts.acf_power_law(noise, 120)
    strict = facts.acf_power_law(noise, 120, min_share=0.9)
    assert loose.points < 0.9 * len(facts.log_spaced_lags(120))
    assert math.isnan(strict.exponent) and strict.points == loose.points
