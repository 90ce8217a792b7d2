//! The agents: one `Agent` trait, one struct per behaviour. Agents never touch the engine;
//! they see a delayed `MarketView`, their own order events (after their latency) and act by
//! pushing requests through `Ctx`, which the kernel delivers to the exchange after the
//! agent's order-entry latency.

mod hft;
mod informed;
mod market_maker;
mod metaorder;
mod momentum;
mod noise;
mod strategy;
mod view;

pub use hft::Hft;
pub use informed::Informed;
pub use market_maker::MarketMaker;
pub use metaorder::MetaOrder;
pub use momentum::Momentum;
pub use noise::Noise;
pub use strategy::{StrategyAgent, StrategyRecord, FEATURE_COLUMNS};
pub use view::{MarketHistory, MarketView};

use rand::SeedableRng;
use rand_pcg::Pcg64Mcg;

use super::matching::{OrderKind, Side};
use super::process::FundamentalPath;
use super::Ns;

/// The behaviour behind an agent id (the order is the wire code used in the output tables).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AgentKind {
    MarketMaker,
    Hft,
    Informed,
    Noise,
    Momentum,
    Strategy,
    MetaOrder,
}

impl AgentKind {
    pub const ALL: [AgentKind; 7] = [
        AgentKind::MarketMaker,
        AgentKind::Hft,
        AgentKind::Informed,
        AgentKind::Noise,
        AgentKind::Momentum,
        AgentKind::Strategy,
        AgentKind::MetaOrder,
    ];

    pub fn name(self) -> &'static str {
        match self {
            AgentKind::MarketMaker => "market_maker",
            AgentKind::Hft => "hft",
            AgentKind::Informed => "informed",
            AgentKind::Noise => "noise",
            AgentKind::Momentum => "momentum",
            AgentKind::Strategy => "strategy",
            AgentKind::MetaOrder => "metaorder",
        }
    }

    pub fn code(self) -> u8 {
        self as u8
    }
}

/// What happened to one of the agent's own orders, as the agent learns it (after latency).
/// Orders are named by the handle `Ctx::submit` returned.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum OwnEvent {
    Fill {
        handle: u64,
        side: Side,
        price: i64,
        qty: i64,
        /// Fee paid in quote currency (negative: rebate).
        fee: f64,
        maker: bool,
        /// Unfilled quantity left on the order after this fill.
        leaves: i64,
    },
    /// The order left the book unfilled for `remaining` lots (cancel, IOC/market remainder).
    Cancelled { handle: u64, remaining: i64 },
    /// The exchange refused the submit (or the cancel, for `cancel: true`).
    Rejected { handle: u64, cancel: bool },
}

/// A request from an agent, stamped by the kernel with the agent's latency.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Request {
    Submit {
        handle: u64,
        side: Side,
        kind: OrderKind,
        qty: i64,
    },
    Cancel {
        handle: u64,
    },
    /// A cancel the agent decides now but sends at `at` (a good-till-time order).
    CancelAt {
        handle: u64,
        at: Ns,
    },
    Wake(Ns),
}

/// What an agent may do during a callback: read the clock and the fundamental, send requests.
pub struct Ctx<'a> {
    pub now: Ns,
    pub fundamental: &'a FundamentalPath,
    requests: &'a mut Vec<Request>,
    next_handle: &'a mut u64,
}

impl<'a> Ctx<'a> {
    pub fn new(
        now: Ns,
        fundamental: &'a FundamentalPath,
        requests: &'a mut Vec<Request>,
        next_handle: &'a mut u64,
    ) -> Self {
        Self {
            now,
            fundamental,
            requests,
            next_handle,
        }
    }

    /// Sends an order; the handle names it in later cancels and own events.
    pub fn submit(&mut self, side: Side, kind: OrderKind, qty: i64) -> u64 {
        let handle = *self.next_handle;
        *self.next_handle += 1;
        self.requests.push(Request::Submit {
            handle,
            side,
            kind,
            qty,
        });
        handle
    }

    pub fn limit(&mut self, side: Side, price: i64, qty: i64) -> u64 {
        use super::matching::TimeInForce;
        let kind = OrderKind::Limit {
            price,
            tif: TimeInForce::Gtc,
        };
        self.submit(side, kind, qty)
    }

    pub fn market(&mut self, side: Side, qty: i64) -> u64 {
        self.submit(side, OrderKind::Market, qty)
    }

    pub fn cancel(&mut self, handle: u64) {
        self.requests.push(Request::Cancel { handle });
    }

    /// Cancels `handle` at `at` (no earlier than now) without waking the agent for it.
    pub fn cancel_at(&mut self, handle: u64, at: Ns) {
        let at = at.max(self.now);
        self.requests.push(Request::CancelAt { handle, at });
    }

    /// Asks for an `on_wakeup` call at `ts` (no earlier than now).
    pub fn wake_at(&mut self, ts: Ns) {
        self.requests.push(Request::Wake(ts.max(self.now)));
    }
}

/// One behaviour. The kernel calls `start` once at time 0, then the callbacks in time order.
pub trait Agent: Send {
    fn kind(&self) -> AgentKind;
    /// Schedules the first wake-up (and anything else needed at time 0).
    fn start(&mut self, ctx: &mut Ctx<'_>);
    /// A wake-up the agent asked for; `view` is the market as its data feed shows it now.
    fn on_wakeup(&mut self, ctx: &mut Ctx<'_>, view: &MarketView);
    /// A book or trade update, delivered after the agent's market-data latency.
    fn on_market_data(&mut self, _ctx: &mut Ctx<'_>, _view: &MarketView) {}
    /// One of the agent's own order events, delivered after its order latency.
    fn on_own_event(&mut self, _ctx: &mut Ctx<'_>, _ev: &OwnEvent) {}
    /// Whether the kernel should push market-data updates (else the agent reads on wake-up).
    fn subscribes(&self) -> bool {
        false
    }
    /// Whether the kernel should deliver own order events (fire-and-forget agents say no).
    fn wants_own_events(&self) -> bool {
        false
    }
    /// The strategy agent's ledger and decisions, taken once at the end of a run.
    fn take_record(&mut self, _now: Ns, _last: &MarketView) -> Option<StrategyRecord> {
        None
    }
}

/// An agent's own random stream, derived from the run seed, its id and a salt.
pub fn agent_rng(seed: u64, agent: u32, salt: u64) -> Pcg64Mcg {
    Pcg64Mcg::seed_from_u64(mix(seed ^ mix(u64::from(agent) ^ mix(salt))))
}

/// SplitMix64 finaliser: nearby seeds give unrelated streams.
pub fn mix(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Exponential waiting time (ns) of a Poisson process with `rate` per second; never < 1 ns.
pub fn exp_gap(rng: &mut Pcg64Mcg, rate: f64) -> Ns {
    use rand::Rng;
    if rate <= 0.0 {
        return Ns::MAX / 4;
    }
    let u: f64 = rng.random();
    let s = -(1.0 - u).ln() / rate;
    ((s * 1e9) as Ns).clamp(1, Ns::MAX / 4)
}
