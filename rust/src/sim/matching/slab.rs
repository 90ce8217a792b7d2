//! Resting orders in a slab of reusable slots, linked into per-level FIFO queues, with an
//! index from order id to slot; no allocation once the slab has grown to the working size.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use super::types::{AgentId, OrderId, RestingOrder};

/// End of a queue.
pub(super) const NIL: u32 = u32::MAX;

/// One slot: the order and its neighbours in the level's queue.
#[derive(Clone, Copy, Debug)]
pub(super) struct Node {
    pub order: RestingOrder,
    pub prev: u32,
    pub next: u32,
}

/// Multiplicative hash for sequential ids (SipHash would dominate a cancel).
#[derive(Default)]
pub(super) struct IdHasher(u64);

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

#[derive(Default)]
pub(super) struct Slab {
    nodes: Vec<Node>,
    free: Vec<u32>,
    index: HashMap<OrderId, u32, BuildHasherDefault<IdHasher>>,
}

impl Slab {
    /// Store an order (unlinked) and index it; returns its slot.
    pub fn insert(&mut self, order: RestingOrder) -> u32 {
        let node = Node {
            order,
            prev: NIL,
            next: NIL,
        };
        let slot = match self.free.pop() {
            Some(s) => {
                self.nodes[s as usize] = node;
                s
            }
            None => {
                self.nodes.push(node);
                (self.nodes.len() - 1) as u32
            }
        };
        self.index.insert(order.id, slot);
        slot
    }

    /// Forget the order in `slot` (already unlinked) and return it.
    pub fn remove(&mut self, slot: u32) -> RestingOrder {
        let node = &mut self.nodes[slot as usize];
        let order = node.order;
        // Id 0 is never issued: it marks a free slot for `iter`.
        node.order.id = 0;
        self.index.remove(&order.id);
        self.free.push(slot);
        order
    }

    #[inline]
    pub fn slot_of(&self, id: OrderId) -> Option<u32> {
        self.index.get(&id).copied()
    }

    #[inline]
    pub fn node(&self, slot: u32) -> &Node {
        &self.nodes[slot as usize]
    }

    #[inline]
    pub fn node_mut(&mut self, slot: u32) -> &mut Node {
        &mut self.nodes[slot as usize]
    }

    pub fn len(&self) -> usize {
        self.index.len()
    }

    /// Live orders of one agent, in slot order.
    pub fn of_agent(&self, agent: AgentId) -> impl Iterator<Item = &RestingOrder> {
        self.nodes
            .iter()
            .map(|n| &n.order)
            .filter(move |o| o.id != 0 && o.agent == agent)
    }
}
