//! One side of the book: price levels in a dense window of ticks around the market (O(1) by
//! price, an occupancy bitset to find the next best level) and a sorted map for levels outside
//! it, so an outlier price costs one map entry; each level is a FIFO queue of slab slots.

use std::collections::BTreeMap;

use super::slab::{Slab, NIL};
use super::types::Side;

/// Ticks in the dense window of one side (a multiple of 64).
pub(super) const WINDOW: usize = 1 << 14;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Level {
    pub price: i64,
    /// Sum of the unfilled quantity of the orders queued here (> 0 while the level exists).
    pub total: i64,
    pub head: u32,
    pub tail: u32,
}

impl Level {
    const EMPTY: Level = Level {
        price: 0,
        total: 0,
        head: NIL,
        tail: NIL,
    };

    fn new(price: i64) -> Level {
        Level {
            price,
            ..Level::EMPTY
        }
    }
}

pub(super) struct BookSide {
    side: Side,
    window: usize,
    /// Tick of `dense[0]`; set by the first level (and when the window moves).
    base: i64,
    /// Allocated on first use; a level is live where its bit is set.
    dense: Vec<Level>,
    bits: Vec<u64>,
    dense_len: usize,
    dense_best: Option<usize>,
    outside: BTreeMap<i64, Level>,
}

impl BookSide {
    /// A side with a `window` of ticks (rounded up to a multiple of 64); tests use small ones.
    pub fn with_window(side: Side, window: usize) -> Self {
        Self {
            side,
            window: window.max(64).div_ceil(64) * 64,
            base: 0,
            dense: Vec::new(),
            bits: Vec::new(),
            dense_len: 0,
            dense_best: None,
            outside: BTreeMap::new(),
        }
    }

    /// True when `a` is a better price than `b` for this side.
    #[inline]
    fn better(&self, a: i64, b: i64) -> bool {
        match self.side {
            Side::Buy => a > b,
            Side::Sell => a < b,
        }
    }

    #[inline]
    fn index(&self, price: i64) -> Option<usize> {
        let off = price.wrapping_sub(self.base);
        (!self.dense.is_empty() && (off as u64) < self.window as u64).then_some(off as usize)
    }

    #[inline]
    fn live(&self, i: usize) -> bool {
        self.bits[i / 64] & (1 << (i % 64)) != 0
    }

    pub fn len(&self) -> usize {
        self.dense_len + self.outside.len()
    }

    #[inline]
    pub fn best(&self) -> Option<&Level> {
        let dense = self.dense_best.map(|i| &self.dense[i]);
        if self.outside.is_empty() {
            return dense;
        }
        let out = match self.side {
            Side::Buy => self.outside.last_key_value(),
            Side::Sell => self.outside.first_key_value(),
        }
        .map(|(_, l)| l);
        match (dense, out) {
            (Some(d), Some(o)) => Some(if self.better(o.price, d.price) { o } else { d }),
            (d, o) => d.or(o),
        }
    }

    #[inline]
    pub fn get(&self, price: i64) -> Option<&Level> {
        match self.index(price) {
            Some(i) => self.live(i).then(|| &self.dense[i]),
            None => self.outside.get(&price),
        }
    }

    #[inline]
    pub fn get_mut(&mut self, price: i64) -> Option<&mut Level> {
        match self.index(price) {
            Some(i) => self.live(i).then(|| &mut self.dense[i]),
            None => self.outside.get_mut(&price),
        }
    }

    /// The level at `price`, created empty when absent.
    fn get_or_create(&mut self, price: i64) -> &mut Level {
        if self.dense.is_empty() {
            self.dense = vec![Level::EMPTY; self.window];
            self.bits = vec![0; self.window / 64];
            self.base = price - (self.window / 2) as i64;
        }
        let Some(i) = self.index(price) else {
            return self
                .outside
                .entry(price)
                .or_insert_with(|| Level::new(price));
        };
        if !self.live(i) {
            self.bits[i / 64] |= 1 << (i % 64);
            self.dense[i] = Level::new(price);
            self.dense_len += 1;
            if self
                .dense_best
                .is_none_or(|b| self.better(price, self.dense[b].price))
            {
                self.dense_best = Some(i);
            }
        }
        &mut self.dense[i]
    }

    /// Queue `slot` at the back of the level at `price`, creating the level if needed.
    pub fn push_back(&mut self, price: i64, slot: u32, slab: &mut Slab) {
        let leaves = slab.node(slot).order.leaves;
        let level = self.get_or_create(price);
        let tail = level.tail;
        level.tail = slot;
        if tail == NIL {
            level.head = slot;
        }
        level.total += leaves;
        let node = slab.node_mut(slot);
        node.prev = tail;
        node.next = NIL;
        if tail != NIL {
            slab.node_mut(tail).next = slot;
        }
        self.recenter_if_needed();
    }

    /// Take `slot` out of the queue at `price` (its leaves leave the total); drops the level
    /// when it empties. True when the level was dropped.
    pub fn unlink(&mut self, price: i64, slot: u32, slab: &mut Slab) -> bool {
        let node = *slab.node(slot);
        let level = self.get_mut(price).expect("a queued order's level exists");
        if node.prev == NIL {
            level.head = node.next;
        } else {
            slab.node_mut(node.prev).next = node.next;
        }
        if node.next == NIL {
            level.tail = node.prev;
        } else {
            slab.node_mut(node.next).prev = node.prev;
        }
        level.total -= node.order.leaves;
        if level.head != NIL {
            return false;
        }
        self.drop_level(price);
        true
    }

    fn drop_level(&mut self, price: i64) {
        let Some(i) = self.index(price) else {
            self.outside.remove(&price);
            self.recenter_if_needed();
            return;
        };
        self.bits[i / 64] &= !(1 << (i % 64));
        self.dense[i] = Level::EMPTY;
        self.dense_len -= 1;
        if self.dense_best == Some(i) {
            self.dense_best = self.next_live(i);
        }
        self.recenter_if_needed();
    }

    /// The best live dense index worse than `i` (below it for bids, above for asks).
    fn next_live(&self, i: usize) -> Option<usize> {
        if self.dense_len == 0 {
            return None;
        }
        match self.side {
            Side::Buy => {
                let (mut w, mut mask) = (i / 64, (1u64 << (i % 64)) - 1);
                loop {
                    let bits = self.bits[w] & mask;
                    if bits != 0 {
                        return Some(w * 64 + 63 - bits.leading_zeros() as usize);
                    }
                    w = w.checked_sub(1)?;
                    mask = u64::MAX;
                }
            }
            Side::Sell => {
                let (mut w, mut mask) = (i / 64, !((2u64 << (i % 64)).wrapping_sub(1)));
                while w < self.bits.len() {
                    let bits = self.bits[w] & mask;
                    if bits != 0 {
                        return Some(w * 64 + bits.trailing_zeros() as usize);
                    }
                    w += 1;
                    mask = u64::MAX;
                }
                None
            }
        }
    }

    /// Move the window onto the best level when that level lies outside it, so the levels
    /// that trade are the dense ones. Rare: prices have to move half a window.
    fn recenter_if_needed(&mut self) {
        if self.outside.is_empty() {
            return;
        }
        let Some(best) = self.best().map(|l| l.price) else {
            return;
        };
        if self.index(best).is_some() {
            return;
        }
        let mut levels: Vec<Level> = Vec::with_capacity(self.len());
        self.for_each_best_first(|l| {
            levels.push(*l);
            true
        });
        for w in 0..self.bits.len() {
            let mut bits = self.bits[w];
            while bits != 0 {
                self.dense[w * 64 + bits.trailing_zeros() as usize] = Level::EMPTY;
                bits &= bits - 1;
            }
            self.bits[w] = 0;
        }
        self.outside.clear();
        self.dense_len = 0;
        self.dense_best = None;
        self.base = best - (self.window / 2) as i64;
        for l in levels {
            *self.get_or_create(l.price) = l;
        }
    }

    /// Visit levels best first until `f` returns false.
    pub fn for_each_best_first(&self, f: impl FnMut(&Level) -> bool) {
        match self.side {
            Side::Buy => self.merge(self.outside.values().rev(), f),
            Side::Sell => self.merge(self.outside.values(), f),
        }
    }

    /// Merge the dense levels (best first) with `outside` (best first).
    fn merge<'a>(
        &'a self,
        mut outside: impl Iterator<Item = &'a Level>,
        mut f: impl FnMut(&Level) -> bool,
    ) {
        let mut dense = self.dense_best;
        let mut out = outside.next();
        loop {
            let d = dense.map(|i| &self.dense[i]);
            let level = match (d, out) {
                (None, None) => return,
                (Some(d), Some(o)) if !self.better(o.price, d.price) => d,
                (Some(d), None) => d,
                (_, Some(o)) => {
                    out = outside.next();
                    if !f(o) {
                        return;
                    }
                    continue;
                }
            };
            if !f(level) {
                return;
            }
            dense = dense.and_then(|i| self.next_live(i));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::resting;
    use super::*;

    fn levels(s: &BookSide) -> Vec<i64> {
        let mut v = Vec::new();
        s.for_each_best_first(|l| {
            v.push(l.price);
            true
        });
        v
    }

    #[test]
    fn next_live_scans_across_words_both_ways() {
        let mut slab = Slab::default();
        for side in [Side::Buy, Side::Sell] {
            let mut s = BookSide::with_window(side, 256);
            let prices = [1000i64, 1063, 1064, 1130, 1200];
            let slots: Vec<u32> = prices
                .iter()
                .map(|&p| {
                    let slot = slab.insert(resting(p, side));
                    s.push_back(p, slot, &mut slab);
                    slot
                })
                .collect();
            let want: Vec<i64> = match side {
                Side::Buy => vec![1200, 1130, 1064, 1063, 1000],
                Side::Sell => vec![1000, 1063, 1064, 1130, 1200],
            };
            assert_eq!(levels(&s), want);
            // Remove from the best end: the next best is found each time.
            for (k, &p) in want.iter().enumerate() {
                let slot = slots[prices.iter().position(|&x| x == p).unwrap()];
                assert_eq!(s.best().map(|l| l.price), Some(p));
                assert!(s.unlink(p, slot, &mut slab));
                assert_eq!(s.len(), want.len() - k - 1);
            }
            assert!(s.best().is_none());
        }
    }
}
