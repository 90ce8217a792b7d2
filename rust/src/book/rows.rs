//! Level rows in struct-of-arrays form (the layout of `nexusforge.market.events`) and the
//! framing checks that split them into messages.

use crate::error::{CoreError, CoreResult};

pub const FLAG_SNAPSHOT: u8 = 1;
pub const FLAG_BEGIN: u8 = 2;
pub const FLAG_END: u8 = 4;
pub const FLAG_EMPTY: u8 = 8;

/// Borrowed level-row columns; every slice has the same length.
#[derive(Clone, Copy, Debug)]
pub struct BookRows<'a> {
    pub exch_ts: &'a [i64],
    pub local_ts: &'a [i64],
    pub update_id: &'a [i64],
    pub prev_update_id: &'a [i64],
    pub price: &'a [f64],
    pub qty: &'a [f64],
    pub side: &'a [i8],
    pub flags: &'a [u8],
}

impl BookRows<'_> {
    pub fn len(&self) -> usize {
        self.price.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Check column lengths and message framing: BEGIN exactly on the first row of each
    /// message, END on its last, and the same ids and snapshot flag on all of its rows.
    pub fn check(&self) -> CoreResult<()> {
        let n = self.len();
        let lens = [
            ("exch_ts", self.exch_ts.len()),
            ("local_ts", self.local_ts.len()),
            ("update_id", self.update_id.len()),
            ("prev_update_id", self.prev_update_id.len()),
            ("qty", self.qty.len()),
            ("side", self.side.len()),
            ("flags", self.flags.len()),
        ];
        if let Some((name, len)) = lens.iter().find(|(_, len)| *len != n) {
            return Err(CoreError::InvalidInput(format!(
                "column {name} has {len} rows, price has {n}"
            )));
        }
        let mut start = 0;
        for i in 0..n {
            self.check_row(start, i)?;
            if self.flags[i] & FLAG_END != 0 {
                start = i + 1;
            }
        }
        if start != n {
            return Err(CoreError::InvalidInput(format!(
                "last message (from row {start}) has no END row"
            )));
        }
        Ok(())
    }

    fn check_row(&self, start: usize, i: usize) -> CoreResult<()> {
        let begin = self.flags[i] & FLAG_BEGIN != 0;
        if begin != (i == start) {
            let what = if begin {
                "BEGIN inside a message"
            } else {
                "message without BEGIN"
            };
            return Err(CoreError::InvalidInput(format!("row {i}: {what}")));
        }
        let same = self.update_id[i] == self.update_id[start]
            && self.prev_update_id[i] == self.prev_update_id[start]
            && (self.flags[i] ^ self.flags[start]) & FLAG_SNAPSHOT == 0;
        if !same {
            return Err(CoreError::InvalidInput(format!(
                "row {i}: ids or snapshot flag differ from its message's first row {start}"
            )));
        }
        Ok(())
    }
}

/// Owned level-row columns, filled by the JSON parser.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RowBuffer {
    pub exch_ts: Vec<i64>,
    pub local_ts: Vec<i64>,
    pub update_id: Vec<i64>,
    pub prev_update_id: Vec<i64>,
    pub price: Vec<f64>,
    pub qty: Vec<f64>,
    pub side: Vec<i8>,
    pub flags: Vec<u8>,
    /// Bybit `data.seq` per row (0 where the venue sends none).
    pub seq: Vec<i64>,
}

impl RowBuffer {
    pub fn len(&self) -> usize {
        self.price.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn clear(&mut self) {
        self.truncate(0);
    }

    /// Drop rows from `n` on (used to undo a message that turned out malformed).
    pub fn truncate(&mut self, n: usize) {
        self.exch_ts.truncate(n);
        self.local_ts.truncate(n);
        self.update_id.truncate(n);
        self.prev_update_id.truncate(n);
        self.price.truncate(n);
        self.qty.truncate(n);
        self.side.truncate(n);
        self.flags.truncate(n);
        self.seq.truncate(n);
    }

    /// Add one level (price, qty, side); the message fields are filled by `finish_message`.
    #[inline]
    pub fn push_level(&mut self, price: f64, qty: f64, side: i8) {
        self.price.push(price);
        self.qty.push(qty);
        self.side.push(side);
    }

    /// Fill the per-message columns of rows `start..` and set BEGIN/END (and EMPTY when the
    /// message had no level, so its ids still advance the book).
    pub fn finish_message(&mut self, start: usize, msg: &MessageFields) {
        let empty = if self.price.len() == start {
            self.push_level(f64::NAN, f64::NAN, 0);
            FLAG_EMPTY
        } else {
            0
        };
        let end = self.price.len();
        let snap = if msg.snapshot { FLAG_SNAPSHOT } else { 0 };
        for i in start..end {
            let mut f = snap | empty;
            if i == start {
                f |= FLAG_BEGIN;
            }
            if i + 1 == end {
                f |= FLAG_END;
            }
            self.flags.push(f);
        }
        let n = end - start;
        self.exch_ts.extend(std::iter::repeat_n(msg.exch_ts, n));
        self.local_ts.extend(std::iter::repeat_n(msg.local_ts, n));
        self.update_id.extend(std::iter::repeat_n(msg.update_id, n));
        self.prev_update_id
            .extend(std::iter::repeat_n(msg.prev_update_id, n));
        self.seq.extend(std::iter::repeat_n(msg.seq, n));
    }

    pub fn as_rows(&self) -> BookRows<'_> {
        BookRows {
            exch_ts: &self.exch_ts,
            local_ts: &self.local_ts,
            update_id: &self.update_id,
            prev_update_id: &self.prev_update_id,
            price: &self.price,
            qty: &self.qty,
            side: &self.side,
            flags: &self.flags,
        }
    }
}

/// The per-message fields a parsed message gives all of its rows.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct MessageFields {
    pub exch_ts: i64,
    pub local_ts: i64,
    pub update_id: i64,
    pub prev_update_id: i64,
    pub seq: i64,
    pub snapshot: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(update_id: i64, snapshot: bool) -> MessageFields {
        MessageFields {
            update_id,
            prev_update_id: update_id - 1,
            snapshot,
            ..Default::default()
        }
    }

    #[test]
    fn buffer_frames_messages_and_marks_empty_ones() {
        let mut b = RowBuffer::default();
        b.push_level(1.0, 2.0, 1);
        b.push_level(1.1, 2.0, -1);
        b.finish_message(0, &msg(5, true));
        b.finish_message(2, &msg(6, false));
        assert_eq!(b.flags, vec![1 | 2, 1 | 4, 2 | 4 | 8]);
        assert_eq!(b.update_id, vec![5, 5, 6]);
        assert!(b.as_rows().check().is_ok());
    }

    #[test]
    fn check_rejects_bad_framing() {
        let mut b = RowBuffer::default();
        b.push_level(1.0, 2.0, 1);
        b.push_level(1.1, 2.0, -1);
        b.finish_message(0, &msg(5, false));
        b.flags[1] = 0;
        assert!(b.as_rows().check().is_err()); // no END
        b.flags[1] = FLAG_END | FLAG_BEGIN;
        assert!(b.as_rows().check().is_err()); // BEGIN inside
        b.flags[1] = FLAG_END;
        b.update_id[1] = 9;
        assert!(b.as_rows().check().is_err()); // ids differ
        b.update_id[1] = 5;
        b.local_ts.pop();
        assert!(b.as_rows().check().is_err()); // lengths
    }
}
