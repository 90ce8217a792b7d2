//! Avellaneda–Stoikov market maker: quotes a ladder around a reservation price shifted against
//! its inventory (r = mid − q γ σ² τ); the half spread is the A–S optimum
//! (γ σ² τ / 2 + ln(1 + γ/k) / γ) widened by realised volatility and by the adverse
//! selection it measured on its own fills. Consumed levels come back on the next requote,
//! which happens on market data (at most every `min_requote_s`) and every `refresh_s`.

use std::collections::VecDeque;

use rand_pcg::Pcg64Mcg;

use super::super::config::{secs, MarketMakerConfig};
use super::super::matching::Side;
use super::super::Ns;
use super::{exp_gap, Agent, AgentKind, Ctx, MarketView, OwnEvent};

/// Weight of each new adverse-selection measurement in the running average.
const ADVERSE_WEIGHT: f64 = 0.1;
/// Most fills awaiting their adverse-selection measurement.
const MAX_PENDING_FILLS: usize = 64;

#[derive(Debug, Clone, Copy)]
struct Quote {
    handle: u64,
    side: Side,
    price: i64,
    cancelling: bool,
}

pub struct MarketMaker {
    cfg: MarketMakerConfig,
    rng: Pcg64Mcg,
    quotes: Vec<Quote>,
    inventory: i64,
    last_requote: Ns,
    /// Running mean of the mid move against our fills (ticks).
    adverse: f64,
    fills: VecDeque<(Ns, i64, i64)>,
    refresh_ns: Ns,
    min_requote_ns: Ns,
    adverse_ns: Ns,
    desired: Vec<(Side, i64, i64)>,
    /// The ladder last quoted, and whether a quote left the book since.
    quoted: Vec<(Side, i64, i64)>,
    dirty: bool,
}

impl MarketMaker {
    pub fn new(cfg: MarketMakerConfig, rng: Pcg64Mcg) -> Self {
        Self {
            refresh_ns: secs(cfg.refresh_s),
            min_requote_ns: secs(cfg.min_requote_s),
            adverse_ns: secs(cfg.adverse_horizon_s),
            cfg,
            rng,
            quotes: Vec::new(),
            inventory: 0,
            last_requote: Ns::MIN / 4,
            adverse: 0.0,
            fills: VecDeque::new(),
            desired: Vec::new(),
            quoted: Vec::new(),
            dirty: true,
        }
    }

    pub fn inventory(&self) -> i64 {
        self.inventory
    }

    /// Reservation price and half spread in ticks for the current view.
    pub fn quote_centre(&self, view: &MarketView) -> (f64, f64) {
        let c = &self.cfg;
        let sigma = view.vol() * view.mid; // ticks per √s
        let var_tau = sigma * sigma * c.horizon_s;
        let q = self.inventory as f64 / c.size_lots as f64;
        let cap = c.max_half_spread_ticks;
        let skew = (q * c.gamma * var_tau).clamp(-cap, cap);
        let half = 0.5 * c.gamma * var_tau
            + (1.0 + c.gamma / c.k).ln() / c.gamma
            + c.vol_mult * sigma * c.horizon_s.sqrt()
            + c.adverse_mult * self.adverse.max(0.0);
        (view.mid - skew, half.clamp(c.min_half_spread_ticks, cap))
    }

    fn measure_adverse(&mut self, now: Ns, mid: f64) {
        while let Some(&(ts, sign, price)) = self.fills.front() {
            if now - ts < self.adverse_ns {
                break;
            }
            self.fills.pop_front();
            let loss = sign as f64 * (price as f64 - mid);
            self.adverse += ADVERSE_WEIGHT * (loss - self.adverse);
        }
    }

    fn build_ladder(&mut self, view: &MarketView) {
        let c = &self.cfg;
        let (r, half) = self.quote_centre(view);
        // Nearest ticks, so a half spread under one tick can quote a one-tick spread.
        let mut bid = (r - half).round() as i64;
        let mut ask = (r + half).round() as i64;
        // Stay passive against what the feed shows; crossing would only pay the taker fee.
        if view.ask_qty > 0 {
            bid = bid.min(view.ask - 1);
        }
        if view.bid_qty > 0 {
            ask = ask.max(view.bid + 1);
        }
        ask = ask.max(bid + 1);
        self.desired.clear();
        let step = i64::from(c.level_spacing_ticks);
        for k in 0..i64::from(c.levels) {
            let size = (c.size_lots as f64 * (1.0 + c.size_growth * k as f64)).round() as i64;
            if self.inventory < c.max_inventory_lots && bid - k * step > 0 {
                self.desired.push((Side::Buy, bid - k * step, size));
            }
            if self.inventory > -c.max_inventory_lots {
                self.desired.push((Side::Sell, ask + k * step, size));
            }
        }
    }

    fn requote(&mut self, ctx: &mut Ctx<'_>, view: &MarketView) {
        self.last_requote = ctx.now;
        self.measure_adverse(ctx.now, view.mid);
        self.build_ladder(view);
        // Same ladder and nothing filled or cancelled: every quote is where it should be.
        if !self.dirty && self.desired == self.quoted {
            return;
        }
        self.dirty = false;
        std::mem::swap(&mut self.quoted, &mut self.desired);
        self.desired.clone_from(&self.quoted);
        for q in &mut self.quotes {
            let wanted = self
                .desired
                .iter()
                .any(|&(s, p, _)| s == q.side && p == q.price);
            if !wanted && !q.cancelling {
                q.cancelling = true;
                ctx.cancel(q.handle);
            }
        }
        for i in 0..self.desired.len() {
            let (side, price, size) = self.desired[i];
            let live = self
                .quotes
                .iter()
                .any(|q| q.side == side && q.price == price && !q.cancelling);
            if !live {
                let handle = ctx.limit(side, price, size);
                self.quotes.push(Quote {
                    handle,
                    side,
                    price,
                    cancelling: false,
                });
            }
        }
    }

    fn forget(&mut self, handle: u64) {
        if let Some(i) = self.quotes.iter().position(|q| q.handle == handle) {
            self.quotes.swap_remove(i);
            self.dirty = true;
        }
    }
}

impl Agent for MarketMaker {
    fn kind(&self) -> AgentKind {
        AgentKind::MarketMaker
    }

    fn start(&mut self, ctx: &mut Ctx<'_>) {
        // Makers start at slightly different instants so their ladders do not collide.
        let gap =
            exp_gap(&mut self.rng, 1.0 / self.cfg.refresh_s.max(1e-9)) % self.refresh_ns.max(1);
        ctx.wake_at(gap);
    }

    fn on_wakeup(&mut self, ctx: &mut Ctx<'_>, view: &MarketView) {
        if ctx.now - self.last_requote >= self.refresh_ns {
            self.requote(ctx, view);
        }
        ctx.wake_at(self.last_requote + self.refresh_ns);
    }

    fn on_market_data(&mut self, ctx: &mut Ctx<'_>, view: &MarketView) {
        if ctx.now - self.last_requote >= self.min_requote_ns {
            self.requote(ctx, view);
        }
    }

    fn on_own_event(&mut self, ctx: &mut Ctx<'_>, ev: &OwnEvent) {
        match *ev {
            OwnEvent::Fill {
                handle,
                side,
                price,
                qty,
                leaves,
                ..
            } => {
                self.inventory += side.sign() * qty;
                if self.fills.len() < MAX_PENDING_FILLS {
                    self.fills.push_back((ctx.now, side.sign(), price));
                }
                if leaves == 0 {
                    self.forget(handle);
                }
            }
            OwnEvent::Cancelled { handle, .. } => self.forget(handle),
            // A refused cancel means the order is already gone (filled or cancelled).
            OwnEvent::Rejected { handle, .. } => self.forget(handle),
        }
    }

    fn subscribes(&self) -> bool {
        true
    }

    fn wants_own_events(&self) -> bool {
        true
    }
}
