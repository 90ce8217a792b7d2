//! One side of the book: price levels in a Vec sorted so the best level is last (activity is
//! near the touch, so inserts and removals move few entries), each a FIFO queue of slots.

use super::slab::{Slab, NIL};
use super::types::Side;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Level {
    pub price: i64,
    /// Sum of the unfilled quantity of the orders queued here (> 0 while the level exists).
    pub total: i64,
    pub head: u32,
    pub tail: u32,
}

pub(super) struct BookSide {
    side: Side,
    /// Sorted by `key`, ascending: the best level is the last one.
    levels: Vec<Level>,
}

impl BookSide {
    pub fn new(side: Side) -> Self {
        Self {
            side,
            levels: Vec::new(),
        }
    }

    /// Ordering key: higher is better (bids: price; asks: -price).
    #[inline]
    fn key(&self, price: i64) -> i64 {
        match self.side {
            Side::Buy => price,
            Side::Sell => -price,
        }
    }

    /// Index of the level at `price`, or where it would be inserted.
    #[inline]
    pub fn find(&self, price: i64) -> Result<usize, usize> {
        let k = self.key(price);
        // Most lookups hit the few best levels: scan them before bisecting.
        let n = self.levels.len();
        for i in (n.saturating_sub(4)..n).rev() {
            let lk = self.key(self.levels[i].price);
            if lk == k {
                return Ok(i);
            }
            if lk < k {
                return Err(i + 1);
            }
        }
        let head = &self.levels[..n.saturating_sub(4)];
        head.binary_search_by_key(&k, |l| self.key(l.price))
    }

    #[inline]
    pub fn best(&self) -> Option<&Level> {
        self.levels.last()
    }

    #[inline]
    pub fn best_index(&self) -> Option<usize> {
        self.levels.len().checked_sub(1)
    }

    #[inline]
    pub fn level(&self, i: usize) -> &Level {
        &self.levels[i]
    }

    #[inline]
    pub fn level_mut(&mut self, i: usize) -> &mut Level {
        &mut self.levels[i]
    }

    pub fn len(&self) -> usize {
        self.levels.len()
    }

    /// Levels best first.
    pub fn iter_best_first(&self) -> impl Iterator<Item = &Level> {
        self.levels.iter().rev()
    }

    /// Queue `slot` at the back of the level at `price`, creating the level if needed.
    pub fn push_back(&mut self, price: i64, slot: u32, slab: &mut Slab) {
        let leaves = slab.node(slot).order.leaves;
        let i = match self.find(price) {
            Ok(i) => i,
            Err(i) => {
                let empty = Level {
                    price,
                    total: 0,
                    head: NIL,
                    tail: NIL,
                };
                self.levels.insert(i, empty);
                i
            }
        };
        let level = &mut self.levels[i];
        let node = slab.node_mut(slot);
        node.prev = level.tail;
        node.next = NIL;
        if level.tail == NIL {
            level.head = slot;
        } else {
            slab.node_mut(level.tail).next = slot;
        }
        level.tail = slot;
        level.total += leaves;
    }

    /// Take `slot` out of level `i`'s queue (its leaves leave the total); drops the level
    /// when it empties. True when the level was dropped.
    pub fn unlink(&mut self, i: usize, slot: u32, slab: &mut Slab) -> bool {
        let node = *slab.node(slot);
        let level = &mut self.levels[i];
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
        if level.head == NIL {
            self.levels.remove(i);
            return true;
        }
        false
    }
}
