//! Avellaneda–Stoikov market maker: quotes a ladder around a reservation price shifted against
//! its inventory (r = mid − q γ σ² τ); the half spread is the A–S optimum
//! (γ σ² τ / 2 + ln(1 + γ/k) / γ) widened by realised volatility and by the adverse
//! selection it measured on its own fills. Consumed levels come back on the next requote,
//! which happens on market data (at most every `min_requote_s`) and every `refresh_s`.
//!
//! The price it quotes around blends its own mid with a public reference (the fundamental,
//! as a perp maker watches the index and other venues) at `anchor_weight`; the anchored part
//! also moves with the signed taker flow it has seen, through a decaying kernel
//! G(t) ≈ t^−β (a sum of exponentials from `flow_memory_min_s` to `flow_memory_max_s`):
//! transient, concave impact as in the propagator picture (Bouchaud et al.), which the
//! maker learns from order flow rather than from its own fills. New quotes draw their size
//! around the ladder size (lognormal, `size_dispersion`), so touch depth varies as it does live.
//! The touch level it (re)joins can be posted in `join_slices` slices at exponential gaps, so a
//! touch that just moved (or was just taken) starts thin and builds up over `join_interval_s`s.

use std::collections::VecDeque;

use rand_distr::{Distribution, StandardNormal};
use rand_pcg::Pcg64Mcg;

use super::super::config::{secs, MarketMakerConfig};
use super::super::matching::Side;
use super::super::Ns;
use super::{exp_gap, Agent, AgentKind, Ctx, MarketView, OwnEvent};

/// Weight of each new adverse-selection measurement in the running average.
const ADVERSE_WEIGHT: f64 = 0.1;
/// Most fills awaiting their adverse-selection measurement.
const MAX_PENDING_FILLS: usize = 64;
/// Ratio between the time scales of successive exponentials of the flow kernel.
const FLOW_SCALE_RATIO: f64 = 4.0;
/// Most exponentials in the flow kernel (config validation bounds the span to fit).
pub const MAX_FLOW_TERMS: usize = 12;

/// The maker's memory of signed taker flow: G(t) = Σ w_j exp(−t/τ_j) with w_j ∝ τ_j^−β
/// (Σ w_j = 1), so the shift after a constant flow of duration T grows like T^(1−β).
#[derive(Debug, Clone)]
struct FlowMemory {
    ticks_per_lot: f64,
    size_exponent: f64,
    taus_ns: Vec<f64>,
    weights: Vec<f64>,
    states: Vec<f64>,
    last_ts: Ns,
    last_net: i64,
}

impl FlowMemory {
    fn new(c: &MarketMakerConfig) -> Self {
        let mut taus = vec![c.flow_memory_min_s];
        while taus.len() < MAX_FLOW_TERMS && *taus.last().unwrap_or(&0.0) < c.flow_memory_max_s {
            taus.push(taus[taus.len() - 1] * FLOW_SCALE_RATIO);
        }
        let raw: Vec<f64> = taus
            .iter()
            .map(|t| t.powf(-c.flow_decay_exponent))
            .collect();
        let total: f64 = raw.iter().sum();
        Self {
            ticks_per_lot: c.flow_impact_ticks_per_lot,
            size_exponent: c.flow_size_exponent,
            weights: raw.iter().map(|w| w / total).collect(),
            states: vec![0.0; taus.len()],
            taus_ns: taus.iter().map(|t| t * 1e9).collect(),
            last_ts: 0,
            last_net: 0,
        }
    }

    /// Decays the states to `now` and adds the net taker flow since the last update (its
    /// size raised to `flow_size_exponent`: one big order says less per lot than many).
    fn update(&mut self, now: Ns, view: &MarketView) {
        let net = view.buy_volume - view.sell_volume;
        if self.ticks_per_lot == 0.0 {
            self.last_net = net;
            return;
        }
        let dt = (now - self.last_ts).max(0) as f64;
        let lots = (net - self.last_net) as f64;
        let flow = lots.signum() * lots.abs().powf(self.size_exponent) * self.ticks_per_lot;
        for ((s, tau), w) in self.states.iter_mut().zip(&self.taus_ns).zip(&self.weights) {
            *s = *s * (-dt / tau).exp() + w * flow;
        }
        self.last_ts = now;
        self.last_net = net;
    }

    /// Current shift of the reference price (ticks).
    fn shift(&self) -> f64 {
        self.states.iter().sum()
    }
}

/// A level being joined slice by slice: the slice size, the lots still to post and when.
#[derive(Debug, Clone, Copy)]
struct Build {
    side: Side,
    price: i64,
    slice: i64,
    rest: i64,
    next: Ns,
}

#[derive(Debug, Clone, Copy)]
struct Quote {
    handle: u64,
    side: Side,
    price: i64,
    qty: i64,
    cancelling: bool,
}

pub struct MarketMaker {
    cfg: MarketMakerConfig,
    rng: Pcg64Mcg,
    tick_size: f64,
    flow: FlowMemory,
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
    builds: Vec<Build>,
}

impl MarketMaker {
    pub fn new(cfg: MarketMakerConfig, tick_size: f64, rng: Pcg64Mcg) -> Self {
        Self {
            flow: FlowMemory::new(&cfg),
            tick_size,
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
            builds: Vec::new(),
        }
    }

    pub fn inventory(&self) -> i64 {
        self.inventory
    }

    /// The price quoted around (ticks): own mid blended with the flow-shifted reference.
    pub fn reference(&self, ctx: &Ctx<'_>, view: &MarketView) -> f64 {
        let w = self.cfg.anchor_weight;
        if w == 0.0 {
            return view.mid;
        }
        let anchor = ctx.fundamental.value_at(ctx.now) / self.tick_size + self.flow.shift();
        w * anchor + (1.0 - w) * view.mid
    }

    /// Reservation price and half spread in ticks around `centre` for the current view.
    pub fn quote_centre(&self, view: &MarketView, centre: f64) -> (f64, f64) {
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
        (centre - skew, half.clamp(c.min_half_spread_ticks, cap))
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

    fn build_ladder(&mut self, view: &MarketView, centre: f64) {
        let c = &self.cfg;
        let (r, half) = self.quote_centre(view, centre);
        // Nearest ticks, so a half spread under one tick can quote a one-tick spread.
        let mut bid = (r - half).round() as i64;
        let mut ask = (r + half).round() as i64;
        // Stay passive against what the feed shows; crossing would only pay the taker fee.
        // A touch that is only our own stale quote does not count: this requote cancels it
        // before the new order arrives (else a maker chasing its reference leaves a two-tick
        // spread behind for a requote).
        // A quote left on the wrong side of the reference (after a jump of the value) is worth
        // taking, as arbitrageurs do, rather than left to hold the spread open.
        if view.ask_qty > self.own_qty(Side::Sell, view.ask) && view.ask as f64 >= r {
            bid = bid.min(view.ask - 1);
        }
        if view.bid_qty > self.own_qty(Side::Buy, view.bid) && view.bid as f64 <= r {
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

    /// Lots of our live (not cancelling) quotes at `price` on `side`, as posted.
    fn own_qty(&self, side: Side, price: i64) -> i64 {
        self.quotes
            .iter()
            .filter(|q| q.side == side && q.price == price && !q.cancelling)
            .map(|q| q.qty)
            .sum()
    }

    fn requote(&mut self, ctx: &mut Ctx<'_>, view: &MarketView) {
        self.last_requote = ctx.now;
        self.measure_adverse(ctx.now, view.mid);
        self.flow.update(ctx.now, view);
        let centre = self.reference(ctx, view);
        self.build_ladder(view, centre);
        // Same ladder and nothing filled or cancelled: every quote is where it should be.
        if self.dirty || self.desired != self.quoted {
            self.sync_ladder(ctx);
        }
        self.continue_builds(ctx);
    }

    /// Cancels the quotes off the ladder and joins the ladder levels that have none.
    fn sync_ladder(&mut self, ctx: &mut Ctx<'_>) {
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
        let desired = &self.desired;
        self.builds
            .retain(|b| desired.iter().any(|&(s, p, _)| s == b.side && p == b.price));
        for i in 0..self.desired.len() {
            let (side, price, size) = self.desired[i];
            let live = self
                .quotes
                .iter()
                .any(|q| q.side == side && q.price == price && !q.cancelling);
            // A level still being joined counts as quoted even while its slices so far are gone.
            let building = self
                .builds
                .iter()
                .any(|b| b.side == side && b.price == price);
            if !live && !building {
                // Only the touch is joined in slices: deeper levels fill long before reached.
                let touch = self.desired.iter().all(|&(s, p, _)| {
                    s != side
                        || (side == Side::Buy && p <= price)
                        || (side == Side::Sell && p >= price)
                });
                self.join(ctx, side, price, size, touch);
            }
        }
    }

    /// Posts a level of about `size` lots: at once, or (the touch) its first slice now and the
    /// rest later.
    fn join(&mut self, ctx: &mut Ctx<'_>, side: Side, price: i64, size: i64, touch: bool) {
        let total = self.draw_size(size);
        let slices = i64::from(self.cfg.join_slices);
        if slices <= 1 || !touch {
            self.post(ctx, side, price, total);
            return;
        }
        let slice = (total / slices).max(1);
        self.post(ctx, side, price, slice);
        if total > slice {
            let next = ctx.now + self.join_gap();
            self.builds.push(Build {
                side,
                price,
                slice,
                rest: total - slice,
                next,
            });
        }
    }

    /// Posts the next slice of every level whose turn has come (the last takes the remainder).
    fn continue_builds(&mut self, ctx: &mut Ctx<'_>) {
        let mut i = 0;
        while i < self.builds.len() {
            let b = self.builds[i];
            if b.next > ctx.now {
                i += 1;
                continue;
            }
            let qty = if b.rest < 2 * b.slice {
                b.rest
            } else {
                b.slice
            };
            self.post(ctx, b.side, b.price, qty);
            if qty == b.rest {
                self.builds.swap_remove(i);
            } else {
                let next = ctx.now + self.join_gap();
                let b = &mut self.builds[i];
                b.rest -= qty;
                b.next = next;
                i += 1;
            }
        }
    }

    /// Gap before the next slice of a level being joined.
    fn join_gap(&mut self) -> Ns {
        exp_gap(&mut self.rng, 1.0 / self.cfg.join_interval_s)
    }

    /// When the next slice of a level being joined is due (None: nothing being joined).
    fn next_slice_at(&self) -> Option<Ns> {
        self.builds.iter().map(|b| b.next).min()
    }

    fn post(&mut self, ctx: &mut Ctx<'_>, side: Side, price: i64, qty: i64) {
        let handle = ctx.limit(side, price, qty);
        self.quotes.push(Quote {
            handle,
            side,
            price,
            qty,
            cancelling: false,
        });
    }

    /// A new quote's size: the ladder size times a mean-one lognormal draw.
    fn draw_size(&mut self, size: i64) -> i64 {
        let sd = self.cfg.size_dispersion;
        if sd == 0.0 {
            return size;
        }
        let z: f64 = StandardNormal.sample(&mut self.rng);
        ((size as f64 * (sd * z - 0.5 * sd * sd).exp()).round() as i64).max(1)
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
        let since = ctx.now - self.last_requote;
        let slice_due = self.next_slice_at().is_some_and(|t| t <= ctx.now);
        if since >= self.refresh_ns || (slice_due && since >= self.min_requote_ns) {
            self.requote(ctx, view);
        }
        // One chain of wake-ups: the next refresh, or sooner the next slice of a level.
        let mut next = self.last_requote + self.refresh_ns;
        if let Some(t) = self.next_slice_at() {
            next = next.min(t.max(self.last_requote + self.min_requote_ns));
        }
        ctx.wake_at(next);
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::agents::Request;
    use crate::sim::matching::OrderKind;
    use crate::sim::process::FundamentalPath;

    fn view(net_buy: i64) -> MarketView {
        MarketView {
            ts: 0,
            bid: 99,
            bid_qty: 10,
            ask: 101,
            ask_qty: 10,
            mid: 100.0,
            last_trade: 100,
            buy_volume: net_buy.max(0),
            sell_volume: (-net_buy).max(0),
            var_rate: 0.0,
        }
    }

    fn cfg(ticks_per_lot: f64, beta: f64) -> MarketMakerConfig {
        MarketMakerConfig {
            flow_impact_ticks_per_lot: ticks_per_lot,
            flow_memory_min_s: 1.0,
            flow_memory_max_s: 4_096.0,
            flow_decay_exponent: beta,
            ..MarketMakerConfig::default()
        }
    }

    /// The shift after buying one lot a second for `secs` seconds, then `rest` seconds idle.
    fn shift_after(c: &MarketMakerConfig, secs: i64, rest: i64) -> f64 {
        let mut m = FlowMemory::new(c);
        for t in 1..=secs {
            m.update(t * 1_000_000_000, &view(t));
        }
        m.update((secs + rest) * 1_000_000_000, &view(secs));
        m.shift()
    }

    #[test]
    fn flow_shift_grows_like_a_square_root_and_decays_back() {
        let c = cfg(1.0, 0.5);
        let (short, long) = (shift_after(&c, 16, 0), shift_after(&c, 256, 0));
        // 16 times the flow: about 4 times the shift (T^(1 − β) with β = 0.5).
        let ratio = long / short;
        assert!((3.0..5.5).contains(&ratio), "{ratio}");
        let later = shift_after(&c, 256, 40_000);
        assert!(later.abs() < 0.01 * long, "{later} vs {long}");
        // Selling moves it the other way; no impact configured: no shift.
        let mut m = FlowMemory::new(&c);
        m.update(1_000_000_000, &view(-50));
        assert!(m.shift() < 0.0);
        assert_eq!(shift_after(&cfg(0.0, 0.5), 100, 0), 0.0);
    }

    #[test]
    fn kernel_weights_sum_to_one_over_the_configured_span() {
        let m = FlowMemory::new(&cfg(1.0, 0.5));
        assert!((m.weights.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        assert_eq!(m.taus_ns.first().copied(), Some(1e9));
        assert_eq!(m.taus_ns.last().copied(), Some(4_096.0 * 1e9));
        // Slower memories weigh less (w ∝ τ^−β).
        assert!(m.weights.windows(2).all(|w| w[0] > w[1]));
    }

    /// Lots the maker posted (submitted) on `side` at `price` in `requests`.
    fn posted(requests: &[Request], side: Side, price: i64) -> Vec<i64> {
        requests
            .iter()
            .filter_map(|r| match *r {
                Request::Submit {
                    side: s,
                    kind: OrderKind::Limit { price: p, .. },
                    qty,
                    ..
                } if s == side && p == price => Some(qty),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn a_joined_level_is_posted_in_slices_that_add_up_to_its_size() {
        let c = MarketMakerConfig {
            levels: 2,
            size_lots: 1_000,
            join_slices: 4,
            join_interval_s: 0.01,
            vol_mult: 0.0,
            adverse_mult: 0.0,
            ..MarketMakerConfig::default()
        };
        let path = FundamentalPath::generate(
            &crate::sim::config::ProcessConfig::default(),
            10_000_000_000,
            &mut crate::sim::agents::agent_rng(1, 0, 1),
        )
        .unwrap();
        let mut mm = MarketMaker::new(c, 0.5, crate::sim::agents::agent_rng(1, 0, 0));
        let (mut requests, mut handle) = (Vec::new(), 1);
        let v = view(0);
        let mut ctx = Ctx::new(0, &path, &mut requests, &mut handle);
        mm.on_market_data(&mut ctx, &v);
        // One tick spread around mid 100: bid 99 (inside the view's 99/101, passive).
        assert_eq!(posted(&requests, Side::Buy, 99), vec![250]);
        assert_eq!(posted(&requests, Side::Sell, 101), vec![250]);
        // The level behind the touch (two ticks out, 30 % bigger) goes in whole.
        assert_eq!(posted(&requests, Side::Buy, 97), vec![1_300]);
        assert_eq!(posted(&requests, Side::Sell, 103), vec![1_300]);
        // Wake-ups and market data over one simulated second post the rest, then stop.
        let mut now = 0;
        while now < 1_000_000_000 {
            now += 2_000_000;
            let mut ctx = Ctx::new(now, &path, &mut requests, &mut handle);
            if now % 4_000_000 == 0 {
                mm.on_wakeup(&mut ctx, &v);
            } else {
                mm.on_market_data(&mut ctx, &v);
            }
        }
        for side in [Side::Buy, Side::Sell] {
            let price = if side == Side::Buy { 99 } else { 101 };
            let slices = posted(&requests, side, price);
            assert_eq!(slices, vec![250; 4], "{side:?}");
        }
        assert_eq!(posted(&requests, Side::Buy, 97), vec![1_300]);
        assert!(mm.builds.is_empty());
    }

    #[test]
    fn size_dispersion_keeps_the_mean_size() {
        let c = MarketMakerConfig {
            size_dispersion: 0.6,
            ..MarketMakerConfig::default()
        };
        let mut mm = MarketMaker::new(c, 0.5, crate::sim::agents::agent_rng(1, 0, 0));
        let draws: Vec<i64> = (0..20_000).map(|_| mm.draw_size(1_000)).collect();
        let mean = draws.iter().sum::<i64>() as f64 / draws.len() as f64;
        assert!((mean / 1_000.0 - 1.0).abs() < 0.03, "{mean}");
        assert!(draws.iter().any(|&d| d < 500) && draws.iter().any(|&d| d > 2_000));
    }
}
