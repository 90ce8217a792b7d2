//! A population of programs as one graph of distinct subtrees: structurally equal subtrees
//! (same op, parameters and operand subtrees) are one node, evaluated once per block of rows
//! for every program that contains them. GP populations share many subtrees (crossover and
//! mutation copy them between relatives), so this cuts the expression work of a batch.
//!
//! Each node runs the same kernel (`eval::apply`) on the same input stream as inside its own
//! program, so every root equals that program's `Evaluator` output bit for bit. A node's
//! buffer is one block long and returns to a free list after its last consumer, so memory is
//! (live nodes × block), never (nodes × rows).

use std::collections::HashMap;

use super::eval::apply;
use super::state::State;
use super::{Instr, Op, Program};
use crate::error::{CoreError, CoreResult};

/// One distinct subtree: its instruction and the nodes of its operands.
#[derive(Debug, Clone)]
struct Node {
    instr: Instr,
    args: Vec<usize>,
}

/// Structural identity of a node: op, parameters (as bits) and operand nodes.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Key {
    op: Op,
    k: usize,
    a: u64,
    b: u64,
    args: Vec<usize>,
}

/// Distinct subtrees of many programs over the same columns, children before parents, with
/// a block buffer slot per node (slots are reused once a node's last consumer has run).
#[derive(Debug, Clone)]
pub struct Forest {
    nodes: Vec<Node>,
    roots: Vec<usize>,
    slot: Vec<usize>,
    slots: usize,
    n_columns: usize,
    instrs: usize,
}

impl Forest {
    /// Merges `programs` (all reading `n_columns` columns) into one graph.
    pub fn new(programs: &[Program], n_columns: usize) -> CoreResult<Self> {
        let mut nodes: Vec<Node> = Vec::new();
        let mut index: HashMap<Key, usize> = HashMap::new();
        let mut roots = Vec::with_capacity(programs.len());
        let mut instrs = 0;
        for (i, p) in programs.iter().enumerate() {
            if p.n_columns != n_columns {
                return Err(CoreError::InvalidInput(format!(
                    "expression {i} reads {} columns, got {n_columns}",
                    p.n_columns
                )));
            }
            instrs += p.instrs.len();
            let mut stack: Vec<usize> = Vec::new();
            for ins in &p.instrs {
                // `compile` checked the arity: the operands are the top `out..` of the stack.
                let args = stack.split_off(ins.out);
                let key = Key {
                    op: ins.op,
                    k: ins.k,
                    a: ins.a.to_bits(),
                    b: ins.b.to_bits(),
                    args,
                };
                let id = *index.entry(key).or_insert_with_key(|key| {
                    nodes.push(Node {
                        instr: *ins,
                        args: key.args.clone(),
                    });
                    nodes.len() - 1
                });
                stack.push(id);
            }
            roots.push(stack[0]);
        }
        let (slot, slots) = assign_slots(&nodes, &roots);
        Ok(Self {
            nodes,
            roots,
            slot,
            slots,
            n_columns,
            instrs,
        })
    }

    /// Distinct nodes (what one block of rows evaluates).
    pub fn nodes(&self) -> usize {
        self.nodes.len()
    }

    /// Instructions of all programs together (what separate evaluation would run).
    pub fn instructions(&self) -> usize {
        self.instrs
    }

    pub fn programs(&self) -> usize {
        self.roots.len()
    }

    pub fn n_columns(&self) -> usize {
        self.n_columns
    }
}

/// A buffer slot per node: taken when the node runs, freed after its last consumer; roots
/// keep theirs to the end of the block.
fn assign_slots(nodes: &[Node], roots: &[usize]) -> (Vec<usize>, usize) {
    let mut last_use = vec![0_usize; nodes.len()];
    for (i, n) in nodes.iter().enumerate() {
        for &c in &n.args {
            last_use[c] = i;
        }
    }
    for &r in roots {
        last_use[r] = usize::MAX;
    }
    let (mut slot, mut free, mut slots) = (vec![0; nodes.len()], Vec::new(), 0);
    for (i, n) in nodes.iter().enumerate() {
        let mut dead: Vec<usize> = n
            .args
            .iter()
            .copied()
            .filter(|&c| last_use[c] == i)
            .collect();
        dead.sort_unstable();
        dead.dedup();
        if in_place(n, i, &last_use) {
            // The first operand dies here: the node overwrites its buffer, as the stack
            // machine does, instead of copying it.
            slot[i] = slot[n.args[0]];
            dead.retain(|&c| c != n.args[0]);
        } else {
            slot[i] = free.pop().unwrap_or_else(|| {
                slots += 1;
                slots - 1
            });
        }
        // Freed after taking this node's slot, so a node never writes over another operand.
        free.extend(dead.into_iter().map(|c| slot[c]));
    }
    (slot, slots)
}

/// True when node `i` may compute in its first operand's buffer: that operand has no later
/// consumer and is not also a later operand of the same node.
fn in_place(n: &Node, i: usize, last_use: &[usize]) -> bool {
    n.args
        .first()
        .is_some_and(|&c| last_use[c] == i && !n.args[1..].contains(&c))
}

/// A forest's window state and block buffers; feed rows in order, in blocks of ≤ `block`.
#[derive(Debug, Clone)]
pub struct ForestEvaluator<'f> {
    forest: &'f Forest,
    states: Vec<State>,
    bufs: Vec<Vec<f64>>,
    len: usize,
}

impl<'f> ForestEvaluator<'f> {
    pub fn new(forest: &'f Forest, block: usize) -> CoreResult<Self> {
        if block == 0 {
            return Err(CoreError::InvalidInput(
                "block size must be positive".into(),
            ));
        }
        Ok(Self {
            forest,
            states: forest.nodes.iter().map(|n| State::new(&n.instr)).collect(),
            bufs: vec![vec![0.0; block]; forest.slots],
            len: 0,
        })
    }

    /// Evaluates rows `start..start + len` (the next ones in order) of `columns`, whose count
    /// and lengths the caller has checked; then `root` gives each program's values.
    pub fn eval_rows(&mut self, columns: &[&[f64]], start: usize, len: usize) {
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx512f") {
            // SAFETY: the CPU supports AVX-512F (checked just above).
            unsafe { self.eval_rows_avx512(columns, start, len) };
            return;
        }
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU supports AVX2 (checked just above).
            unsafe { self.eval_rows_avx2(columns, start, len) };
            return;
        }
        self.eval_rows_body(columns, start, len);
    }

    /// The same code with wider vectors: element-wise ops and the rank scan run more rows
    /// per instruction; no FMA, and no reordering of sums, so every value keeps its bits.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f")]
    fn eval_rows_avx512(&mut self, columns: &[&[f64]], start: usize, len: usize) {
        self.eval_rows_body(columns, start, len);
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    fn eval_rows_avx2(&mut self, columns: &[&[f64]], start: usize, len: usize) {
        self.eval_rows_body(columns, start, len);
    }

    #[inline(always)]
    fn eval_rows_body(&mut self, columns: &[&[f64]], start: usize, len: usize) {
        let f = self.forest;
        self.len = len;
        for (i, (node, state)) in f.nodes.iter().zip(&mut self.states).enumerate() {
            let mut dst = std::mem::take(&mut self.bufs[f.slot[i]]);
            let out = &mut dst[..len];
            let operand = |j: usize| -> &[f64] {
                node.args
                    .get(j)
                    .map_or(&[][..], |&c| &self.bufs[f.slot[c]][..len])
            };
            if node.instr.op == Op::Col {
                out.copy_from_slice(&columns[node.instr.k][start..start + len]);
            } else {
                // In place, `dst` already holds the first operand (see `assign_slots`).
                if let Some(&c) = node.args.first().filter(|&&c| f.slot[c] != f.slot[i]) {
                    out.copy_from_slice(&self.bufs[f.slot[c]][..len]);
                }
                apply(&node.instr, state, out, operand(1), operand(2));
            }
            self.bufs[f.slot[i]] = dst;
        }
    }

    /// Program `j`'s values for the last block (not clamped).
    pub fn root(&self, j: usize) -> &[f64] {
        let f = self.forest;
        &self.bufs[f.slot[f.roots[j]]][..self.len]
    }

    /// Program `j`'s target positions in [−1, 1] (NaN kept) for the last block, into `out`.
    pub fn root_into(&self, j: usize, out: &mut [f64]) {
        let f = self.forest;
        let src = &self.bufs[f.slot[f.roots[j]]][..self.len];
        for (o, &v) in out.iter_mut().zip(src) {
            *o = v.clamp(-1.0, 1.0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::expr::{compile, evaluate};

    type N = (i64, i64, f64, f64);

    fn prog(parts: &[&[N]]) -> Program {
        let nodes: Vec<N> = parts.concat();
        let ops: Vec<i64> = nodes.iter().map(|n| n.0).collect();
        let ints: Vec<i64> = nodes.iter().map(|n| n.1).collect();
        let a: Vec<f64> = nodes.iter().map(|n| n.2).collect();
        let b: Vec<f64> = nodes.iter().map(|n| n.3).collect();
        compile(&ops, &ints, &a, &b, 2).unwrap()
    }

    const fn op(code: i64, k: i64) -> N {
        (code, k, 0.0, 0.0)
    }

    /// Programs sharing `zscore(c0, 10)` and `sign(c1 - mean(c1, 5))` in many places.
    pub(crate) fn shared_programs() -> Vec<Program> {
        let a: &[N] = &[op(0, 0), op(22, 10)];
        let b: &[N] = &[op(0, 1), op(0, 1), op(20, 5), op(3, 0), op(8, 0)];
        vec![
            prog(&[a]),
            prog(&[a, b, &[op(2, 0)]]),
            prog(&[a, b, &[op(4, 0), op(9, 0)]]),
            prog(&[a, b, &[op(11, 0)], a, b, &[op(18, 0)]]),
            prog(&[a, &[op(25, 7)], b, &[op(23, 4), op(3, 0)]]),
            prog(&[
                b,
                &[op(26, 6), (1, 0, 0.5, 0.0), op(5, 0), (10, 0, -0.5, 0.5)],
            ]),
            prog(&[a, &[op(0, 0), op(19, 3), op(3, 0), op(21, 12)]]),
            prog(&[a, b, &[op(2, 0)]]),
            prog(&[&[(1, 0, 2.0, 0.0)], a, &[op(4, 0)]]),
            // One node as both operands, and a dying first operand reused in place.
            prog(&[a, a, &[op(4, 0), op(6, 0), op(9, 0)]]),
            prog(&[b, b, &[op(3, 0)], b, &[op(2, 0)]]),
        ]
    }

    fn data(n: usize) -> (Vec<f64>, Vec<f64>) {
        let x = (0..n)
            .map(|i| {
                if i == 70 {
                    f64::NAN
                } else {
                    (i as f64 * 0.37).sin() * 3.0
                }
            })
            .collect();
        let y = (0..n).map(|i| ((i * 7) % 13) as f64 - 6.0).collect();
        (x, y)
    }

    #[test]
    fn forest_roots_equal_each_program_bit_for_bit() {
        let progs = shared_programs();
        let (x, y) = data(1_000);
        let cols: Vec<&[f64]> = vec![&x, &y];
        let forest = Forest::new(&progs, 2).unwrap();
        assert!(forest.nodes() < forest.instructions() / 2, "{forest:?}");
        for block in [1, 7, 256] {
            let mut ev = ForestEvaluator::new(&forest, block).unwrap();
            let mut got = vec![Vec::new(); progs.len()];
            let mut start = 0;
            while start < x.len() {
                let len = block.min(x.len() - start);
                ev.eval_rows(&cols, start, len);
                for (j, g) in got.iter_mut().enumerate() {
                    let mut out = vec![0.0; len];
                    ev.root_into(j, &mut out);
                    g.extend(out);
                }
                start += len;
            }
            for (p, g) in progs.iter().zip(&got) {
                let want = evaluate(p, &cols, x.len(), 64).unwrap();
                let (w, g): (Vec<u64>, Vec<u64>) = (
                    want.iter().map(|v| v.to_bits()).collect(),
                    g.iter().map(|v| v.to_bits()).collect(),
                );
                assert_eq!(w, g, "block {block}");
            }
        }
    }

    #[test]
    fn the_wide_vector_copies_equal_the_baseline_code() {
        let progs = shared_programs();
        let (x, y) = data(2_000);
        let cols: Vec<&[f64]> = vec![&x, &y];
        let forest = Forest::new(&progs, 2).unwrap();
        let mut fast = ForestEvaluator::new(&forest, 100).unwrap();
        let mut base = ForestEvaluator::new(&forest, 100).unwrap();
        for start in (0..x.len()).step_by(100) {
            fast.eval_rows(&cols, start, 100);
            base.eval_rows_body(&cols, start, 100);
            for j in 0..progs.len() {
                let bits = |ev: &ForestEvaluator<'_>| -> Vec<u64> {
                    ev.root(j).iter().map(|v| v.to_bits()).collect()
                };
                assert_eq!(bits(&fast), bits(&base), "program {j}, rows from {start}");
            }
        }
    }

    #[test]
    fn equal_programs_share_every_node_and_buffers_are_reused() {
        let a = shared_programs();
        let twice: Vec<Program> = a.iter().chain(&a).cloned().collect();
        let (f1, f2) = (Forest::new(&a, 2).unwrap(), Forest::new(&twice, 2).unwrap());
        assert_eq!(f1.nodes(), f2.nodes());
        assert_eq!(f2.instructions(), 2 * f1.instructions());
        assert!(
            f1.slots < f1.nodes(),
            "slots {} of {} nodes",
            f1.slots,
            f1.nodes()
        );
        assert!(Forest::new(&a, 3).is_err());
    }
}
