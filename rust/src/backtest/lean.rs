//! `engine::Sim`'s bar step for the common research case, inlined into the batch loops:
//! quotes from close ± half-spread (the shared touch grid), no depth, no bid/ask arrays, no
//! impact (no sigma/volume). It runs the same float operations in the same order as `Sim`
//! with a zero permanent-impact offset, so it gives the same bits (tested against `run`); a
//! fill that the cost model would refuse is handed to the cost model, which returns its error.

use super::engine::Bar;
use super::rounding::qty_toward_zero;
use super::{BacktestConfig, Market};
use crate::costs::{CostModel, FillRequest, Liquidity, Side};
use crate::error::CoreResult;

/// Slack under which an order counts as at least `min_qty` (as in `engine`).
const MIN_QTY_EPS: f64 = 1e-9;

/// True when `m` is the case `Lean` covers.
pub(super) fn covers(m: &Market<'_>) -> bool {
    m.depth.is_none()
        && m.bid.is_none()
        && m.ask.is_none()
        && m.sigma.is_none()
        && m.volume.is_none()
}

/// One strategy's cash and position over a market `covers` accepts.
pub(super) struct Lean<'a> {
    cfg: &'a BacktestConfig,
    close: &'a [f64],
    funding: Option<&'a [f64]>,
    touch: &'a [[f64; 2]],
    /// The cost model with impact off (as `engine::Pricer` sets it without sigma).
    model: CostModel,
    cash: f64,
    pos: f64,
}

impl<'a> Lean<'a> {
    /// `touch` is `touch_grid`'s output for `m`.
    pub(super) fn new(cfg: &'a BacktestConfig, m: &Market<'a>, touch: &'a [[f64; 2]]) -> Self {
        let mut model = cfg.costs;
        model.impact_eta = 0.0;
        model.impact_gamma = 0.0;
        Self {
            cfg,
            close: m.close,
            funding: m.funding,
            touch,
            model,
            cash: cfg.initial_capital,
            pos: 0.0,
        }
    }

    /// Bar `t` (bars in order from 0) given the target that reaches it (NaN: hold), written
    /// field by field into `out` (a returned struct was copied with wide loads right after
    /// its narrow stores: a store-forwarding stall on every bar).
    #[inline(always)]
    pub(super) fn step_into(&mut self, t: usize, wanted: f64, out: &mut Bar) -> CoreResult<()> {
        let mark = self.close[t];
        let rate = self.funding.map_or(0.0, |f| f[t]);
        let funding = if rate != 0.0 {
            self.pos * mark * rate
        } else {
            0.0
        };
        self.cash -= funding;
        let qty = if wanted.is_nan() {
            0.0
        } else {
            order_qty(
                self.cfg,
                wanted,
                self.cash + self.pos * mark,
                self.pos,
                mark,
            )
        };
        if qty == 0.0 {
            out.position = self.pos;
            out.cash = self.cash;
            out.fees = 0.0;
            out.spread_cost = 0.0;
            out.slippage = 0.0;
            out.impact = 0.0;
            out.impact_perm = 0.0;
            out.funding = funding;
            out.traded_qty = 0.0;
            out.fill_price = f64::NAN;
            out.equity = self.cash + self.pos * mark;
            return Ok(());
        }
        // The permanent-impact offset stays +0.0 without impact: x + 0.0 is x for these
        // finite positive quotes, and the engine's `qty * offset` is `qty * 0.0`.
        let [bid, ask] = self.touch[t];
        let (q, buy) = (qty.abs(), qty > 0.0);
        let ok = q.is_finite()
            && bid.is_finite()
            && ask.is_finite()
            && mark.is_finite()
            && bid > 0.0
            && bid <= mark
            && mark <= ask;
        if !ok {
            // Outside the fast case: the cost model prices it (and reports what is wrong).
            *out = self.priced(qty, funding, bid, ask, mark)?;
            return Ok(());
        }
        let s = if buy { 1.0 } else { -1.0 };
        let touch = if buy { ask } else { bid };
        let unit = 0.0;
        let price = touch + s * unit;
        let spread = s * (touch - mark) * q;
        // The engine's s × (average − touch) × q, where the average is the touch (no depth).
        let slippage = s * 0.0 * q;
        let impact = unit * q;
        let fee = self.model.taker_fee * (price * q);
        self.cash -= qty * price + fee;
        self.pos += qty;
        out.position = self.pos;
        out.cash = self.cash;
        out.fees = fee;
        out.spread_cost = spread;
        out.slippage = slippage;
        out.impact = impact;
        out.impact_perm = qty * 0.0;
        out.funding = funding;
        out.traded_qty = qty;
        out.fill_price = price;
        out.equity = self.cash + self.pos * mark;
        Ok(())
    }

    /// The general path for one fill (only reached when the fast checks fail).
    #[cold]
    fn priced(&mut self, qty: f64, funding: f64, bid: f64, ask: f64, mark: f64) -> CoreResult<Bar> {
        let req = FillRequest {
            side: if qty > 0.0 { Side::Buy } else { Side::Sell },
            qty: qty.abs(),
            mid: mark + 0.0,
            best_bid: bid + 0.0,
            best_ask: ask + 0.0,
            depth: None,
            sigma: 0.0,
            volume: 0.0,
            liquidity: Liquidity::Taker,
        };
        let c = self.model.price_fill(&req)?;
        self.cash -= qty * c.price + c.fee;
        self.pos += qty;
        Ok(Bar {
            position: self.pos,
            cash: self.cash,
            fees: c.fee,
            spread_cost: c.spread,
            slippage: c.slippage,
            impact: c.impact_temp,
            impact_perm: qty * 0.0,
            funding,
            traded_qty: qty,
            fill_price: c.price,
            equity: self.cash + self.pos * mark,
        })
    }
}

/// Contracts to trade towards `target` (a fraction of equity), after limits and lot rules
/// (the engine's sizing, operation for operation).
#[inline(always)]
fn order_qty(cfg: &BacktestConfig, target: f64, equity: f64, pos: f64, mark: f64) -> f64 {
    let cap = if cfg.max_notional.is_finite() {
        cfg.max_contracts.min(cfg.max_notional / mark)
    } else {
        cfg.max_contracts
    };
    let desired = (target * equity.max(0.0) / mark).clamp(-cap, cap);
    let qty = qty_toward_zero(desired - pos, cfg.rules.qty_step);
    if qty.abs() < cfg.rules.min_qty * (1.0 - MIN_QTY_EPS) {
        0.0
    } else {
        qty
    }
}
