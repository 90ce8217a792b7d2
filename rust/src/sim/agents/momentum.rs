//! Trend follower: at exponential intervals it updates a fast and a slow EMA of the mid it
//! sees and, when they differ by more than `threshold_bps`, sends a market order with the
//! trend, keeping its position within `max_inventory_lots`.

use rand_pcg::Pcg64Mcg;

use super::super::config::MomentumConfig;
use super::super::matching::Side;
use super::{exp_gap, Agent, AgentKind, Ctx, MarketView, OwnEvent};

pub struct Momentum {
    cfg: MomentumConfig,
    rng: Pcg64Mcg,
    fast: f64,
    slow: f64,
    seen: u32,
    position: i64,
}

impl Momentum {
    pub fn new(cfg: MomentumConfig, rng: Pcg64Mcg) -> Self {
        Self {
            cfg,
            rng,
            fast: 0.0,
            slow: 0.0,
            seen: 0,
            position: 0,
        }
    }

    /// Updates both EMAs with a mid and returns the trend (fast − slow) in bps of slow.
    pub fn observe(&mut self, mid: f64) -> f64 {
        if self.seen == 0 {
            self.fast = mid;
            self.slow = mid;
        }
        self.seen = self.seen.saturating_add(1);
        let a_fast = 2.0 / (f64::from(self.cfg.fast_span) + 1.0);
        let a_slow = 2.0 / (f64::from(self.cfg.slow_span) + 1.0);
        self.fast += a_fast * (mid - self.fast);
        self.slow += a_slow * (mid - self.slow);
        (self.fast / self.slow - 1.0) * 1e4
    }
}

impl Agent for Momentum {
    fn kind(&self) -> AgentKind {
        AgentKind::Momentum
    }

    fn start(&mut self, ctx: &mut Ctx<'_>) {
        ctx.wake_at(exp_gap(&mut self.rng, 1.0 / self.cfg.interval_s));
    }

    fn on_wakeup(&mut self, ctx: &mut Ctx<'_>, view: &MarketView) {
        ctx.wake_at(ctx.now + exp_gap(&mut self.rng, 1.0 / self.cfg.interval_s));
        let trend = self.observe(view.mid);
        // Wait until the slow average has seen a span's worth of observations.
        if self.seen < self.cfg.slow_span || trend.abs() <= self.cfg.threshold_bps {
            return;
        }
        let side = if trend > 0.0 { Side::Buy } else { Side::Sell };
        let after = self.position + side.sign() * self.cfg.size_lots;
        if after.abs() <= self.cfg.max_inventory_lots {
            ctx.market(side, self.cfg.size_lots);
        }
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
