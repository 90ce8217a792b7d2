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

/// One bar of `BarOutputs`.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Bar {
    pub position: f64,
    pub cash: f64,
    pub fees: f64,
    pub spread_cost: f64,
    pub slippage: f64,
    pub impact: f64,
    pub impact_perm: f64,
    pub funding: f64,
    pub traded_qty: f64,
    pub fill_price: f64,
    pub equity: f64,
}

/// Where the engine puts each bar: per-bar arrays, or a running metrics summary (batches).
pub trait BarSink {
    fn push(&mut self, bar: &Bar);
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

    /// Bar `t` (panics past the end).
    pub fn bar(&self, t: usize) -> Bar {
        Bar {
            position: self.position[t],
            cash: self.cash[t],
            fees: self.fees[t],
            spread_cost: self.spread_cost[t],
            slippage: self.slippage[t],
            impact: self.impact[t],
            impact_perm: self.impact_perm[t],
            funding: self.funding[t],
            traded_qty: self.traded_qty[t],
            fill_price: self.fill_price[t],
            equity: self.equity[t],
        }
    }

    pub fn len(&self) -> usize {
        self.equity.len()
    }

    pub fn is_empty(&self) -> bool {
        self.equity.is_empty()
    }
}

impl BarSink for BarOutputs {
    fn push(&mut self, b: &Bar) {
        self.position.push(b.position);
        self.cash.push(b.cash);
        self.fees.push(b.fees);
        self.spread_cost.push(b.spread_cost);
        self.slippage.push(b.slippage);
        self.impact.push(b.impact);
        self.impact_perm.push(b.impact_perm);
        self.funding.push(b.funding);
        self.traded_qty.push(b.traded_qty);
        self.fill_price.push(b.fill_price);
        self.equity.push(b.equity);
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

/// Best bid and ask of every bar when they come from close ± half-spread (no bid/ask, no
/// depth): computed once and shared by a batch's strategies; None when the data has quotes.
pub(super) fn touch_grid(cfg: &BacktestConfig, m: &Market<'_>) -> Option<Vec<[f64; 2]>> {
    if m.depth.is_some() || m.bid.is_some() {
        return None;
    }
    Some(
        (0..m.close.len())
            .map(|t| synthetic_touch(cfg, m.close[t]))
            .collect(),
    )
}

/// close ± half-spread on the tick grid, rounded against the trader.
fn synthetic_touch(cfg: &BacktestConfig, c: f64) -> [f64; 2] {
    let half = cfg.half_spread_bps * 1e-4;
    let tick = cfg.rules.tick_size;
    [
        price_to_tick(c * (1.0 - half), tick, false),
        price_to_tick(c * (1.0 + half), tick, true),
    ]
}

/// Best bid, best ask and mid of bar `t` before the permanent-impact offset.
fn quotes(
    cfg: &BacktestConfig,
    m: &Market<'_>,
    touch: Option<&[[f64; 2]]>,
    t: usize,
) -> (f64, f64, f64) {
    if let Some(d) = m.depth {
        let (b, a) = (d.bid_px[t * d.levels], d.ask_px[t * d.levels]);
        return (b, a, 0.5 * (b + a));
    }
    match (m.bid, m.ask) {
        (Some(b), Some(a)) => (b[t], a[t], 0.5 * (b[t] + a[t])),
        _ => {
            let [bid, ask] = touch.map_or_else(|| synthetic_touch(cfg, m.close[t]), |g| g[t]);
            (bid, ask, m.close[t])
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
        touch: Option<&[[f64; 2]]>,
        t: usize,
        qty: f64,
    ) -> CoreResult<Fill> {
        if qty == 0.0 {
            return Ok(NO_FILL);
        }
        let (bid, ask, mid) = quotes(cfg, m, touch, t);
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
    // Same value without the division when there is no notional limit (inf / mark = inf).
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

/// Runs one strategy. `target[t]` in [-1, 1] is the wanted position as a fraction of
/// equity, decided at bar t and traded at bar t + latency; NaN keeps the position.
pub fn run(target: &[f64], m: &Market<'_>, cfg: &BacktestConfig) -> CoreResult<BarOutputs> {
    cfg.validate()?;
    m.validate()?;
    validate_target(target, m.close.len())?;
    let mut out = BarOutputs::with_capacity(m.close.len());
    run_into(target, m, cfg, None, &mut out)?;
    Ok(out)
}

/// `run` on inputs already validated, each bar into `sink`; `touch` from `touch_grid`.
pub(super) fn run_into(
    target: &[f64],
    m: &Market<'_>,
    cfg: &BacktestConfig,
    touch: Option<&[[f64; 2]]>,
    sink: &mut impl BarSink,
) -> CoreResult<()> {
    let mut sim = Sim::new(cfg, m, touch);
    for t in 0..m.close.len() {
        let wanted = if t >= cfg.latency {
            target[t - cfg.latency]
        } else {
            f64::NAN
        };
        sink.push(&sim.step(t, wanted)?);
    }
    Ok(())
}

/// One strategy's running state: cash, position and the fill pricer; fed bar by bar.
pub(super) struct Sim<'a, 'm> {
    cfg: &'a BacktestConfig,
    m: &'a Market<'m>,
    touch: Option<&'a [[f64; 2]]>,
    pricer: Pricer,
    cash: f64,
    pos: f64,
}

impl<'a, 'm> Sim<'a, 'm> {
    pub(super) fn new(
        cfg: &'a BacktestConfig,
        m: &'a Market<'m>,
        touch: Option<&'a [[f64; 2]]>,
    ) -> Self {
        Self {
            cfg,
            m,
            touch,
            pricer: Pricer::new(cfg, m),
            cash: cfg.initial_capital,
            pos: 0.0,
        }
    }

    /// Bar `t` (bars in order from 0) given the target that reaches it (NaN: hold).
    #[inline]
    pub(super) fn step(&mut self, t: usize, wanted: f64) -> CoreResult<Bar> {
        let (cfg, m) = (self.cfg, self.m);
        let mark = m.close[t];
        let rate = m.funding.map_or(0.0, |f| f[t]);
        let funding = if rate != 0.0 {
            self.pos * mark * rate
        } else {
            0.0
        };
        self.cash -= funding;
        let qty = if wanted.is_nan() {
            0.0
        } else {
            order_qty(cfg, wanted, self.cash + self.pos * mark, self.pos, mark)
        };
        let fill = self.pricer.execute(cfg, m, self.touch, t, qty)?;
        let c = &fill.cost;
        if fill.qty != 0.0 {
            self.cash -= fill.qty * c.price + c.fee;
            self.pos += fill.qty;
        }
        Ok(Bar {
            position: self.pos,
            cash: self.cash,
            fees: c.fee,
            spread_cost: c.spread,
            slippage: c.slippage,
            impact: c.impact_temp,
            impact_perm: fill.perm_paid,
            funding,
            traded_qty: fill.qty,
            fill_price: c.price,
            equity: self.cash + self.pos * mark,
        })
    }
}
