"""The one cost model: what a fill costs, split into fee, spread, slippage and impact.

Twin of `rust/src/costs.rs` (the backtester's per-fill call); both do the same float operations
in the same order. A taker crosses from `mid` to the touch (`spread`), walks the book beyond it
(`slippage`) and pays the temporary square-root impact `eta * sigma * sqrt(qty / volume) * mid`
per unit on its price. A maker fills at its own touch (buy at the bid): `spread` is negative, the
half-spread earned. Both pay `fee_rate * price * qty` and carry the permanent impact
`side * gamma * sigma * (qty / volume) * mid` into later prices. `sigma` is the return
volatility per bar (a fraction) and `volume` the traded base volume per bar.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

from nexusforge import _core
from nexusforge.errors import ConfigError, DataError

Side = Literal["buy", "sell"]
Liquidity = Literal["maker", "taker"]
FloatArray = npt.NDArray[np.float64]
# (bids, asks) as `OrderBook.depth(n)` returns them: (k, 2) price/qty, best level first.
BookDepth = tuple[FloatArray, FloatArray]

# Bybit derivatives fee tiers (linear perpetuals), tier -> (maker, taker) as fractions.
# Only VIP0 is documented in our Bybit notes (docs/bybit-v5.md §5: taker 0.055 %, maker 0.02 %,
# the help-centre base rate the API examples use). VIP1 and above are USER-SUPPLIED figures from
# the help-centre table, not verified here: read `/v5/account/fee-rate` for a real account.
BYBIT_FEE_TIERS: dict[str, tuple[float, float]] = {
    "VIP0": (0.0002, 0.00055),
    "VIP1": (0.00018, 0.0004),
    "VIP2": (0.00016, 0.000375),
    "VIP3": (0.00014, 0.00035),
    "VIP4": (0.00012, 0.00032),
    "VIP5": (0.0001, 0.00032),
    "SupremeVIP": (0.0, 0.0003),
}
DOCUMENTED_FEE_TIERS = frozenset({"VIP0"})


@dataclass(frozen=True, slots=True)
class FillCost:
    """One fill's price and each cost component, in quote currency (positive when paid)."""

    price: float
    notional: float
    fee: float
    spread: float
    slippage: float
    impact_temp: float
    impact_perm: float  # signed price shift to carry into later prices; not a cost of this fill
    book_short_qty: float  # quantity beyond the given depth, priced at its last level

    @property
    def total(self) -> float:
        """Fee + spread + slippage + temporary impact."""
        return self.fee + self.spread + self.slippage + self.impact_temp


def _check_range(name: str, value: float, lo: float, hi: float) -> None:
    if not (math.isfinite(value) and lo <= value <= hi):
        raise ConfigError(f"{name} must be finite and in [{lo}, {hi}], got {value!r}")


@dataclass(frozen=True, slots=True)
class CostModel:
    """Frozen cost settings; defaults are Bybit VIP0 linear perps and literature-sized impact."""

    maker_fee: float = 0.0002
    taker_fee: float = 0.00055
    impact_eta: float = 0.5  # temporary square-root impact; 0 turns it off
    impact_gamma: float = 0.1  # permanent linear impact; 0 turns it off
    latency_bars: int = 1  # the backtester fills a target this many bars late
    latency_ms: float = 0.0  # the same on an event clock

    def __post_init__(self) -> None:
        _check_range("maker_fee", self.maker_fee, -0.01, 0.01)
        _check_range("taker_fee", self.taker_fee, -0.01, 0.01)
        _check_range("impact_eta", self.impact_eta, 0.0, 100.0)
        _check_range("impact_gamma", self.impact_gamma, 0.0, 100.0)
        _check_range("latency_ms", self.latency_ms, 0.0, 86_400_000.0)
        if not (isinstance(self.latency_bars, int) and 0 <= self.latency_bars < 2**32):
            raise ConfigError(
                f"latency_bars must be an int in [0, 2**32), got {self.latency_bars!r}"
            )

    @classmethod
    def bybit_tier(cls, tier: str = "VIP0", **settings: float) -> CostModel:
        """The model for a Bybit fee tier; other settings by keyword."""
        if tier not in BYBIT_FEE_TIERS:
            raise ConfigError(
                f"unknown Bybit fee tier {tier!r}, expected one of {list(BYBIT_FEE_TIERS)}"
            )
        maker, taker = BYBIT_FEE_TIERS[tier]
        return cls(maker_fee=maker, taker_fee=taker, **settings)  # type: ignore[arg-type]

    def fee_rate(self, liquidity: Liquidity) -> float:
        return self.maker_fee if liquidity == "maker" else self.taker_fee

    def to_core(self) -> _core.CostModelCore:
        """The same model as a Rust object, for Rust callers (the backtester)."""
        return _core.CostModelCore(
            self.maker_fee,
            self.taker_fee,
            self.impact_eta,
            self.impact_gamma,
            self.latency_bars,
            self.latency_ms,
        )

    def price_fill(
        self,
        side: Side,
        qty: float,
        mid: float,
        best_bid: float,
        best_ask: float,
        *,
        depth: BookDepth | None = None,
        sigma: float = math.nan,
        volume: float = math.nan,
        liquidity: Liquidity = "taker",
    ) -> FillCost:
        """Price one fill; zero quantity costs nothing and fills at the touch."""
        s = _side_sign(side)
        if liquidity not in ("maker", "taker"):
            raise DataError(f"liquidity must be 'maker' or 'taker', got {liquidity!r}")
        impact = self.impact_eta > 0.0 or self.impact_gamma > 0.0
        _check_fill(qty, mid, best_bid, best_ask, sigma, volume, impact)
        touch, passive = (best_ask, best_bid) if s > 0 else (best_bid, best_ask)
        own = touch if liquidity == "taker" else passive
        if qty == 0.0:
            return FillCost(own, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0)
        perm = 0.0
        if self.impact_gamma > 0.0:
            perm = s * self.impact_gamma * sigma * (qty / volume) * mid
        if liquidity == "maker":
            price, spread, slip, temp, short = own, s * (own - mid) * qty, 0.0, 0.0, 0.0
        else:
            price, spread, slip, temp, short = self._taker(s, qty, mid, touch, depth, sigma, volume)
        notional = price * qty
        fee = self.fee_rate(liquidity) * notional
        return FillCost(price, notional, fee, spread, slip, temp, perm, short)

    def _taker(
        self,
        s: float,
        qty: float,
        mid: float,
        touch: float,
        depth: BookDepth | None,
        sigma: float,
        volume: float,
    ) -> tuple[float, float, float, float, float]:
        """(price, spread, slippage, impact_temp, book_short_qty) of a taker fill."""
        avg, short = touch, 0.0
        if depth is not None:
            levels = _side_levels(depth, s)
            avg, short = _walk(levels[:, 0].tolist(), levels[:, 1].tolist(), qty, touch, s)
        unit = 0.0
        if self.impact_eta > 0.0:
            unit = self.impact_eta * sigma * math.sqrt(qty / volume) * mid
        return avg + s * unit, s * (touch - mid) * qty, s * (avg - touch) * qty, unit * qty, short


def _side_sign(side: Side) -> float:
    if side == "buy":
        return 1.0
    if side == "sell":
        return -1.0
    raise DataError(f"side must be 'buy' or 'sell', got {side!r}")


def _check_fill(
    qty: float, mid: float, bid: float, ask: float, sigma: float, volume: float, impact: bool
) -> None:
    """Same checks, in the same order, as the Rust `check_request`."""
    if not (math.isfinite(qty) and qty >= 0.0):
        raise DataError(f"qty must be finite and >= 0, got {qty!r}")
    if not (math.isfinite(bid) and math.isfinite(ask) and math.isfinite(mid) and bid > 0.0):
        raise DataError(f"quotes must be finite and > 0, got bid {bid} ask {ask} mid {mid}")
    if bid > ask:
        raise DataError(f"crossed quotes: bid {bid} > ask {ask}")
    if not (bid <= mid <= ask):
        raise DataError(f"mid {mid} outside the quotes [{bid}, {ask}]")
    if impact and qty > 0.0:
        if not (math.isfinite(sigma) and sigma >= 0.0):
            raise DataError(f"sigma must be finite and >= 0, got {sigma!r}")
        if not (math.isfinite(volume) and volume > 0.0):
            raise DataError(f"volume must be finite and > 0, got {volume!r}")


def _side_levels(depth: BookDepth, s: float) -> FloatArray:
    levels = np.asarray(depth[1] if s > 0 else depth[0], dtype=np.float64)
    if levels.ndim != 2 or levels.shape[1] != 2:
        raise DataError(f"depth levels must have shape (k, 2), got {levels.shape}")
    return levels


def _walk(
    px: list[float], lvl_qty: list[float], qty: float, touch: float, s: float
) -> tuple[float, float]:
    """Walk levels from the touch outward: (average price, quantity beyond the depth)."""
    remaining, notional, last = qty, 0.0, touch
    for p, q in zip(px, lvl_qty, strict=True):
        if math.isnan(p):
            break  # padding past the recorded depth
        if not (math.isfinite(p) and p > 0.0 and math.isfinite(q) and q >= 0.0):
            raise DataError(f"bad level: price {p} qty {q}")
        if s * (p - last) < 0.0:
            raise DataError(f"levels out of order or better than the touch: {p} after {last}")
        last = p
        take = min(remaining, q)
        notional += take * p
        remaining -= take
        if remaining <= 0.0:
            break
    if remaining > 0.0:
        notional += remaining * last
    return notional / qty, remaining


def split_depth(depth: BookDepth) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """(bid_px, bid_qty, ask_px, ask_qty) contiguous columns, the layout the Rust model takes."""
    bids, asks = (np.asarray(d, dtype=np.float64).reshape(-1, 2) for d in depth)
    cols = (bids[:, 0], bids[:, 1], asks[:, 0], asks[:, 1])
    return tuple(np.ascontiguousarray(c) for c in cols)  # type: ignore[return-value]


__all__ = [
    "BYBIT_FEE_TIERS",
    "DOCUMENTED_FEE_TIERS",
    "BookDepth",
    "CostModel",
    "FillCost",
    "Liquidity",
    "Side",
    "split_depth",
]
