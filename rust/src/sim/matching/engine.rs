//! The matching engine: price-time priority on a tick grid, every request answered by events.
//!
//! Amend rules: lowering the quantity at the same price keeps the queue position; raising
//! it or changing the price sends the order to the back of its (new) level, and a new price
//! that crosses trades at once like a new order. Quantities in amends are new totals (filled
//! included), as on Bybit; a PostOnly order amended to a crossing price is refused and stays
//! as it was. Reduce-only is checked at submission only.
//!
//! Self-trade prevention meets the taker's own resting orders in queue order: CancelTaker
//! cancels the taker's remainder there, CancelMaker cancels that resting order and goes on,
//! CancelBoth does both. FOK counts only the liquidity it could take before STP would stop it.
//! Event order per request: Accepted (or Rejected / Amended), then trades and STP cancels as
//! they happen, then the taker's cancel (IOC, FOK, Market remainder or STP), if any.

use super::level::{BookSide, Level, WINDOW};
use super::slab::{Slab, NIL};
use super::types::*;
use crate::error::CoreResult;

/// What the engine keeps per agent.
#[derive(Clone, Copy, Debug, Default)]
struct AgentState {
    /// Net filled quantity in lots (long > 0).
    position: i64,
    /// Orders resting on the book.
    open: u32,
}

/// The incoming side of a match.
struct Taker {
    id: OrderId,
    agent: AgentId,
    side: Side,
    limit: Option<i64>,
    leaves: i64,
}

pub struct MatchingEngine {
    cfg: EngineConfig,
    bids: BookSide,
    asks: BookSide,
    slab: Slab,
    agents: Vec<AgentState>,
    next_id: OrderId,
    next_priority: u64,
    seq: u64,
}

impl MatchingEngine {
    pub fn new(cfg: EngineConfig) -> CoreResult<Self> {
        Self::with_window(cfg, WINDOW)
    }

    /// An engine whose sides keep `window` ticks dense (tests use small ones so prices spill
    /// outside the window and the window moves).
    pub(super) fn with_window(cfg: EngineConfig, window: usize) -> CoreResult<Self> {
        cfg.validate()?;
        Ok(Self {
            cfg,
            bids: BookSide::with_window(Side::Buy, window),
            asks: BookSide::with_window(Side::Sell, window),
            slab: Slab::default(),
            agents: Vec::new(),
            next_id: 1,
            next_priority: 0,
            seq: 0,
        })
    }

    pub fn config(&self) -> &EngineConfig {
        &self.cfg
    }

    /// Requests (submit, cancel, amend) handled so far; Bybit's cross sequence for L2 updates.
    pub fn seq(&self) -> u64 {
        self.seq
    }

    /// Submit an order; its id is returned even when it is rejected.
    pub fn submit(&mut self, ts: i64, o: NewOrder, out: &mut Vec<Event>) -> OrderId {
        let id = self.next_id;
        self.next_id += 1;
        self.seq += 1;
        let qty = match self.admit(&o) {
            Ok(q) => q,
            Err(reason) => {
                out.push(Event::Rejected {
                    ts,
                    order: id,
                    agent: o.agent,
                    client_id: o.client_id,
                    action: Action::Submit,
                    reason,
                });
                return id;
            }
        };
        let (price, tif) = match o.kind {
            OrderKind::Limit { price, tif } => (Some(price), Some(tif)),
            OrderKind::Market => (None, None),
        };
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
        let mut t = Taker {
            id,
            agent: o.agent,
            side: o.side,
            limit: price,
            leaves: qty,
        };
        let stp = self.match_taker(ts, &mut t, out);
        let rests = matches!(tif, Some(TimeInForce::Gtc | TimeInForce::PostOnly));
        if t.leaves == 0 {
            return id;
        }
        if stp || !rests {
            let reason = if stp {
                CancelReason::SelfTrade
            } else {
                CancelReason::Unfilled
            };
            out.push(Event::Cancelled {
                ts,
                order: id,
                agent: o.agent,
                client_id: o.client_id,
                remaining: t.leaves,
                reason,
            });
        } else if let (Some(price), Some(tif)) = (price, tif) {
            self.rest(RestingOrder {
                id,
                agent: o.agent,
                client_id: o.client_id,
                side: o.side,
                price,
                qty,
                leaves: t.leaves,
                tif,
                reduce_only: o.reduce_only,
                created_ts: ts,
                priority: 0,
            });
        }
        id
    }

    /// Check an order against the rules and the book; the quantity to accept, or why not.
    fn admit(&mut self, o: &NewOrder) -> Result<i64, RejectReason> {
        if o.agent > MAX_AGENT {
            return Err(RejectReason::InvalidAgent);
        }
        if !(1..=MAX_QTY).contains(&o.qty) {
            return Err(RejectReason::InvalidQty);
        }
        self.ensure_agent(o.agent);
        let mut qty = o.qty;
        if o.reduce_only {
            let cap = -o.side.sign() * self.agents[o.agent as usize].position;
            if cap <= 0 {
                return Err(RejectReason::ReduceOnlyWouldIncrease);
            }
            qty = qty.min(cap);
        }
        if let OrderKind::Limit { price, tif } = o.kind {
            if !(1..=MAX_PRICE).contains(&price) {
                return Err(RejectReason::InvalidPrice);
            }
            if tif == TimeInForce::PostOnly && self.crosses(o.side, price) {
                return Err(RejectReason::PostOnlyWouldCross);
            }
            if tif == TimeInForce::Fok && self.fillable(o.agent, o.side, price, qty) < qty {
                return Err(RejectReason::FokNotFillable);
            }
        }
        Ok(qty)
    }

    fn ensure_agent(&mut self, agent: AgentId) {
        let need = agent as usize + 1;
        if self.agents.len() < need {
            self.agents.resize(need, AgentState::default());
        }
    }

    /// True when a limit order at `price` on `side` would trade on arrival.
    fn crosses(&self, side: Side, price: i64) -> bool {
        match side {
            Side::Buy => self.asks.best().is_some_and(|l| price >= l.price),
            Side::Sell => self.bids.best().is_some_and(|l| price <= l.price),
        }
    }

    /// Quantity a taker could fill up to `limit` before self-trade prevention would stop it;
    /// reads the book only (FOK decides before touching it).
    fn fillable(&self, agent: AgentId, side: Side, limit: i64, want: i64) -> i64 {
        let book = self.opposite(side);
        let has_own = self.agents[agent as usize].open > 0;
        let mut sum = 0;
        book.for_each_best_first(|level| {
            if sum >= want || !price_ok(side, limit, level.price) {
                return false;
            }
            if !has_own {
                sum += level.total;
                return true;
            }
            let mut slot = level.head;
            while slot != NIL && sum < want {
                let node = self.slab.node(slot);
                if node.order.agent != agent {
                    sum += node.order.leaves;
                } else if self.cfg.stp != StpMode::CancelMaker {
                    return false;
                }
                slot = node.next;
            }
            true
        });
        sum
    }

    fn opposite(&self, side: Side) -> &BookSide {
        match side {
            Side::Buy => &self.asks,
            Side::Sell => &self.bids,
        }
    }

    fn book_mut(&mut self, side: Side) -> &mut BookSide {
        match side {
            Side::Buy => &mut self.bids,
            Side::Sell => &mut self.asks,
        }
    }

    /// Trade `t` against the opposite side, best price first, oldest first within a level.
    /// True when self-trade prevention cancelled the taker's remainder.
    fn match_taker(&mut self, ts: i64, t: &mut Taker, out: &mut Vec<Event>) -> bool {
        let cfg = self.cfg;
        let (book, slab, agents) = match t.side {
            Side::Buy => (&mut self.asks, &mut self.slab, &mut self.agents),
            Side::Sell => (&mut self.bids, &mut self.slab, &mut self.agents),
        };
        while t.leaves > 0 {
            let Some(&level) = book.best() else { break };
            if let Some(limit) = t.limit {
                if !price_ok(t.side, limit, level.price) {
                    break;
                }
            }
            let mut slot = level.head;
            while t.leaves > 0 && slot != NIL {
                let node = *slab.node(slot);
                let m = node.order;
                if m.agent == t.agent {
                    if cfg.stp != StpMode::CancelTaker {
                        book.unlink(level.price, slot, slab);
                        slab.remove(slot);
                        agents[m.agent as usize].open -= 1;
                        out.push(Event::Cancelled {
                            ts,
                            order: m.id,
                            agent: m.agent,
                            client_id: m.client_id,
                            remaining: m.leaves,
                            reason: CancelReason::SelfTrade,
                        });
                    }
                    if cfg.stp != StpMode::CancelMaker {
                        return true;
                    }
                    slot = node.next;
                    continue;
                }
                let q = t.leaves.min(m.leaves);
                t.leaves -= q;
                let maker_leaves = m.leaves - q;
                agents[m.agent as usize].position += m.side.sign() * q;
                agents[t.agent as usize].position += t.side.sign() * q;
                out.push(Event::Trade {
                    ts,
                    price: level.price,
                    qty: q,
                    maker_order: m.id,
                    maker_agent: m.agent,
                    taker_order: t.id,
                    taker_agent: t.agent,
                    taker_side: t.side,
                    maker_fee: cfg.fee(level.price, q, cfg.maker_fee),
                    taker_fee: cfg.fee(level.price, q, cfg.taker_fee),
                    maker_leaves,
                    taker_leaves: t.leaves,
                });
                if maker_leaves == 0 {
                    book.unlink(level.price, slot, slab);
                    slab.remove(slot);
                    agents[m.agent as usize].open -= 1;
                } else {
                    slab.node_mut(slot).order.leaves = maker_leaves;
                    level_of(book, level.price).total -= q;
                }
                slot = node.next;
            }
        }
        false
    }

    /// Queue an order at the back of its level with a fresh priority.
    fn rest(&mut self, mut o: RestingOrder) {
        o.priority = self.next_priority;
        self.next_priority += 1;
        let slot = self.slab.insert(o);
        let (book, slab) = match o.side {
            Side::Buy => (&mut self.bids, &mut self.slab),
            Side::Sell => (&mut self.asks, &mut self.slab),
        };
        book.push_back(o.price, slot, slab);
        self.agents[o.agent as usize].open += 1;
    }

    /// Take a resting order off the book and forget it.
    fn remove_resting(&mut self, slot: u32) -> RestingOrder {
        let o = self.slab.node(slot).order;
        let (book, slab) = match o.side {
            Side::Buy => (&mut self.bids, &mut self.slab),
            Side::Sell => (&mut self.asks, &mut self.slab),
        };
        book.unlink(o.price, slot, slab);
        self.slab.remove(slot);
        self.agents[o.agent as usize].open -= 1;
        o
    }

    /// Find `id` for `agent`, or say why not with a rejection event.
    fn owned_slot(
        &self,
        ts: i64,
        agent: AgentId,
        id: OrderId,
        action: Action,
        out: &mut Vec<Event>,
    ) -> Option<u32> {
        let reason = match self.slab.slot_of(id) {
            Some(slot) if self.slab.node(slot).order.agent == agent => return Some(slot),
            Some(_) => RejectReason::NotOwner,
            None => RejectReason::UnknownOrder,
        };
        out.push(reject(ts, id, agent, 0, action, reason));
        None
    }

    /// Cancel a resting order of `agent`; false (with a rejection event) when it cannot.
    pub fn cancel(&mut self, ts: i64, agent: AgentId, id: OrderId, out: &mut Vec<Event>) -> bool {
        self.seq += 1;
        let Some(slot) = self.owned_slot(ts, agent, id, Action::Cancel, out) else {
            return false;
        };
        let o = self.remove_resting(slot);
        out.push(Event::Cancelled {
            ts,
            order: id,
            agent,
            client_id: o.client_id,
            remaining: o.leaves,
            reason: CancelReason::User,
        });
        true
    }

    /// Cancel every resting order of `agent` (newest first, one event each); how many.
    pub fn cancel_all(&mut self, ts: i64, agent: AgentId, out: &mut Vec<Event>) -> usize {
        self.seq += 1;
        let mut n = 0;
        while let Some(slot) = self.slab.newest_of(agent) {
            let o = self.remove_resting(slot);
            out.push(Event::Cancelled {
                ts,
                order: o.id,
                agent,
                client_id: o.client_id,
                remaining: o.leaves,
                reason: CancelReason::User,
            });
            n += 1;
        }
        n
    }

    /// Change a resting order's total quantity and/or price (see the module notes).
    pub fn amend(
        &mut self,
        ts: i64,
        agent: AgentId,
        id: OrderId,
        qty: Option<i64>,
        price: Option<i64>,
        out: &mut Vec<Event>,
    ) -> bool {
        self.seq += 1;
        let Some(slot) = self.owned_slot(ts, agent, id, Action::Amend, out) else {
            return false;
        };
        let o = self.slab.node(slot).order;
        let new_qty = qty.unwrap_or(o.qty);
        let new_price = price.unwrap_or(o.price);
        let why = if qty.is_none() && price.is_none() {
            Some(RejectReason::NothingToAmend)
        } else if new_qty <= o.filled() || new_qty > MAX_QTY {
            Some(RejectReason::InvalidQty)
        } else if !(1..=MAX_PRICE).contains(&new_price) {
            Some(RejectReason::InvalidPrice)
        } else if new_price != o.price
            && o.tif == TimeInForce::PostOnly
            && self.crosses(o.side, new_price)
        {
            Some(RejectReason::PostOnlyWouldCross)
        } else {
            None
        };
        if let Some(reason) = why {
            out.push(reject(ts, id, agent, o.client_id, Action::Amend, reason));
            return false;
        }
        let leaves = new_qty - o.filled();
        let keep = new_price == o.price && new_qty <= o.qty;
        out.push(Event::Amended {
            ts,
            order: id,
            agent,
            client_id: o.client_id,
            price: new_price,
            qty: new_qty,
            leaves,
            kept_priority: keep,
        });
        if keep {
            self.shrink_in_place(slot, new_qty, leaves);
        } else {
            self.requeue(ts, slot, new_qty, new_price, leaves, out);
        }
        true
    }

    fn shrink_in_place(&mut self, slot: u32, qty: i64, leaves: i64) {
        let o = self.slab.node(slot).order;
        let book = self.book_mut(o.side);
        level_of(book, o.price).total -= o.leaves - leaves;
        let order = &mut self.slab.node_mut(slot).order;
        order.qty = qty;
        order.leaves = leaves;
    }

    /// Re-enter an amended order as a taker at its new price, then rest what is left.
    fn requeue(
        &mut self,
        ts: i64,
        slot: u32,
        qty: i64,
        price: i64,
        leaves: i64,
        out: &mut Vec<Event>,
    ) {
        let o = self.remove_resting(slot);
        let mut t = Taker {
            id: o.id,
            agent: o.agent,
            side: o.side,
            limit: Some(price),
            leaves,
        };
        if self.match_taker(ts, &mut t, out) {
            out.push(Event::Cancelled {
                ts,
                order: o.id,
                agent: o.agent,
                client_id: o.client_id,
                remaining: t.leaves,
                reason: CancelReason::SelfTrade,
            });
        } else if t.leaves > 0 {
            self.rest(RestingOrder {
                price,
                qty,
                leaves: t.leaves,
                ..o
            });
        }
    }

    /// Best bid as (price ticks, total lots).
    pub fn best_bid(&self) -> Option<(i64, i64)> {
        self.bids.best().map(|l| (l.price, l.total))
    }

    /// Best ask as (price ticks, total lots).
    pub fn best_ask(&self) -> Option<(i64, i64)> {
        self.asks.best().map(|l| (l.price, l.total))
    }

    /// Replace `out` with the top `levels` of `side`, best first.
    pub fn depth(&self, side: Side, levels: usize, out: &mut Vec<(i64, i64)>) {
        out.clear();
        let book = match side {
            Side::Buy => &self.bids,
            Side::Sell => &self.asks,
        };
        if levels == 0 {
            return;
        }
        book.for_each_best_first(|l| {
            out.push((l.price, l.total));
            out.len() < levels
        });
    }

    /// Number of price levels on `side`.
    pub fn level_count(&self, side: Side) -> usize {
        match side {
            Side::Buy => self.bids.len(),
            Side::Sell => self.asks.len(),
        }
    }

    /// Number of resting orders.
    pub fn order_count(&self) -> usize {
        self.slab.len()
    }

    pub fn order(&self, id: OrderId) -> Option<&RestingOrder> {
        self.slab.slot_of(id).map(|s| &self.slab.node(s).order)
    }

    /// Resting orders of `agent`, newest first.
    pub fn open_orders(&self, agent: AgentId) -> impl Iterator<Item = &RestingOrder> {
        self.slab.of_agent(agent)
    }

    /// Net filled position of `agent` in lots (long > 0).
    pub fn position(&self, agent: AgentId) -> i64 {
        self.agents.get(agent as usize).map_or(0, |a| a.position)
    }

    /// Resting orders of one price level in queue order (front first).
    pub fn queue(&self, side: Side, price: i64) -> Vec<&RestingOrder> {
        let book = match side {
            Side::Buy => &self.bids,
            Side::Sell => &self.asks,
        };
        let mut v = Vec::new();
        if let Some(level) = book.get(price) {
            let mut slot = level.head;
            while slot != NIL {
                let node = self.slab.node(slot);
                v.push(&node.order);
                slot = node.next;
            }
        }
        v
    }
}

/// The level of a resting order (it exists while the order rests).
#[inline]
fn level_of(book: &mut BookSide, price: i64) -> &mut Level {
    book.get_mut(price)
        .expect("a resting order's level is on the book")
}

/// True when a taker on `side` with `limit` may trade at `price`.
#[inline]
fn price_ok(side: Side, limit: i64, price: i64) -> bool {
    match side {
        Side::Buy => price <= limit,
        Side::Sell => price >= limit,
    }
}

fn reject(
    ts: i64,
    order: OrderId,
    agent: AgentId,
    client_id: u64,
    action: Action,
    reason: RejectReason,
) -> Event {
    Event::Rejected {
        ts,
        order,
        agent,
        client_id,
        action,
        reason,
    }
}
