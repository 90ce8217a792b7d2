//! One side of the book: a dense window of ticks around the market, with O(1) updates and an
//! occupancy bitset for finding the next best level, plus a sorted overflow map for outliers.

use std::collections::BTreeMap;

/// Ticks held in the dense window of one side (512 KiB of quantities, 8 KiB of bitset).
pub const WINDOW: usize = 1 << 16;
const WORDS: usize = WINDOW / 64;

/// Which side a `BookSide` holds; decides what "better" means.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SideKind {
    Bid,
    Ask,
}

/// Price levels of one side keyed by integer tick; quantities are always > 0.
#[derive(Clone, Debug)]
pub struct BookSide {
    kind: SideKind,
    /// Tick of dense index 0; meaningful only while `anchored`.
    base: i64,
    anchored: bool,
    qty: Vec<f64>,
    bits: Vec<u64>,
    dense_len: usize,
    dense_best: Option<usize>,
    /// Levels outside the dense window, so an outlier price costs one map entry, not memory.
    outside: BTreeMap<i64, f64>,
}

impl BookSide {
    pub fn new(kind: SideKind) -> Self {
        Self {
            kind,
            base: 0,
            anchored: false,
            qty: vec![0.0; WINDOW],
            bits: vec![0; WORDS],
            dense_len: 0,
            dense_best: None,
            outside: BTreeMap::new(),
        }
    }

    /// Number of levels on this side.
    pub fn len(&self) -> usize {
        self.dense_len + self.outside.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Set the quantity at `tick`; 0 deletes the level (deleting an absent level is a no-op).
    #[inline]
    pub fn set(&mut self, tick: i64, qty: f64) {
        if !self.anchored {
            if qty == 0.0 {
                return;
            }
            self.anchor(tick);
        }
        let off = tick.wrapping_sub(self.base);
        if (off as u64) < WINDOW as u64 {
            self.set_dense(off as usize, qty);
        } else if qty == 0.0 {
            self.outside.remove(&tick);
        } else {
            self.outside.insert(tick, qty);
        }
    }

    /// Remove every level; the next inserted level re-anchors the window.
    pub fn clear(&mut self) {
        for (w, word) in self.bits.iter_mut().enumerate() {
            let mut bits = *word;
            while bits != 0 {
                self.qty[w * 64 + bits.trailing_zeros() as usize] = 0.0;
                bits &= bits - 1;
            }
            *word = 0;
        }
        self.outside.clear();
        self.dense_len = 0;
        self.dense_best = None;
        self.anchored = false;
    }

    /// Best level as (tick, qty).
    #[inline]
    pub fn best(&self) -> Option<(i64, f64)> {
        let dense = self.dense_best.map(|i| (self.base + i as i64, self.qty[i]));
        if self.outside.is_empty() {
            return dense;
        }
        let out = match self.kind {
            SideKind::Bid => self.outside.last_key_value(),
            SideKind::Ask => self.outside.first_key_value(),
        }
        .map(|(t, q)| (*t, *q));
        match (dense, out) {
            (Some(d), Some(o)) => Some(if self.better(o.0, d.0) { o } else { d }),
            (d, o) => d.or(o),
        }
    }

    /// Move the window so it is centred on the best level when that level lies outside it.
    pub fn recenter_if_needed(&mut self) {
        if self.outside.is_empty() {
            return;
        }
        let Some((best, _)) = self.best() else { return };
        let off = best.wrapping_sub(self.base);
        if (off as u64) < WINDOW as u64 {
            return;
        }
        let mut levels = Vec::with_capacity(self.len());
        self.for_each_level(|t, q| {
            levels.push((t, q));
            true
        });
        self.clear();
        self.anchor(best);
        for (t, q) in levels {
            self.set(t, q);
        }
    }

    /// Visit levels best first until `f` returns false.
    pub fn for_each_level(&self, mut f: impl FnMut(i64, f64) -> bool) {
        match self.kind {
            SideKind::Bid => self.merge(self.outside.iter().rev(), &mut f),
            SideKind::Ask => self.merge(self.outside.iter(), &mut f),
        }
    }

    fn merge<'a>(
        &self,
        outside: impl Iterator<Item = (&'a i64, &'a f64)>,
        f: &mut impl FnMut(i64, f64) -> bool,
    ) {
        let mut outside = outside.peekable();
        let mut dense = self.dense_best;
        loop {
            let d = dense.map(|i| self.base + i as i64);
            let take_out = match (d, outside.peek()) {
                (None, None) => return,
                (None, Some(_)) => true,
                (Some(_), None) => false,
                (Some(d), Some((o, _))) => self.better(**o, d),
            };
            let keep_going = if take_out {
                let (t, q) = outside.next().expect("peeked");
                f(*t, *q)
            } else {
                let i = dense.expect("dense level");
                dense = self.step(i);
                f(self.base + i as i64, self.qty[i])
            };
            if !keep_going {
                return;
            }
        }
    }

    #[inline]
    fn better(&self, a: i64, b: i64) -> bool {
        match self.kind {
            SideKind::Bid => a > b,
            SideKind::Ask => a < b,
        }
    }

    fn anchor(&mut self, tick: i64) {
        // Centre the window on the first level so the market can drift either way.
        self.base = tick.saturating_sub((WINDOW / 2) as i64);
        self.anchored = true;
    }

    #[inline]
    fn set_dense(&mut self, i: usize, qty: f64) {
        let old = self.qty[i];
        if qty == 0.0 {
            if old != 0.0 {
                self.qty[i] = 0.0;
                self.bits[i / 64] &= !(1u64 << (i % 64));
                self.dense_len -= 1;
                if self.dense_best == Some(i) {
                    self.dense_best = if self.dense_len == 0 {
                        None
                    } else {
                        self.step(i)
                    };
                }
            }
            return;
        }
        if old == 0.0 {
            self.bits[i / 64] |= 1u64 << (i % 64);
            self.dense_len += 1;
            let improves = match (self.dense_best, self.kind) {
                (None, _) => true,
                (Some(b), SideKind::Bid) => i > b,
                (Some(b), SideKind::Ask) => i < b,
            };
            if improves {
                self.dense_best = Some(i);
            }
        }
        self.qty[i] = qty;
    }

    /// Next occupied dense index after `i`, moving away from the touch.
    #[inline]
    fn step(&self, i: usize) -> Option<usize> {
        match self.kind {
            SideKind::Bid => i.checked_sub(1).and_then(|j| self.highest_at_or_below(j)),
            SideKind::Ask => (i + 1 < WINDOW)
                .then(|| self.lowest_at_or_above(i + 1))
                .flatten(),
        }
    }

    fn highest_at_or_below(&self, i: usize) -> Option<usize> {
        let mut w = i / 64;
        let b = i % 64;
        let mask = if b == 63 {
            u64::MAX
        } else {
            (1u64 << (b + 1)) - 1
        };
        let mut word = self.bits[w] & mask;
        loop {
            if word != 0 {
                return Some(w * 64 + 63 - word.leading_zeros() as usize);
            }
            if w == 0 {
                return None;
            }
            w -= 1;
            word = self.bits[w];
        }
    }

    fn lowest_at_or_above(&self, i: usize) -> Option<usize> {
        let mut w = i / 64;
        let mut word = self.bits[w] & (u64::MAX << (i % 64));
        loop {
            if word != 0 {
                return Some(w * 64 + word.trailing_zeros() as usize);
            }
            w += 1;
            if w == WORDS {
                return None;
            }
            word = self.bits[w];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn levels(side: &BookSide) -> Vec<(i64, f64)> {
        let mut out = Vec::new();
        side.for_each_level(|t, q| {
            out.push((t, q));
            true
        });
        out
    }

    #[test]
    fn bid_best_tracks_inserts_and_deletes() {
        let mut s = BookSide::new(SideKind::Bid);
        s.set(100, 1.0);
        s.set(105, 2.0);
        s.set(90, 3.0);
        assert_eq!(s.best(), Some((105, 2.0)));
        s.set(105, 0.0);
        assert_eq!(s.best(), Some((100, 1.0)));
        s.set(100, 0.0);
        s.set(90, 0.0);
        assert_eq!(s.best(), None);
        assert!(s.is_empty());
    }

    #[test]
    fn ask_best_and_order() {
        let mut s = BookSide::new(SideKind::Ask);
        for (t, q) in [(200, 1.0), (198, 2.0), (250, 3.0)] {
            s.set(t, q);
        }
        assert_eq!(levels(&s), vec![(198, 2.0), (200, 1.0), (250, 3.0)]);
    }

    #[test]
    fn outliers_live_outside_the_window_and_merge_in_order() {
        let mut s = BookSide::new(SideKind::Bid);
        s.set(1_000_000, 1.0);
        s.set(10, 5.0); // far below: overflow map
        s.set(1_000_000 + WINDOW as i64 * 4, 7.0); // far above: becomes best
        assert_eq!(s.best(), Some((1_000_000 + WINDOW as i64 * 4, 7.0)));
        let got = levels(&s);
        assert_eq!(got.len(), 3);
        assert_eq!(got[1], (1_000_000, 1.0));
        assert_eq!(got[2], (10, 5.0));
        s.recenter_if_needed();
        assert_eq!(levels(&s), got);
        s.set(10, 0.0);
        assert_eq!(s.len(), 2);
    }

    #[test]
    fn clear_forgets_everything_and_reanchors() {
        let mut s = BookSide::new(SideKind::Ask);
        s.set(5, 1.0);
        s.set(i64::MAX / 4, 1.0);
        s.clear();
        assert!(s.is_empty());
        s.set(-3, 2.0);
        assert_eq!(levels(&s), vec![(-3, 2.0)]);
    }

    #[test]
    fn delete_of_absent_level_is_noop() {
        let mut s = BookSide::new(SideKind::Bid);
        s.set(7, 0.0);
        assert!(s.is_empty());
        s.set(7, 1.0);
        s.set(8, 0.0);
        assert_eq!(levels(&s), vec![(7, 1.0)]);
    }
}
