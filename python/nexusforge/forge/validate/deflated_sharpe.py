"""The Probabilistic and Deflated Sharpe Ratios (Bailey & López de Prado, 2012 and 2014).

Every Sharpe ratio here is per observation (not annualised): the PSR's standard error uses the
number of observations T, so an annualised SR would be wrong by sqrt(periods per year).
Kurtosis is the ordinary (non-excess) kurtosis: 3 for a normal distribution.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import stats  # type: ignore[import-untyped]

EULER_GAMMA = 0.5772156649015329


@dataclass(frozen=True)
class Moments:
    """Per-observation Sharpe ratio, skewness, kurtosis (non-excess) and observation count."""

    sharpe: float
    skew: float
    kurtosis: float
    n: int


def moments(returns: npt.ArrayLike) -> Moments:
    """Sample Sharpe (mean / std, ddof=1), skewness and kurtosis of per-period returns."""
    r = np.asarray(returns, dtype=np.float64)
    r = r[np.isfinite(r)]
    if r.size < 3:
        raise ValueError(f"need at least 3 finite returns, got {r.size}")
    sd = float(r.std(ddof=1))
    if sd == 0.0:
        return Moments(0.0, 0.0, 3.0, int(r.size))
    return Moments(
        float(r.mean()) / sd,
        float(stats.skew(r, bias=True)),
        float(stats.kurtosis(r, fisher=False, bias=True)),
        int(r.size),
    )


def sharpe_std_error(sharpe: float, skew: float, kurtosis: float, n: int) -> float:
    """Standard error of an estimated Sharpe ratio under non-normal returns (Mertens 2002)."""
    var = (1.0 - skew * sharpe + (kurtosis - 1.0) / 4.0 * sharpe**2) / (n - 1)
    return math.sqrt(max(var, 0.0))


def probabilistic_sharpe(
    sharpe: float, benchmark: float, skew: float, kurtosis: float, n: int
) -> float:
    """PSR: the probability that the true Sharpe exceeds `benchmark`, given the estimate."""
    if n < 2:
        raise ValueError("PSR needs at least 2 observations")
    se = sharpe_std_error(sharpe, skew, kurtosis, n)
    if se == 0.0:
        return 1.0 if sharpe > benchmark else 0.0
    return float(stats.norm.cdf((sharpe - benchmark) / se))


def expected_max_sharpe(trials: int, variance: float) -> float:
    """E[max SR] of `trials` independent zero-skill trials whose Sharpes have `variance`."""
    if trials < 1:
        raise ValueError("trials must be >= 1")
    if trials == 1 or variance <= 0.0:
        return 0.0
    z1 = stats.norm.ppf(1.0 - 1.0 / trials)
    z2 = stats.norm.ppf(1.0 - 1.0 / (trials * math.e))
    return float(math.sqrt(variance) * ((1.0 - EULER_GAMMA) * z1 + EULER_GAMMA * z2))


@dataclass(frozen=True)
class DeflatedSharpe:
    """The DSR and what went into it (per-observation Sharpes)."""

    dsr: float
    sharpe: float
    benchmark: float  # E[max SR] of the trials: the PSR's deflated benchmark
    trials: int
    trial_variance: float
    skew: float
    kurtosis: float
    n: int


def deflated_sharpe(
    sharpe: float, trials: int, trial_variance: float, skew: float, kurtosis: float, n: int
) -> DeflatedSharpe:
    """DSR = PSR against the expected maximum Sharpe of `trials` zero-skill trials."""
    sr0 = expected_max_sharpe(trials, trial_variance)
    dsr = probabilistic_sharpe(sharpe, sr0, skew, kurtosis, n)
    return DeflatedSharpe(dsr, sharpe, sr0, trials, trial_variance, skew, kurtosis, n)


def deflated_sharpe_of(
    returns: npt.ArrayLike, trials: int, trial_sharpes: npt.ArrayLike
) -> DeflatedSharpe:
    """DSR of a return series given the per-observation Sharpes of every trial made."""
    m = moments(returns)
    srs = np.asarray(trial_sharpes, dtype=np.float64)
    srs = srs[np.isfinite(srs)]
    var = float(srs.var(ddof=1)) if srs.size > 1 else 0.0
    return deflated_sharpe(m.sharpe, trials, var, m.skew, m.kurtosis, m.n)
