//! Orders, configuration and the events the engine emits; prices in ticks, quantities in lots.

use crate::error::{CoreError, CoreResult};

pub type OrderId = u64;
pub type AgentId = u32;

/// Largest agent id; agents index a dense table, so ids should be small (0, 1, 2, …).
pub const MAX_AGENT: AgentId = (1 << 20) - 1;
/// Largest order quantity in lots; keeps level totals and fee products far from overflow.
pub const MAX_QTY: i64 = 1 << 40;
/// Largest price in ticks.
pub const MAX_PRICE: i64 = 1 << 52;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Side {
    Buy,
    Sell,
}

impl Side {
    pub fn opposite(self) -> Side {
        match self {
            Side::Buy => Side::Sell,
            Side::Sell => Side::Buy,
        }
    }

    /// +1 for buy, -1 for sell.
    pub fn sign(self) -> i64 {
        match self {
            Side::Buy => 1,
            Side::Sell => -1,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TimeInForce {
    /// Good till cancelled: the remainder rests.
    Gtc,
    /// Immediate or cancel: the remainder is cancelled.
    Ioc,
    /// Fill or kill: fills completely at once or is rejected without touching the book.
    Fok,
    /// Maker only: rejected when it would cross.
    PostOnly,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OrderKind {
    Limit {
        price: i64,
        tif: TimeInForce,
    },
    /// Walks the book; the unfilled remainder is cancelled, never rests.
    Market,
}

/// Self-trade prevention by agent id, applied when a taker meets its own agent's resting order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum StpMode {
    CancelTaker,
    CancelMaker,
    CancelBoth,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NewOrder {
    pub agent: AgentId,
    pub client_id: u64,
    pub side: Side,
    pub kind: OrderKind,
    pub qty: i64,
    /// Qty is capped to the agent's opposite position at submission; rejected when flat or long
    /// (short) for a buy (sell). A resting reduce-only order is not re-checked later.
    pub reduce_only: bool,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct EngineConfig {
    pub tick_size: f64,
    pub lot_size: f64,
    /// Fee rates as fractions of notional; negative is a rebate.
    pub maker_fee: f64,
    pub taker_fee: f64,
    pub stp: StpMode,
}

impl EngineConfig {
    pub fn validate(&self) -> CoreResult<()> {
        for (name, v) in [("tick_size", self.tick_size), ("lot_size", self.lot_size)] {
            if !(v.is_finite() && v > 0.0) {
                return Err(CoreError::InvalidInput(format!(
                    "{name} must be finite and > 0, got {v}"
                )));
            }
        }
        for (name, v) in [("maker_fee", self.maker_fee), ("taker_fee", self.taker_fee)] {
            if !(v.is_finite() && v.abs() < 1.0) {
                return Err(CoreError::InvalidInput(format!(
                    "{name} must be finite with |rate| < 1, got {v}"
                )));
            }
        }
        Ok(())
    }

    /// Fee in quote currency for `qty` lots at `price` ticks and `rate`.
    #[inline]
    pub fn fee(&self, price: i64, qty: i64, rate: f64) -> f64 {
        price as f64 * self.tick_size * qty as f64 * self.lot_size * rate
    }
}

/// A live order on the book.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RestingOrder {
    pub id: OrderId,
    pub agent: AgentId,
    pub client_id: u64,
    pub side: Side,
    pub price: i64,
    /// Total quantity (after amends), filled included.
    pub qty: i64,
    /// Unfilled quantity resting on the book.
    pub leaves: i64,
    /// Gtc or PostOnly (the others never rest).
    pub tif: TimeInForce,
    pub reduce_only: bool,
    /// When the order was submitted (ns).
    pub created_ts: i64,
    /// Queue position key: lower is earlier; renewed when an amend loses priority.
    pub priority: u64,
}

impl RestingOrder {
    pub fn filled(&self) -> i64 {
        self.qty - self.leaves
    }
}

/// The request an event answers when it is a rejection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Action {
    Submit,
    Cancel,
    Amend,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RejectReason {
    InvalidQty,
    InvalidPrice,
    InvalidAgent,
    /// A PostOnly order (or amend) would have crossed the book.
    PostOnlyWouldCross,
    /// A FOK order could not be filled completely.
    FokNotFillable,
    /// A reduce-only order would not reduce the agent's position.
    ReduceOnlyWouldIncrease,
    UnknownOrder,
    /// The order belongs to another agent.
    NotOwner,
    /// An amend that changes nothing was asked for with neither qty nor price.
    NothingToAmend,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CancelReason {
    /// Asked for by its agent.
    User,
    /// Remainder of a Market or IOC order.
    Unfilled,
    /// Self-trade prevention.
    SelfTrade,
}

/// Everything that happens to orders, in order; `ts` is the caller's clock in ns.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Event {
    Accepted {
        ts: i64,
        order: OrderId,
        agent: AgentId,
        client_id: u64,
        side: Side,
        /// None for a Market order.
        price: Option<i64>,
        qty: i64,
        tif: Option<TimeInForce>,
    },
    Rejected {
        ts: i64,
        order: OrderId,
        agent: AgentId,
        client_id: u64,
        action: Action,
        reason: RejectReason,
    },
    Trade {
        ts: i64,
        price: i64,
        qty: i64,
        maker_order: OrderId,
        maker_agent: AgentId,
        taker_order: OrderId,
        taker_agent: AgentId,
        taker_side: Side,
        /// Quote currency, = price*tick*qty*lot*rate.
        maker_fee: f64,
        taker_fee: f64,
        /// Unfilled quantity of each order after this trade.
        maker_leaves: i64,
        taker_leaves: i64,
    },
    Cancelled {
        ts: i64,
        order: OrderId,
        agent: AgentId,
        client_id: u64,
        remaining: i64,
        reason: CancelReason,
    },
    Amended {
        ts: i64,
        order: OrderId,
        agent: AgentId,
        client_id: u64,
        price: i64,
        /// New total quantity and unfilled quantity.
        qty: i64,
        leaves: i64,
        /// False when the amend sent the order to the back of its (new) level.
        kept_priority: bool,
    },
}

impl Event {
    pub fn ts(&self) -> i64 {
        match *self {
            Event::Accepted { ts, .. }
            | Event::Rejected { ts, .. }
            | Event::Trade { ts, .. }
            | Event::Cancelled { ts, .. }
            | Event::Amended { ts, .. } => ts,
        }
    }
}
