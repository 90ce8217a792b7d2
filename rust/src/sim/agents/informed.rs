//! Informed (toxic) trader: at Poisson arrivals it reads the fundamental `horizon_s` ahead and,
//! when the mid it sees is off by more than `threshold_bps`, sends a market order towards the
//! value, sized in proportion to the mispricing. Its flow is what drags the mid to the value.
//! With `child_lots` > 0 it works each decision as a meta-order of child market orders, one
//! every `child_interval_s`, until done or replaced by its next decision.

use rand_pcg::Pcg64Mcg;

use super::super::config::{secs, InformedConfig};
use super::super::matching::Side;
use super::super::Ns;
use super::{exp_gap, Agent, AgentKind, Ctx, MarketView, OwnEvent};

pub struct Informed {
    cfg: InformedConfig,
    rng: Pcg64Mcg,
    horizon_ns: Ns,
    tick_size: f64,
    /// Position from its fills (arrivals are far apart next to its latency).
    position: i64,
    next_arrival: Ns,
    /// Signed lots of the current meta-order still to send, and when the next child goes.
    remaining: i64,
    next_child: Ns,
    child_ns: Ns,
}

impl Informed {
    pub fn new(cfg: InformedConfig, tick_size: f64, rng: Pcg64Mcg) -> Self {
        Self {
            horizon_ns: secs(cfg.horizon_s),
            child_ns: secs(cfg.child_interval_s),
            cfg,
            rng,
            tick_size,
            position: 0,
            next_arrival: 0,
            remaining: 0,
            next_child: Ns::MAX,
        }
    }

    /// Decides at an arrival: the signed lots it wants to trade now.
    fn decide(&self, ctx: &Ctx<'_>, view: &MarketView) -> i64 {
        let value = ctx.fundamental.value_at(ctx.now + self.horizon_ns);
        let mid = view.mid * self.tick_size;
        let want = self.order_size((value / mid).ln() * 1e4);
        let room = self.cfg.max_inventory_lots - self.position * want.signum();
        want.signum() * want.abs().min(room.max(0))
    }

    /// Sends the next child of the meta-order (or all of it when orders are not split).
    fn send(&mut self, ctx: &mut Ctx<'_>) {
        let cap = if self.cfg.child_lots > 0 {
            self.cfg.child_lots
        } else {
            i64::MAX
        };
        let qty = self.remaining.abs().min(cap);
        if qty > 0 {
            let side = if self.remaining > 0 {
                Side::Buy
            } else {
                Side::Sell
            };
            ctx.market(side, qty);
            self.remaining -= side.sign() * qty;
        }
        self.next_child = if self.remaining != 0 {
            ctx.now + self.child_ns
        } else {
            Ns::MAX
        };
    }

    /// Signed order size for a mispricing of `dev_bps` (value above mid: buy).
    pub fn order_size(&self, dev_bps: f64) -> i64 {
        let c = &self.cfg;
        if dev_bps.abs() <= c.threshold_bps {
            return 0;
        }
        let scale = dev_bps.abs() / c.threshold_bps.max(1e-9);
        let size = (c.size_lots as f64 * scale).round() as i64;
        dev_bps.signum() as i64 * size.clamp(1, c.max_size_lots)
    }
}

impl Agent for Informed {
    fn kind(&self) -> AgentKind {
        AgentKind::Informed
    }

    fn start(&mut self, ctx: &mut Ctx<'_>) {
        self.next_arrival = exp_gap(&mut self.rng, self.cfg.rate);
        ctx.wake_at(self.next_arrival);
    }

    fn on_wakeup(&mut self, ctx: &mut Ctx<'_>, view: &MarketView) {
        if ctx.now >= self.next_arrival {
            self.next_arrival = ctx.now + exp_gap(&mut self.rng, self.cfg.rate);
            // A new decision replaces what is left of the previous meta-order.
            self.remaining = self.decide(ctx, view);
            self.send(ctx);
        } else if ctx.now >= self.next_child {
            self.send(ctx);
        }
        ctx.wake_at(self.next_arrival.min(self.next_child));
    }

    fn on_own_event(&mut self, _ctx: &mut Ctx<'_>, ev: &OwnEvent) {
        if let OwnEvent::Fill { side, qty, .. } = *ev {
            self.position += side.sign() * qty;
        }
    }

    fn wants_own_events(&self) -> bool {
        true
    }
}
