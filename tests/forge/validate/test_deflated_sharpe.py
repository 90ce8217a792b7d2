"""PSR/DSR against the worked example of Bailey & López de Prado (2014), a closed form
computed by hand here, and a simulation with a planted zero Sharpe."""

from __future__ import annotations

import math

import numpy as np
import pytest

from nexusforge.forge.validate.deflated_sharpe import (
    deflated_sharpe,
    deflated_sharpe_of,
    expected_max_sharpe,
    moments,
    probabilistic_sharpe,
)


def _phi(x: float) -> float:
    return 0.5 * (1.0 + math.erf(x / math.sqrt(2.0)))


def test_dsr_matches_the_papers_numerical_example() -> None:
    # Bailey & López de Prado, "The Deflated Sharpe Ratio" (JPM 2014), numerical example:
    # annualised SR 2.5 over T = 1250 daily returns, N = 100 trials with annualised Sharpe
    # variance 0.5, skewness -3, kurtosis 10 -> E[max SR] = 0.1132 (daily), DSR = 0.9004.
    # The paper prints 4 decimals; to 1e-6 the figures are checked against the paper's
    # equations evaluated here with the standard library alone (no scipy, no shared code).
    d = deflated_sharpe(2.5 / math.sqrt(250), 100, 0.5 / 250, -3.0, 10.0, 1250)
    assert d.benchmark == pytest.approx(0.1132, abs=5e-5)
    assert d.dsr == pytest.approx(0.9004, abs=5e-5)
    from statistics import NormalDist

    nd, gamma, sr = NormalDist(), 0.5772156649015329, 2.5 / math.sqrt(250)
    sr0 = math.sqrt(0.5 / 250) * ((1 - gamma) * nd.inv_cdf(1 - 1 / 100)
                                  + gamma * nd.inv_cdf(1 - 1 / (100 * math.e)))  # fmt: skip
    z = (sr - sr0) * math.sqrt(1250 - 1) / math.sqrt(1 + 3.0 * sr + (10.0 - 1) / 4 * sr**2)
    assert d.benchmark == pytest.approx(sr0, abs=1e-6)
    assert d.dsr == pytest.approx(nd.cdf(z), abs=1e-6)


def test_psr_equals_the_closed_form() -> None:
    sr, sr0, g3, g4, n = 0.12, 0.03, -0.8, 7.5, 500
    z = (sr - sr0) * math.sqrt(n - 1) / math.sqrt(1 - g3 * sr + (g4 - 1) / 4 * sr**2)
    assert probabilistic_sharpe(sr, sr0, g3, g4, n) == pytest.approx(_phi(z), abs=1e-12)


def test_expected_max_sharpe_closed_form_and_edges() -> None:
    from statistics import NormalDist

    nd = NormalDist()
    n, v = 1000, 0.004
    g = 0.5772156649015329
    want = math.sqrt(v) * ((1 - g) * nd.inv_cdf(1 - 1 / n) + g * nd.inv_cdf(1 - 1 / (n * math.e)))
    assert expected_max_sharpe(n, v) == pytest.approx(want, abs=1e-12)
    assert expected_max_sharpe(1, v) == 0.0
    # More trials, a higher bar.
    assert expected_max_sharpe(10_000, v) > expected_max_sharpe(100, v)


def test_expected_max_sharpe_matches_simulated_maxima() -> None:
    rng = np.random.default_rng(3)
    n, sd = 200, 0.05
    maxima = rng.normal(0.0, sd, size=(4000, n)).max(axis=1)
    assert expected_max_sharpe(n, sd**2) == pytest.approx(maxima.mean(), rel=0.03)


def test_psr_is_calibrated_under_a_planted_zero_sharpe() -> None:
    # With true SR = 0, PSR(0) is ~uniform: it exceeds 0.95 in ~5 % of samples.
    rng = np.random.default_rng(11)
    psr = []
    for r in rng.standard_t(df=6, size=(2000, 300)) * 0.01:
        m = moments(r)
        psr.append(probabilistic_sharpe(m.sharpe, 0.0, m.skew, m.kurtosis, m.n))
    rate = float(np.mean(np.array(psr) > 0.95))
    assert 0.03 <= rate <= 0.07


def test_dsr_from_returns_uses_moments_and_trial_variance() -> None:
    rng = np.random.default_rng(5)
    r = rng.normal(0.001, 0.01, size=2000)
    trials = rng.normal(0.0, 0.02, size=300)
    d = deflated_sharpe_of(r, 300, trials)
    m = moments(r)
    assert d.sharpe == pytest.approx(r.mean() / r.std(ddof=1))
    assert d.trial_variance == pytest.approx(trials.var(ddof=1))
    assert d.dsr == pytest.approx(
        probabilistic_sharpe(m.sharpe, expected_max_sharpe(300, trials.var(ddof=1)), m.skew,
                             m.kurtosis, m.n))  # fmt: skip
    assert moments(np.zeros(10)).sharpe == 0.0
