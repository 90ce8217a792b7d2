//! Noise trader: Poisson arrivals (faster when realised volatility is high, up to
//! `max_activity` times) of market orders or
//! limit orders a geometric number of ticks behind the same-side touch, with Pareto sizes.
//! Each limit order is cancelled after an exponential lifetime; fills are not tracked.

use rand::Rng;
use rand_distr::{Distribution, Pareto};
use rand_pcg::Pcg64Mcg;

use super::super::config::NoiseConfig;
use super::super::matching::Side;
use super::super::Ns;
use super::{exp_gap, Agent, AgentKind, Ctx, MarketView};

pub struct Noise {
    cfg: NoiseConfig,
    rng: Pcg64Mcg,
    sizes: Pareto<f64>,
    next_arrival: Ns,
    /// Resting orders and when to cancel them.
    orders: Vec<(u64, Ns)>,
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
            next_arrival: 0,
            orders: Vec::new(),
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
        self.orders.push((handle, ctx.now + life));
    }
}

impl Agent for Noise {
    fn kind(&self) -> AgentKind {
        AgentKind::Noise
    }

    fn start(&mut self, ctx: &mut Ctx<'_>) {
        self.next_arrival = exp_gap(&mut self.rng, self.cfg.rate);
        ctx.wake_at(self.next_arrival);
    }

    fn on_wakeup(&mut self, ctx: &mut Ctx<'_>, view: &MarketView) {
        let now = ctx.now;
        self.orders.retain(|&(handle, expiry)| {
            let keep = expiry > now;
            if !keep {
                ctx.cancel(handle);
            }
            keep
        });
        if now >= self.next_arrival {
            self.arrive(ctx, view);
            let rate = self.cfg.rate * self.activity(view);
            self.next_arrival = now + exp_gap(&mut self.rng, rate);
        }
        let first_expiry = self.orders.iter().map(|o| o.1).min().unwrap_or(Ns::MAX);
        ctx.wake_at(self.next_arrival.min(first_expiry));
    }
}
