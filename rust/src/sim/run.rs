//! One simulation run: seat the population a `SimConfig` describes, run the kernel to the end
//! and hand back columnar tables (events, trades, top-of-book and L2 samples, the mid grid,
//! per-agent ledgers, the strategy's record) and message counts.

use rand::Rng;

use rand_pcg::Pcg64Mcg;

use super::agents::{
    agent_rng, Agent, Hft, Informed, MarketHistory, MarketMaker, MetaOrder, Momentum, Noise,
    StrategyAgent, StrategyRecord,
};
use super::config::{micros, secs, LatencyConfig, SimConfig};
use super::kernel::{Kernel, KernelConfig, Latency, SamplePeriods};
use super::matching::{
    CancelReason, EngineConfig, Event, MatchingEngine, RejectReason, Side, StpMode,
};
use super::process::FundamentalPath;
use super::Ns;
use crate::error::{CoreError, CoreResult};
use crate::expr::Program;

/// Most rows any one sampled table may get, so a tiny sampling period fails fast.
pub const MAX_SAMPLES: i64 = 20_000_000;
/// Event kinds in the event table, by code.
pub const EVENT_KINDS: [&str; 5] = ["accepted", "rejected", "trade", "cancelled", "amended"];
/// Reasons in the event table: rejections first, then cancellations, by code.
pub const EVENT_REASONS: [&str; 13] = [
    "",
    "invalid_qty",
    "invalid_price",
    "invalid_agent",
    "post_only_would_cross",
    "fok_not_fillable",
    "reduce_only_would_increase",
    "unknown_order",
    "not_owner",
    "nothing_to_amend",
    "user",
    "unfilled",
    "self_trade",
];
/// Market orders have no price; the event table shows this instead.
pub const NO_PRICE: i64 = -1;

const SALT_PROCESS: u64 = 0x5052_4f43;
const SALT_AGENT: u64 = 0x4147_454e;
const SALT_LATENCY: u64 = 0x4c41_5443;
const PROCESS_STREAM: u32 = u32::MAX;

/// Every order, cancel and trade as the engine emitted it.
#[derive(Debug, Clone, Default)]
pub struct EventTable {
    pub ts: Vec<Ns>,
    pub kind: Vec<u8>,
    pub agent: Vec<u32>,
    pub order: Vec<u64>,
    /// +1 buy, −1 sell (the taker's side for trades), 0 when unknown (rejects, cancels).
    pub side: Vec<i8>,
    pub price: Vec<i64>,
    pub qty: Vec<i64>,
    pub reason: Vec<u8>,
}

#[derive(Debug, Clone, Default)]
pub struct TradeTable {
    pub ts: Vec<Ns>,
    pub price: Vec<i64>,
    pub qty: Vec<i64>,
    pub taker_side: Vec<i8>,
    pub maker_agent: Vec<u32>,
    pub taker_agent: Vec<u32>,
    pub maker_order: Vec<u64>,
    pub taker_order: Vec<u64>,
    pub maker_fee: Vec<f64>,
    pub taker_fee: Vec<f64>,
}

/// True top of book at each sample (qty 0: side empty), last trade, fundamental value.
#[derive(Debug, Clone, Default)]
pub struct TopTable {
    pub ts: Vec<Ns>,
    pub bid: Vec<i64>,
    pub bid_qty: Vec<i64>,
    pub ask: Vec<i64>,
    pub ask_qty: Vec<i64>,
    pub last_trade: Vec<i64>,
    pub fundamental: Vec<f64>,
}

/// L2 levels at each sample, long format, best level first.
#[derive(Debug, Clone, Default)]
pub struct L2Table {
    pub ts: Vec<Ns>,
    pub side: Vec<i8>,
    pub level: Vec<u32>,
    pub price: Vec<i64>,
    pub qty: Vec<i64>,
}

/// Mid (ticks) and fundamental value (price) on the mid grid.
#[derive(Debug, Clone, Default)]
pub struct MidTable {
    pub ts: Vec<Ns>,
    pub mid: Vec<f64>,
    pub fundamental: Vec<f64>,
}

/// Counts of what the run processed; messages = orders + cancels + trades.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RunStats {
    pub orders: u64,
    pub cancels: u64,
    pub trades: u64,
    pub rejects: u64,
    pub wakeups: u64,
    pub md_deliveries: u64,
}

impl RunStats {
    pub fn messages(&self) -> u64 {
        self.orders + self.cancels + self.trades
    }
}

/// Writes the tables as the kernel goes; keeps per-agent cash and fees from trades.
#[derive(Debug, Default)]
pub struct Recorder {
    record_events: bool,
    l2_levels: usize,
    pub events: EventTable,
    pub trades: TradeTable,
    pub top: TopTable,
    pub l2: L2Table,
    pub mids: MidTable,
    /// Per agent: cash in tick·lot (exact), fees, traded lots.
    cash_tl: Vec<i128>,
    fees: Vec<f64>,
    volume: Vec<i64>,
    scratch: Vec<(i64, i64)>,
}

impl Recorder {
    pub fn new(record_events: bool, l2_levels: usize, agents: usize) -> Self {
        Self {
            record_events,
            l2_levels,
            cash_tl: vec![0; agents],
            fees: vec![0.0; agents],
            volume: vec![0; agents],
            ..Self::default()
        }
    }

    pub fn event(&mut self, ev: &Event) {
        if !self.record_events {
            return;
        }
        let (kind, agent, order, side, price, qty, reason) = match *ev {
            Event::Accepted {
                order,
                agent,
                side,
                price,
                qty,
                ..
            } => (
                0,
                agent,
                order,
                side_code(side),
                price.unwrap_or(NO_PRICE),
                qty,
                0,
            ),
            Event::Rejected {
                order,
                agent,
                reason,
                ..
            } => (1, agent, order, 0, NO_PRICE, 0, reject_code(reason)),
            Event::Trade {
                price,
                qty,
                taker_order,
                taker_agent,
                taker_side,
                ..
            } => (
                2,
                taker_agent,
                taker_order,
                side_code(taker_side),
                price,
                qty,
                0,
            ),
            Event::Cancelled {
                order,
                agent,
                remaining,
                reason,
                ..
            } => (3, agent, order, 0, NO_PRICE, remaining, cancel_code(reason)),
            Event::Amended {
                order,
                agent,
                price,
                qty,
                ..
            } => (4, agent, order, 0, price, qty, 0),
        };
        let e = &mut self.events;
        e.ts.push(ev.ts());
        e.kind.push(kind);
        e.agent.push(agent);
        e.order.push(order);
        e.side.push(side);
        e.price.push(price);
        e.qty.push(qty);
        e.reason.push(reason);
    }

    pub fn trade(&mut self, ev: &Event) {
        let Event::Trade {
            ts,
            price,
            qty,
            maker_order,
            maker_agent,
            taker_order,
            taker_agent,
            taker_side,
            maker_fee,
            taker_fee,
            ..
        } = *ev
        else {
            return;
        };
        let t = &mut self.trades;
        t.ts.push(ts);
        t.price.push(price);
        t.qty.push(qty);
        t.taker_side.push(side_code(taker_side));
        t.maker_agent.push(maker_agent);
        t.taker_agent.push(taker_agent);
        t.maker_order.push(maker_order);
        t.taker_order.push(taker_order);
        t.maker_fee.push(maker_fee);
        t.taker_fee.push(taker_fee);
        let notional = i128::from(price) * i128::from(qty);
        let sign = i128::from(taker_side.sign());
        self.book(taker_agent, -sign * notional, taker_fee, qty);
        self.book(maker_agent, sign * notional, maker_fee, qty);
    }

    fn book(&mut self, agent: u32, cash: i128, fee: f64, qty: i64) {
        let i = agent as usize;
        if i < self.cash_tl.len() {
            self.cash_tl[i] += cash;
            self.fees[i] += fee;
            self.volume[i] += qty;
        }
    }

    pub fn top(
        &mut self,
        ts: Ns,
        bid: Option<(i64, i64)>,
        ask: Option<(i64, i64)>,
        last: i64,
        value: f64,
    ) {
        let (b, bq) = bid.unwrap_or((0, 0));
        let (a, aq) = ask.unwrap_or((0, 0));
        let t = &mut self.top;
        t.ts.push(ts);
        t.bid.push(b);
        t.bid_qty.push(bq);
        t.ask.push(a);
        t.ask_qty.push(aq);
        t.last_trade.push(last);
        t.fundamental.push(value);
    }

    pub fn l2(&mut self, ts: Ns, engine: &MatchingEngine) {
        if self.l2_levels == 0 {
            return;
        }
        for side in [Side::Buy, Side::Sell] {
            engine.depth(side, self.l2_levels, &mut self.scratch);
            for (k, &(price, qty)) in self.scratch.iter().enumerate() {
                let l = &mut self.l2;
                l.ts.push(ts);
                l.side.push(side_code(side));
                l.level.push(k as u32);
                l.price.push(price);
                l.qty.push(qty);
            }
        }
    }

    pub fn mid(&mut self, ts: Ns, mid_ticks: f64, value: f64) {
        self.mids.ts.push(ts);
        self.mids.mid.push(mid_ticks);
        self.mids.fundamental.push(value);
    }
}

fn side_code(s: Side) -> i8 {
    s.sign() as i8
}

fn reject_code(r: RejectReason) -> u8 {
    match r {
        RejectReason::InvalidQty => 1,
        RejectReason::InvalidPrice => 2,
        RejectReason::InvalidAgent => 3,
        RejectReason::PostOnlyWouldCross => 4,
        RejectReason::FokNotFillable => 5,
        RejectReason::ReduceOnlyWouldIncrease => 6,
        RejectReason::UnknownOrder => 7,
        RejectReason::NotOwner => 8,
        RejectReason::NothingToAmend => 9,
    }
}

fn cancel_code(r: CancelReason) -> u8 {
    match r {
        CancelReason::User => 10,
        CancelReason::Unfilled => 11,
        CancelReason::SelfTrade => 12,
    }
}

/// Each agent's kind and end-of-run ledger (cash and value in quote currency).
#[derive(Debug, Clone, Default)]
pub struct AgentTable {
    pub kind: Vec<u8>,
    pub position: Vec<i64>,
    pub cash: Vec<f64>,
    pub fees: Vec<f64>,
    pub volume: Vec<i64>,
    pub order_latency_ns: Vec<Ns>,
    pub md_latency_ns: Vec<Ns>,
}

/// Everything a run produced.
#[derive(Debug, Clone)]
pub struct SimOutput {
    pub events: EventTable,
    pub trades: TradeTable,
    pub top: TopTable,
    pub l2: L2Table,
    pub mids: MidTable,
    pub agents: AgentTable,
    pub strategy: Option<StrategyRecord>,
    pub stats: RunStats,
    /// Mid (ticks) at the end of the run.
    pub final_mid: f64,
    pub fundamental_jumps: usize,
}

/// Runs the configured market (and the strategy, when a program is given) to the end.
pub fn run(cfg: &SimConfig, strategy: Option<Program>) -> CoreResult<SimOutput> {
    cfg.validate()?;
    check_sample_counts(cfg)?;
    let m = &cfg.market;
    let engine = MatchingEngine::new(EngineConfig {
        tick_size: m.tick_size,
        lot_size: m.lot_size,
        maker_fee: m.maker_fee,
        taker_fee: m.taker_fee,
        stp: StpMode::CancelTaker,
    })?;
    let end = cfg.duration_ns();
    let mut process_rng = agent_rng(cfg.seed, PROCESS_STREAM, SALT_PROCESS);
    let a = &cfg.agents;
    let ahead = secs(a.informed.horizon_s.max(a.metaorder.horizon_s)) + secs(1.0);
    let fundamental = FundamentalPath::generate(&cfg.process, end + ahead, &mut process_rng)?;
    let mid_ticks = cfg.process.initial_price / m.tick_size;
    if !(1.0..=(1u64 << 50) as f64).contains(&mid_ticks) {
        return Err(CoreError::InvalidInput(format!(
            "process.initial_price / market.tick_size = {mid_ticks} ticks is out of range"
        )));
    }
    let var0 = cfg.process.vol_per_day.powi(2) / 86_400.0;
    let history = MarketHistory::new(mid_ticks, var0, max_md_latency(cfg), secs(m.vol_window_s));
    let periods = SamplePeriods {
        top: secs(cfg.sampling.top_interval_s),
        l2: secs(cfg.sampling.l2_interval_s),
        mid: secs(cfg.sampling.mid_interval_s),
    };
    let n_agents = population_size(cfg) + usize::from(strategy.is_some());
    let recorder = Recorder::new(
        cfg.sampling.record_events,
        cfg.sampling.l2_levels as usize,
        n_agents,
    );
    let kcfg = KernelConfig {
        end,
        periods,
        price_band: m.price_band_bps * 1e-4,
    };
    let mut kernel = Kernel::new(engine, history, fundamental, kcfg, recorder);
    let latencies = seat_population(&mut kernel, cfg, strategy)?;
    kernel.run();
    Ok(finish(kernel, &latencies, m.tick_size, m.lot_size))
}

fn check_sample_counts(cfg: &SimConfig) -> CoreResult<()> {
    let s = &cfg.sampling;
    for (key, period) in [
        ("top_interval_s", s.top_interval_s),
        ("l2_interval_s", s.l2_interval_s),
        ("mid_interval_s", s.mid_interval_s),
    ] {
        if cfg.duration_s / period > MAX_SAMPLES as f64 {
            return Err(CoreError::InvalidInput(format!(
                "sampling.{key} = {period} gives more than {MAX_SAMPLES} samples"
            )));
        }
    }
    Ok(())
}

fn population_size(cfg: &SimConfig) -> usize {
    let a = &cfg.agents;
    [
        a.market_maker.count,
        a.hft.count,
        a.informed.count,
        a.noise.count,
        a.momentum.count,
        a.metaorder.count,
    ]
    .iter()
    .map(|&c| c as usize)
    .sum()
}

fn max_md_latency(cfg: &SimConfig) -> Ns {
    let a = &cfg.agents;
    [
        a.market_maker.latency,
        a.hft.latency,
        a.informed.latency,
        a.noise.latency,
        a.momentum.latency,
        cfg.strategy.latency,
    ]
    .iter()
    .map(|l| micros(l.md_us + l.jitter_us) + 1)
    .max()
    .unwrap_or(0)
}

/// Draws an agent's fixed latencies from its own stream.
fn draw_latency(seed: u64, id: u32, l: &LatencyConfig) -> Latency {
    let mut rng = agent_rng(seed, id, SALT_LATENCY);
    let order = l.order_us + rng.random::<f64>() * l.jitter_us;
    let md = l.md_us + rng.random::<f64>() * l.jitter_us;
    Latency {
        order: micros(order),
        md: micros(md),
    }
}

/// Seats one agent with its own random stream and latency draw.
fn seat(
    kernel: &mut Kernel,
    lats: &mut Vec<Latency>,
    seed: u64,
    l: &LatencyConfig,
    make: impl FnOnce(Pcg64Mcg) -> Box<dyn Agent>,
) {
    let id = kernel.agent_count() as u32;
    let lat = draw_latency(seed, id, l);
    kernel.add(make(agent_rng(seed, id, SALT_AGENT)), lat);
    lats.push(lat);
}

/// Seats every agent in a fixed order (makers, HFTs, informed, noise, momentum, meta-order
/// traders, strategy).
fn seat_population(
    kernel: &mut Kernel,
    cfg: &SimConfig,
    strategy: Option<Program>,
) -> CoreResult<Vec<Latency>> {
    let a = &cfg.agents;
    let (seed, tick) = (cfg.seed, cfg.market.tick_size);
    let mut lats = Vec::new();
    for _ in 0..a.market_maker.count {
        seat(kernel, &mut lats, seed, &a.market_maker.latency, |r| {
            Box::new(MarketMaker::new(a.market_maker.clone(), tick, r))
        });
    }
    for _ in 0..a.hft.count {
        seat(kernel, &mut lats, seed, &a.hft.latency, |r| {
            Box::new(Hft::new(a.hft.clone(), r))
        });
    }
    for _ in 0..a.informed.count {
        seat(kernel, &mut lats, seed, &a.informed.latency, |r| {
            Box::new(Informed::new(a.informed.clone(), tick, r))
        });
    }
    for _ in 0..a.noise.count {
        seat(kernel, &mut lats, seed, &a.noise.latency, |r| {
            Box::new(Noise::new(a.noise.clone(), r))
        });
    }
    for _ in 0..a.momentum.count {
        seat(kernel, &mut lats, seed, &a.momentum.latency, |r| {
            Box::new(Momentum::new(a.momentum.clone(), r))
        });
    }
    for _ in 0..a.metaorder.count {
        seat(kernel, &mut lats, seed, &a.metaorder.latency, |r| {
            Box::new(MetaOrder::new(a.metaorder.clone(), tick, r))
        });
    }
    if let Some(program) = strategy {
        let agent = StrategyAgent::new(cfg.strategy.clone(), program, tick, cfg.market.lot_size)?;
        seat(kernel, &mut lats, seed, &cfg.strategy.latency, |_| {
            Box::new(agent)
        });
    }
    Ok(lats)
}

fn finish(mut kernel: Kernel, lats: &[Latency], tick: f64, lot: f64) -> SimOutput {
    let strategy = kernel.take_strategy_record();
    let n = kernel.agent_count();
    let mut agents = AgentTable::default();
    for (id, lat) in lats.iter().enumerate().take(n) {
        let kind = kernel.agent(id as u32).kind();
        agents.kind.push(kind.code());
        agents.position.push(kernel.engine().position(id as u32));
        agents
            .cash
            .push(kernel.recorder.cash_tl[id] as f64 * tick * lot);
        agents.fees.push(kernel.recorder.fees[id]);
        agents.volume.push(kernel.recorder.volume[id]);
        agents.order_latency_ns.push(lat.order);
        agents.md_latency_ns.push(lat.md);
    }
    let final_mid = kernel.history().latest().mid;
    let fundamental_jumps = kernel.fundamental().jumps();
    let stats = kernel.stats;
    let rec = std::mem::take(&mut kernel.recorder);
    SimOutput {
        events: rec.events,
        trades: rec.trades,
        top: rec.top,
        l2: rec.l2,
        mids: rec.mids,
        agents,
        strategy,
        stats,
        final_mid,
        fundamental_jumps,
    }
}

#[cfg(test)]
#[path = "run_tests.rs"]
mod tests;
