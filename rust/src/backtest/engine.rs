//! The per-bar loop: funding on the held position, sizing from equity, lot rounding, a
//! position limit, fills at the quote plus taker fee, and marking to the close.

use super::rounding::{price_to_tick, qty_toward_zero};
use super::{validate_target, BacktestConfig, Market};
use crate::error::CoreResult;

/// Slack under which an order counts as at least `min_qty` (both sit on the lot grid).
const MIN_QTY_EPS: f64 = 1e-9;

/// Per-bar results; costs are positive when paid, `traded_qty` is signed (buy > 0).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BarOutputs {
    /// Position after the bar's fill, in contracts.
    pub position: Vec<f64>,
    pub cash: Vec<f64>,
    pub fees: Vec<f64>,
    /// Paid by crossing the spread: traded qty × (fill price − mark), signed by side.
    pub spread_cost: Vec<f64>,
    /// Funding paid on the position held into the bar (negative when received).
    pub funding: Vec<f64>,
    pub traded_qty: Vec<f64>,
    /// Fill price, NaN on bars without a fill.
    pub fill_price: Vec<f64>,
    /// cash + position × close.
    pub equity: Vec<f64>,
}

impl BarOutputs {
    fn with_capacity(n: usize) -> Self {
        let v = || Vec::with_capacity(n);
        Self {
            position: v(),
            cash: v(),
            fees: v(),
            spread_cost: v(),
            funding: v(),
            traded_qty: v(),
            fill_price: v(),
            equity: v(),
        }
    }
}

/// One executed order.
struct Fill {
    qty: f64,
    price: f64,
    fee: f64,
    spread: f64,
}

const NO_FILL: Fill = Fill {
    qty: 0.0,
    price: f64::NAN,
    fee: 0.0,
    spread: 0.0,
};

/// The quote an order of this side crosses, on the tick grid against the trader.
/// Shared cost model hook: depth walking and impact replace this quote.
fn fill_price(cfg: &BacktestConfig, m: &Market<'_>, t: usize, buy: bool) -> f64 {
    let quote = match (m.bid, m.ask) {
        (Some(b), Some(a)) => {
            if buy {
                a[t]
            } else {
                b[t]
            }
        }
        _ => {
            let half = cfg.costs.half_spread_bps * 1e-4;
            m.close[t] * if buy { 1.0 + half } else { 1.0 - half }
        }
    };
    price_to_tick(quote, cfg.rules.tick_size, buy)
}

/// Contracts to trade towards `target` (a fraction of equity), after limits and lot rules.
fn order_qty(cfg: &BacktestConfig, target: f64, equity: f64, pos: f64, mark: f64) -> f64 {
    let cap = cfg.max_contracts.min(cfg.max_notional / mark);
    let desired = (target * equity.max(0.0) / mark).clamp(-cap, cap);
    let qty = qty_toward_zero(desired - pos, cfg.rules.qty_step);
    if qty.abs() < cfg.rules.min_qty * (1.0 - MIN_QTY_EPS) {
        0.0
    } else {
        qty
    }
}

fn execute(cfg: &BacktestConfig, m: &Market<'_>, t: usize, qty: f64) -> Fill {
    if qty == 0.0 {
        return NO_FILL;
    }
    let price = fill_price(cfg, m, t, qty > 0.0);
    Fill {
        qty,
        price,
        // Shared cost model hook: fee tiers (maker/taker by order type) plug in here.
        fee: qty.abs() * price * cfg.costs.taker_fee,
        spread: qty * (price - m.close[t]),
    }
}

/// Runs one strategy. `target[t]` in [-1, 1] is the wanted position as a fraction of
/// equity, decided at bar t and traded at bar t + latency; NaN keeps the position.
pub fn run(target: &[f64], m: &Market<'_>, cfg: &BacktestConfig) -> CoreResult<BarOutputs> {
    cfg.validate()?;
    m.validate()?;
    validate_target(target, m.close.len())?;
    Ok(run_unchecked(target, m, cfg))
}

/// `run` on inputs already validated (the batch validates the shared data once).
pub(super) fn run_unchecked(target: &[f64], m: &Market<'_>, cfg: &BacktestConfig) -> BarOutputs {
    let n = m.close.len();
    let mut out = BarOutputs::with_capacity(n);
    let (mut cash, mut pos) = (cfg.initial_capital, 0.0_f64);
    for t in 0..n {
        let mark = m.close[t];
        let rate = m.funding.map_or(0.0, |f| f[t]);
        let funding = if rate != 0.0 { pos * mark * rate } else { 0.0 };
        cash -= funding;
        let wanted = if t >= cfg.latency {
            target[t - cfg.latency]
        } else {
            f64::NAN
        };
        let qty = if wanted.is_nan() {
            0.0
        } else {
            order_qty(cfg, wanted, cash + pos * mark, pos, mark)
        };
        let fill = execute(cfg, m, t, qty);
        if fill.qty != 0.0 {
            cash -= fill.qty * fill.price + fill.fee;
            pos += fill.qty;
        }
        out.position.push(pos);
        out.cash.push(cash);
        out.fees.push(fill.fee);
        out.spread_cost.push(fill.spread);
        out.funding.push(funding);
        out.traded_qty.push(fill.qty);
        out.fill_price.push(fill.price);
        out.equity.push(cash + pos * mark);
    }
    out
}
