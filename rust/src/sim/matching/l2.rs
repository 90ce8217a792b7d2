//! Bybit-shaped L2 updates of the engine's book: a snapshot of the top N levels first, then
//! deltas with only the levels that changed since the last publish (qty 0 = level removed).
//!
//! Deltas are the difference between the published top N and the current top N, so a level
//! that falls out of the top N is removed and one that moves in is added, as on Bybit's
//! depth-limited `orderbook.N` topics.

use super::engine::MatchingEngine;
use super::types::Side;
use crate::error::{CoreError, CoreResult};

/// (price ticks, lots) per level, best first.
pub type Levels = Vec<(i64, i64)>;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct L2Update {
    pub snapshot: bool,
    /// Update id: +1 per update published.
    pub u: u64,
    /// The engine's request sequence when published.
    pub seq: u64,
    pub ts: i64,
    pub bids: Levels,
    pub asks: Levels,
}

pub struct L2Publisher {
    depth: usize,
    u: u64,
    published: bool,
    bids: Levels,
    asks: Levels,
    scratch: Levels,
}

impl L2Publisher {
    pub fn new(depth: usize) -> CoreResult<Self> {
        if depth == 0 {
            return Err(CoreError::InvalidInput("L2 depth must be >= 1".into()));
        }
        Ok(Self {
            depth,
            u: 0,
            published: false,
            bids: Vec::new(),
            asks: Vec::new(),
            scratch: Vec::new(),
        })
    }

    pub fn depth(&self) -> usize {
        self.depth
    }

    /// Last update id published (0 before the first).
    pub fn last_u(&self) -> u64 {
        self.u
    }

    /// The first call gives a snapshot; later calls a delta of what changed, or None when
    /// nothing did (no empty deltas, as on Bybit).
    pub fn publish(&mut self, engine: &MatchingEngine, ts: i64) -> Option<L2Update> {
        if !self.published {
            return Some(self.publish_snapshot(engine, ts));
        }
        let bids = self.diff_side(engine, Side::Buy);
        let asks = self.diff_side(engine, Side::Sell);
        if bids.is_empty() && asks.is_empty() {
            return None;
        }
        self.u += 1;
        Some(L2Update {
            snapshot: false,
            u: self.u,
            seq: engine.seq(),
            ts,
            bids,
            asks,
        })
    }

    /// Publish a fresh snapshot (Bybit re-sends one at times; consumers replace their book).
    pub fn publish_snapshot(&mut self, engine: &MatchingEngine, ts: i64) -> L2Update {
        engine.depth(Side::Buy, self.depth, &mut self.bids);
        engine.depth(Side::Sell, self.depth, &mut self.asks);
        self.published = true;
        self.u += 1;
        self.current(engine.seq(), ts).expect("just published")
    }

    /// The book as last published, as a snapshot with the same `u` (for a new subscriber);
    /// None before the first publish.
    pub fn current(&self, seq: u64, ts: i64) -> Option<L2Update> {
        self.published.then(|| L2Update {
            snapshot: true,
            u: self.u,
            seq,
            ts,
            bids: self.bids.clone(),
            asks: self.asks.clone(),
        })
    }

    /// Levels of `side` that differ from the published ones; updates the published copy.
    fn diff_side(&mut self, engine: &MatchingEngine, side: Side) -> Levels {
        engine.depth(side, self.depth, &mut self.scratch);
        let old = match side {
            Side::Buy => &mut self.bids,
            Side::Sell => &mut self.asks,
        };
        let changes = diff(old, &self.scratch, side);
        std::mem::swap(old, &mut self.scratch);
        changes
    }
}

/// Changes turning `old` into `new` (both best first), best first; removed levels have qty 0.
fn diff(old: &[(i64, i64)], new: &[(i64, i64)], side: Side) -> Levels {
    // Order key along "best first": bids by descending price, asks ascending.
    let key = |p: i64| if side == Side::Buy { -p } else { p };
    let mut out = Vec::new();
    let (mut i, mut j) = (0, 0);
    while i < old.len() || j < new.len() {
        let take_old = j == new.len() || (i < old.len() && key(old[i].0) < key(new[j].0));
        let take_new = i == old.len() || (j < new.len() && key(new[j].0) < key(old[i].0));
        if take_old {
            out.push((old[i].0, 0));
            i += 1;
        } else if take_new {
            out.push(new[j]);
            j += 1;
        } else {
            if old[i].1 != new[j].1 {
                out.push(new[j]);
            }
            i += 1;
            j += 1;
        }
    }
    out
}
