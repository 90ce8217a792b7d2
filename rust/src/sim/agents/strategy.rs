//! The strategy under test: a compiled strategy-language expression stepped once per decision
//! period over features of its delayed view (`FEATURE_COLUMNS`), its target in [−1, 1] turned
//! into market orders of at most `max_order_lots` through the same latency and fees as
//! everyone. Cash, inventory and fees come from its own fills only, cash exactly in tick·lot.

use std::collections::VecDeque;

use super::super::config::{secs, StrategyConfig};
use super::super::matching::Side;
use super::super::Ns;
use super::{Agent, AgentKind, Ctx, MarketView, OwnEvent};
use crate::expr::{Evaluator, Program};

/// The columns a strategy expression may read, in this order (see `features`).
///
/// - `mid`: mid price; `spread_bps`: spread in bps of mid (NaN when a side is empty);
/// - `imbalance`: (bid − ask) / (bid + ask) lots at the touch, in [−1, 1];
/// - `ret_1`, `ret_10`, `ret_60`: log mid return over the last 1, 10, 60 decisions
///   (NaN until that much history);
/// - `vol`: realised volatility of the log mid, bps per √s;
/// - `volume`, `signed_volume`: taker lots (all; buys − sells) traded since the last decision;
/// - `position`: own position / `max_position_lots`.
pub const FEATURE_COLUMNS: [&str; 10] = [
    "mid",
    "spread_bps",
    "imbalance",
    "ret_1",
    "ret_10",
    "ret_60",
    "vol",
    "volume",
    "signed_volume",
    "position",
];
const LONGEST_RETURN: usize = 60;

/// The strategy's decisions and ledger, one row per decision (plus the final mark).
#[derive(Debug, Clone, Default)]
pub struct StrategyRecord {
    pub ts: Vec<Ns>,
    pub target: Vec<f64>,
    pub position: Vec<i64>,
    pub cash: Vec<f64>,
    pub fees: Vec<f64>,
    /// Cumulative cost of fills against the mid the decision saw (quote currency; > 0 costs).
    pub slippage: Vec<f64>,
    pub equity: Vec<f64>,
    pub mid: Vec<f64>,
    pub fills: u64,
    pub maker_fills: u64,
    pub traded_lots: i64,
    pub orders: u64,
}

pub struct StrategyAgent {
    cfg: StrategyConfig,
    eval: Evaluator,
    tick_size: f64,
    lot_size: f64,
    interval_ns: Ns,
    /// Cash in tick·lot units: exact integer sums of −side × price × qty.
    cash_tl: i128,
    fees: f64,
    position: i64,
    /// Market orders on their way: (handle, signed unfilled lots, decision mid in ticks).
    pending: Vec<(u64, i64, f64)>,
    /// Σ side × qty × (fill − decision mid), in tick·lot.
    slippage_tl: f64,
    target: f64,
    mids: VecDeque<f64>,
    last_volume: (i64, i64),
    row: [f64; FEATURE_COLUMNS.len()],
    record: StrategyRecord,
}

impl StrategyAgent {
    pub fn new(
        cfg: StrategyConfig,
        program: Program,
        tick_size: f64,
        lot_size: f64,
    ) -> crate::error::CoreResult<Self> {
        if program.n_columns != FEATURE_COLUMNS.len() {
            return Err(crate::error::CoreError::InvalidInput(format!(
                "strategy program reads {} columns, the simulator gives {}",
                program.n_columns,
                FEATURE_COLUMNS.len()
            )));
        }
        Ok(Self {
            interval_ns: secs(cfg.interval_s),
            eval: Evaluator::new(program, 1)?,
            cfg,
            tick_size,
            lot_size,
            cash_tl: 0,
            fees: 0.0,
            position: 0,
            pending: Vec::new(),
            slippage_tl: 0.0,
            target: 0.0,
            mids: VecDeque::with_capacity(LONGEST_RETURN + 1),
            last_volume: (0, 0),
            row: [0.0; FEATURE_COLUMNS.len()],
            record: StrategyRecord::default(),
        })
    }

    /// Fills `self.row` from the view, in `FEATURE_COLUMNS` order.
    fn features(&mut self, view: &MarketView) {
        let mid = view.mid;
        if self.mids.len() > LONGEST_RETURN {
            self.mids.pop_front();
        }
        self.mids.push_back(mid);
        let ret = |k: usize| -> f64 {
            let n = self.mids.len();
            if n > k {
                (mid / self.mids[n - 1 - k]).ln()
            } else {
                f64::NAN
            }
        };
        let spread = view.spread().map_or(f64::NAN, |s| s as f64 / mid * 1e4);
        let (b, s) = (view.buy_volume, view.sell_volume);
        let (db, ds) = (b - self.last_volume.0, s - self.last_volume.1);
        self.last_volume = (b, s);
        self.row = [
            mid * self.tick_size,
            spread,
            view.imbalance(),
            ret(1),
            ret(10),
            ret(LONGEST_RETURN),
            view.vol() * 1e4,
            (db + ds) as f64,
            (db - ds) as f64,
            self.position as f64 / self.cfg.max_position_lots as f64,
        ];
    }

    fn exposure(&self) -> i64 {
        self.position + self.pending.iter().map(|p| p.1).sum::<i64>()
    }

    fn trade_towards_target(&mut self, ctx: &mut Ctx<'_>, mid: f64) {
        let want = (self.target * self.cfg.max_position_lots as f64).round() as i64;
        let delta = want - self.exposure();
        if delta == 0 {
            return;
        }
        let side = if delta > 0 { Side::Buy } else { Side::Sell };
        let qty = delta.abs().min(self.cfg.max_order_lots);
        let handle = ctx.market(side, qty);
        self.pending.push((handle, side.sign() * qty, mid));
        self.record.orders += 1;
    }

    fn mark(&mut self, ts: Ns, mid_ticks: f64) {
        let cash = self.cash_tl as f64 * self.tick_size * self.lot_size;
        let value = self.position as f64 * self.lot_size * mid_ticks * self.tick_size;
        let r = &mut self.record;
        r.ts.push(ts);
        r.target.push(self.target);
        r.position.push(self.position);
        r.cash.push(cash);
        r.fees.push(self.fees);
        r.slippage
            .push(self.slippage_tl * self.tick_size * self.lot_size);
        r.equity.push(cash + value - self.fees);
        r.mid.push(mid_ticks * self.tick_size);
    }

    fn settle(&mut self, handle: u64, price: i64, filled: i64, done: bool) {
        if let Some(i) = self.pending.iter().position(|p| p.0 == handle) {
            let p = &mut self.pending[i];
            self.slippage_tl += (p.1.signum() * filled) as f64 * (price as f64 - p.2);
            p.1 -= p.1.signum() * filled;
            if done || p.1 == 0 {
                self.pending.swap_remove(i);
            }
        }
    }
}

impl Agent for StrategyAgent {
    fn kind(&self) -> AgentKind {
        AgentKind::Strategy
    }

    fn start(&mut self, ctx: &mut Ctx<'_>) {
        ctx.wake_at(secs(self.cfg.start_s));
    }

    fn on_wakeup(&mut self, ctx: &mut Ctx<'_>, view: &MarketView) {
        ctx.wake_at(ctx.now + self.interval_ns);
        self.features(view);
        // The evaluator checks the row length, which `new` made equal to the program's.
        let t = self.eval.step(&self.row).unwrap_or(f64::NAN);
        // NaN (warm-up, unknown input) keeps the previous target, as in the backtester.
        if !t.is_nan() {
            self.target = t;
        }
        self.trade_towards_target(ctx, view.mid);
        self.mark(ctx.now, view.mid);
    }

    fn on_own_event(&mut self, _ctx: &mut Ctx<'_>, ev: &OwnEvent) {
        match *ev {
            OwnEvent::Fill {
                handle,
                side,
                price,
                qty,
                fee,
                maker,
                leaves,
            } => {
                self.position += side.sign() * qty;
                self.cash_tl -= i128::from(side.sign()) * i128::from(price) * i128::from(qty);
                self.fees += fee;
                self.record.fills += 1;
                self.record.maker_fills += u64::from(maker);
                self.record.traded_lots += qty;
                self.settle(handle, price, qty, leaves == 0);
            }
            OwnEvent::Cancelled { handle, .. } | OwnEvent::Rejected { handle, .. } => {
                self.settle(handle, 0, 0, true);
            }
        }
    }

    fn wants_own_events(&self) -> bool {
        true
    }

    fn take_record(&mut self, now: Ns, last: &MarketView) -> Option<StrategyRecord> {
        self.mark(now, last.mid);
        Some(std::mem::take(&mut self.record))
    }
}
