//! Replay rows through a book and record the top levels after every message (batch features).

use super::{BookRows, OrderBook};
use crate::error::{CoreError, CoreResult};

/// Top-of-book history: one entry per message; level arrays are row-major (message × depth).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TopLevels {
    pub depth: usize,
    pub exch_ts: Vec<i64>,
    pub local_ts: Vec<i64>,
    pub update_id: Vec<i64>,
    pub valid: Vec<bool>,
    pub bid_px: Vec<f64>,
    pub bid_qty: Vec<f64>,
    pub ask_px: Vec<f64>,
    pub ask_qty: Vec<f64>,
}

impl TopLevels {
    pub fn len(&self) -> usize {
        self.exch_ts.len()
    }

    pub fn is_empty(&self) -> bool {
        self.exch_ts.is_empty()
    }

    fn with_capacity(messages: usize, depth: usize) -> Self {
        let levels = messages * depth;
        Self {
            depth,
            exch_ts: Vec::with_capacity(messages),
            local_ts: Vec::with_capacity(messages),
            update_id: Vec::with_capacity(messages),
            valid: Vec::with_capacity(messages),
            bid_px: vec![f64::NAN; levels],
            bid_qty: vec![f64::NAN; levels],
            ask_px: vec![f64::NAN; levels],
            ask_qty: vec![f64::NAN; levels],
        }
    }

    fn record(&mut self, book: &OrderBook, rows: &BookRows<'_>, end_row: usize) {
        let k = self.exch_ts.len();
        self.exch_ts.push(rows.exch_ts[end_row]);
        self.local_ts.push(rows.local_ts[end_row]);
        self.update_id.push(rows.update_id[end_row]);
        self.valid.push(book.is_valid());
        let r = k * self.depth..(k + 1) * self.depth;
        book.write_top(
            self.depth,
            &mut self.bid_px[r.clone()],
            &mut self.bid_qty[r.clone()],
            &mut self.ask_px[r.clone()],
            &mut self.ask_qty[r],
        );
    }
}

/// Replay `rows` through a fresh book and record the top `depth` levels after each message.
pub fn replay_top_levels(
    rows: &BookRows<'_>,
    tick_size: f64,
    depth: usize,
) -> CoreResult<TopLevels> {
    if depth == 0 {
        return Err(CoreError::InvalidInput("depth must be >= 1".into()));
    }
    let mut book = OrderBook::new(tick_size)?;
    rows.check()?;
    let messages = rows
        .flags
        .iter()
        .filter(|f| *f & super::FLAG_END != 0)
        .count();
    let mut out = TopLevels::with_capacity(messages, depth);
    book.apply_rows_with(rows, |b, end| out.record(b, rows, end))?;
    Ok(out)
}
