"""The promotion rule: is a challenger better than a champion on the same window, net of costs?

Both are measured on the same sample intervals (every `sample_s`, from the challenger's start):
a return is Δequity / (capital · weight), i.e. per unit of exposure, after every cost (the
champion's real fills and fees, the challenger's cost-model fills). Risk-adjusted return is the
Sharpe ratio of those per-interval returns, S = mean / std.

Promote over a champion only when all hold:
  1. the challenger's window is long enough (min time and min virtual trades, checked by caller);
  2. S_c > 0 (a money-losing strategy is never promoted, even over a worse champion);
  3. S_c > S_k + threshold · |S_k|   (default threshold 0.10: more than 10 % better);
  4. the difference is significant: a one-sided test of H0: S_c ≤ S_k on the paired series
     d_t = r_c,t / σ_c − r_k,t / σ_k (volatility-standardized returns, so mean(d) = S_c − S_k),
     with the Newey–West (HAC, Bartlett kernel) long-run variance at lag
     L = floor(4 · (T/100)^(2/9)); z = mean(d) / sqrt(LRV / T) and p = 1 − Φ(z) < alpha
     (default 0.05). The σ's are plug-in estimates (a simplification of the Jobson–Korkie /
     Memmel test that ignores their estimation error); with the 10 % margin on top it errs on
     the side of keeping the champion.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class CompareConfig:
    """Thresholds of the rule."""

    threshold: float = 0.10
    alpha: float = 0.05


@dataclass(frozen=True, slots=True)
class Verdict:
    """The rule's outcome for one challenger against one champion."""

    champion: str
    slot: int
    samples: int
    challenger_sharpe: float
    champion_sharpe: float
    z: float
    p_value: float
    better_by: float  # (S_c − S_k) / |S_k| (inf when S_k is 0 and S_c > 0)
    beats: bool
    reason: str

    def to_json(self) -> dict[str, object]:
        """Plain JSON (non-finite numbers as strings)."""
        out: dict[str, object] = {}
        for k in self.__slots__:
            v = getattr(self, k)
            out[k] = v if not isinstance(v, float) or math.isfinite(v) else str(v)
        return out


def sharpe(r: FloatArray) -> float:
    """mean / std (ddof 1) of per-interval returns; 0 for a series that never moved."""
    if len(r) < 2:
        return math.nan
    sd = float(np.std(r, ddof=1))
    return float(np.mean(r)) / sd if sd > 0 else 0.0


def newey_west_lrv(d: FloatArray) -> float:
    """Long-run variance of d with Bartlett weights at lag floor(4 (T/100)^(2/9))."""
    t = len(d)
    x = d - d.mean()
    lag = min(t - 1, math.floor(4 * (t / 100) ** (2 / 9)))
    lrv = float(x @ x) / t
    for k in range(1, lag + 1):
        lrv += 2 * (1 - k / (lag + 1)) * float(x[k:] @ x[:-k]) / t
    return max(lrv, 0.0)


def one_sided_p(z: float) -> float:
    """P(Z > z) for a standard normal."""
    return 0.5 * math.erfc(z / math.sqrt(2))


def compare(
    challenger: FloatArray, champion: FloatArray, name: str, slot: int, cfg: CompareConfig
) -> Verdict:
    """The rule above on two aligned per-interval return series."""
    n = len(challenger)
    sc, sk = sharpe(challenger), sharpe(champion)
    if n < 3 or not math.isfinite(sc) or not math.isfinite(sk):
        return Verdict(name, slot, n, sc, sk, math.nan, 1.0, math.nan, False, "too few samples")
    vc = float(np.std(challenger, ddof=1))
    vk = float(np.std(champion, ddof=1))
    d = (challenger / vc if vc > 0 else 0 * challenger) - (
        champion / vk if vk > 0 else 0 * champion
    )
    se = math.sqrt(newey_west_lrv(d) / n)
    mean = float(d.mean())
    z = mean / se if se > 0 else (math.inf if mean > 0 else -math.inf if mean < 0 else 0.0)
    p = one_sided_p(z)
    better = (sc - sk) / abs(sk) if sk != 0 else (math.inf if sc > 0 else 0.0)
    reasons = []
    if sc <= 0:
        reasons.append(f"challenger Sharpe {sc:.3f} not positive")
    if not sc > sk + cfg.threshold * abs(sk):
        reasons.append(f"not {cfg.threshold:.0%} better ({sc:.3f} vs {sk:.3f})")
    if not p < cfg.alpha:
        reasons.append(f"not significant (p {p:.3g} >= {cfg.alpha})")
    beats = not reasons
    reason = "beats: " + f"{sc:.3f} vs {sk:.3f}, p {p:.3g}" if beats else "; ".join(reasons)
    return Verdict(name, slot, n, sc, sk, z, p, better, beats, reason)


def best_target(verdicts: Sequence[Verdict]) -> Verdict | None:
    """The champion to replace: of those beaten, the one with the lowest Sharpe."""
    beaten = [v for v in verdicts if v.beats]
    return min(beaten, key=lambda v: (v.champion_sharpe, v.slot)) if beaten else None
