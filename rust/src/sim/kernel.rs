//! The discrete-event kernel: one queue ordered by (time ns, sequence), so equal times keep
//! the order they were scheduled in and a run is a pure function of its seed. Agents talk to
//! the matching engine only through it: requests reach the exchange after the agent's order
//! latency, own order events come back after the same latency, and book/trade updates reach
//! subscribers after their market-data latency (coalesced: one pending delivery per agent,
//! which shows the state as of delivery time − latency).

use super::agents::{Agent, Ctx, MarketHistory, OwnEvent, Request};
use super::matching::{
    AgentId, Event, MatchingEngine, NewOrder, OrderId, OrderKind, Side, TimeInForce,
};
use super::process::FundamentalPath;
use super::queue::EventQueue;
use super::run::{Recorder, RunStats};
use super::Ns;

/// What happens at one instant.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Msg {
    Wake(AgentId),
    MarketData(AgentId),
    Submit {
        agent: AgentId,
        handle: u64,
        side: Side,
        kind: OrderKind,
        qty: i64,
    },
    Cancel {
        agent: AgentId,
        handle: u64,
    },
    Own(AgentId, OwnEvent),
    Sample(SampleKind),
}

/// Periodic recordings of the true (undelayed) market.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SampleKind {
    Top,
    L2,
    Mid,
}

/// An agent's fixed delays (ns).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Latency {
    pub order: Ns,
    pub md: Ns,
}

/// One seat at the exchange: the behaviour and how the kernel talks to it.
struct Seat {
    agent: Box<dyn Agent>,
    latency: Latency,
    subscribes: bool,
    wants_own: bool,
    md_pending: bool,
}

/// Periods of the recordings (0: never).
#[derive(Debug, Clone, Copy)]
pub struct SamplePeriods {
    pub top: Ns,
    pub l2: Ns,
    pub mid: Ns,
}

/// How the kernel runs: when to stop, what to sample, how market orders are protected.
#[derive(Debug, Clone, Copy)]
pub struct KernelConfig {
    pub end: Ns,
    pub periods: SamplePeriods,
    /// Market orders become IOC limits this fraction beyond the mid at arrival.
    pub price_band: f64,
}

pub struct Kernel {
    engine: MatchingEngine,
    seats: Vec<Seat>,
    subscribers: Vec<AgentId>,
    queue: EventQueue<Msg>,
    history: MarketHistory,
    fundamental: FundamentalPath,
    now: Ns,
    end: Ns,
    periods: SamplePeriods,
    price_band: f64,
    /// Engine order id of each handle (0 until the submit reaches the exchange).
    order_of_handle: Vec<OrderId>,
    /// Handle of each engine order id (ids are dense from 1).
    handle_of_order: Vec<u64>,
    next_handle: u64,
    requests: Vec<Request>,
    events: Vec<Event>,
    trades: Vec<(i64, i64, bool)>,
    pub(super) recorder: Recorder,
    pub(super) stats: RunStats,
}

impl Kernel {
    pub fn new(
        engine: MatchingEngine,
        history: MarketHistory,
        fundamental: FundamentalPath,
        cfg: KernelConfig,
        recorder: Recorder,
    ) -> Self {
        Self {
            engine,
            seats: Vec::new(),
            subscribers: Vec::new(),
            queue: EventQueue::default(),
            history,
            fundamental,
            now: 0,
            end: cfg.end,
            periods: cfg.periods,
            price_band: cfg.price_band,
            order_of_handle: vec![0],
            handle_of_order: vec![0],
            next_handle: 1,
            requests: Vec::new(),
            events: Vec::new(),
            trades: Vec::new(),
            recorder,
            stats: RunStats::default(),
        }
    }

    /// Seats an agent; its id is its index.
    pub fn add(&mut self, agent: Box<dyn Agent>, latency: Latency) -> AgentId {
        let id = AgentId::try_from(self.seats.len()).expect("fewer than 2^32 agents");
        if agent.subscribes() {
            self.subscribers.push(id);
        }
        self.seats.push(Seat {
            subscribes: agent.subscribes(),
            wants_own: agent.wants_own_events(),
            agent,
            latency,
            md_pending: false,
        });
        id
    }

    pub fn engine(&self) -> &MatchingEngine {
        &self.engine
    }

    pub fn history(&self) -> &MarketHistory {
        &self.history
    }

    pub fn fundamental(&self) -> &FundamentalPath {
        &self.fundamental
    }

    pub fn now(&self) -> Ns {
        self.now
    }

    pub fn agent_count(&self) -> usize {
        self.seats.len()
    }

    pub fn agent(&self, id: AgentId) -> &dyn Agent {
        self.seats[id as usize].agent.as_ref()
    }

    /// Runs every agent's `start`, then processes messages until the end time.
    pub fn run(&mut self) {
        for kind in [SampleKind::Top, SampleKind::L2, SampleKind::Mid] {
            if self.period(kind) > 0 {
                self.queue.push(0, Msg::Sample(kind));
            }
        }
        for id in 0..self.seats.len() {
            self.call(id as AgentId, |a, ctx| a.start(ctx));
        }
        while let Some((ts, msg)) = self.queue.pop() {
            if ts > self.end {
                break;
            }
            self.now = ts;
            self.dispatch(msg);
        }
        self.now = self.end;
    }

    fn dispatch(&mut self, msg: Msg) {
        match msg {
            Msg::Wake(a) => {
                self.stats.wakeups += 1;
                let view = *self.history.at(self.now, self.seats[a as usize].latency.md);
                self.call(a, |ag, ctx| ag.on_wakeup(ctx, &view));
            }
            Msg::MarketData(a) => self.deliver_market_data(a),
            Msg::Own(a, ev) => self.call(a, |ag, ctx| ag.on_own_event(ctx, &ev)),
            Msg::Submit {
                agent,
                handle,
                side,
                kind,
                qty,
            } => self.submit(agent, handle, side, kind, qty),
            Msg::Cancel { agent, handle } => self.cancel(agent, handle),
            Msg::Sample(kind) => self.sample(kind),
        }
    }

    /// Runs one agent callback and schedules what it asked for.
    fn call(&mut self, a: AgentId, f: impl FnOnce(&mut dyn Agent, &mut Ctx<'_>)) {
        let seat = &mut self.seats[a as usize];
        let mut ctx = Ctx::new(
            self.now,
            &self.fundamental,
            &mut self.requests,
            &mut self.next_handle,
        );
        f(seat.agent.as_mut(), &mut ctx);
        let lat = seat.latency.order;
        for r in self.requests.drain(..) {
            match r {
                Request::Submit {
                    handle,
                    side,
                    kind,
                    qty,
                } => {
                    let msg = Msg::Submit {
                        agent: a,
                        handle,
                        side,
                        kind,
                        qty,
                    };
                    self.queue.push(self.now + lat, msg);
                }
                Request::Cancel { handle } => {
                    self.queue
                        .push(self.now + lat, Msg::Cancel { agent: a, handle });
                }
                Request::CancelAt { handle, at } if at <= self.end => {
                    self.queue.push(at + lat, Msg::Cancel { agent: a, handle });
                }
                Request::CancelAt { .. } => {}
                Request::Wake(ts) if ts <= self.end => self.queue.push(ts, Msg::Wake(a)),
                Request::Wake(_) => {}
            }
        }
    }

    fn deliver_market_data(&mut self, a: AgentId) {
        self.stats.md_deliveries += 1;
        let lat = self.seats[a as usize].latency.md;
        self.seats[a as usize].md_pending = false;
        let view = *self.history.at(self.now, lat);
        self.call(a, |ag, ctx| ag.on_market_data(ctx, &view));
        // Changes after the state just shown are delivered in one more update.
        let latest = self.history.latest().ts;
        if latest > view.ts {
            self.seats[a as usize].md_pending = true;
            self.queue.push(latest + lat, Msg::MarketData(a));
        }
    }

    fn submit(&mut self, agent: AgentId, handle: u64, side: Side, kind: OrderKind, qty: i64) {
        self.stats.orders += 1;
        let order = NewOrder {
            agent,
            client_id: handle,
            side,
            kind: self.protect(side, kind),
            qty,
            reduce_only: false,
        };
        let mut events = std::mem::take(&mut self.events);
        events.clear();
        let id = self.engine.submit(self.now, order, &mut events);
        set_at(&mut self.order_of_handle, handle as usize, id);
        set_at(&mut self.handle_of_order, id as usize, handle);
        self.after_exchange(&events, handle);
        self.events = events;
    }

    /// A market order as the venue runs it: IOC at the mid ± the price band.
    fn protect(&self, side: Side, kind: OrderKind) -> OrderKind {
        if kind != OrderKind::Market {
            return kind;
        }
        let mid = self.history.latest().mid;
        let band = 1.0 + side.sign() as f64 * self.price_band;
        let price = if side == Side::Buy {
            (mid * band).floor()
        } else {
            (mid * band).ceil()
        };
        OrderKind::Limit {
            price: (price as i64).max(1),
            tif: TimeInForce::Ioc,
        }
    }

    fn cancel(&mut self, agent: AgentId, handle: u64) {
        let id = self
            .order_of_handle
            .get(handle as usize)
            .copied()
            .unwrap_or(0);
        if id == 0 {
            return;
        }
        self.stats.cancels += 1;
        let mut events = std::mem::take(&mut self.events);
        events.clear();
        self.engine.cancel(self.now, agent, id, &mut events);
        self.after_exchange(&events, handle);
        self.events = events;
    }

    /// Records the engine's events, routes own events, updates the public history.
    fn after_exchange(&mut self, events: &[Event], handle: u64) {
        self.trades.clear();
        for ev in events {
            self.recorder.event(ev);
            match *ev {
                Event::Trade {
                    price,
                    qty,
                    maker_order,
                    maker_agent,
                    taker_order,
                    taker_agent,
                    taker_side,
                    maker_fee,
                    taker_fee,
                    maker_leaves,
                    taker_leaves,
                    ..
                } => {
                    self.stats.trades += 1;
                    self.trades.push((price, qty, taker_side == Side::Buy));
                    self.recorder.trade(ev);
                    let maker = OwnEvent::Fill {
                        handle: self.handle_of(maker_order),
                        side: taker_side.opposite(),
                        price,
                        qty,
                        fee: maker_fee,
                        maker: true,
                        leaves: maker_leaves,
                    };
                    let taker = OwnEvent::Fill {
                        handle: self.handle_of(taker_order),
                        side: taker_side,
                        price,
                        qty,
                        fee: taker_fee,
                        maker: false,
                        leaves: taker_leaves,
                    };
                    self.send_own(maker_agent, maker);
                    self.send_own(taker_agent, taker);
                }
                Event::Cancelled {
                    agent,
                    client_id,
                    remaining,
                    ..
                } => self.send_own(
                    agent,
                    OwnEvent::Cancelled {
                        handle: client_id,
                        remaining,
                    },
                ),
                Event::Rejected { agent, action, .. } => {
                    let cancel = action != super::matching::Action::Submit;
                    self.stats.rejects += 1;
                    self.send_own(agent, OwnEvent::Rejected { handle, cancel });
                }
                Event::Accepted { .. } | Event::Amended { .. } => {}
            }
        }
        let changed = self.history.record(
            self.now,
            self.engine.best_bid(),
            self.engine.best_ask(),
            &self.trades,
        );
        if changed {
            self.notify_subscribers();
        }
    }

    fn handle_of(&self, order: OrderId) -> u64 {
        self.handle_of_order
            .get(order as usize)
            .copied()
            .unwrap_or(0)
    }

    fn send_own(&mut self, a: AgentId, ev: OwnEvent) {
        let seat = &self.seats[a as usize];
        if seat.wants_own {
            self.queue
                .push(self.now + seat.latency.order, Msg::Own(a, ev));
        }
    }

    fn notify_subscribers(&mut self) {
        for &a in &self.subscribers {
            let seat = &mut self.seats[a as usize];
            if seat.subscribes && !seat.md_pending {
                seat.md_pending = true;
                self.queue
                    .push(self.now + seat.latency.md, Msg::MarketData(a));
            }
        }
    }

    fn period(&self, kind: SampleKind) -> Ns {
        match kind {
            SampleKind::Top => self.periods.top,
            SampleKind::L2 => self.periods.l2,
            SampleKind::Mid => self.periods.mid,
        }
    }

    fn sample(&mut self, kind: SampleKind) {
        let value = self.fundamental.value_at(self.now);
        let mid = self.history.latest().mid;
        match kind {
            SampleKind::Top => {
                let last = self.history.latest().last_trade;
                let (bid, ask) = (self.engine.best_bid(), self.engine.best_ask());
                self.recorder.top(self.now, bid, ask, last, value);
            }
            SampleKind::L2 => self.recorder.l2(self.now, &self.engine),
            SampleKind::Mid => self.recorder.mid(self.now, mid, value),
        }
        let next = self.now + self.period(kind);
        if next <= self.end {
            self.queue.push(next, Msg::Sample(kind));
        }
    }

    /// Takes each agent's end-of-run record (only the strategy agent has one).
    pub fn take_strategy_record(&mut self) -> Option<super::agents::StrategyRecord> {
        let last = *self.history.latest();
        let now = self.now;
        self.seats
            .iter_mut()
            .find_map(|s| s.agent.take_record(now, &last))
    }
}

fn set_at(v: &mut Vec<u64>, i: usize, x: u64) {
    if v.len() <= i {
        v.resize(i + 1, 0);
    }
    v[i] = x;
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;
    use crate::sim::agents::{AgentKind, MarketView};
    use crate::sim::config::ProcessConfig;
    use crate::sim::matching::{EngineConfig, StpMode};
    use crate::sim::run::Recorder;

    type Log = Arc<Mutex<Vec<(Ns, String)>>>;

    /// Posts one ask at t = 1000 and logs its own events.
    struct Maker(Log);
    /// Logs market data and buys 2 lots at the first ask it sees.
    struct Taker(Log, bool);

    impl Agent for Maker {
        fn kind(&self) -> AgentKind {
            AgentKind::MarketMaker
        }
        fn start(&mut self, ctx: &mut Ctx<'_>) {
            ctx.wake_at(1_000);
        }
        fn on_wakeup(&mut self, ctx: &mut Ctx<'_>, _view: &MarketView) {
            ctx.limit(Side::Sell, 1_000, 5);
        }
        fn on_own_event(&mut self, ctx: &mut Ctx<'_>, ev: &OwnEvent) {
            self.0
                .lock()
                .unwrap()
                .push((ctx.now, format!("maker {ev:?}")));
        }
        fn wants_own_events(&self) -> bool {
            true
        }
    }

    impl Agent for Taker {
        fn kind(&self) -> AgentKind {
            AgentKind::Hft
        }
        fn start(&mut self, _ctx: &mut Ctx<'_>) {}
        fn on_wakeup(&mut self, _ctx: &mut Ctx<'_>, _view: &MarketView) {}
        fn on_market_data(&mut self, ctx: &mut Ctx<'_>, view: &MarketView) {
            let line = format!(
                "md seen_ts={} ask={} qty={}",
                view.ts, view.ask, view.ask_qty
            );
            self.0.lock().unwrap().push((ctx.now, line));
            if view.ask_qty > 0 && !self.1 {
                self.1 = true;
                ctx.market(Side::Buy, 2);
            }
        }
        fn subscribes(&self) -> bool {
            true
        }
    }

    fn kernel() -> Kernel {
        let engine = MatchingEngine::new(EngineConfig {
            tick_size: 1.0,
            lot_size: 1.0,
            maker_fee: 0.0,
            taker_fee: 0.001,
            stp: StpMode::CancelTaker,
        })
        .unwrap();
        let mut rng = crate::sim::agents::agent_rng(1, 0, 0);
        let process = ProcessConfig {
            initial_price: 1_000.0,
            ..ProcessConfig::default()
        };
        let path = FundamentalPath::generate(&process, 1_000_000, &mut rng).unwrap();
        let history = MarketHistory::new(1_000.0, 0.0, 10_000, 1_000_000_000);
        let cfg = KernelConfig {
            end: 1_000_000,
            periods: SamplePeriods {
                top: 0,
                l2: 0,
                mid: 0,
            },
            price_band: 0.05,
        };
        Kernel::new(engine, history, path, cfg, Recorder::new(true, 0, 2))
    }

    #[test]
    fn orders_and_data_arrive_after_each_agents_latency() {
        let log: Log = Arc::default();
        let mut k = kernel();
        k.add(Box::new(Maker(log.clone())), Latency { order: 300, md: 50 });
        k.add(
            Box::new(Taker(log.clone(), false)),
            Latency { order: 70, md: 20 },
        );
        k.run();
        let ev = &k.recorder.events;
        // The ask reaches the exchange after the maker's order latency …
        assert_eq!((ev.ts[0], ev.kind[0], ev.agent[0]), (1_300, 0, 0));
        // … the taker sees it after its market-data latency, and its buy lands 70 ns later.
        let log = log.lock().unwrap().clone();
        assert_eq!(
            log[0],
            (1_320, "md seen_ts=1300 ask=1000 qty=5".to_string())
        );
        let t = &k.recorder.trades;
        assert_eq!((t.ts[0], t.price[0], t.qty[0]), (1_390, 1_000, 2));
        assert_eq!(
            log[1],
            (1_410, "md seen_ts=1390 ask=1000 qty=3".to_string())
        );
        // The maker hears of its fill one order latency after the trade.
        assert_eq!(log[2].0, 1_690);
        assert!(
            log[2].1.contains("maker Fill") && log[2].1.contains("leaves: 3"),
            "{log:?}"
        );
        assert_eq!(log.len(), 3);
        assert_eq!(k.engine().position(1), 2);
        assert_eq!(k.stats.orders, 2);
        assert_eq!(k.stats.trades, 1);
    }

    /// Hash of every recorded event and trade column: equal streams give equal hashes.
    fn stream_hash(out: &crate::sim::run::SimOutput) -> u64 {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        let e = &out.events;
        (
            &e.ts, &e.kind, &e.agent, &e.order, &e.side, &e.price, &e.qty, &e.reason,
        )
            .hash(&mut h);
        let t = &out.trades;
        (
            &t.ts,
            &t.price,
            &t.qty,
            &t.maker_agent,
            &t.taker_agent,
            &t.maker_order,
        )
            .hash(&mut h);
        out.mids.mid.iter().for_each(|m| m.to_bits().hash(&mut h));
        h.finish()
    }

    /// Timing harness, not a test: `cargo test --release rmsc04_day -- --ignored --nocapture`.
    #[test]
    #[ignore = "timing harness (a simulated day), run by hand"]
    fn rmsc04_day() {
        let mut cfg = crate::sim::scenario::scenario("rmsc04").unwrap();
        cfg.seed = std::env::var("SIM_SEED").map_or(1, |s| s.parse().unwrap());
        let runs: usize = std::env::var("SIM_RUNS").map_or(3, |s| s.parse().unwrap());
        // CPU time of this thread (the machine is shared, so wall time says little).
        let cpu = || {
            let s = std::fs::read_to_string("/proc/thread-self/schedstat").unwrap_or_default();
            s.split(' ')
                .next()
                .and_then(|x| x.parse::<f64>().ok())
                .unwrap_or(0.0)
                * 1e-9
        };
        for _ in 0..runs {
            let (t0, c0) = (std::time::Instant::now(), cpu());
            let out = crate::sim::run::run(&cfg, None).unwrap();
            let (dt, dc) = (t0.elapsed().as_secs_f64(), cpu() - c0);
            let m = out.stats.messages();
            println!(
                "{:?} {m} msgs: wall {dt:.3} s = {:.0}/s, cpu {dc:.3} s = {:.0}/s, hash {:016x}",
                out.stats,
                m as f64 / dt,
                m as f64 / dc,
                stream_hash(&out)
            );
        }
    }

    #[test]
    fn a_market_order_is_capped_by_the_price_band() {
        let log: Log = Arc::default();
        let mut k = kernel();
        k.add(Box::new(Maker(log.clone())), Latency { order: 0, md: 0 });
        let mut ctx_reqs = Vec::new();
        let mut next = 1_000_000;
        let path = k.fundamental().clone();
        let mut ctx = Ctx::new(0, &path, &mut ctx_reqs, &mut next);
        ctx.market(Side::Buy, 1);
        // The history's mid is 1000 ticks and the band 5 %: a buy may pay up to 1050.
        assert_eq!(
            k.protect(Side::Buy, OrderKind::Market),
            OrderKind::Limit {
                price: 1_050,
                tif: TimeInForce::Ioc
            }
        );
        assert_eq!(
            k.protect(Side::Sell, OrderKind::Market),
            OrderKind::Limit {
                price: 950,
                tif: TimeInForce::Ioc
            }
        );
    }
}
