//! The kernel's event queue: a radix heap on integer-nanosecond times with FIFO ties.
//!
//! Simulated time never runs backwards, so every push is at or after the last popped time and
//! a monotone queue suffices. An entry waits in the bucket named by the highest bit in which
//! its time differs from the last popped time (bucket 0: equal times). Popping takes bucket 0
//! front to back; when it is empty the lowest non-empty bucket is split by its minimum, each
//! entry moving to a strictly lower bucket, so an entry moves at most 64 times and in practice
//! a few. Every bucket stays in scheduling order (pushes append the newest; a split keeps the
//! order), so equal times pop in the order they were scheduled: the same order as a min-heap
//! on (time, sequence), without a comparison per level or a mispredicted branch per pop.

use super::Ns;

/// Buckets: 0 for the last popped time, 1 + b for a highest differing bit b.
const BUCKETS: usize = 65;

/// A waiting entry: its time and the slot of its payload.
#[derive(Debug, Clone, Copy)]
struct Entry {
    ts: u64,
    slot: u32,
}

/// Min-queue of payloads by (time, scheduling order).
#[derive(Debug)]
pub struct EventQueue<T> {
    buckets: Vec<Vec<Entry>>,
    /// Next entry of bucket 0 to pop (bucket 0 is consumed front to back).
    head: usize,
    /// Bit i set: bucket i may be non-empty (bucket 0 counts from `head`).
    occupied: u128,
    last: u64,
    len: usize,
    payloads: Vec<T>,
    free: Vec<u32>,
    /// An emptied bucket's buffer, kept to take the next split without allocating.
    spare: Vec<Entry>,
}

impl<T> Default for EventQueue<T> {
    fn default() -> Self {
        Self {
            buckets: (0..BUCKETS).map(|_| Vec::new()).collect(),
            head: 0,
            occupied: 0,
            last: 0,
            len: 0,
            payloads: Vec::new(),
            free: Vec::new(),
            spare: Vec::new(),
        }
    }
}

impl<T: Copy> EventQueue<T> {
    /// Schedules `msg` at `ts`, after everything already scheduled at `ts`. A time before
    /// the last popped one (or before 0) is taken as that time: the queue never goes back.
    pub fn push(&mut self, ts: Ns, msg: T) {
        let ts = (ts.max(0) as u64).max(self.last);
        debug_assert!(ts as Ns >= 0);
        let slot = match self.free.pop() {
            Some(slot) => {
                self.payloads[slot as usize] = msg;
                slot
            }
            None => {
                self.payloads.push(msg);
                u32::try_from(self.payloads.len() - 1).expect("fewer than 2^32 pending messages")
            }
        };
        let b = self.bucket_of(ts);
        self.buckets[b].push(Entry { ts, slot });
        self.occupied |= 1 << b;
        self.len += 1;
    }

    /// The earliest message (first scheduled among equal times) and its time.
    pub fn pop(&mut self) -> Option<(Ns, T)> {
        if self.head == self.buckets[0].len() && !self.refill() {
            return None;
        }
        let e = self.buckets[0][self.head];
        self.head += 1;
        self.len -= 1;
        self.free.push(e.slot);
        Some((e.ts as Ns, self.payloads[e.slot as usize]))
    }

    /// Bucket 0 is spent: splits the lowest non-empty bucket around its minimum time.
    /// Returns false when the queue is empty.
    fn refill(&mut self) -> bool {
        self.buckets[0].clear();
        self.head = 0;
        self.occupied &= !1;
        if self.occupied == 0 {
            return false;
        }
        let j = self.occupied.trailing_zeros() as usize;
        self.occupied &= !(1 << j);
        let mut split = std::mem::replace(&mut self.buckets[j], std::mem::take(&mut self.spare));
        self.last = split.iter().map(|e| e.ts).min().expect("occupied bucket");
        for &e in &split {
            let b = self.bucket_of(e.ts);
            self.buckets[b].push(e);
            self.occupied |= 1 << b;
        }
        split.clear();
        self.spare = split;
        true
    }

    fn bucket_of(&self, ts: u64) -> usize {
        let diff = ts ^ self.last;
        if diff == 0 {
            0
        } else {
            64 - diff.leading_zeros() as usize
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

#[cfg(test)]
mod tests {
    use std::cmp::Reverse;
    use std::collections::BinaryHeap;

    use rand::Rng;

    use super::*;

    #[test]
    fn pops_by_time_then_scheduling_order() {
        let mut q = EventQueue::default();
        for (ts, id) in [(30, 0), (10, 1), (30, 2), (10, 3), (20, 4)] {
            q.push(ts, id);
        }
        let order: Vec<_> = std::iter::from_fn(|| q.pop()).collect();
        assert_eq!(order, [(10, 1), (10, 3), (20, 4), (30, 0), (30, 2)]);
        assert!(q.is_empty() && q.pop().is_none());
    }

    #[test]
    fn a_push_into_the_past_waits_behind_the_present() {
        let mut q = EventQueue::default();
        q.push(100, 'a');
        q.push(100, 'b');
        assert_eq!(q.pop(), Some((100, 'a')));
        q.push(5, 'c');
        q.push(-3, 'd');
        assert_eq!(q.len(), 3);
        let rest: Vec<_> = std::iter::from_fn(|| q.pop()).collect();
        assert_eq!(rest, [(100, 'b'), (100, 'c'), (100, 'd')]);
    }

    /// What the kernel does: push at now + a delay (often 0, often one of a few latencies,
    /// sometimes far ahead), pop in between; the order must be a (time, sequence) heap's.
    #[test]
    fn pops_what_a_time_sequence_heap_pops_on_a_long_run() {
        let mut rng = crate::sim::agents::agent_rng(9, 9, 9);
        let mut q = EventQueue::default();
        let mut heap = BinaryHeap::new();
        let (mut now, mut seq) = (0i64, 0u64);
        let delays = [0, 0, 1, 250, 250, 40_000, 1_000_000, 3_600_000_000_000];
        for _ in 0..400_000 {
            if heap.is_empty() || rng.random::<f64>() < 0.52 {
                let d = match rng.random_range(0..10) {
                    0..=7 => delays[rng.random_range(0..delays.len())],
                    _ => rng.random_range(0..5_000_000_000i64),
                };
                seq += 1;
                q.push(now + d, seq);
                heap.push(Reverse((now + d, seq)));
            } else {
                let Reverse((ts, s)) = heap.pop().unwrap();
                assert_eq!(q.pop(), Some((ts, s)));
                now = ts;
            }
            assert_eq!(q.len(), heap.len());
        }
        while let Some(Reverse(want)) = heap.pop() {
            assert_eq!(q.pop(), Some(want));
        }
        assert!(q.is_empty() && q.pop().is_none());
    }

    #[test]
    fn times_across_the_whole_range_keep_their_order() {
        let mut q = EventQueue::default();
        let times = [i64::MAX, 0, 1 << 62, 1, (1 << 62) + 1, i64::MAX - 1, 0];
        for (i, &t) in times.iter().enumerate() {
            q.push(t, i);
        }
        let got: Vec<_> = std::iter::from_fn(|| q.pop()).collect();
        let mut want: Vec<_> = times.iter().copied().zip(0..).collect();
        want.sort();
        assert_eq!(got, want);
    }
}
