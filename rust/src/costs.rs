//! The one cost model: what a fill costs, split into fee, spread, slippage and impact.
//!
//! Twin of `python/nexusforge/market/costs.py`; both do the same float operations in the same
//! order, so they agree to the last bit or two. The API for the backtester is one call per fill:
//!
//! ```text
//! let model = CostModel::default();               // Bybit VIP0 linear perps, impact on
//! let cost = model.price_fill(&FillRequest {
//!     side: Side::Buy, qty: 2.0, mid: 100.05, best_bid: 100.0, best_ask: 100.1,
//!     depth: Some(Depth { bid_px: &bp, bid_qty: &bq, ask_px: &ap, ask_qty: &aq }),
//!     sigma: 0.002, volume: 5_000.0, liquidity: Liquidity::Taker,
//! })?;                                            // CoreError::InvalidInput on bad input
//! cost.price      // fill price (walked book + temporary impact for a taker)
//! cost.total()    // fee + spread + slippage + impact_temp, in quote currency
//! cost.impact_perm // signed price shift the caller carries into later prices
//! ```
//!
//! Conventions: `qty` is base units and never negative; costs are quote currency, positive
//! when paid. `sigma` is the return volatility per bar (a fraction) and `volume` the traded
//! volume per bar (base units); they only matter when an impact coefficient is non-zero.
//! A taker crosses from `mid` to the touch (`spread`), walks `depth` beyond it (`slippage`,
//! levels with a NaN price end the depth; quantity beyond the last level is priced at the last
//! level and reported in `book_short_qty`), then pays the temporary square-root impact
//! `eta * sigma * sqrt(qty / volume) * mid` per unit. A maker fills at its own touch (buy at the
//! bid), so `spread` is negative (half-spread earned) and there is no slippage or temporary
//! impact. Both pay `fee_rate * price * qty` and move later prices by the permanent impact
//! `side * gamma * sigma * (qty / volume) * mid`. Latency is data for the backtester: it
//! delays each target by `latency_bars` (or `latency_ms` on an event clock).

use crate::error::{CoreError, CoreResult};

/// Direction of a fill.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Buy,
    Sell,
}

impl Side {
    /// +1 for a buy, -1 for a sell.
    pub fn sign(self) -> f64 {
        match self {
            Side::Buy => 1.0,
            Side::Sell => -1.0,
        }
    }
}

/// Whether the fill added liquidity (resting order) or took it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Liquidity {
    Maker,
    Taker,
}

/// Bybit derivatives fee tiers (linear perpetuals): (name, maker, taker) as fractions.
/// Only VIP0 is documented in our Bybit notes (docs/bybit-v5.md §5); VIP1 and above are
/// user-supplied help-centre figures, unverified: `/v5/account/fee-rate` is the authority.
pub const BYBIT_FEE_TIERS: [(&str, f64, f64); 7] = [
    ("VIP0", 0.0002, 0.00055),
    ("VIP1", 0.00018, 0.0004),
    ("VIP2", 0.00016, 0.000375),
    ("VIP3", 0.00014, 0.00035),
    ("VIP4", 0.00012, 0.00032),
    ("VIP5", 0.0001, 0.00032),
    ("SupremeVIP", 0.0, 0.0003),
];

/// Frozen cost settings shared by every fill of a run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CostModel {
    pub maker_fee: f64,
    pub taker_fee: f64,
    /// Temporary square-root impact coefficient (eta); 0 turns it off.
    pub impact_eta: f64,
    /// Permanent linear impact coefficient (gamma); 0 turns it off.
    pub impact_gamma: f64,
    pub latency_bars: u32,
    pub latency_ms: f64,
}

impl Default for CostModel {
    /// Bybit VIP0 fees; impact coefficients of the order the square-root-law literature finds.
    fn default() -> Self {
        CostModel {
            maker_fee: 0.0002,
            taker_fee: 0.00055,
            impact_eta: 0.5,
            impact_gamma: 0.1,
            latency_bars: 1,
            latency_ms: 0.0,
        }
    }
}

/// One side of the book, or both, as parallel price/qty slices (best level first).
#[derive(Debug, Clone, Copy)]
pub struct Depth<'a> {
    pub bid_px: &'a [f64],
    pub bid_qty: &'a [f64],
    pub ask_px: &'a [f64],
    pub ask_qty: &'a [f64],
}

/// Everything needed to price one fill.
#[derive(Debug, Clone, Copy)]
pub struct FillRequest<'a> {
    pub side: Side,
    pub qty: f64,
    pub mid: f64,
    pub best_bid: f64,
    pub best_ask: f64,
    pub depth: Option<Depth<'a>>,
    pub sigma: f64,
    pub volume: f64,
    pub liquidity: Liquidity,
}

/// What one fill cost, component by component.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct FillCost {
    pub price: f64,
    pub notional: f64,
    pub fee: f64,
    pub spread: f64,
    pub slippage: f64,
    pub impact_temp: f64,
    /// Signed price shift to add to later prices (not a cost of this fill).
    pub impact_perm: f64,
    pub book_short_qty: f64,
}

impl FillCost {
    /// Fee + spread + slippage + temporary impact.
    pub fn total(&self) -> f64 {
        self.fee + self.spread + self.slippage + self.impact_temp
    }
}

fn bad(msg: String) -> CoreError {
    CoreError::InvalidInput(msg)
}

fn check_rate(name: &str, value: f64, max: f64) -> CoreResult<()> {
    if value.is_finite() && (0.0..=max).contains(&value) {
        Ok(())
    } else {
        Err(bad(format!(
            "{name} must be finite and in [0, {max}], got {value}"
        )))
    }
}

impl CostModel {
    /// The model for a Bybit tier name (`"VIP0"` ... `"SupremeVIP"`), other settings default.
    pub fn bybit_tier(name: &str) -> CoreResult<Self> {
        let (_, maker_fee, taker_fee) = BYBIT_FEE_TIERS
            .iter()
            .find(|t| t.0 == name)
            .ok_or_else(|| bad(format!("unknown Bybit fee tier {name:?}")))?;
        Ok(CostModel {
            maker_fee: *maker_fee,
            taker_fee: *taker_fee,
            ..CostModel::default()
        })
    }

    /// Check every setting; fee rates may be negative (a maker rebate) but above -1 %.
    pub fn validate(&self) -> CoreResult<()> {
        for (name, fee) in [("maker_fee", self.maker_fee), ("taker_fee", self.taker_fee)] {
            if !(fee.is_finite() && (-0.01..=0.01).contains(&fee)) {
                return Err(bad(format!(
                    "{name} must be finite and in [-0.01, 0.01], got {fee}"
                )));
            }
        }
        check_rate("impact_eta", self.impact_eta, 100.0)?;
        check_rate("impact_gamma", self.impact_gamma, 100.0)?;
        check_rate("latency_ms", self.latency_ms, 86_400_000.0)
    }

    /// Fee rate for a kind of liquidity.
    pub fn fee_rate(&self, liquidity: Liquidity) -> f64 {
        match liquidity {
            Liquidity::Maker => self.maker_fee,
            Liquidity::Taker => self.taker_fee,
        }
    }

    fn has_impact(&self) -> bool {
        self.impact_eta > 0.0 || self.impact_gamma > 0.0
    }

    /// Price one fill. Zero quantity costs nothing and fills at the touch.
    pub fn price_fill(&self, req: &FillRequest<'_>) -> CoreResult<FillCost> {
        check_request(req, self.has_impact())?;
        let s = req.side.sign();
        let (touch, passive) = match req.side {
            Side::Buy => (req.best_ask, req.best_bid),
            Side::Sell => (req.best_bid, req.best_ask),
        };
        let own = match req.liquidity {
            Liquidity::Taker => touch,
            Liquidity::Maker => passive,
        };
        if req.qty == 0.0 {
            return Ok(FillCost {
                price: own,
                ..FillCost::default()
            });
        }
        let q = req.qty;
        let impact_perm = if self.impact_gamma > 0.0 {
            s * self.impact_gamma * req.sigma * (q / req.volume) * req.mid
        } else {
            0.0
        };
        let mut cost = match req.liquidity {
            Liquidity::Maker => FillCost {
                price: own,
                spread: s * (own - req.mid) * q,
                ..FillCost::default()
            },
            Liquidity::Taker => self.taker_fill(req, touch, s)?,
        };
        cost.impact_perm = impact_perm;
        cost.notional = cost.price * q;
        cost.fee = self.fee_rate(req.liquidity) * cost.notional;
        Ok(cost)
    }

    fn taker_fill(&self, req: &FillRequest<'_>, touch: f64, s: f64) -> CoreResult<FillCost> {
        let q = req.qty;
        let (avg, short) = match req.depth {
            None => (touch, 0.0),
            Some(d) => {
                let (px, qty) = match req.side {
                    Side::Buy => (d.ask_px, d.ask_qty),
                    Side::Sell => (d.bid_px, d.bid_qty),
                };
                walk(px, qty, q, touch, s)?
            }
        };
        let unit = if self.impact_eta > 0.0 {
            self.impact_eta * req.sigma * (q / req.volume).sqrt() * req.mid
        } else {
            0.0
        };
        Ok(FillCost {
            price: avg + s * unit,
            spread: s * (touch - req.mid) * q,
            slippage: s * (avg - touch) * q,
            impact_temp: unit * q,
            book_short_qty: short,
            ..FillCost::default()
        })
    }
}

fn check_request(req: &FillRequest<'_>, impact: bool) -> CoreResult<()> {
    if !(req.qty.is_finite() && req.qty >= 0.0) {
        return Err(bad(format!("qty must be finite and >= 0, got {}", req.qty)));
    }
    let (b, a, m) = (req.best_bid, req.best_ask, req.mid);
    if !(b.is_finite() && a.is_finite() && m.is_finite() && b > 0.0) {
        return Err(bad(format!(
            "quotes must be finite and > 0, got bid {b} ask {a} mid {m}"
        )));
    }
    if b > a {
        return Err(bad(format!("crossed quotes: bid {b} > ask {a}")));
    }
    if !(b <= m && m <= a) {
        return Err(bad(format!("mid {m} outside the quotes [{b}, {a}]")));
    }
    if impact && req.qty > 0.0 {
        if !(req.sigma.is_finite() && req.sigma >= 0.0) {
            return Err(bad(format!(
                "sigma must be finite and >= 0, got {}",
                req.sigma
            )));
        }
        if !(req.volume.is_finite() && req.volume > 0.0) {
            return Err(bad(format!(
                "volume must be finite and > 0, got {}",
                req.volume
            )));
        }
    }
    Ok(())
}

/// Walk levels from the touch outward for `qty`: (average price, quantity beyond the depth).
fn walk(px: &[f64], lvl_qty: &[f64], qty: f64, touch: f64, s: f64) -> CoreResult<(f64, f64)> {
    if px.len() != lvl_qty.len() {
        return Err(bad(format!(
            "level prices ({}) and quantities ({}) differ in length",
            px.len(),
            lvl_qty.len()
        )));
    }
    let mut remaining = qty;
    let mut notional = 0.0;
    let mut last = touch;
    for (&p, &l) in px.iter().zip(lvl_qty) {
        if p.is_nan() {
            break; // padding past the recorded depth
        }
        if !(p.is_finite() && p > 0.0 && l.is_finite() && l >= 0.0) {
            return Err(bad(format!("bad level: price {p} qty {l}")));
        }
        if s * (p - last) < 0.0 {
            return Err(bad(format!(
                "levels out of order or better than the touch: {p} after {last}"
            )));
        }
        last = p;
        let take = remaining.min(l);
        notional += take * p;
        remaining -= take;
        if remaining <= 0.0 {
            break;
        }
    }
    if remaining > 0.0 {
        notional += remaining * last;
    }
    Ok((notional / qty, remaining))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(side: Side, qty: f64, liq: Liquidity) -> FillRequest<'static> {
        FillRequest {
            side,
            qty,
            mid: 100.05,
            best_bid: 100.0,
            best_ask: 100.1,
            depth: None,
            sigma: 0.01,
            volume: 1_000.0,
            liquidity: liq,
        }
    }

    fn no_impact() -> CostModel {
        CostModel {
            impact_eta: 0.0,
            impact_gamma: 0.0,
            ..CostModel::default()
        }
    }

    #[test]
    fn taker_buy_pays_fee_and_half_spread() {
        let c = no_impact()
            .price_fill(&req(Side::Buy, 2.0, Liquidity::Taker))
            .unwrap();
        assert_eq!(c.price, 100.1);
        assert!((c.fee - 2.0 * 100.1 * 0.00055).abs() < 1e-12);
        assert!((c.spread - 0.1).abs() < 1e-9);
        assert_eq!(c.slippage, 0.0);
    }

    #[test]
    fn maker_sell_earns_half_spread() {
        let c = no_impact()
            .price_fill(&req(Side::Sell, 1.0, Liquidity::Maker))
            .unwrap();
        assert_eq!(c.price, 100.1);
        assert!((c.spread + 0.05).abs() < 1e-9);
        assert!((c.fee - 100.1 * 0.0002).abs() < 1e-12);
    }

    #[test]
    fn walks_two_levels_and_reports_short() {
        let (ap, aq) = ([100.1, 100.2], [1.0, 1.0]);
        let mut r = req(Side::Buy, 3.0, Liquidity::Taker);
        r.depth = Some(Depth {
            bid_px: &[],
            bid_qty: &[],
            ask_px: &ap,
            ask_qty: &aq,
        });
        let c = no_impact().price_fill(&r).unwrap();
        assert!((c.price - (100.1 + 100.2 + 100.2) / 3.0).abs() < 1e-12);
        assert_eq!(c.book_short_qty, 1.0);
        assert!((c.slippage - 0.2).abs() < 1e-9);
    }

    #[test]
    fn impact_follows_square_root_law() {
        let m = CostModel {
            impact_eta: 1.0,
            impact_gamma: 0.5,
            ..no_impact()
        };
        let c = m
            .price_fill(&req(Side::Sell, 10.0, Liquidity::Taker))
            .unwrap();
        let unit = 0.01 * (10.0f64 / 1000.0).sqrt() * 100.05;
        assert!((c.impact_temp - unit * 10.0).abs() < 1e-12);
        assert!((c.price - (100.0 - unit)).abs() < 1e-12);
        assert!((c.impact_perm + 0.5 * 0.01 * 0.01 * 100.05).abs() < 1e-15);
    }

    #[test]
    fn zero_qty_costs_nothing_and_bad_input_is_rejected() {
        let m = CostModel::default();
        let c = m
            .price_fill(&req(Side::Buy, 0.0, Liquidity::Taker))
            .unwrap();
        assert_eq!(c.total(), 0.0);
        assert!(m
            .price_fill(&req(Side::Buy, -1.0, Liquidity::Taker))
            .is_err());
        let mut r = req(Side::Buy, 1.0, Liquidity::Taker);
        r.best_bid = 101.0;
        assert!(m.price_fill(&r).is_err());
        r = req(Side::Buy, 1.0, Liquidity::Taker);
        r.volume = 0.0;
        assert!(m.price_fill(&r).is_err());
        assert!(CostModel::bybit_tier("VIP9").is_err());
        assert_eq!(CostModel::bybit_tier("VIP0").unwrap().taker_fee, 0.00055);
    }
}
