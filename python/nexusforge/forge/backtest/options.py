"""Cost and execution settings of a strategy backtest, as the `backtest` command takes them.

Fills are taker market orders (the backtester crosses the spread on every fill), so the taker
rate is the fee paid; the maker rate is carried in the config for reference. Candles have no
book depth, so slippage (walking the book) is 0 on candle data: the spread is close ± a
half-spread in basis points on the tick grid, and impact uses a trailing per-bar volatility and
mean volume of the series (see `impact_inputs`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from nexusforge.errors import ConfigError, DataError
from nexusforge.forge.backtest.engine import BacktestConfig
from nexusforge.market.costs import BYBIT_FEE_TIERS, DOCUMENTED_FEE_TIERS, CostModel

FloatArray = npt.NDArray[np.float64]
# Smallest mean volume used by impact before the series has traded at all (base units).
VOLUME_FLOOR = 1e-9


@dataclass(frozen=True, slots=True)
class CostOptions:
    """What a backtest charges; `costs=False` drops fees, spread and impact (not funding)."""

    fee_tier: str = "VIP0"
    taker_fee: float | None = None  # overrides the tier's rate (user-supplied)
    maker_fee: float | None = None
    half_spread_bps: float = 0.5
    spread: bool = True
    impact: bool = True
    impact_eta: float | None = None  # default: CostModel's
    impact_gamma: float | None = None
    impact_window: int = 288
    latency_bars: int = 1
    max_contracts: float = math.inf
    max_notional: float = math.inf
    initial_capital: float = 10_000.0
    tick_size: float = 0.0
    qty_step: float = 0.0
    min_qty: float = 0.0
    funding: bool = True
    costs: bool = True

    def __post_init__(self) -> None:
        if self.fee_tier not in BYBIT_FEE_TIERS:
            raise ConfigError(
                f"unknown fee tier {self.fee_tier!r}, expected one of {list(BYBIT_FEE_TIERS)}"
            )
        if self.impact_window < 2:
            raise ConfigError(f"impact window must be >= 2 bars, got {self.impact_window}")
        if not (math.isfinite(self.half_spread_bps) and self.half_spread_bps >= 0.0):
            raise ConfigError(
                f"half-spread must be finite and >= 0 bps, got {self.half_spread_bps}"
            )

    @property
    def impact_on(self) -> bool:
        return self.costs and self.impact

    def fee_source(self) -> str:
        """Where the fee rates come from, said plainly (only VIP0 is in our Bybit notes)."""
        if not self.costs:
            return "no costs"
        if self.taker_fee is not None or self.maker_fee is not None:
            return "user-supplied rates"
        if self.fee_tier in DOCUMENTED_FEE_TIERS:
            return f"Bybit {self.fee_tier} (documented)"
        return f"Bybit {self.fee_tier} (user-supplied table, not in docs/bybit-v5.md)"

    def cost_model(self) -> CostModel:
        """The one cost model for these options."""
        base = CostModel.bybit_tier(self.fee_tier)
        if not self.costs:
            return CostModel(0.0, 0.0, 0.0, 0.0, self.latency_bars)
        return CostModel(
            maker_fee=base.maker_fee if self.maker_fee is None else self.maker_fee,
            taker_fee=base.taker_fee if self.taker_fee is None else self.taker_fee,
            impact_eta=_coef(self.impact, self.impact_eta, base.impact_eta),
            impact_gamma=_coef(self.impact, self.impact_gamma, base.impact_gamma),
            latency_bars=self.latency_bars,
        )

    def config(self) -> BacktestConfig:
        """The backtest config (validated when the run converts it for the core)."""
        spread = self.half_spread_bps if (self.costs and self.spread) else 0.0
        return BacktestConfig(
            tick_size=self.tick_size,
            qty_step=self.qty_step,
            min_qty=self.min_qty,
            initial_capital=self.initial_capital,
            max_contracts=self.max_contracts,
            max_notional=self.max_notional,
            latency=self.latency_bars,
            costs=self.cost_model(),
            half_spread_bps=spread,
        )


def _coef(on: bool, given: float | None, default: float) -> float:
    if not on:
        return 0.0
    return default if given is None else given


def impact_inputs(
    close: npt.ArrayLike, volume: npt.ArrayLike, window: int
) -> tuple[FloatArray, FloatArray]:
    """(sigma, mean volume) per bar over the `window` bars ending at that bar (fewer at the
    start): the std of log returns and the mean base volume, both known at the bar's close."""
    px = np.asarray(close, dtype=np.float64)
    vol = np.asarray(volume, dtype=np.float64)
    if px.ndim != 1 or px.shape != vol.shape or px.size == 0:
        raise DataError(f"close and volume must be 1-D, non-empty, equal length: {px.shape}")
    if not (np.isfinite(vol).all() and (vol >= 0).all()):
        raise DataError("volume must be finite and >= 0 for impact")
    r = np.diff(np.log(px), prepend=np.log(px[0]))
    mean_r = _trailing_mean(r, window)
    sigma = np.sqrt(np.maximum(_trailing_mean(r * r, window) - mean_r * mean_r, 0.0))
    adv = _trailing_mean(vol, window)
    # A window with no volume keeps the last mean that had some (never a future one).
    idx = np.where(adv > 0, np.arange(adv.size), 0)
    np.maximum.accumulate(idx, out=idx)
    adv = np.where(adv[idx] > 0, adv[idx], VOLUME_FLOOR)
    return sigma, adv


def _trailing_mean(v: FloatArray, window: int) -> FloatArray:
    """Mean of v over the `window` values ending at each index (all values so far before)."""
    c = np.concatenate(([0.0], np.cumsum(v)))
    idx = np.arange(1, v.size + 1)
    lo = np.maximum(idx - window, 0)
    return np.asarray((c[idx] - c[lo]) / (idx - lo), dtype=np.float64)


__all__ = ["CostOptions", "impact_inputs"]
