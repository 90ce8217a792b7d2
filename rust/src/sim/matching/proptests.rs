//! Property tests: random streams of submits (every kind), cancels and amends give exactly the
//! events and book of a plain reference model (a list of orders scanned for the best price,
//! then the lowest priority); quantities are conserved, the book is never crossed, every
//! trade has a maker and a taker of different agents, fees are exact; and the L2 deltas,
//! applied to the previous snapshot by the crate's L2 book, reproduce the next book.

use std::collections::HashMap;

use proptest::prelude::*;

use super::tests::cfg;
use super::*;
use crate::book::{MessageFields, OrderBook, RowBuffer};

/// The matching rules written as plainly as possible.
struct Model {
    cfg: EngineConfig,
    resting: Vec<RestingOrder>,
    positions: HashMap<AgentId, i64>,
    next_id: OrderId,
    next_priority: u64,
}

impl Model {
    fn new(cfg: EngineConfig) -> Self {
        Self {
            cfg,
            resting: Vec::new(),
            positions: HashMap::new(),
            next_id: 1,
            next_priority: 0,
        }
    }

    fn best(&self, side: Side) -> Option<i64> {
        let px = self
            .resting
            .iter()
            .filter(|o| o.side == side)
            .map(|o| o.price);
        match side {
            Side::Buy => px.max(),
            Side::Sell => px.min(),
        }
    }

    fn crosses(&self, side: Side, price: i64) -> bool {
        match side {
            Side::Buy => self.best(Side::Sell).is_some_and(|a| price >= a),
            Side::Sell => self.best(Side::Buy).is_some_and(|b| price <= b),
        }
    }

    /// Index of the next maker for a taker on `side` with `limit`.
    fn next_maker(&self, side: Side, limit: Option<i64>) -> Option<usize> {
        let ok = |p: i64| match (side, limit) {
            (_, None) => true,
            (Side::Buy, Some(l)) => p <= l,
            (Side::Sell, Some(l)) => p >= l,
        };
        let rank = |o: &RestingOrder| (o.price * side.sign(), o.priority);
        (0..self.resting.len())
            .filter(|&i| self.resting[i].side != side && ok(self.resting[i].price))
            .min_by_key(|&i| rank(&self.resting[i]))
    }

    /// Match a taker; returns (leaves, cancelled by STP).
    #[allow(clippy::too_many_arguments)]
    fn take(
        &mut self,
        ts: i64,
        id: OrderId,
        agent: AgentId,
        side: Side,
        limit: Option<i64>,
        mut leaves: i64,
        out: &mut Vec<Event>,
    ) -> (i64, bool) {
        while leaves > 0 {
            let Some(i) = self.next_maker(side, limit) else {
                break;
            };
            let m = self.resting[i];
            if m.agent == agent {
                if self.cfg.stp != StpMode::CancelTaker {
                    self.resting.remove(i);
                    out.push(Event::Cancelled {
                        ts,
                        order: m.id,
                        agent: m.agent,
                        client_id: m.client_id,
                        remaining: m.leaves,
                        reason: CancelReason::SelfTrade,
                    });
                }
                if self.cfg.stp != StpMode::CancelMaker {
                    return (leaves, true);
                }
                continue;
            }
            let q = leaves.min(m.leaves);
            leaves -= q;
            self.resting[i].leaves -= q;
            *self.positions.entry(m.agent).or_default() += m.side.sign() * q;
            *self.positions.entry(agent).or_default() += side.sign() * q;
            out.push(Event::Trade {
                ts,
                price: m.price,
                qty: q,
                maker_order: m.id,
                maker_agent: m.agent,
                taker_order: id,
                taker_agent: agent,
                taker_side: side,
                maker_fee: m.price as f64 * 0.5 * q as f64 * 0.001 * self.cfg.maker_fee,
                taker_fee: m.price as f64 * 0.5 * q as f64 * 0.001 * self.cfg.taker_fee,
                maker_leaves: m.leaves - q,
                taker_leaves: leaves,
            });
            if m.leaves == q {
                self.resting.remove(i);
            }
        }
        (leaves, false)
    }

    fn rest(&mut self, mut o: RestingOrder) {
        o.priority = self.next_priority;
        self.next_priority += 1;
        self.resting.push(o);
    }

    fn submit(&mut self, ts: i64, o: NewOrder, out: &mut Vec<Event>) {
        let id = self.next_id;
        self.next_id += 1;
        let reject = |reason| Event::Rejected {
            ts,
            order: id,
            agent: o.agent,
            client_id: o.client_id,
            action: Action::Submit,
            reason,
        };
        if o.qty < 1 {
            return out.push(reject(RejectReason::InvalidQty));
        }
        let pos = self.positions.get(&o.agent).copied().unwrap_or(0);
        let cap = -o.side.sign() * pos;
        if o.reduce_only && cap <= 0 {
            return out.push(reject(RejectReason::ReduceOnlyWouldIncrease));
        }
        let qty = if o.reduce_only { o.qty.min(cap) } else { o.qty };
        let (price, tif) = match o.kind {
            OrderKind::Limit { price, tif } => (Some(price), Some(tif)),
            OrderKind::Market => (None, None),
        };
        if let (Some(p), Some(TimeInForce::PostOnly)) = (price, tif) {
            if self.crosses(o.side, p) {
                return out.push(reject(RejectReason::PostOnlyWouldCross));
            }
        }
        if tif == Some(TimeInForce::Fok) {
            // Try it on a copy: the real book must stay untouched when it cannot fill.
            let mut trial = Model {
                cfg: self.cfg,
                resting: self.resting.clone(),
                positions: self.positions.clone(),
                next_id: 0,
                next_priority: 0,
            };
            let (left, stp) = trial.take(ts, id, o.agent, o.side, price, qty, &mut Vec::new());
            if left > 0 || stp {
                return out.push(reject(RejectReason::FokNotFillable));
            }
        }
        out.push(Event::Accepted {
            ts,
            order: id,
            agent: o.agent,
            client_id: o.client_id,
            side: o.side,
            price,
            qty,
            tif,
        });
        let (leaves, stp) = self.take(ts, id, o.agent, o.side, price, qty, out);
        let rests = matches!(tif, Some(TimeInForce::Gtc | TimeInForce::PostOnly));
        if leaves > 0 && (stp || !rests) {
            out.push(Event::Cancelled {
                ts,
                order: id,
                agent: o.agent,
                client_id: o.client_id,
                remaining: leaves,
                reason: if stp {
                    CancelReason::SelfTrade
                } else {
                    CancelReason::Unfilled
                },
            });
        } else if leaves > 0 {
            self.rest(RestingOrder {
                id,
                agent: o.agent,
                client_id: o.client_id,
                side: o.side,
                price: price.unwrap(),
                qty,
                leaves,
                tif: tif.unwrap(),
                reduce_only: o.reduce_only,
                created_ts: ts,
                priority: 0,
            });
        }
    }

    fn find(&self, ts: i64, agent: AgentId, id: OrderId, action: Action) -> Result<usize, Event> {
        let reason = match self.resting.iter().position(|o| o.id == id) {
            Some(i) if self.resting[i].agent == agent => return Ok(i),
            Some(_) => RejectReason::NotOwner,
            None => RejectReason::UnknownOrder,
        };
        Err(Event::Rejected {
            ts,
            order: id,
            agent,
            client_id: 0,
            action,
            reason,
        })
    }

    fn cancel(&mut self, ts: i64, agent: AgentId, id: OrderId, out: &mut Vec<Event>) {
        match self.find(ts, agent, id, Action::Cancel) {
            Err(e) => out.push(e),
            Ok(i) => {
                let o = self.resting.remove(i);
                out.push(Event::Cancelled {
                    ts,
                    order: id,
                    agent,
                    client_id: o.client_id,
                    remaining: o.leaves,
                    reason: CancelReason::User,
                });
            }
        }
    }

    fn cancel_all(&mut self, ts: i64, agent: AgentId, out: &mut Vec<Event>) {
        let mut mine: Vec<RestingOrder> = self
            .resting
            .iter()
            .filter(|o| o.agent == agent)
            .copied()
            .collect();
        mine.sort_by_key(|o| std::cmp::Reverse(o.priority));
        for o in mine {
            self.cancel(ts, agent, o.id, out);
        }
    }

    fn amend(
        &mut self,
        ts: i64,
        a: AgentId,
        id: OrderId,
        q: Option<i64>,
        p: Option<i64>,
        out: &mut Vec<Event>,
    ) {
        let i = match self.find(ts, a, id, Action::Amend) {
            Err(e) => return out.push(e),
            Ok(i) => i,
        };
        let o = self.resting[i];
        let (nq, np) = (q.unwrap_or(o.qty), p.unwrap_or(o.price));
        let filled = o.qty - o.leaves;
        let why = if q.is_none() && p.is_none() {
            Some(RejectReason::NothingToAmend)
        } else if nq <= filled {
            Some(RejectReason::InvalidQty)
        } else if np < 1 {
            Some(RejectReason::InvalidPrice)
        } else if np != o.price && o.tif == TimeInForce::PostOnly && self.crosses(o.side, np) {
            Some(RejectReason::PostOnlyWouldCross)
        } else {
            None
        };
        if let Some(reason) = why {
            return out.push(Event::Rejected {
                ts,
                order: id,
                agent: a,
                client_id: o.client_id,
                action: Action::Amend,
                reason,
            });
        }
        let keep = np == o.price && nq <= o.qty;
        out.push(Event::Amended {
            ts,
            order: id,
            agent: a,
            client_id: o.client_id,
            price: np,
            qty: nq,
            leaves: nq - filled,
            kept_priority: keep,
        });
        if keep {
            self.resting[i].qty = nq;
            self.resting[i].leaves = nq - filled;
            return;
        }
        self.resting.remove(i);
        let (leaves, stp) = self.take(ts, id, a, o.side, Some(np), nq - filled, out);
        if stp {
            out.push(Event::Cancelled {
                ts,
                order: id,
                agent: a,
                client_id: o.client_id,
                remaining: leaves,
                reason: CancelReason::SelfTrade,
            });
        } else if leaves > 0 {
            self.rest(RestingOrder {
                price: np,
                qty: nq,
                leaves,
                ..o
            });
        }
    }

    /// Aggregated levels of `side`, best first.
    fn depth(&self, side: Side) -> Vec<(i64, i64)> {
        let mut levels: Vec<(i64, i64)> = Vec::new();
        let mut orders: Vec<_> = self.resting.iter().filter(|o| o.side == side).collect();
        orders.sort_by_key(|o| -o.price * side.sign());
        for o in orders {
            match levels.last_mut() {
                Some(l) if l.0 == o.price => l.1 += o.leaves,
                _ => levels.push((o.price, o.leaves)),
            }
        }
        levels
    }
}

#[derive(Clone, Debug)]
enum Op {
    Submit(NewOrder),
    /// Cancel the `pick`-th resting order (or an unknown id when none rest), as its owner
    /// unless `stranger`.
    Cancel {
        pick: usize,
        stranger: bool,
    },
    Amend {
        pick: usize,
        stranger: bool,
        qty: Option<i64>,
        price: Option<i64>,
    },
    CancelAll {
        agent: AgentId,
    },
}

/// Limit prices: near one another (narrow) or spread over hundreds of ticks (wide, with a
/// small dense window so levels live outside it and the window moves).
fn price(wide: bool) -> impl Strategy<Value = i64> {
    if wide {
        prop_oneof![3 => 150i64..170, 1 => 1i64..400].boxed()
    } else {
        (95i64..106).boxed()
    }
}

fn new_order_in(wide: bool) -> impl Strategy<Value = NewOrder> {
    let tif = prop_oneof![
        4 => Just(TimeInForce::Gtc),
        1 => Just(TimeInForce::Ioc),
        1 => Just(TimeInForce::Fok),
        2 => Just(TimeInForce::PostOnly),
    ];
    let kind = prop_oneof![
        6 => (price(wide), tif).prop_map(|(price, tif)| OrderKind::Limit { price, tif }),
        1 => Just(OrderKind::Market),
    ];
    let side = prop_oneof![Just(Side::Buy), Just(Side::Sell)];
    let qty = prop_oneof![20 => 1i64..12, 1 => -1i64..1];
    (
        0u32..4,
        side,
        kind,
        qty,
        prop::bool::weighted(0.1),
        0u64..100,
    )
        .prop_map(
            |(agent, side, kind, qty, reduce_only, client_id)| NewOrder {
                agent,
                client_id,
                side,
                kind,
                qty,
                reduce_only,
            },
        )
}

fn op() -> impl Strategy<Value = Op> {
    op_in(false)
}

fn op_in(wide: bool) -> impl Strategy<Value = Op> {
    let stranger = prop::bool::weighted(0.1);
    let amend_price = if wide {
        (1i64..400).boxed()
    } else {
        (94i64..107).boxed()
    };
    prop_oneof![
        6 => new_order_in(wide).prop_map(Op::Submit),
        2 => (any::<usize>(), stranger).prop_map(|(pick, stranger)| Op::Cancel { pick, stranger }),
        2 => (
            any::<usize>(),
            stranger,
            prop::option::weighted(0.7, 0i64..14),
            prop::option::weighted(0.5, amend_price)
        )
            .prop_map(|(pick, stranger, qty, price)| Op::Amend { pick, stranger, qty, price }),
        1 => (0u32..5).prop_map(|agent| Op::CancelAll { agent }),
    ]
}

fn stp_mode() -> impl Strategy<Value = StpMode> {
    prop_oneof![
        Just(StpMode::CancelTaker),
        Just(StpMode::CancelMaker),
        Just(StpMode::CancelBoth)
    ]
}

/// The (agent, id) an Op targets, chosen among the model's resting orders.
fn target(model: &Model, pick: usize, stranger: bool) -> (AgentId, OrderId) {
    if model.resting.is_empty() {
        return (0, 1_000_000);
    }
    let o = &model.resting[pick % model.resting.len()];
    (if stranger { o.agent + 1 } else { o.agent }, o.id)
}

/// Per order: its latest total qty and what became of it (filled, cancelled).
#[derive(Default)]
struct Ledger {
    total: HashMap<OrderId, i64>,
    filled: HashMap<OrderId, i64>,
    cancelled: HashMap<OrderId, i64>,
}

impl Ledger {
    fn record(&mut self, e: &Event, cfg: &EngineConfig) -> Result<(), TestCaseError> {
        match *e {
            Event::Accepted { order, qty, .. } | Event::Amended { order, qty, .. } => {
                self.total.insert(order, qty);
            }
            Event::Trade {
                price,
                qty,
                maker_order,
                maker_agent,
                taker_order,
                taker_agent,
                maker_fee,
                taker_fee,
                ..
            } => {
                prop_assert!(maker_agent != taker_agent && maker_order != taker_order);
                prop_assert!(qty > 0);
                prop_assert_eq!(maker_fee, cfg.fee(price, qty, cfg.maker_fee));
                prop_assert_eq!(taker_fee, cfg.fee(price, qty, cfg.taker_fee));
                *self.filled.entry(maker_order).or_default() += qty;
                *self.filled.entry(taker_order).or_default() += qty;
            }
            Event::Cancelled {
                order, remaining, ..
            } => {
                prop_assert!(remaining > 0);
                *self.cancelled.entry(order).or_default() += remaining;
            }
            Event::Rejected { .. } => {}
        }
        Ok(())
    }

    /// Every accepted order: total = filled + cancelled + resting.
    fn check(&self, e: &MatchingEngine) -> Result<(), TestCaseError> {
        for (id, total) in &self.total {
            let f = self.filled.get(id).copied().unwrap_or(0);
            let c = self.cancelled.get(id).copied().unwrap_or(0);
            let r = e.order(*id).map_or(0, |o| o.leaves);
            prop_assert_eq!(*total, f + c + r, "order {}", id);
        }
        Ok(())
    }
}

fn run_op(
    e: &mut MatchingEngine,
    m: &mut Model,
    ts: i64,
    op: &Op,
    ev: &mut Vec<Event>,
    mev: &mut Vec<Event>,
) {
    match *op {
        Op::Submit(o) => {
            e.submit(ts, o, ev);
            m.submit(ts, o, mev);
        }
        Op::Cancel { pick, stranger } => {
            let (a, id) = target(m, pick, stranger);
            e.cancel(ts, a, id, ev);
            m.cancel(ts, a, id, mev);
        }
        Op::Amend {
            pick,
            stranger,
            qty,
            price,
        } => {
            let (a, id) = target(m, pick, stranger);
            e.amend(ts, a, id, qty, price, ev);
            m.amend(ts, a, id, qty, price, mev);
        }
        Op::CancelAll { agent } => {
            e.cancel_all(ts, agent, ev);
            m.cancel_all(ts, agent, mev);
        }
    }
}

/// Apply an L2 update to the crate's L2 book as one Bybit message.
fn apply_l2(book: &mut OrderBook, up: &L2Update) {
    let mut rows = RowBuffer::default();
    for (levels, s) in [(&up.bids, 1i8), (&up.asks, -1i8)] {
        for &(p, q) in levels {
            rows.push_level(p as f64, q as f64, s);
        }
    }
    let fields = MessageFields {
        exch_ts: up.ts,
        local_ts: up.ts,
        update_id: up.u as i64,
        prev_update_id: up.u as i64 - 1,
        seq: up.seq as i64,
        snapshot: up.snapshot,
    };
    rows.finish_message(0, &fields);
    book.apply_rows(&rows.as_rows()).unwrap();
}

fn book_levels(book: &OrderBook, n: usize) -> (Levels, Levels) {
    let (b, a) = book.depth(n);
    let ticks = |v: Vec<(f64, f64)>| v.into_iter().map(|(p, q)| (p as i64, q as i64)).collect();
    (ticks(b), ticks(a))
}

/// Run `ops` through the engine and the model; everything observable must agree.
fn check_against_model(ops: &[Op], stp: StpMode, window: usize) -> Result<(), TestCaseError> {
    let c = cfg(stp);
    let mut e = MatchingEngine::with_window(c, window).unwrap();
    let mut m = Model::new(c);
    let mut ledger = Ledger::default();
    let (mut ev, mut mev) = (Vec::new(), Vec::new());
    for (k, op) in ops.iter().enumerate() {
        ev.clear();
        mev.clear();
        run_op(&mut e, &mut m, k as i64, op, &mut ev, &mut mev);
        prop_assert_eq!(&ev, &mev, "op {} {:?}", k, op);
        for x in &ev {
            ledger.record(x, &c)?;
        }
        let (bids, asks) = (m.depth(Side::Buy), m.depth(Side::Sell));
        let mut got = Vec::new();
        e.depth(Side::Buy, usize::MAX, &mut got);
        prop_assert_eq!(&got, &bids);
        e.depth(Side::Sell, usize::MAX, &mut got);
        prop_assert_eq!(&got, &asks);
        if let (Some((b, _)), Some((a, _))) = (e.best_bid(), e.best_ask()) {
            prop_assert!(b < a, "crossed: {} >= {}", b, a);
        }
        for o in &m.resting {
            prop_assert_eq!(e.order(o.id), Some(o));
        }
        prop_assert_eq!(e.order_count(), m.resting.len());
        for agent in 0..5 {
            prop_assert_eq!(
                e.position(agent),
                m.positions.get(&agent).copied().unwrap_or(0)
            );
            let mut mine: Vec<_> = m.resting.iter().filter(|o| o.agent == agent).collect();
            mine.sort_by_key(|o| std::cmp::Reverse(o.priority));
            prop_assert_eq!(e.open_orders(agent).collect::<Vec<_>>(), mine);
        }
    }
    ledger.check(&e)?;
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn engine_equals_model(ops in prop::collection::vec(op(), 1..120), stp in stp_mode()) {
        check_against_model(&ops, stp, 1 << 14)?;
    }

    #[test]
    fn engine_equals_model_with_prices_outside_the_window(
        ops in prop::collection::vec(op_in(true), 1..120),
        stp in stp_mode(),
        window in 64usize..200,
    ) {
        check_against_model(&ops, stp, window)?;
    }

    #[test]
    fn l2_deltas_rebuild_the_book(ops in prop::collection::vec(op(), 1..120), depth in 1usize..6, every in 1usize..4) {
        let c = cfg(StpMode::CancelMaker);
        let mut e = MatchingEngine::new(c).unwrap();
        let mut m = Model::new(c);
        let mut publisher = L2Publisher::new(depth).unwrap();
        let mut book = OrderBook::new(1.0).unwrap();
        let (mut ev, mut mev) = (Vec::new(), Vec::new());
        let mut last_u = 0;
        for (k, op) in ops.iter().enumerate() {
            run_op(&mut e, &mut m, k as i64, op, &mut ev, &mut mev);
            if k % every != 0 {
                continue;
            }
            let Some(up) = publisher.publish(&e, k as i64) else { continue };
            prop_assert_eq!(up.u, last_u + 1);
            prop_assert!(up.snapshot == (last_u == 0));
            last_u = up.u;
            apply_l2(&mut book, &up);
            prop_assert!(book.is_valid());
            let (mut b, mut a) = (Vec::new(), Vec::new());
            e.depth(Side::Buy, depth, &mut b);
            e.depth(Side::Sell, depth, &mut a);
            // The whole L2 book, not its top N: a level that left the top N must be deleted.
            prop_assert_eq!(book_levels(&book, usize::MAX), (b, a));
        }
    }
}
