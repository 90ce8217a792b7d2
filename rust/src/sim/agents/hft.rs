//! High-frequency trader on top-of-book imbalance. A momentum HFT leans with the imbalance, a
//! reverting one against it: above `post_threshold` it joins the touch on that side, above
//! `take_threshold` it crosses with a market order. Resting orders live `cancel_after_s` at
//! most, and inventory beyond its limit is unwound with a market order.

use rand::Rng;
use rand_pcg::Pcg64Mcg;

use super::super::config::{secs, HftConfig};
use super::super::matching::Side;
use super::super::Ns;
use super::{Agent, AgentKind, Ctx, MarketView, OwnEvent};

#[derive(Debug, Clone, Copy)]
struct Resting {
    handle: u64,
    side: Side,
    placed: Ns,
    cancelling: bool,
}

pub struct Hft {
    cfg: HftConfig,
    rng: Pcg64Mcg,
    /// +1 momentum, −1 mean reversion.
    lean: f64,
    inventory: i64,
    /// Market orders sent and not yet done: (handle, signed unfilled lots).
    pending: Vec<(u64, i64)>,
    resting: Vec<Resting>,
    cancel_ns: Ns,
    interval_ns: Ns,
    cooldown_ns: Ns,
    last_action: Ns,
}

impl Hft {
    pub fn new(cfg: HftConfig, mut rng: Pcg64Mcg) -> Self {
        let lean = if rng.random::<f64>() < cfg.momentum_fraction {
            1.0
        } else {
            -1.0
        };
        Self {
            cancel_ns: secs(cfg.cancel_after_s),
            interval_ns: secs(cfg.interval_s),
            cooldown_ns: secs(cfg.cooldown_s),
            last_action: Ns::MIN / 4,
            cfg,
            rng,
            lean,
            inventory: 0,
            pending: Vec::new(),
            resting: Vec::new(),
        }
    }

    fn room(&self, side: Side) -> bool {
        let after = self.exposure() + side.sign() * self.cfg.size_lots;
        after.abs() <= self.cfg.max_inventory_lots
    }

    fn cancel_stale(&mut self, ctx: &mut Ctx<'_>, keep: Option<Side>) {
        for r in &mut self.resting {
            let stale = ctx.now - r.placed >= self.cancel_ns || Some(r.side) != keep;
            if stale && !r.cancelling {
                r.cancelling = true;
                ctx.cancel(r.handle);
            }
        }
    }

    fn unwind(&mut self, ctx: &mut Ctx<'_>) {
        let pos = self.exposure();
        if pos.abs() > self.cfg.max_inventory_lots {
            let side = if pos > 0 { Side::Sell } else { Side::Buy };
            let qty = pos.abs() - self.cfg.max_inventory_lots / 2;
            self.send_market(ctx, side, qty);
        }
    }

    /// Inventory plus market orders still on their way.
    fn exposure(&self) -> i64 {
        self.inventory + self.pending.iter().map(|p| p.1).sum::<i64>()
    }

    fn send_market(&mut self, ctx: &mut Ctx<'_>, side: Side, qty: i64) {
        let handle = ctx.market(side, qty);
        self.pending.push((handle, side.sign() * qty));
    }

    fn settle(&mut self, handle: u64, filled: i64, done: bool) {
        if let Some(i) = self.pending.iter().position(|p| p.0 == handle) {
            let p = &mut self.pending[i];
            p.1 -= p.1.signum() * filled;
            if done || p.1 == 0 {
                self.pending.swap_remove(i);
            }
        }
    }

    fn act(&mut self, ctx: &mut Ctx<'_>, view: &MarketView) {
        if !view.two_sided() || ctx.now - self.last_action < self.cooldown_ns {
            return;
        }
        self.last_action = ctx.now;
        let signal = self.lean * view.imbalance();
        let side = if signal > 0.0 { Side::Buy } else { Side::Sell };
        let strength = signal.abs();
        let wanted = (strength >= self.cfg.post_threshold).then_some(side);
        self.cancel_stale(ctx, wanted);
        if strength >= self.cfg.take_threshold && self.room(side) {
            self.send_market(ctx, side, self.cfg.size_lots);
        } else if wanted.is_some() && self.room(side) && !self.has_live(side) {
            let price = if side == Side::Buy {
                view.bid
            } else {
                view.ask
            };
            let handle = ctx.limit(side, price, self.cfg.size_lots);
            self.resting.push(Resting {
                handle,
                side,
                placed: ctx.now,
                cancelling: false,
            });
        }
    }

    fn has_live(&self, side: Side) -> bool {
        self.resting.iter().any(|r| r.side == side && !r.cancelling)
    }

    fn forget(&mut self, handle: u64) -> bool {
        match self.resting.iter().position(|r| r.handle == handle) {
            Some(i) => {
                self.resting.swap_remove(i);
                true
            }
            None => false,
        }
    }
}

impl Agent for Hft {
    fn kind(&self) -> AgentKind {
        AgentKind::Hft
    }

    fn start(&mut self, ctx: &mut Ctx<'_>) {
        let offset = self.rng.random_range(0..self.interval_ns.max(1));
        ctx.wake_at(offset);
    }

    fn on_wakeup(&mut self, ctx: &mut Ctx<'_>, _view: &MarketView) {
        let keep = self.resting.iter().find(|r| !r.cancelling).map(|r| r.side);
        self.cancel_stale(ctx, keep);
        self.unwind(ctx);
        ctx.wake_at(ctx.now + self.interval_ns);
    }

    fn on_market_data(&mut self, ctx: &mut Ctx<'_>, view: &MarketView) {
        self.act(ctx, view);
    }

    fn on_own_event(&mut self, _ctx: &mut Ctx<'_>, ev: &OwnEvent) {
        match *ev {
            OwnEvent::Fill {
                handle,
                side,
                qty,
                leaves,
                ..
            } => {
                self.inventory += side.sign() * qty;
                self.settle(handle, qty, leaves == 0);
                if leaves == 0 {
                    self.forget(handle);
                }
            }
            OwnEvent::Cancelled { handle, .. } | OwnEvent::Rejected { handle, .. } => {
                self.settle(handle, 0, true);
                self.forget(handle);
            }
        }
    }

    fn subscribes(&self) -> bool {
        true
    }

    fn wants_own_events(&self) -> bool {
        true
    }
}
