//! The HF-ABM matching engine: a price-time priority limit order book on a tick grid (prices
//! in ticks, quantities in lots), Limit (GTC, IOC, FOK, PostOnly) and Market orders, cancel,
//! amend, self-trade prevention, maker/taker fees, an event per order, cancel and trade, and
//! Bybit-shaped L2 snapshots and deltas.
//!
//! Never allocates per operation once warm: levels live in a sorted Vec per side, orders in
//! a slab with intrusive FIFO links, and events go into a caller-owned Vec.

mod batch;
mod columns;
mod engine;
mod index;
mod l2;
mod level;
mod slab;
mod types;

#[cfg(test)]
mod proptests;
#[cfg(test)]
mod tests;

pub use batch::{run_ops, OpArrays, RunCounts, OP_AMEND, OP_CANCEL, OP_LIMIT, OP_MARKET};
pub use columns::{
    tif_code, tif_of, EventColumns, ACTION_NAMES, CANCEL_NAMES, KIND_NAMES, NO_CODE, REJECT_NAMES,
    TIF_NAMES,
};
pub use engine::MatchingEngine;
pub use l2::{L2Publisher, L2Update, Levels};
pub use types::{
    Action, AgentId, CancelReason, EngineConfig, Event, NewOrder, OrderId, OrderKind, RejectReason,
    RestingOrder, Side, StpMode, TimeInForce, MAX_AGENT, MAX_PRICE, MAX_QTY,
};
