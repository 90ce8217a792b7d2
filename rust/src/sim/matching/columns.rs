//! Events as columns (one row per event) for tables on the Python side, with the code names
//! each small-integer column uses.

use super::types::{Action, CancelReason, Event, RejectReason, Side, TimeInForce};

pub const KIND_NAMES: [&str; 5] = ["accepted", "rejected", "trade", "cancelled", "amended"];
pub const TIF_NAMES: [&str; 5] = ["gtc", "ioc", "fok", "post_only", "market"];
pub const ACTION_NAMES: [&str; 3] = ["submit", "cancel", "amend"];
pub const REJECT_NAMES: [&str; 9] = [
    "invalid_qty",
    "invalid_price",
    "invalid_agent",
    "post_only_would_cross",
    "fok_not_fillable",
    "reduce_only_would_increase",
    "unknown_order",
    "not_owner",
    "nothing_to_amend",
];
pub const CANCEL_NAMES: [&str; 3] = ["user", "unfilled", "self_trade"];
/// Value of the `code` column where a row has no code.
pub const NO_CODE: u8 = u8::MAX;

pub fn tif_code(tif: Option<TimeInForce>) -> u8 {
    match tif {
        Some(TimeInForce::Gtc) => 0,
        Some(TimeInForce::Ioc) => 1,
        Some(TimeInForce::Fok) => 2,
        Some(TimeInForce::PostOnly) => 3,
        None => 4,
    }
}

/// The TIF with code `c`, None for a market order or an unknown code.
pub fn tif_of(c: u8) -> Option<TimeInForce> {
    [
        TimeInForce::Gtc,
        TimeInForce::Ioc,
        TimeInForce::Fok,
        TimeInForce::PostOnly,
    ]
    .get(c as usize)
    .copied()
}

fn reject_code(r: RejectReason) -> u8 {
    r as u8
}

fn cancel_code(r: CancelReason) -> u8 {
    r as u8
}

fn action_code(a: Action) -> u8 {
    a as u8
}

/// One column per field; fields an event lacks hold 0 (`code`: `NO_CODE`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct EventColumns {
    pub kind: Vec<u8>,
    pub ts: Vec<i64>,
    /// The order (for trades: the taker's).
    pub order: Vec<u64>,
    pub agent: Vec<u32>,
    pub client_id: Vec<u64>,
    /// +1 buy, -1 sell (trades: the taker's side), 0 unknown (rejections, cancels).
    pub side: Vec<i8>,
    /// Ticks; 0 for a market order.
    pub price: Vec<i64>,
    /// Accepted qty, trade qty, cancelled remainder, or amended total.
    pub qty: Vec<i64>,
    /// Unfilled qty after the event (trades: the taker's; amends: the order's).
    pub leaves: Vec<i64>,
    pub maker_order: Vec<u64>,
    pub maker_agent: Vec<u32>,
    pub maker_leaves: Vec<i64>,
    pub maker_fee: Vec<f64>,
    pub taker_fee: Vec<f64>,
    /// Accepted: TIF; rejected: reason; cancelled: reason; amended: 1 if priority kept.
    pub code: Vec<u8>,
    /// Rejected: the request (submit, cancel, amend).
    pub action: Vec<u8>,
}

/// The fields of one row before it is pushed.
#[derive(Default)]
struct Row {
    kind: u8,
    ts: i64,
    order: u64,
    agent: u32,
    client_id: u64,
    side: i8,
    price: i64,
    qty: i64,
    leaves: i64,
    maker_order: u64,
    maker_agent: u32,
    maker_leaves: i64,
    maker_fee: f64,
    taker_fee: f64,
    code: u8,
    action: u8,
}

fn side_code(s: Side) -> i8 {
    s.sign() as i8
}

impl EventColumns {
    pub fn len(&self) -> usize {
        self.kind.len()
    }

    pub fn is_empty(&self) -> bool {
        self.kind.is_empty()
    }

    pub fn extend(&mut self, events: &[Event]) {
        for e in events {
            self.push(e);
        }
    }

    pub fn push(&mut self, e: &Event) {
        let row = match *e {
            Event::Accepted {
                ts,
                order,
                agent,
                client_id,
                side,
                price,
                qty,
                tif,
            } => Row {
                kind: 0,
                ts,
                order,
                agent,
                client_id,
                side: side_code(side),
                price: price.unwrap_or(0),
                qty,
                leaves: qty,
                code: tif_code(tif),
                ..Row::default()
            },
            Event::Rejected {
                ts,
                order,
                agent,
                client_id,
                action,
                reason,
            } => Row {
                kind: 1,
                ts,
                order,
                agent,
                client_id,
                code: reject_code(reason),
                action: action_code(action),
                ..Row::default()
            },
            Event::Trade {
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
                maker_leaves,
                taker_leaves,
            } => Row {
                kind: 2,
                ts,
                order: taker_order,
                agent: taker_agent,
                side: side_code(taker_side),
                price,
                qty,
                leaves: taker_leaves,
                maker_order,
                maker_agent,
                maker_leaves,
                maker_fee,
                taker_fee,
                ..Row::default()
            },
            Event::Cancelled {
                ts,
                order,
                agent,
                client_id,
                remaining,
                reason,
            } => Row {
                kind: 3,
                ts,
                order,
                agent,
                client_id,
                qty: remaining,
                code: cancel_code(reason),
                ..Row::default()
            },
            Event::Amended {
                ts,
                order,
                agent,
                client_id,
                price,
                qty,
                leaves,
                kept_priority,
            } => Row {
                kind: 4,
                ts,
                order,
                agent,
                client_id,
                price,
                qty,
                leaves,
                code: u8::from(kept_priority),
                ..Row::default()
            },
        };
        self.push_row(row);
    }

    fn push_row(&mut self, r: Row) {
        let code = if r.kind == 2 { NO_CODE } else { r.code };
        self.kind.push(r.kind);
        self.ts.push(r.ts);
        self.order.push(r.order);
        self.agent.push(r.agent);
        self.client_id.push(r.client_id);
        self.side.push(r.side);
        self.price.push(r.price);
        self.qty.push(r.qty);
        self.leaves.push(r.leaves);
        self.maker_order.push(r.maker_order);
        self.maker_agent.push(r.maker_agent);
        self.maker_leaves.push(r.maker_leaves);
        self.maker_fee.push(r.maker_fee);
        self.taker_fee.push(r.taker_fee);
        self.code.push(code);
        self.action
            .push(if r.kind == 1 { r.action } else { NO_CODE });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_follow_the_name_tables() {
        assert_eq!(
            reject_code(RejectReason::NothingToAmend) as usize,
            REJECT_NAMES.len() - 1
        );
        assert_eq!(
            REJECT_NAMES[reject_code(RejectReason::FokNotFillable) as usize],
            "fok_not_fillable"
        );
        assert_eq!(
            CANCEL_NAMES[cancel_code(CancelReason::SelfTrade) as usize],
            "self_trade"
        );
        assert_eq!(ACTION_NAMES[action_code(Action::Amend) as usize], "amend");
        for t in [
            TimeInForce::Gtc,
            TimeInForce::Ioc,
            TimeInForce::Fok,
            TimeInForce::PostOnly,
        ] {
            assert_eq!(tif_of(tif_code(Some(t))), Some(t));
        }
        assert_eq!(TIF_NAMES[tif_code(None) as usize], "market");
        assert_eq!(tif_of(9), None);
    }

    #[test]
    fn one_row_per_event() {
        let mut c = EventColumns::default();
        c.extend(&[
            Event::Trade {
                ts: 5,
                price: 100,
                qty: 2,
                maker_order: 1,
                maker_agent: 3,
                taker_order: 2,
                taker_agent: 4,
                taker_side: Side::Sell,
                maker_fee: -0.5,
                taker_fee: 1.5,
                maker_leaves: 1,
                taker_leaves: 0,
            },
            Event::Rejected {
                ts: 6,
                order: 9,
                agent: 4,
                client_id: 8,
                action: Action::Cancel,
                reason: RejectReason::UnknownOrder,
            },
        ]);
        assert_eq!(c.len(), 2);
        assert_eq!(
            (c.kind[0], c.order[0], c.maker_order[0], c.side[0]),
            (2, 2, 1, -1)
        );
        assert_eq!(
            (c.maker_fee[0], c.taker_fee[0], c.code[0]),
            (-0.5, 1.5, NO_CODE)
        );
        assert_eq!(
            (c.kind[1], c.code[1], c.action[1], c.client_id[1]),
            (1, 6, 1, 8)
        );
    }
}
