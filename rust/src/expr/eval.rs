//! Block evaluation of a compiled program: each instruction writes one block of rows into
//! its stack slot, so temporaries are `slots × block` values, never full-length columns.

use super::state::State;
use super::{Instr, Op, Program, DIV_EPS};
use crate::error::{CoreError, CoreResult};

/// A program with its window state and block buffers; feed rows in order, in any block sizes.
#[derive(Debug, Clone)]
pub struct Evaluator {
    program: Program,
    states: Vec<State>,
    bufs: Vec<f64>,
    block: usize,
}

impl Evaluator {
    pub fn new(program: Program, block: usize) -> CoreResult<Self> {
        if block == 0 {
            return Err(CoreError::InvalidInput(
                "block size must be positive".into(),
            ));
        }
        let states = program.instrs.iter().map(State::new).collect();
        let bufs = vec![0.0; program.slots * block];
        Ok(Self {
            program,
            states,
            bufs,
            block,
        })
    }

    pub fn n_columns(&self) -> usize {
        self.program.n_columns
    }

    /// Evaluates the next row from one value per column (streaming).
    pub fn step(&mut self, row: &[f64]) -> CoreResult<f64> {
        if row.len() != self.program.n_columns {
            return Err(CoreError::InvalidInput(format!(
                "row has {} values, program reads {} columns",
                row.len(),
                self.program.n_columns
            )));
        }
        let mut out = [0.0];
        self.run_block(|c, dst| dst[0] = row[c], &mut out);
        Ok(out[0])
    }

    /// Evaluates rows `start..start + out.len()` (≤ block rows, the next ones in order) of
    /// `columns`, whose count and lengths the caller has checked.
    pub fn eval_rows(&mut self, columns: &[&[f64]], start: usize, out: &mut [f64]) {
        let fill = |c: usize, dst: &mut [f64]| {
            dst.copy_from_slice(&columns[c][start..start + dst.len()]);
        };
        self.run_block(fill, out);
    }

    pub fn block(&self) -> usize {
        self.block
    }

    /// Evaluates the next `out.len()` (≤ block) rows; `fill(c, dst)` copies column c's rows.
    fn run_block(&mut self, fill: impl Fn(usize, &mut [f64]), out: &mut [f64]) {
        let (b, len) = (self.block, out.len());
        for (instr, state) in self.program.instrs.iter().zip(&mut self.states) {
            let (head, tail) = self.bufs.split_at_mut((instr.out + 1) * b);
            let dst = &mut head[instr.out * b..instr.out * b + len];
            let y = &tail[..len.min(tail.len())];
            let z = &tail[b.min(tail.len())..(b + len).min(tail.len())];
            if instr.op == Op::Col {
                fill(instr.k, dst);
            } else {
                apply(instr, state, dst, y, z);
            }
        }
        for (o, &v) in out.iter_mut().zip(&self.bufs[..len]) {
            *o = v.clamp(-1.0, 1.0);
        }
    }
}

/// One non-`Col` instruction over a block: `dst` holds the first operand and receives the
/// result, `y` and `z` hold the second and third; shared by `Evaluator` and `Forest` so both
/// run the very same float operations.
#[inline(always)]
pub(super) fn apply(instr: &Instr, state: &mut State, dst: &mut [f64], y: &[f64], z: &[f64]) {
    match instr.op {
        Op::Col => {}
        Op::Const => dst.fill(instr.a),
        Op::Add => zip2(dst, y, |x, y| x + y),
        Op::Sub => zip2(dst, y, |x, y| x - y),
        Op::Mul => zip2(dst, y, |x, y| x * y),
        Op::Div => zip2(dst, y, protected_div),
        Op::Neg => map(dst, |x| -x),
        Op::Abs => map(dst, f64::abs),
        Op::Sign => map(dst, sign),
        Op::Tanh => map(dst, f64::tanh),
        Op::Clip => map(dst, |x| x.clamp(instr.a, instr.b)),
        Op::Gt => zip2(dst, y, |x, y| cmp(x, y, x > y)),
        Op::Lt => zip2(dst, y, |x, y| cmp(x, y, x < y)),
        Op::Ge => zip2(dst, y, |x, y| cmp(x, y, x >= y)),
        Op::Le => zip2(dst, y, |x, y| cmp(x, y, x <= y)),
        Op::And => zip2(dst, y, |x, y| cmp(x, y, x != 0.0 && y != 0.0)),
        Op::Or => zip2(dst, y, |x, y| cmp(x, y, x != 0.0 || y != 0.0)),
        Op::Not => map(dst, |x| cmp(x, x, x == 0.0)),
        Op::IfElse => if_else(dst, y, z),
        _ => state.run(dst),
    }
}

#[inline(always)]
fn map(dst: &mut [f64], mut f: impl FnMut(f64) -> f64) {
    for v in dst {
        *v = f(*v);
    }
}

#[inline(always)]
fn zip2(dst: &mut [f64], y: &[f64], f: impl Fn(f64, f64) -> f64) {
    for (v, &w) in dst.iter_mut().zip(y) {
        *v = f(*v, w);
    }
}

#[inline(always)]
fn if_else(dst: &mut [f64], then: &[f64], other: &[f64]) {
    for ((c, &t), &e) in dst.iter_mut().zip(then).zip(other) {
        *c = if c.is_nan() {
            f64::NAN
        } else if *c != 0.0 {
            t
        } else {
            e
        };
    }
}

/// Bool as 1.0 / 0.0, NaN when either operand is NaN.
#[inline(always)]
fn cmp(x: f64, y: f64, truth: bool) -> f64 {
    if x.is_nan() || y.is_nan() {
        f64::NAN
    } else {
        f64::from(u8::from(truth))
    }
}

/// −1, 0 or 1; NaN stays NaN.
#[inline(always)]
fn sign(x: f64) -> f64 {
    if x > 0.0 {
        1.0
    } else if x < 0.0 {
        -1.0
    } else {
        x
    }
}

/// Target positions in [−1, 1] (NaN where the expression is NaN) over whole columns.
/// `rows` is given so an expression that reads no column still has a length.
pub fn evaluate(
    program: &Program,
    columns: &[&[f64]],
    rows: usize,
    block: usize,
) -> CoreResult<Vec<f64>> {
    let mut out = vec![0.0; rows];
    evaluate_into(program, columns, block, &mut out)?;
    Ok(out)
}

/// `evaluate` into a caller's buffer of `out.len()` rows (reused across programs by batches).
pub fn evaluate_into(
    program: &Program,
    columns: &[&[f64]],
    block: usize,
    out: &mut [f64],
) -> CoreResult<()> {
    let rows = out.len();
    if columns.len() != program.n_columns {
        return Err(CoreError::InvalidInput(format!(
            "got {} columns, program reads {}",
            columns.len(),
            program.n_columns
        )));
    }
    if columns.iter().any(|c| c.len() != rows) {
        return Err(CoreError::InvalidInput("columns differ in length".into()));
    }
    let mut ev = Evaluator::new(program.clone(), block)?;
    for (i, chunk) in out.chunks_mut(block).enumerate() {
        ev.eval_rows(columns, i * block, chunk);
    }
    Ok(())
}

/// x / y, and 0 where |y| < DIV_EPS; NaN in either operand stays NaN (NaN propagates).
#[inline(always)]
fn protected_div(x: f64, y: f64) -> f64 {
    if x.is_nan() || y.is_nan() {
        f64::NAN
    } else if y.abs() < DIV_EPS {
        0.0
    } else {
        x / y
    }
}
