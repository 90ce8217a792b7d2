//! Hand-written cases: each order type, amend, cancel, each STP mode, fees, bad input, L2.

use super::*;

pub(super) fn cfg(stp: StpMode) -> EngineConfig {
    EngineConfig {
        tick_size: 0.5,
        lot_size: 0.001,
        maker_fee: -0.000_1,
        taker_fee: 0.000_55,
        stp,
    }
}

/// A resting order at `price` (for the book-side tests).
pub(super) fn resting(price: i64, side: Side) -> RestingOrder {
    RestingOrder {
        id: price as u64,
        agent: 1,
        client_id: 0,
        side,
        price,
        qty: 1,
        leaves: 1,
        tif: TimeInForce::Gtc,
        reduce_only: false,
        created_ts: 0,
        priority: 0,
    }
}

fn engine(stp: StpMode) -> MatchingEngine {
    MatchingEngine::new(cfg(stp)).unwrap()
}

fn limit(agent: AgentId, side: Side, price: i64, qty: i64, tif: TimeInForce) -> NewOrder {
    NewOrder {
        agent,
        client_id: 7,
        side,
        kind: OrderKind::Limit { price, tif },
        qty,
        reduce_only: false,
    }
}

fn gtc(agent: AgentId, side: Side, price: i64, qty: i64) -> NewOrder {
    limit(agent, side, price, qty, TimeInForce::Gtc)
}

fn market(agent: AgentId, side: Side, qty: i64) -> NewOrder {
    NewOrder {
        agent,
        client_id: 9,
        side,
        kind: OrderKind::Market,
        qty,
        reduce_only: false,
    }
}

/// (price, qty, maker order, taker order) of each trade.
fn trades(ev: &[Event]) -> Vec<(i64, i64, OrderId, OrderId)> {
    ev.iter()
        .filter_map(|e| match *e {
            Event::Trade {
                price,
                qty,
                maker_order,
                taker_order,
                ..
            } => Some((price, qty, maker_order, taker_order)),
            _ => None,
        })
        .collect()
}

fn cancels(ev: &[Event]) -> Vec<(OrderId, i64, CancelReason)> {
    ev.iter()
        .filter_map(|e| match *e {
            Event::Cancelled {
                order,
                remaining,
                reason,
                ..
            } => Some((order, remaining, reason)),
            _ => None,
        })
        .collect()
}

fn rejection(ev: &[Event]) -> Option<RejectReason> {
    ev.iter().find_map(|e| match *e {
        Event::Rejected { reason, .. } => Some(reason),
        _ => None,
    })
}

fn depth(e: &MatchingEngine, side: Side) -> Vec<(i64, i64)> {
    let mut v = Vec::new();
    e.depth(side, usize::MAX, &mut v);
    v
}

fn queue_ids(e: &MatchingEngine, side: Side, price: i64) -> Vec<OrderId> {
    e.queue(side, price).iter().map(|o| o.id).collect()
}

#[test]
fn bad_config_is_rejected() {
    for (tick, lot, fee) in [
        (0.0, 1.0, 0.0),
        (-0.5, 1.0, 0.0),
        (f64::NAN, 1.0, 0.0),
        (0.5, 0.0, 0.0),
        (0.5, f64::INFINITY, 0.0),
        (0.5, 1.0, f64::NAN),
        (0.5, 1.0, 1.5),
    ] {
        let c = EngineConfig {
            tick_size: tick,
            lot_size: lot,
            maker_fee: fee,
            taker_fee: 0.0,
            stp: StpMode::CancelTaker,
        };
        assert!(MatchingEngine::new(c).is_err(), "{c:?}");
    }
}

#[test]
fn resting_limit_sets_the_touch() {
    let mut e = engine(StpMode::CancelTaker);
    let mut ev = Vec::new();
    let b = e.submit(1, gtc(1, Side::Buy, 99, 5), &mut ev);
    e.submit(2, gtc(1, Side::Buy, 99, 2), &mut ev);
    e.submit(3, gtc(2, Side::Sell, 101, 4), &mut ev);
    assert_eq!(e.best_bid(), Some((99, 7)));
    assert_eq!(e.best_ask(), Some((101, 4)));
    assert_eq!(ev.len(), 3);
    assert!(ev.iter().all(|x| matches!(x, Event::Accepted { .. })));
    let o = e.order(b).unwrap();
    assert_eq!((o.price, o.qty, o.leaves, o.created_ts), (99, 5, 5, 1));
    assert_eq!(e.open_orders(1).count(), 2);
}

#[test]
fn price_then_time_priority_with_partial_fills() {
    let mut e = engine(StpMode::CancelTaker);
    let mut ev = Vec::new();
    let a1 = e.submit(1, gtc(1, Side::Sell, 101, 3), &mut ev);
    let a2 = e.submit(2, gtc(2, Side::Sell, 101, 4), &mut ev);
    let a0 = e.submit(3, gtc(3, Side::Sell, 100, 2), &mut ev);
    ev.clear();
    let t = e.submit(4, gtc(4, Side::Buy, 101, 6), &mut ev);
    assert_eq!(
        trades(&ev),
        vec![(100, 2, a0, t), (101, 3, a1, t), (101, 1, a2, t)]
    );
    assert_eq!(e.order(a2).unwrap().leaves, 3);
    assert_eq!(depth(&e, Side::Sell), vec![(101, 3)]);
    assert!(e.best_bid().is_none(), "fully filled taker does not rest");
    assert_eq!(e.position(4), 6);
    assert_eq!(e.position(2), -1);
    // The remainder of a GTC taker rests at its limit.
    ev.clear();
    let t2 = e.submit(5, gtc(4, Side::Buy, 101, 5), &mut ev);
    assert_eq!(trades(&ev), vec![(101, 3, a2, t2)]);
    assert_eq!(e.best_bid(), Some((101, 2)));
    assert!(e.best_ask().is_none());
}

#[test]
fn market_walks_and_cancels_the_rest() {
    let mut e = engine(StpMode::CancelTaker);
    let mut ev = Vec::new();
    let a = e.submit(1, gtc(1, Side::Buy, 99, 2), &mut ev);
    let b = e.submit(1, gtc(1, Side::Buy, 97, 3), &mut ev);
    ev.clear();
    let m = e.submit(2, market(2, Side::Sell, 10), &mut ev);
    assert!(matches!(
        ev[0],
        Event::Accepted {
            price: None,
            qty: 10,
            ..
        }
    ));
    assert_eq!(trades(&ev), vec![(99, 2, a, m), (97, 3, b, m)]);
    assert_eq!(cancels(&ev), vec![(m, 5, CancelReason::Unfilled)]);
    assert!(e.best_bid().is_none() && e.best_ask().is_none());
    ev.clear();
    let m2 = e.submit(3, market(2, Side::Buy, 4), &mut ev);
    assert_eq!(cancels(&ev), vec![(m2, 4, CancelReason::Unfilled)]);
}

#[test]
fn ioc_never_rests() {
    let mut e = engine(StpMode::CancelTaker);
    let mut ev = Vec::new();
    let a = e.submit(1, gtc(1, Side::Sell, 100, 2), &mut ev);
    e.submit(1, gtc(1, Side::Sell, 102, 2), &mut ev);
    ev.clear();
    let i = e.submit(2, limit(2, Side::Buy, 101, 5, TimeInForce::Ioc), &mut ev);
    assert_eq!(trades(&ev), vec![(100, 2, a, i)]);
    assert_eq!(cancels(&ev), vec![(i, 3, CancelReason::Unfilled)]);
    assert!(e.best_bid().is_none());
    assert_eq!(e.best_ask(), Some((102, 2)));
}

#[test]
fn fok_all_or_nothing_without_touching_the_book() {
    let mut e = engine(StpMode::CancelTaker);
    let mut ev = Vec::new();
    let a = e.submit(1, gtc(1, Side::Sell, 100, 2), &mut ev);
    let b = e.submit(1, gtc(1, Side::Sell, 101, 3), &mut ev);
    e.submit(1, gtc(1, Side::Sell, 103, 9), &mut ev);
    let before = depth(&e, Side::Sell);
    ev.clear();
    e.submit(2, limit(2, Side::Buy, 101, 6, TimeInForce::Fok), &mut ev);
    assert_eq!(rejection(&ev), Some(RejectReason::FokNotFillable));
    assert_eq!(ev.len(), 1);
    assert_eq!(depth(&e, Side::Sell), before);
    ev.clear();
    let f = e.submit(2, limit(2, Side::Buy, 101, 5, TimeInForce::Fok), &mut ev);
    assert_eq!(trades(&ev), vec![(100, 2, a, f), (101, 3, b, f)]);
    assert!(cancels(&ev).is_empty());
    assert_eq!(depth(&e, Side::Sell), vec![(103, 9)]);
}

#[test]
fn post_only_rejected_when_it_would_cross() {
    let mut e = engine(StpMode::CancelTaker);
    let mut ev = Vec::new();
    e.submit(1, gtc(1, Side::Sell, 100, 2), &mut ev);
    ev.clear();
    e.submit(
        2,
        limit(2, Side::Buy, 100, 1, TimeInForce::PostOnly),
        &mut ev,
    );
    assert_eq!(rejection(&ev), Some(RejectReason::PostOnlyWouldCross));
    let p = e.submit(
        2,
        limit(2, Side::Buy, 99, 1, TimeInForce::PostOnly),
        &mut ev,
    );
    assert_eq!(e.best_bid(), Some((99, 1)));
    assert_eq!(e.order(p).unwrap().tif, TimeInForce::PostOnly);
    // Amending it to a crossing price is refused and leaves it as it was.
    ev.clear();
    assert!(!e.amend(3, 2, p, None, Some(100), &mut ev));
    assert_eq!(rejection(&ev), Some(RejectReason::PostOnlyWouldCross));
    assert_eq!(e.order(p).unwrap().price, 99);
}

#[test]
fn amend_priority_rules() {
    let mut e = engine(StpMode::CancelTaker);
    let mut ev = Vec::new();
    let x = e.submit(1, gtc(1, Side::Buy, 99, 5), &mut ev);
    let y = e.submit(2, gtc(2, Side::Buy, 99, 5), &mut ev);
    // Qty down keeps the queue position.
    ev.clear();
    assert!(e.amend(2, 1, x, Some(3), None, &mut ev));
    assert!(matches!(
        ev[0],
        Event::Amended {
            qty: 3,
            leaves: 3,
            kept_priority: true,
            ..
        }
    ));
    assert_eq!(queue_ids(&e, Side::Buy, 99), vec![x, y]);
    assert_eq!(e.best_bid(), Some((99, 8)));
    // Qty up goes to the back.
    ev.clear();
    assert!(e.amend(3, 1, x, Some(6), None, &mut ev));
    assert!(matches!(
        ev[0],
        Event::Amended {
            kept_priority: false,
            ..
        }
    ));
    assert_eq!(queue_ids(&e, Side::Buy, 99), vec![y, x]);
    assert_eq!(e.best_bid(), Some((99, 11)));
    // A price change moves it to the new level; a crossing price trades at once.
    let s = e.submit(4, gtc(3, Side::Sell, 101, 2), &mut ev);
    ev.clear();
    assert!(e.amend(5, 1, x, None, Some(101), &mut ev));
    assert_eq!(trades(&ev), vec![(101, 2, s, x)]);
    let o = e.order(x).unwrap();
    assert_eq!((o.price, o.qty, o.leaves, o.filled()), (101, 6, 4, 2));
    assert_eq!(e.best_bid(), Some((101, 4)));
    // Total qty at or below what has filled is refused.
    ev.clear();
    assert!(!e.amend(6, 1, x, Some(2), None, &mut ev));
    assert_eq!(rejection(&ev), Some(RejectReason::InvalidQty));
    ev.clear();
    assert!(!e.amend(6, 1, x, None, None, &mut ev));
    assert_eq!(rejection(&ev), Some(RejectReason::NothingToAmend));
    ev.clear();
    assert!(!e.amend(6, 1, x, None, Some(0), &mut ev));
    assert_eq!(rejection(&ev), Some(RejectReason::InvalidPrice));
}

#[test]
fn cancel_checks_owner_and_existence() {
    let mut e = engine(StpMode::CancelTaker);
    let mut ev = Vec::new();
    let a = e.submit(1, gtc(1, Side::Sell, 100, 2), &mut ev);
    ev.clear();
    assert!(!e.cancel(2, 2, a, &mut ev));
    assert_eq!(rejection(&ev), Some(RejectReason::NotOwner));
    ev.clear();
    assert!(!e.cancel(2, 1, 999, &mut ev));
    assert_eq!(rejection(&ev), Some(RejectReason::UnknownOrder));
    ev.clear();
    assert!(e.cancel(3, 1, a, &mut ev));
    assert_eq!(cancels(&ev), vec![(a, 2, CancelReason::User)]);
    assert!(e.best_ask().is_none() && e.order(a).is_none());
    assert_eq!(e.order_count(), 0);
    assert!(!e.cancel(4, 1, a, &mut ev), "twice is unknown");
}

/// Agent 1's ask first in the queue, agent 2's behind it; agent 1 then buys.
fn stp_case(stp: StpMode) -> (MatchingEngine, Vec<Event>, [OrderId; 3]) {
    let mut e = engine(stp);
    let mut ev = Vec::new();
    let own = e.submit(1, gtc(1, Side::Sell, 100, 5), &mut ev);
    let other = e.submit(2, gtc(2, Side::Sell, 100, 5), &mut ev);
    ev.clear();
    let t = e.submit(3, gtc(1, Side::Buy, 100, 8), &mut ev);
    (e, ev, [own, other, t])
}

#[test]
fn stp_cancel_taker() {
    let (e, ev, [own, _, t]) = stp_case(StpMode::CancelTaker);
    assert!(trades(&ev).is_empty());
    assert_eq!(cancels(&ev), vec![(t, 8, CancelReason::SelfTrade)]);
    assert_eq!(e.order(own).unwrap().leaves, 5);
    assert!(e.best_bid().is_none());
}

#[test]
fn stp_cancel_maker() {
    let (e, ev, [own, other, t]) = stp_case(StpMode::CancelMaker);
    assert_eq!(cancels(&ev), vec![(own, 5, CancelReason::SelfTrade)]);
    assert_eq!(trades(&ev), vec![(100, 5, other, t)]);
    assert_eq!(
        e.best_bid(),
        Some((100, 3)),
        "the rest of the GTC taker rests"
    );
    assert!(e.best_ask().is_none());
}

#[test]
fn stp_cancel_both() {
    let (e, ev, [own, other, t]) = stp_case(StpMode::CancelBoth);
    assert_eq!(
        cancels(&ev),
        vec![
            (own, 5, CancelReason::SelfTrade),
            (t, 8, CancelReason::SelfTrade)
        ]
    );
    assert!(trades(&ev).is_empty());
    assert_eq!(queue_ids(&e, Side::Sell, 100), vec![other]);
}

#[test]
fn fok_counts_liquidity_as_stp_would_leave_it() {
    for (stp, fills) in [
        (StpMode::CancelTaker, false),
        (StpMode::CancelBoth, false),
        (StpMode::CancelMaker, true),
    ] {
        let mut e = engine(stp);
        let mut ev = Vec::new();
        e.submit(1, gtc(1, Side::Sell, 100, 5), &mut ev);
        e.submit(2, gtc(2, Side::Sell, 100, 5), &mut ev);
        ev.clear();
        e.submit(3, limit(1, Side::Buy, 100, 5, TimeInForce::Fok), &mut ev);
        assert_eq!(rejection(&ev).is_none(), fills, "{stp:?}");
        assert_eq!(trades(&ev).len(), usize::from(fills));
    }
}

#[test]
fn fees_are_exact() {
    let mut e = engine(StpMode::CancelTaker);
    let mut ev = Vec::new();
    e.submit(1, gtc(1, Side::Sell, 60_001, 3), &mut ev);
    ev.clear();
    e.submit(2, market(2, Side::Buy, 3), &mut ev);
    let Event::Trade {
        maker_fee,
        taker_fee,
        ..
    } = ev[1]
    else {
        panic!("expected a trade, got {:?}", ev[1]);
    };
    assert_eq!(maker_fee, 60_001.0 * 0.5 * 3.0 * 0.001 * -0.000_1);
    assert_eq!(taker_fee, 60_001.0 * 0.5 * 3.0 * 0.001 * 0.000_55);
}

#[test]
fn bad_orders_are_rejected_with_a_reason() {
    let mut e = engine(StpMode::CancelTaker);
    let mut ev = Vec::new();
    let cases = [
        (gtc(1, Side::Buy, 100, 0), RejectReason::InvalidQty),
        (gtc(1, Side::Buy, 100, -3), RejectReason::InvalidQty),
        (
            gtc(1, Side::Buy, 100, MAX_QTY + 1),
            RejectReason::InvalidQty,
        ),
        (gtc(1, Side::Buy, 0, 1), RejectReason::InvalidPrice),
        (gtc(1, Side::Buy, -5, 1), RejectReason::InvalidPrice),
        (
            gtc(1, Side::Buy, MAX_PRICE + 1, 1),
            RejectReason::InvalidPrice,
        ),
        (
            gtc(MAX_AGENT + 1, Side::Buy, 100, 1),
            RejectReason::InvalidAgent,
        ),
    ];
    for (o, why) in cases {
        ev.clear();
        let id = e.submit(1, o, &mut ev);
        assert_eq!(ev.len(), 1);
        assert!(
            matches!(ev[0], Event::Rejected { order, reason, action: Action::Submit, .. }
                if order == id && reason == why),
            "{o:?}: {:?}",
            ev[0]
        );
    }
    assert_eq!(e.order_count(), 0);
}

#[test]
fn reduce_only_caps_to_the_position() {
    let mut e = engine(StpMode::CancelTaker);
    let mut ev = Vec::new();
    let ro = |side, qty| NewOrder {
        reduce_only: true,
        ..market(1, side, qty)
    };
    e.submit(1, ro(Side::Sell, 2), &mut ev);
    assert_eq!(rejection(&ev), Some(RejectReason::ReduceOnlyWouldIncrease));
    e.submit(2, gtc(2, Side::Sell, 100, 10), &mut ev);
    e.submit(3, market(1, Side::Buy, 3), &mut ev);
    assert_eq!(e.position(1), 3);
    ev.clear();
    e.submit(4, ro(Side::Buy, 1), &mut ev);
    assert_eq!(rejection(&ev), Some(RejectReason::ReduceOnlyWouldIncrease));
    e.submit(5, gtc(3, Side::Buy, 99, 10), &mut ev);
    ev.clear();
    e.submit(6, ro(Side::Sell, 5), &mut ev);
    assert!(matches!(ev[0], Event::Accepted { qty: 3, .. }));
    assert_eq!(e.position(1), 0);
}

#[test]
fn ids_are_sequential_and_slots_reused() {
    let mut e = engine(StpMode::CancelTaker);
    let mut ev = Vec::new();
    for i in 0..1000 {
        let id = e.submit(i, gtc(1, Side::Buy, 100 - (i % 7), 1), &mut ev);
        assert_eq!(id, i as u64 + 1);
        assert!(e.cancel(i, 1, id, &mut ev));
    }
    assert_eq!(e.order_count(), 0);
    assert_eq!(e.level_count(Side::Buy), 0);
    assert_eq!(e.seq(), 2000);
}

#[test]
fn l2_snapshot_then_deltas() {
    let mut e = engine(StpMode::CancelTaker);
    let mut ev = Vec::new();
    let mut p = L2Publisher::new(2).unwrap();
    assert!(L2Publisher::new(0).is_err());
    assert!(p.current(0, 0).is_none());
    e.submit(1, gtc(1, Side::Buy, 99, 1), &mut ev);
    e.submit(1, gtc(1, Side::Sell, 101, 2), &mut ev);
    let s = p.publish(&e, 10).unwrap();
    assert!(s.snapshot);
    assert_eq!((s.u, s.seq, s.ts), (1, 2, 10));
    assert_eq!((s.bids, s.asks), (vec![(99, 1)], vec![(101, 2)]));
    assert!(p.publish(&e, 11).is_none(), "no empty deltas");
    e.submit(2, gtc(1, Side::Buy, 100, 4), &mut ev);
    e.submit(2, gtc(1, Side::Buy, 98, 4), &mut ev); // below the top 2: not published
    e.submit(2, market(2, Side::Buy, 2), &mut ev);
    let d = p.publish(&e, 12).unwrap();
    assert!(!d.snapshot);
    assert_eq!(d.u, 2);
    assert_eq!(d.bids, vec![(100, 4)]);
    assert_eq!(d.asks, vec![(101, 0)]);
    let id100 = e.queue(Side::Buy, 100)[0].id;
    e.cancel(3, 1, id100, &mut ev);
    let d = p.publish(&e, 13).unwrap();
    assert_eq!(d.bids, vec![(100, 0), (98, 4)], "98 moves into the top 2");
    assert_eq!(p.current(e.seq(), 14).unwrap().bids, vec![(99, 1), (98, 4)]);
}

#[test]
fn cancel_all_removes_only_that_agents_orders() {
    let mut e = engine(StpMode::CancelTaker);
    let mut ev = Vec::new();
    let a = e.submit(1, gtc(1, Side::Buy, 99, 2), &mut ev);
    let b = e.submit(1, gtc(2, Side::Buy, 99, 3), &mut ev);
    let c = e.submit(1, gtc(1, Side::Sell, 105, 4), &mut ev);
    let ids: Vec<OrderId> = e.open_orders(1).map(|o| o.id).collect();
    assert_eq!(ids, vec![c, a], "newest first");
    ev.clear();
    assert_eq!(e.cancel_all(2, 1, &mut ev), 2);
    assert_eq!(
        cancels(&ev),
        vec![(c, 4, CancelReason::User), (a, 2, CancelReason::User)]
    );
    assert_eq!(queue_ids(&e, Side::Buy, 99), vec![b]);
    assert!(e.best_ask().is_none());
    assert_eq!(e.open_orders(1).count(), 0);
    ev.clear();
    assert_eq!(e.cancel_all(3, 1, &mut ev), 0);
    assert_eq!(e.cancel_all(3, MAX_AGENT + 5, &mut ev), 0);
    assert!(ev.is_empty());
}
