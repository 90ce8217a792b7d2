//! Resting orders in a slab of reusable slots, linked into per-level FIFO queues (by the engine)
//! and per-agent lists (here), with an index from order id to slot; no allocation once the
//! slab has grown to the working size.

use super::index::IdIndex;
use super::types::{AgentId, OrderId, RestingOrder};

/// End of a queue.
pub(super) const NIL: u32 = u32::MAX;

/// One slot: the order, its neighbours in the level's queue and in its agent's list.
#[derive(Clone, Copy, Debug)]
pub(super) struct Node {
    pub order: RestingOrder,
    pub prev: u32,
    pub next: u32,
    agent_prev: u32,
    agent_next: u32,
}

#[derive(Default)]
pub(super) struct Slab {
    nodes: Vec<Node>,
    free: Vec<u32>,
    index: IdIndex,
    /// Newest order of each agent (NIL when none).
    agent_head: Vec<u32>,
}

impl Slab {
    /// Store an order (not yet in a level queue), index it and put it first in its agent's
    /// list; returns its slot.
    pub fn insert(&mut self, order: RestingOrder) -> u32 {
        let a = order.agent as usize;
        if self.agent_head.len() <= a {
            self.agent_head.resize(a + 1, NIL);
        }
        let head = self.agent_head[a];
        let node = Node {
            order,
            prev: NIL,
            next: NIL,
            agent_prev: NIL,
            agent_next: head,
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
        if head != NIL {
            self.nodes[head as usize].agent_prev = slot;
        }
        self.agent_head[a] = slot;
        self.index.insert(order.id, slot);
        slot
    }

    /// Forget the order in `slot` (already out of its level queue) and return it.
    pub fn remove(&mut self, slot: u32) -> RestingOrder {
        let Node {
            order,
            agent_prev,
            agent_next,
            ..
        } = self.nodes[slot as usize];
        if agent_prev == NIL {
            self.agent_head[order.agent as usize] = agent_next;
        } else {
            self.nodes[agent_prev as usize].agent_next = agent_next;
        }
        if agent_next != NIL {
            self.nodes[agent_next as usize].agent_prev = agent_prev;
        }
        self.index.remove(order.id);
        self.free.push(slot);
        order
    }

    #[inline]
    pub fn slot_of(&self, id: OrderId) -> Option<u32> {
        self.index.get(id)
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

    /// Slot of the agent's newest resting order.
    pub fn newest_of(&self, agent: AgentId) -> Option<u32> {
        let head = *self.agent_head.get(agent as usize)?;
        (head != NIL).then_some(head)
    }

    /// Resting orders of one agent, newest first.
    pub fn of_agent(&self, agent: AgentId) -> impl Iterator<Item = &RestingOrder> {
        let mut slot = self.newest_of(agent).unwrap_or(NIL);
        std::iter::from_fn(move || {
            let node = self.nodes.get(slot as usize)?;
            slot = node.agent_next;
            Some(&node.order)
        })
    }
}
