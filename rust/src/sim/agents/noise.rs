//! Noise trader: Poisson arrivals (faster when realised volatility is high, up to
//! `max_activity` times) of market orders or
//! limit orders a geometric number of ticks behind the same-side touch, with Pareto sizes.
//! Each limit order is cancelled after an exponential lifetime (decided when it is placed, sent
//! by the kernel then); fills are not tracked.

use rand::Rng;
use rand_distr::{Distribution, Pareto};
use rand_pcg::Pcg64Mcg;

use super::super::config::NoiseConfig;
use super::super::matching::Side;
use super::{exp_gap, Agent, AgentKind, Ctx, MarketView};

pub struct Noise {
    cfg: NoiseConfig,
    rng: Pcg64Mcg,
    sizes: Pareto<f64>,
    lifetime_rate: f64,
    /// P(offset > k) = q^k with mean offset_mean_ticks.
    offset_q: f64,
}

impl Noise {
    /// `cfg` must have passed `SimConfig::validate` (positive size law parameters).
    pub fn new(cfg: NoiseConfig, rng: Pcg64Mcg) -> Self {
        let sizes = Pareto::new(cfg.size_min_lots, cfg.size_alpha)
            .unwrap_or_else(|_| Pareto::new(1.0, 1.0).expect("valid constants"));
        let m = cfg.offset_mean_ticks;
        Self {
            sizes,
            lifetime_rate: 1.0 / cfg.lifetime_s,
            offset_q: m / (1.0 + m),
            cfg,
            rng,
        }
    }

    /// Arrival-rate multiplier for the realised volatility the agent sees (never below 1).
    pub fn activity(&self, view: &MarketView) -> f64 {
        let ratio = view.vol() * 1e4 / self.cfg.vol_ref_bps;
        (1.0 + self.cfg.vol_sensitivity * (ratio - 1.0)).clamp(1.0, self.cfg.max_activity)
    }

    fn size(&mut self) -> i64 {
        let s = self.sizes.sample(&mut self.rng);
        (s.round() as i64).clamp(1, self.cfg.max_size_lots)
    }

    fn offset(&mut self) -> i64 {
        let u: f64 = self.rng.random();
        if self.offset_q <= 0.0 {
            return 0;
        }
        ((1.0 - u).ln() / self.offset_q.ln()).floor() as i64
    }

    fn arrive(&mut self, ctx: &mut Ctx<'_>, view: &MarketView) {
        let side = if self.rng.random::<bool>() {
            Side::Buy
        } else {
            Side::Sell
        };
        let qty = self.size();
        if self.rng.random::<f64>() < self.cfg.market_prob {
            ctx.market(side, qty);
            return;
        }
        let off = self.offset();
        let price = match side {
            Side::Buy if view.bid_qty > 0 => view.bid - off,
            Side::Buy => view.mid.floor() as i64 - 1 - off,
            Side::Sell if view.ask_qty > 0 => view.ask + off,
            Side::Sell => view.mid.ceil() as i64 + 1 + off,
        };
        if price <= 0 {
            return;
        }
        let handle = ctx.limit(side, price, qty);
        let life = exp_gap(&mut self.rng, self.lifetime_rate);
        ctx.cancel_at(handle, ctx.now + life);
    }
}

impl Agent for Noise {
    fn kind(&self) -> AgentKind {
        AgentKind::Noise
    }

    fn start(&mut self, ctx: &mut Ctx<'_>) {
        ctx.wake_at(exp_gap(&mut self.rng, self.cfg.rate));
    }

    fn on_wakeup(&mut self, ctx: &mut Ctx<'_>, view: &MarketView) {
        self.arrive(ctx, view);
        let rate = self.cfg.rate * self.activity(view);
        ctx.wake_at(ctx.now + exp_gap(&mut self.rng, rate));
    }
}
