//! Strategy expressions: a postfix node list compiled once into a checked flat program, then
//! evaluated over whole columns in cache-sized blocks (`eval`) or one row at a time.
//!
//! Values are f64; Bool is 1.0 / 0.0, and NaN means "unknown" for both types: arithmetic,
//! comparisons and logic propagate NaN, and a trailing window holding a NaN gives NaN.

mod eval;
mod forest;
mod state;
#[cfg(test)]
mod tests;
mod trail;

pub use eval::{evaluate, evaluate_into, Evaluator};
pub use forest::{Forest, ForestEvaluator};

use crate::error::{CoreError, CoreResult};

/// Protected division returns 0 where |denominator| < `DIV_EPS` (and z-score where std < it).
pub const DIV_EPS: f64 = 1e-12;
/// Largest window, lag or span a program may ask for (rows).
pub const MAX_WINDOW: i64 = 100_000;
/// Largest program (instructions).
pub const MAX_NODES: usize = 4096;

/// Opcodes; the numbers are the wire format shared with `strategy/expr.py`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Op {
    Col,
    Const,
    Add,
    Sub,
    Mul,
    Div,
    Neg,
    Abs,
    Sign,
    Tanh,
    Clip,
    Gt,
    Lt,
    Ge,
    Le,
    And,
    Or,
    Not,
    IfElse,
    Lag,
    Mean,
    Std,
    ZScore,
    Min,
    Max,
    Rank,
    Ema,
}

const OPS: [Op; 27] = [
    Op::Col,
    Op::Const,
    Op::Add,
    Op::Sub,
    Op::Mul,
    Op::Div,
    Op::Neg,
    Op::Abs,
    Op::Sign,
    Op::Tanh,
    Op::Clip,
    Op::Gt,
    Op::Lt,
    Op::Ge,
    Op::Le,
    Op::And,
    Op::Or,
    Op::Not,
    Op::IfElse,
    Op::Lag,
    Op::Mean,
    Op::Std,
    Op::ZScore,
    Op::Min,
    Op::Max,
    Op::Rank,
    Op::Ema,
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ty {
    Float,
    Bool,
}

impl Op {
    fn from_code(code: i64) -> CoreResult<Op> {
        usize::try_from(code)
            .ok()
            .and_then(|i| OPS.get(i).copied())
            .ok_or_else(|| invalid(format!("unknown opcode {code}")))
    }

    /// (argument types, result type).
    fn signature(self) -> (&'static [Ty], Ty) {
        use Ty::{Bool as B, Float as F};
        match self {
            Op::Col | Op::Const => (&[], F),
            Op::Add | Op::Sub | Op::Mul | Op::Div => (&[F, F], F),
            Op::Neg | Op::Abs | Op::Sign | Op::Tanh | Op::Clip => (&[F], F),
            Op::Gt | Op::Lt | Op::Ge | Op::Le => (&[F, F], B),
            Op::And | Op::Or => (&[B, B], B),
            Op::Not => (&[B], B),
            Op::IfElse => (&[B, F, F], F),
            Op::Lag | Op::Mean | Op::Std | Op::ZScore => (&[F], F),
            Op::Min | Op::Max | Op::Rank | Op::Ema => (&[F], F),
        }
    }

    /// Smallest allowed integer parameter (window, lag or span), if the op takes one.
    fn min_param(self) -> Option<i64> {
        match self {
            Op::Lag | Op::Mean | Op::Min | Op::Max | Op::Ema => Some(1),
            Op::Std | Op::ZScore | Op::Rank => Some(2),
            _ => None,
        }
    }
}

/// One checked instruction: operands come from the stack, the result goes to slot `out`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Instr {
    pub op: Op,
    /// Column index for `Col`, window/lag/span for stateful ops, else 0.
    pub k: usize,
    /// Constant value, or clip's lower bound.
    pub a: f64,
    /// Clip's upper bound.
    pub b: f64,
    /// Stack slot of the result; operands sit in slots `out..out + arity`.
    pub out: usize,
}

/// A compiled, checked expression: postfix instructions and the stack depth they need.
#[derive(Debug, Clone, PartialEq)]
pub struct Program {
    pub instrs: Vec<Instr>,
    pub slots: usize,
    pub n_columns: usize,
}

fn invalid(msg: String) -> CoreError {
    CoreError::InvalidInput(msg)
}

/// Checks a postfix node list (op codes, ints, two float params each) and builds the program.
pub fn compile(
    ops: &[i64],
    ints: &[i64],
    a: &[f64],
    b: &[f64],
    n_columns: usize,
) -> CoreResult<Program> {
    let n = ops.len();
    if ints.len() != n || a.len() != n || b.len() != n {
        return Err(invalid("node arrays differ in length".into()));
    }
    if n == 0 || n > MAX_NODES {
        return Err(invalid(format!(
            "program must have 1..={MAX_NODES} nodes, got {n}"
        )));
    }
    let mut types: Vec<Ty> = Vec::new();
    let mut instrs = Vec::with_capacity(n);
    let mut slots = 0;
    for i in 0..n {
        let op = Op::from_code(ops[i])?;
        let instr = check_node(op, ints[i], a[i], b[i], n_columns, &mut types, i)?;
        slots = slots.max(types.len());
        instrs.push(instr);
    }
    if types != [Ty::Float] {
        return Err(invalid(
            "program must leave exactly one Float on the stack".into(),
        ));
    }
    Ok(Program {
        instrs,
        slots,
        n_columns,
    })
}

fn check_node(
    op: Op,
    k: i64,
    a: f64,
    b: f64,
    n_columns: usize,
    types: &mut Vec<Ty>,
    at: usize,
) -> CoreResult<Instr> {
    let (args, ret) = op.signature();
    if types.len() < args.len() {
        return Err(invalid(format!("node {at} ({op:?}) lacks operands")));
    }
    let out = types.len() - args.len();
    if types[out..] != *args {
        return Err(invalid(format!(
            "node {at} ({op:?}) has operands of the wrong type"
        )));
    }
    let k = check_param(op, k, a, b, n_columns, at)?;
    types.truncate(out);
    types.push(ret);
    Ok(Instr { op, k, a, b, out })
}

fn check_param(op: Op, k: i64, a: f64, b: f64, n_columns: usize, at: usize) -> CoreResult<usize> {
    match op {
        Op::Col => usize::try_from(k)
            .ok()
            .filter(|&c| c < n_columns)
            .ok_or_else(|| invalid(format!("node {at}: column {k} out of range"))),
        Op::Const if !a.is_finite() => Err(invalid(format!("node {at}: constant {a} not finite"))),
        Op::Clip if !(a.is_finite() && b.is_finite() && a <= b) => {
            Err(invalid(format!("node {at}: clip bounds {a}..{b} invalid")))
        }
        _ => match op.min_param() {
            Some(lo) if !(lo..=MAX_WINDOW).contains(&k) => Err(invalid(format!(
                "node {at} ({op:?}): parameter {k} outside {lo}..={MAX_WINDOW}"
            ))),
            Some(_) => Ok(k as usize),
            None => Ok(0),
        },
    }
}
