//! Institutional trader working meta-orders: after an exponential pause it decides a parent
//! order of Pareto size (heavy-tailed, as fund orders are) and works it as child market
//! orders of at most `child_lots`, at exponential gaps of mean `child_interval_s`, until done;
//! then it pauses again. Parents of independent agents with Pareto lengths give the sign of
//! market orders a long memory whose autocorrelation decays as a power law of exponent
//! α − 1 (Lillo, Mike & Farmer 2005). The side follows the fundamental `horizon_s` ahead with
//! probability `signal_prob`, else a coin flip.

use rand::Rng;
use rand_distr::{Distribution, Pareto};
use rand_pcg::Pcg64Mcg;

use super::super::config::{secs, MetaOrderConfig};
use super::super::matching::Side;
use super::super::Ns;
use super::{exp_gap, Agent, AgentKind, Ctx, MarketView};

pub struct MetaOrder {
    cfg: MetaOrderConfig,
    rng: Pcg64Mcg,
    sizes: Pareto<f64>,
    tick_size: f64,
    horizon_ns: Ns,
    child_rate: f64,
    /// Lots of the current parent still to send (0: pausing) and its side.
    remaining: i64,
    side: Side,
}

impl MetaOrder {
    /// `cfg` must have passed `SimConfig::validate` (positive size law parameters).
    pub fn new(cfg: MetaOrderConfig, tick_size: f64, rng: Pcg64Mcg) -> Self {
        let sizes = Pareto::new(cfg.size_min_lots, cfg.size_alpha)
            .unwrap_or_else(|_| Pareto::new(1.0, 1.0).expect("valid constants"));
        Self {
            sizes,
            tick_size,
            horizon_ns: secs(cfg.horizon_s),
            child_rate: 1.0 / cfg.child_interval_s,
            remaining: 0,
            side: Side::Buy,
            cfg,
            rng,
        }
    }

    /// A parent size in lots (Pareto, capped).
    pub fn parent_lots(&mut self) -> i64 {
        let s = self.sizes.sample(&mut self.rng);
        (s.round() as i64).clamp(1, self.cfg.max_size_lots)
    }

    fn choose_side(&mut self, ctx: &Ctx<'_>, view: &MarketView) -> Side {
        if self.rng.random::<f64>() < self.cfg.signal_prob {
            let value = ctx.fundamental.value_at(ctx.now + self.horizon_ns);
            if value >= view.mid * self.tick_size {
                return Side::Buy;
            }
            return Side::Sell;
        }
        if self.rng.random::<bool>() {
            Side::Buy
        } else {
            Side::Sell
        }
    }

    fn send_child(&mut self, ctx: &mut Ctx<'_>) {
        let qty = self.remaining.min(self.cfg.child_lots);
        ctx.market(self.side, qty);
        self.remaining -= qty;
    }
}

impl Agent for MetaOrder {
    fn kind(&self) -> AgentKind {
        AgentKind::MetaOrder
    }

    fn start(&mut self, ctx: &mut Ctx<'_>) {
        ctx.wake_at(exp_gap(&mut self.rng, self.cfg.rate));
    }

    fn on_wakeup(&mut self, ctx: &mut Ctx<'_>, view: &MarketView) {
        if self.remaining == 0 {
            self.remaining = self.parent_lots();
            self.side = self.choose_side(ctx, view);
        }
        self.send_child(ctx);
        let gap = if self.remaining > 0 {
            exp_gap(&mut self.rng, self.child_rate)
        } else {
            exp_gap(&mut self.rng, self.cfg.rate)
        };
        ctx.wake_at(ctx.now + gap);
    }
}

#[cfg(test)]
mod tests {
    use super::super::super::config::ProcessConfig;
    use super::super::super::matching::OrderKind;
    use super::super::super::process::FundamentalPath;
    use super::super::{agent_rng, Request};
    use super::*;

    fn view() -> MarketView {
        MarketView {
            ts: 0,
            bid: 199,
            bid_qty: 10,
            ask: 201,
            ask_qty: 10,
            mid: 200.0,
            last_trade: 200,
            buy_volume: 0,
            sell_volume: 0,
            var_rate: 0.0,
        }
    }

    /// A fundamental rising from 100 (mid 200 ticks of 0.5) by 10 % a day.
    fn rising() -> FundamentalPath {
        let p = ProcessConfig {
            initial_price: 100.0,
            vol_per_day: 0.0,
            drift_per_day: 0.1,
            jump_rate_per_hour: 0.0,
            step_ms: 1_000.0,
            ..ProcessConfig::default()
        };
        FundamentalPath::generate(&p, 86_400_000_000_000, &mut agent_rng(1, 0, 0)).unwrap()
    }

    /// Drives the agent through `wakes` wake-ups; the (side, qty) of each child it sent.
    fn children(cfg: MetaOrderConfig, wakes: usize) -> Vec<(Side, i64)> {
        let path = rising();
        let mut agent = MetaOrder::new(cfg, 0.5, agent_rng(7, 3, 1));
        let (mut requests, mut handle, mut now) = (Vec::new(), 0u64, 0);
        let mut sent = Vec::new();
        for _ in 0..wakes {
            let mut ctx = Ctx::new(now, &path, &mut requests, &mut handle);
            agent.on_wakeup(&mut ctx, &view());
            for r in requests.drain(..) {
                match r {
                    Request::Submit {
                        side,
                        kind: OrderKind::Market,
                        qty,
                        ..
                    } => sent.push((side, qty)),
                    Request::Wake(ts) => now = ts,
                    other => panic!("unexpected request {other:?}"),
                }
            }
        }
        sent
    }

    #[test]
    fn parents_are_worked_as_capped_children_on_one_side() {
        let cfg = MetaOrderConfig {
            size_min_lots: 50.0,
            child_lots: 7,
            signal_prob: 1.0,
            ..MetaOrderConfig::default()
        };
        let sent = children(cfg, 500);
        assert!(sent
            .iter()
            .all(|&(s, q)| s == Side::Buy && (1..=7).contains(&q)));
        // Every parent is at least 50 lots: at least 8 children before a partial one.
        let full_runs = sent.split(|&(_, q)| q < 7).filter(|r| !r.is_empty());
        assert!(full_runs.clone().count() > 5);
        assert!(full_runs.clone().all(|r| r.len() >= 7), "{sent:?}");
    }

    #[test]
    fn without_a_signal_sides_are_coin_flips_and_parent_sizes_pareto() {
        let cfg = MetaOrderConfig {
            size_min_lots: 10.0,
            child_lots: 1_000_000,
            max_size_lots: i64::MAX / 2,
            ..MetaOrderConfig::default()
        };
        // One child per parent: the sent sizes are the parent sizes.
        let sent = children(cfg, 20_000);
        let buys = sent.iter().filter(|&&(s, _)| s == Side::Buy).count() as f64;
        assert!((buys / sent.len() as f64 - 0.5).abs() < 0.02, "{buys}");
        let mut sizes: Vec<f64> = sent.iter().map(|&(_, q)| q as f64).collect();
        assert!(sizes.iter().all(|&q| q >= 10.0));
        // Hill estimate of the tail index on the top 5 %: near the configured 1.5.
        sizes.sort_by(|a, b| b.total_cmp(a));
        let k = sizes.len() / 20;
        let hill = k as f64 / sizes[..k].iter().map(|x| (x / sizes[k]).ln()).sum::<f64>();
        assert!((hill - 1.5).abs() < 0.2, "{hill}");
    }
}
