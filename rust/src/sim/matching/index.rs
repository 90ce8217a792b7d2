//! Order id → slot. Ids are issued in sequence and most orders die young, so a window of slots
//! indexed by `id - base` answers nearly every lookup without hashing; ids that fall behind a
//! full window while their order still rests move to a hash map.

use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasherDefault, Hasher};

use super::slab::NIL;
use super::types::OrderId;

/// Window length at which the oldest half is moved out (4 MiB of slots).
const WINDOW_CAP: usize = 1 << 20;

/// Multiplicative hash for the ids that left the window.
#[derive(Default)]
struct IdHasher(u64);

impl Hasher for IdHasher {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(self.0.rotate_left(8) ^ u64::from(b));
        }
    }

    #[inline]
    fn write_u64(&mut self, n: u64) {
        self.0 = n.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }

    #[inline]
    fn finish(&self) -> u64 {
        self.0
    }
}

pub(super) struct IdIndex {
    /// Id of `window[0]`.
    base: OrderId,
    /// Slot per id from `base` on; NIL where no order rests. Never starts with NIL. Every id
    /// in `old` is below `base`.
    window: VecDeque<u32>,
    old: HashMap<OrderId, u32, BuildHasherDefault<IdHasher>>,
    cap: usize,
    len: usize,
}

impl Default for IdIndex {
    fn default() -> Self {
        Self::with_cap(WINDOW_CAP)
    }
}

impl IdIndex {
    pub fn with_cap(cap: usize) -> Self {
        Self {
            base: 0,
            window: VecDeque::new(),
            old: HashMap::default(),
            cap: cap.max(2),
            len: 0,
        }
    }

    /// Number of ids indexed.
    pub fn len(&self) -> usize {
        self.len
    }

    #[inline]
    pub fn get(&self, id: OrderId) -> Option<u32> {
        match id.checked_sub(self.base) {
            Some(off) if (off as usize) < self.window.len() => {
                let slot = self.window[off as usize];
                (slot != NIL).then_some(slot)
            }
            Some(_) => None,
            None => self.old.get(&id).copied(),
        }
    }

    /// Index `id` (not indexed yet) at `slot`.
    pub fn insert(&mut self, id: OrderId, slot: u32) {
        self.len += 1;
        // An empty window restarts at the new id; never below `base`, which would cover
        // ids that rest in the map.
        if self.window.is_empty() && id >= self.base {
            self.base = id;
        }
        let Some(off) = id.checked_sub(self.base) else {
            self.old.insert(id, slot);
            return;
        };
        let off = off as usize;
        if off >= self.window.len() {
            self.window.resize(off + 1, NIL);
        }
        self.window[off] = slot;
        if self.window.len() > self.cap {
            self.spill();
        }
    }

    /// Forget `id`; true when it was indexed.
    pub fn remove(&mut self, id: OrderId) -> bool {
        let found = match id.checked_sub(self.base) {
            Some(off) if (off as usize) < self.window.len() => {
                let s = &mut self.window[off as usize];
                let was = *s != NIL;
                *s = NIL;
                self.trim();
                was
            }
            Some(_) => false,
            None => self.old.remove(&id).is_some(),
        };
        self.len -= usize::from(found);
        found
    }

    /// Drop dead ids from the front so the window starts at a live one.
    #[inline]
    fn trim(&mut self) {
        while self.window.front() == Some(&NIL) {
            self.window.pop_front();
            self.base += 1;
        }
    }

    /// Move the oldest half of a full window to the map (orders that rest for long).
    fn spill(&mut self) {
        while self.window.len() > self.cap / 2 {
            if let Some(slot) = self.window.pop_front() {
                if slot != NIL {
                    self.old.insert(self.base, slot);
                }
            }
            self.base += 1;
        }
        self.trim();
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use proptest::prelude::*;

    use super::*;

    proptest! {
        /// Equal to a plain map under inserts of new ids, removals and re-inserts of removed
        /// ids (an amend that loses priority), with a tiny window so ids spill.
        #[test]
        fn index_equals_a_map(steps in prop::collection::vec((0u8..3, any::<usize>()), 1..400), cap in 2usize..9) {
            let mut ix = IdIndex::with_cap(cap);
            let mut model: HashMap<OrderId, u32> = HashMap::new();
            let mut next: OrderId = 1;
            let mut removed: Vec<OrderId> = Vec::new();
            for (k, (what, pick)) in steps.into_iter().enumerate() {
                let slot = k as u32;
                match what {
                    0 => {
                        next += (pick % 3) as u64; // skipped ids: rejected or filled on arrival
                        ix.insert(next, slot);
                        model.insert(next, slot);
                        next += 1;
                    }
                    1 if !model.is_empty() => {
                        let mut ids: Vec<_> = model.keys().copied().collect();
                        ids.sort_unstable();
                        let id = ids[pick % ids.len()];
                        prop_assert!(ix.remove(id));
                        model.remove(&id);
                        removed.push(id);
                    }
                    _ => {
                        if let Some(id) = removed.pop() {
                            ix.insert(id, slot);
                            model.insert(id, slot);
                        }
                    }
                }
                prop_assert_eq!(ix.len(), model.len());
                for id in 0..next + 2 {
                    prop_assert_eq!(ix.get(id), model.get(&id).copied(), "id {}", id);
                }
                prop_assert!(!ix.remove(next + 5));
            }
        }
    }
}
