//! Deltas held while the book waits for a snapshot. A snapshot can be older than deltas that
//! arrived before it (Binance: the REST snapshot comes after the events that bridge it), so
//! the next snapshot replays the held deltas that continue it. Bounded: oldest dropped first.

use std::collections::VecDeque;

use super::rows::BookRows;

const MAX_MESSAGES: usize = 4096;
const MAX_ROWS: usize = 1 << 20;

/// The levels of one message as column slices.
#[derive(Clone, Copy, Debug)]
pub(super) struct Levels<'a> {
    pub price: &'a [f64],
    pub qty: &'a [f64],
    pub side: &'a [i8],
    pub flags: &'a [u8],
}

impl<'a> Levels<'a> {
    pub fn of(rows: &BookRows<'a>, start: usize, end: usize) -> Self {
        Self {
            price: &rows.price[start..end],
            qty: &rows.qty[start..end],
            side: &rows.side[start..end],
            flags: &rows.flags[start..end],
        }
    }
}

/// One held delta.
#[derive(Clone, Debug)]
pub(super) struct PendingDelta {
    pub update_id: i64,
    pub prev_update_id: i64,
    price: Vec<f64>,
    qty: Vec<f64>,
    side: Vec<i8>,
    flags: Vec<u8>,
}

impl PendingDelta {
    pub fn levels(&self) -> Levels<'_> {
        Levels {
            price: &self.price,
            qty: &self.qty,
            side: &self.side,
            flags: &self.flags,
        }
    }
}

#[derive(Clone, Debug, Default)]
pub(super) struct Pending {
    deltas: VecDeque<PendingDelta>,
    rows: usize,
}

impl Pending {
    pub fn push(&mut self, update_id: i64, prev_update_id: i64, lv: &Levels<'_>) {
        self.rows += lv.price.len();
        self.deltas.push_back(PendingDelta {
            update_id,
            prev_update_id,
            price: lv.price.to_vec(),
            qty: lv.qty.to_vec(),
            side: lv.side.to_vec(),
            flags: lv.flags.to_vec(),
        });
        while self.deltas.len() > MAX_MESSAGES || self.rows > MAX_ROWS {
            let old = self.deltas.pop_front().expect("non-empty");
            self.rows -= old.price.len();
        }
    }

    pub fn take(&mut self) -> VecDeque<PendingDelta> {
        self.rows = 0;
        std::mem::take(&mut self.deltas)
    }
}
