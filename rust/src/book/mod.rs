//! The L2 order book: Bybit v5 snapshot/delta rules, generalised so Binance diff depth fits.
//!
//! Rows are grouped into messages (BEGIN..END). A snapshot (flag, or `update_id == 1`, a venue
//! restart) replaces the book; a delta covers ids `(prev_update_id, update_id]` and applies
//! only when it continues the book. Anything else is skipped and counted, never fatal.

mod decimal;
pub mod json;
mod pending;
#[cfg(test)]
mod proptests;
mod replay;
mod rows;
mod side;

pub use json::{parse_book_messages, BookFormat, ParsedBook};
use pending::{Levels, Pending};
pub use replay::{replay_top_levels, TopLevels};
pub use rows::{
    BookRows, MessageFields, RowBuffer, FLAG_BEGIN, FLAG_EMPTY, FLAG_END, FLAG_SNAPSHOT,
};
use side::{BookSide, SideKind};

use crate::error::{CoreError, CoreResult};

/// Largest |price / tick_size| accepted; keeps ticks exact in f64 and far from i64 overflow.
const MAX_TICK: f64 = 4.0e15;
/// Messages parsed per step of `apply_json`: enough to amortise the step, small enough that
/// the rows stay in L2 cache.
const JSON_CHUNK: usize = 64;

/// What happened to the messages a book has seen.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BookCounters {
    pub snapshots: u64,
    pub deltas_applied: u64,
    pub level_updates: u64,
    pub deltas_before_snapshot: u64,
    pub skipped_while_invalid: u64,
    pub stale: u64,
    pub gaps: u64,
    pub crossed: u64,
    pub bad_messages: u64,
    /// Held deltas applied after the snapshot they continue (also in `deltas_applied`).
    pub replayed: u64,
}

/// What the id rules say about a delta.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Verdict {
    Apply,
    /// Before a snapshot, while invalid, or after a gap: hold it for the next snapshot.
    Hold,
    Stale,
}

/// Result of walking one side of the book for a quantity.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct WalkFill {
    /// Volume-weighted price of what was filled (NaN when nothing was).
    pub avg_price: f64,
    pub filled_qty: f64,
    pub notional: f64,
}

/// A price level as (price, qty).
pub type Level = (f64, f64);

/// An L2 book keyed by integer tick.
#[derive(Clone, Debug)]
pub struct OrderBook {
    tick_size: f64,
    /// `1 / tick_size` when it is a whole number (0.1, 0.0001, 0.5): prices are then
    /// `tick / tick_div`, which prints as the venue's decimal (19538 / 1e4 = 1.9538).
    tick_div: Option<f64>,
    bids: BookSide,
    asks: BookSide,
    valid: bool,
    has_snapshot: bool,
    last_update_id: i64,
    counters: BookCounters,
    pending: Pending,
    /// Why the last delta was not applied (decides whether it is held).
    last_verdict: Verdict,
    json_rows: RowBuffer,
}

impl OrderBook {
    pub fn new(tick_size: f64) -> CoreResult<Self> {
        if !(tick_size.is_finite() && tick_size > 0.0) {
            return Err(CoreError::InvalidInput(format!(
                "tick_size must be finite and > 0, got {tick_size}"
            )));
        }
        let inv = (1.0 / tick_size).round();
        let tick_div = (inv >= 1.0 && (inv * tick_size - 1.0).abs() < 1e-12).then_some(inv);
        Ok(Self {
            tick_size,
            tick_div,
            bids: BookSide::new(SideKind::Bid),
            asks: BookSide::new(SideKind::Ask),
            valid: false,
            has_snapshot: false,
            last_update_id: 0,
            counters: BookCounters::default(),
            pending: Pending::default(),
            last_verdict: Verdict::Apply,
            json_rows: RowBuffer::default(),
        })
    }

    pub fn tick_size(&self) -> f64 {
        self.tick_size
    }

    pub fn is_valid(&self) -> bool {
        self.valid
    }

    pub fn last_update_id(&self) -> i64 {
        self.last_update_id
    }

    pub fn counters(&self) -> BookCounters {
        self.counters
    }

    /// Apply a batch of level rows (whole messages only).
    pub fn apply_rows(&mut self, rows: &BookRows<'_>) -> CoreResult<()> {
        self.apply_rows_with(rows, |_, _| {})
    }

    /// Apply rows, calling `after(book, end_row)` once each message has been handled.
    pub fn apply_rows_with(
        &mut self,
        rows: &BookRows<'_>,
        mut after: impl FnMut(&Self, usize),
    ) -> CoreResult<()> {
        rows.check()?;
        let mut start = 0;
        for (i, f) in rows.flags.iter().enumerate() {
            if f & FLAG_END != 0 {
                self.apply_message(rows, start, i + 1);
                after(self, i);
                start = i + 1;
            }
        }
        Ok(())
    }

    /// Parse raw venue messages and apply the book ones, without leaving Rust.
    /// Returns how many messages were malformed (they are skipped).
    pub fn apply_json(
        &mut self,
        messages: &[&[u8]],
        format: BookFormat,
        local_ts: Option<&[i64]>,
    ) -> CoreResult<usize> {
        json::check_local_ts(local_ts, messages.len())?;
        let mut buf = std::mem::take(&mut self.json_rows);
        let result = self.apply_json_chunks(messages, format, local_ts, &mut buf);
        self.json_rows = buf;
        result
    }

    /// Parse and apply a chunk at a time, so the row buffer stays in cache instead of holding
    /// a whole recording's rows (parse + apply was memory-bound that way).
    fn apply_json_chunks(
        &mut self,
        messages: &[&[u8]],
        format: BookFormat,
        local_ts: Option<&[i64]>,
        buf: &mut RowBuffer,
    ) -> CoreResult<usize> {
        let mut malformed = 0;
        for (k, chunk) in messages.chunks(JSON_CHUNK).enumerate() {
            let local = local_ts.map(|ts| &ts[k * JSON_CHUNK..k * JSON_CHUNK + chunk.len()]);
            buf.clear();
            malformed += json::parse_into(chunk, format, local, buf)?.malformed;
            self.apply_rows(&buf.as_rows())?;
        }
        Ok(malformed)
    }

    fn apply_message(&mut self, rows: &BookRows<'_>, start: usize, end: usize) {
        let uid = rows.update_id[start];
        let lv = Levels::of(rows, start, end);
        if rows.flags[start] & FLAG_SNAPSHOT != 0 || uid == 1 {
            self.apply_snapshot(uid, &lv);
            self.replay_pending();
        } else if !self.apply_delta(uid, rows.prev_update_id[start], &lv) {
            // Held deltas are replayed by the next snapshot when it is older than they are.
            if self.last_verdict == Verdict::Hold {
                self.pending.push(uid, rows.prev_update_id[start], &lv);
            }
        }
    }

    fn apply_snapshot(&mut self, uid: i64, lv: &Levels<'_>) {
        if !self.levels_ok(lv) {
            return self.reject_bad();
        }
        self.bids.clear();
        self.asks.clear();
        self.apply_levels(lv);
        self.counters.snapshots += 1;
        self.has_snapshot = true;
        self.valid = true;
        self.finish_applied(uid);
    }

    /// Apply a delta if the id rules allow it; true when applied.
    fn apply_delta(&mut self, uid: i64, prev: i64, lv: &Levels<'_>) -> bool {
        self.last_verdict = self.judge_delta(uid, prev);
        if self.last_verdict != Verdict::Apply {
            return false;
        }
        if !self.levels_ok(lv) {
            self.reject_bad();
            return false;
        }
        self.apply_levels(lv);
        self.counters.deltas_applied += 1;
        self.finish_applied(uid);
        true
    }

    /// Replay held deltas that continue the snapshot just applied; drop the rest.
    fn replay_pending(&mut self) {
        let held = self.pending.take();
        let mut bridged = false;
        for d in &held {
            if !self.valid {
                break;
            }
            if d.update_id <= self.last_update_id {
                continue; // already in the snapshot (counted when it was held)
            }
            if !bridged && d.prev_update_id > self.last_update_id {
                break; // the snapshot is newer than the held deltas' gap: nothing to bridge
            }
            bridged = true;
            if !self.apply_delta(d.update_id, d.prev_update_id, &d.levels()) {
                break;
            }
            self.counters.replayed += 1;
        }
    }

    fn finish_applied(&mut self, uid: i64) {
        self.last_update_id = uid;
        self.bids.recenter_if_needed();
        self.asks.recenter_if_needed();
        self.check_crossed();
    }

    /// The id rules for a delta; counts the reason when it does not apply.
    fn judge_delta(&mut self, uid: i64, prev: i64) -> Verdict {
        let c = &mut self.counters;
        if !self.has_snapshot {
            c.deltas_before_snapshot += 1;
        } else if !self.valid {
            c.skipped_while_invalid += 1;
        } else if uid <= self.last_update_id {
            c.stale += 1;
            return Verdict::Stale;
        } else if prev > self.last_update_id {
            c.gaps += 1;
            self.valid = false;
        } else {
            return Verdict::Apply;
        }
        Verdict::Hold
    }

    fn reject_bad(&mut self) {
        self.counters.bad_messages += 1;
        self.valid = false;
    }

    fn check_crossed(&mut self) {
        if let (Some((b, _)), Some((a, _))) = (self.bids.best(), self.asks.best()) {
            if b >= a {
                self.counters.crossed += 1;
                self.valid = false;
            }
        }
    }

    /// Validate every level of a message before any of it is applied.
    fn levels_ok(&self, lv: &Levels<'_>) -> bool {
        let mut ok = true;
        // One branch-free pass: this runs on every level, so no early exit per row.
        for i in 0..lv.price.len() {
            let (p, q, s) = (lv.price[i], lv.qty[i], lv.side[i]);
            let good = (s == 1 || s == -1)
                & p.is_finite()
                & (p > 0.0)
                & q.is_finite()
                & (q >= 0.0)
                & (p / self.tick_size <= MAX_TICK);
            ok &= good | (lv.flags[i] & FLAG_EMPTY != 0);
        }
        ok
    }

    #[inline]
    fn apply_levels(&mut self, lv: &Levels<'_>) {
        let mut applied = 0u64;
        for i in 0..lv.price.len() {
            if lv.flags[i] & FLAG_EMPTY != 0 {
                continue;
            }
            let tick = (lv.price[i] / self.tick_size).round() as i64;
            if lv.side[i] == 1 {
                self.bids.set(tick, lv.qty[i]);
            } else {
                self.asks.set(tick, lv.qty[i]);
            }
            applied += 1;
        }
        self.counters.level_updates += applied;
    }

    fn price(&self, tick: i64) -> f64 {
        match self.tick_div {
            Some(div) => tick as f64 / div,
            None => tick as f64 * self.tick_size,
        }
    }

    pub fn best_bid(&self) -> Option<Level> {
        self.bids.best().map(|(t, q)| (self.price(t), q))
    }

    pub fn best_ask(&self) -> Option<Level> {
        self.asks.best().map(|(t, q)| (self.price(t), q))
    }

    /// Top `n` levels per side: bids best (highest) first, asks best (lowest) first.
    pub fn depth(&self, n: usize) -> (Vec<Level>, Vec<Level>) {
        (
            self.side_depth(&self.bids, n),
            self.side_depth(&self.asks, n),
        )
    }

    fn side_depth(&self, side: &BookSide, n: usize) -> Vec<Level> {
        if side.is_empty() {
            return Vec::new();
        }
        let mut out = Vec::with_capacity(n.min(side.len()));
        self.visit_top(side, n, |p, q| out.push((p, q)));
        out
    }

    /// Call `f(price, qty)` for the top `n` levels of `side`.
    fn visit_top(&self, side: &BookSide, n: usize, mut f: impl FnMut(f64, f64)) {
        if n == 0 {
            return;
        }
        let mut k = 0;
        side.for_each_level(|t, q| {
            f(self.price(t), q);
            k += 1;
            k < n
        });
    }

    pub fn mid(&self) -> Option<f64> {
        let ((b, _), (a, _)) = (self.best_bid()?, self.best_ask()?);
        Some((b + a) / 2.0)
    }

    pub fn spread(&self) -> Option<f64> {
        let ((b, _), (a, _)) = (self.best_bid()?, self.best_ask()?);
        Some(a - b)
    }

    /// Size-weighted mid: leans towards the side with less size (the likelier next touch).
    pub fn microprice(&self) -> Option<f64> {
        let ((b, bq), (a, aq)) = (self.best_bid()?, self.best_ask()?);
        Some((b * aq + a * bq) / (bq + aq))
    }

    /// Walk the asks to buy `qty`; partial when the book is too thin.
    pub fn cost_to_buy(&self, qty: f64) -> CoreResult<WalkFill> {
        self.walk(&self.asks, qty)
    }

    /// Walk the bids to sell `qty`; partial when the book is too thin.
    pub fn cost_to_sell(&self, qty: f64) -> CoreResult<WalkFill> {
        self.walk(&self.bids, qty)
    }

    fn walk(&self, side: &BookSide, qty: f64) -> CoreResult<WalkFill> {
        if !(qty.is_finite() && qty > 0.0) {
            return Err(CoreError::InvalidInput(format!(
                "quantity must be finite and > 0, got {qty}"
            )));
        }
        let (mut filled, mut notional) = (0.0, 0.0);
        side.for_each_level(|t, q| {
            let take = q.min(qty - filled);
            filled += take;
            notional += take * self.price(t);
            filled < qty
        });
        let avg_price = if filled > 0.0 {
            notional / filled
        } else {
            f64::NAN
        };
        Ok(WalkFill {
            avg_price,
            filled_qty: filled,
            notional,
        })
    }

    /// Write the top `n` levels of each side into the given slices (NaN where no level).
    pub(crate) fn write_top(
        &self,
        n: usize,
        bid_px: &mut [f64],
        bid_qty: &mut [f64],
        ask_px: &mut [f64],
        ask_qty: &mut [f64],
    ) {
        for (side, px, qx) in [(&self.bids, bid_px, bid_qty), (&self.asks, ask_px, ask_qty)] {
            px.fill(f64::NAN);
            qx.fill(f64::NAN);
            let mut k = 0;
            self.visit_top(side, n, |p, q| {
                px[k] = p;
                qx[k] = q;
                k += 1;
            });
        }
    }
}

#[cfg(test)]
mod tests;
