//! The per-bar loop: funding on the held position, sizing from equity, lot rounding, a
//! position limit, every fill priced by the shared cost model (`costs::CostModel::price_fill`,
//! taker market orders), and marking to the close.
//!
//! Quotes per bar: the best level of `depth` when given, else the bid/ask arrays, else
//! close ± half-spread on the tick grid against the trader; the mid is the close in the last
//! case and (bid + ask) / 2 otherwise. Impact needs `sigma` and `volume` and is off without
//! them. Permanent impact is carried as a running price offset: each fill's `impact_perm` is
//! added to the quotes, mid and depth of every later fill (not to the close used for marking,
//! so our own pressure never shows as mark-to-market profit); what a fill pays because of the
//! offset accumulated before it (traded qty × offset) is reported as `impact_perm`.

use super::rounding::{price_to_tick, qty_toward_zero};
use super::{validate_target, BacktestConfig, Market};
use crate::costs::{CostModel, Depth, FillCost, FillRequest, Liquidity, Side};
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
    /// Crossing from the mid to the touch.
    pub spread_cost: Vec<f64>,
    /// Walking the book beyond the touch.
    pub slippage: Vec<f64>,
    /// Temporary (square-root) impact.
    pub impact: Vec<f64>,
    /// Paid because of the permanent impact carried from earlier fills.
    pub impact_perm: Vec<f64>,
    /// Funding paid on the position held into the bar (negative when received).
    pub funding: Vec<f64>,
    pub traded_qty: Vec<f64>,
    /// Average fill price, NaN on bars without a fill.
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
            slippage: v(),
            impact: v(),
            impact_perm: v(),
            funding: v(),
            traded_qty: v(),
            fill_price: v(),
            equity: v(),
        }
    }
}

/// One executed order: signed qty, the cost model's breakdown and the carried-offset cost.
struct Fill {
    qty: f64,
    cost: FillCost,
    perm_paid: f64,
}

const NO_FILL: Fill = Fill {
    qty: 0.0,
    cost: FillCost {
        price: f64::NAN,
        notional: 0.0,
        fee: 0.0,
        spread: 0.0,
        slippage: 0.0,
        impact_temp: 0.0,
        impact_perm: 0.0,
        book_short_qty: 0.0,
    },
    perm_paid: 0.0,
};

/// Best bid, best ask and mid of bar `t` before the permanent-impact offset.
fn quotes(cfg: &BacktestConfig, m: &Market<'_>, t: usize) -> (f64, f64, f64) {
    if let Some(d) = m.depth {
        let (b, a) = (d.bid_px[t * d.levels], d.ask_px[t * d.levels]);
        return (b, a, 0.5 * (b + a));
    }
    match (m.bid, m.ask) {
        (Some(b), Some(a)) => (b[t], a[t], 0.5 * (b[t] + a[t])),
        _ => {
            let c = m.close[t];
            let half = cfg.half_spread_bps * 1e-4;
            let tick = cfg.rules.tick_size;
            let bid = price_to_tick(c * (1.0 - half), tick, false);
            let ask = price_to_tick(c * (1.0 + half), tick, true);
            (bid, ask, c)
        }
    }
}

/// Per-run state of the fill pricing: the model in force and scratch rows for shifted depth.
struct Pricer {
    model: CostModel,
    offset: f64,
    rows: [Vec<f64>; 2],
}

impl Pricer {
    fn new(cfg: &BacktestConfig, m: &Market<'_>) -> Self {
        let mut model = cfg.costs;
        if m.sigma.is_none() {
            // Impact needs sigma and volume; without them it is off.
            model.impact_eta = 0.0;
            model.impact_gamma = 0.0;
        }
        Self {
            model,
            offset: 0.0,
            rows: [Vec::new(), Vec::new()],
        }
    }

    /// Prices `qty` (signed) at bar `t` and moves the offset by the fill's permanent impact.
    fn execute(
        &mut self,
        cfg: &BacktestConfig,
        m: &Market<'_>,
        t: usize,
        qty: f64,
    ) -> CoreResult<Fill> {
        if qty == 0.0 {
            return Ok(NO_FILL);
        }
        let (bid, ask, mid) = quotes(cfg, m, t);
        let off = self.offset;
        let depth = m.depth.map(|d| {
            let r = t * d.levels..(t + 1) * d.levels;
            let [bp, ap] = &mut self.rows;
            shift_into(bp, &d.bid_px[r.clone()], off);
            shift_into(ap, &d.ask_px[r.clone()], off);
            (d, r)
        });
        let req = FillRequest {
            side: if qty > 0.0 { Side::Buy } else { Side::Sell },
            qty: qty.abs(),
            mid: mid + off,
            best_bid: bid + off,
            best_ask: ask + off,
            depth: depth.as_ref().map(|(d, r)| Depth {
                bid_px: &self.rows[0],
                bid_qty: &d.bid_qty[r.clone()],
                ask_px: &self.rows[1],
                ask_qty: &d.ask_qty[r.clone()],
            }),
            sigma: m.sigma.map_or(0.0, |s| s[t]),
            volume: m.volume.map_or(0.0, |v| v[t]),
            liquidity: Liquidity::Taker,
        };
        let cost = self.model.price_fill(&req)?;
        self.offset += cost.impact_perm;
        Ok(Fill {
            qty,
            cost,
            perm_paid: qty * off,
        })
    }
}

fn shift_into(dst: &mut Vec<f64>, src: &[f64], off: f64) {
    dst.clear();
    dst.extend(src.iter().map(|p| p + off));
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

/// Runs one strategy. `target[t]` in [-1, 1] is the wanted position as a fraction of
/// equity, decided at bar t and traded at bar t + latency; NaN keeps the position.
pub fn run(target: &[f64], m: &Market<'_>, cfg: &BacktestConfig) -> CoreResult<BarOutputs> {
    cfg.validate()?;
    m.validate()?;
    validate_target(target, m.close.len())?;
    run_unchecked(target, m, cfg)
}

/// `run` on inputs already validated (the batch validates the shared data once).
pub(super) fn run_unchecked(
    target: &[f64],
    m: &Market<'_>,
    cfg: &BacktestConfig,
) -> CoreResult<BarOutputs> {
    let n = m.close.len();
    let mut out = BarOutputs::with_capacity(n);
    let mut pricer = Pricer::new(cfg, m);
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
        let fill = pricer.execute(cfg, m, t, qty)?;
        let c = &fill.cost;
        if fill.qty != 0.0 {
            cash -= fill.qty * c.price + c.fee;
            pos += fill.qty;
        }
        out.position.push(pos);
        out.cash.push(cash);
        out.fees.push(c.fee);
        out.spread_cost.push(c.spread);
        out.slippage.push(c.slippage);
        out.impact.push(c.impact_temp);
        out.impact_perm.push(fill.perm_paid);
        out.funding.push(funding);
        out.traded_qty.push(fill.qty);
        out.fill_price.push(c.price);
        out.equity.push(cash + pos * mark);
    }
    Ok(out)
}
