//! Informed (toxic) trader: at Poisson arrivals it reads the fundamental `horizon_s` ahead and,
//! when the mid it sees is off by more than `threshold_bps`, sends a market order towards the
//! value, sized in proportion to the mispricing. Its flow is what drags the mid to the value.

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
}

impl Informed {
    pub fn new(cfg: InformedConfig, tick_size: f64, rng: Pcg64Mcg) -> Self {
        Self {
            horizon_ns: secs(cfg.horizon_s),
            cfg,
            rng,
            tick_size,
            position: 0,
        }
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
        ctx.wake_at(exp_gap(&mut self.rng, self.cfg.rate));
    }

    fn on_wakeup(&mut self, ctx: &mut Ctx<'_>, view: &MarketView) {
        ctx.wake_at(ctx.now + exp_gap(&mut self.rng, self.cfg.rate));
        let value = ctx.fundamental.value_at(ctx.now + self.horizon_ns);
        let mid = view.mid * self.tick_size;
        let dev_bps = (value / mid).ln() * 1e4;
        let want = self.order_size(dev_bps);
        let room = self.cfg.max_inventory_lots - self.position * want.signum();
        let qty = want.abs().min(room);
        if qty > 0 {
            let side = if want > 0 { Side::Buy } else { Side::Sell };
            ctx.market(side, qty);
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
