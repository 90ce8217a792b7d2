//! Per-instruction state of the trailing-window ops, carried row by row so that any block
//! size (and one-row streaming) runs the very same float operations in the same order.

use super::trail::{self, Trail, SCAN_MAX};
use super::{Instr, Op, DIV_EPS};

/// The last `n` values, with a count of the NaNs among them.
#[derive(Debug, Clone)]
pub(super) struct Ring {
    buf: Vec<f64>,
    pos: usize,
    seen: usize,
    nans: usize,
}

impl Ring {
    fn new(n: usize) -> Self {
        Self {
            buf: vec![f64::NAN; n],
            pos: 0,
            seen: 0,
            nans: 0,
        }
    }

    /// Adds `x`; returns the value that left the window, if the window was full.
    #[inline(always)]
    fn push(&mut self, x: f64) -> Option<f64> {
        let full = self.seen >= self.buf.len();
        let old = std::mem::replace(&mut self.buf[self.pos], x);
        // A compare instead of `%`: an integer division per row cost more than the op itself.
        self.pos += 1;
        if self.pos == self.buf.len() {
            self.pos = 0;
        }
        self.seen += 1;
        self.nans += usize::from(x.is_nan());
        if full {
            self.nans -= usize::from(old.is_nan());
            Some(old)
        } else {
            None
        }
    }

    /// True when the window holds `n` values and none is NaN.
    #[inline(always)]
    fn valid(&self) -> bool {
        self.seen >= self.buf.len() && self.nans == 0
    }
}

/// Trailing minimum in O(1) amortised: a monotonic queue of (row, value) in a fixed ring
/// (no allocation per row), and the row of the latest NaN, which keeps the output NaN until it
/// leaves the window. Exact: it only compares, never computes. The maximum runs it on −x.
/// Windows up to `SCAN_MAX` rows take the scan of `trail` instead (same outputs, faster there).
#[derive(Debug, Clone)]
pub(super) struct Extreme {
    n: usize,
    /// Ring storage of the queue; capacity is a power of two ≥ n so indices are masked.
    rows: Vec<usize>,
    vals: Vec<f64>,
    head: usize,
    len: usize,
    row: usize,
    last_nan: Option<usize>,
}

impl Extreme {
    fn new(n: usize) -> Self {
        let cap = n.next_power_of_two();
        Self {
            n,
            rows: vec![0; cap],
            vals: vec![0.0; cap],
            head: 0,
            len: 0,
            row: 0,
            last_nan: None,
        }
    }

    #[inline(always)]
    fn step(&mut self, x: f64) -> f64 {
        let (row, mask) = (self.row, self.rows.len() - 1);
        self.row += 1;
        // One row leaves the window per step, so at most one queue entry expires.
        if self.len > 0 && self.rows[self.head] + self.n <= row {
            self.head = (self.head + 1) & mask;
            self.len -= 1;
        }
        if x.is_nan() {
            self.last_nan = Some(row);
        } else {
            while self.len > 0 && self.vals[(self.head + self.len - 1) & mask] >= x {
                self.len -= 1;
            }
            let back = (self.head + self.len) & mask;
            (self.rows[back], self.vals[back]) = (row, x);
            self.len += 1;
        }
        let full = row + 1 >= self.n;
        if full && self.last_nan.is_none_or(|r| r + self.n <= row) {
            self.vals[self.head]
        } else {
            f64::NAN
        }
    }
}

/// Share of the running sum of squares below which its cancellation is deemed inexact.
const CANCEL: f64 = 1e-6;

/// Sums of (x − c) and (x − c)² over the window, shifted by a recent value `c` so prices far
/// from zero do not cancel; re-summed exactly each time the ring wraps so drift stays bounded.
/// A window of equal values (flat prices, zero volume: common in real bars) is detected by the
/// length of the run of equal inputs, and gets its exact mean and a standard deviation of 0
/// rather than the sums' rounding residue (which a z-score would blow up).
#[derive(Debug, Clone)]
pub(super) struct Moments {
    ring: Ring,
    c: Option<f64>,
    s1: f64,
    s2: f64,
    last: f64,
    run: usize,
}

impl Moments {
    fn new(n: usize) -> Self {
        Self {
            ring: Ring::new(n),
            c: None,
            s1: 0.0,
            s2: 0.0,
            last: f64::NAN,
            run: 0,
        }
    }

    #[inline(always)]
    fn push(&mut self, x: f64) {
        // NaN never equals `last`, so a NaN input restarts the run (and then the ring is
        // invalid anyway until it leaves).
        self.run = if x == self.last { self.run + 1 } else { 1 };
        self.last = x;
        if self.c.is_none() && !x.is_nan() {
            self.c = Some(x);
        }
        let c = self.c.unwrap_or(0.0);
        let old = self.ring.push(x);
        if !x.is_nan() {
            self.s1 += x - c;
            self.s2 += (x - c) * (x - c);
        }
        if let Some(o) = old.filter(|o| !o.is_nan()) {
            self.s1 -= o - c;
            self.s2 -= (o - c) * (o - c);
        }
        if self.ring.pos == 0 {
            self.resum(x);
        }
    }

    /// Replaces each value of `xs` by `f(window, value)` once the window is valid (NaN
    /// before). The state moves into a local for the block: through the reference, every
    /// row stored the sums and cursors back to memory and loaded them again.
    #[inline(always)]
    fn run(&mut self, xs: &mut [f64], f: impl Fn(&Moments, f64) -> f64 + Copy) {
        let mut m = std::mem::replace(self, Moments::parked());
        for v in xs.iter_mut() {
            *v = moment(&mut m, *v, f);
        }
        *self = m;
    }

    /// A placeholder without a buffer, holding a slot while the real state is in a local.
    fn parked() -> Self {
        Self {
            ring: Ring {
                buf: Vec::new(),
                pos: 0,
                seen: 0,
                nans: 0,
            },
            c: None,
            s1: 0.0,
            s2: 0.0,
            last: 0.0,
            run: 0,
        }
    }

    fn resum(&mut self, newest: f64) {
        if !newest.is_nan() {
            self.c = Some(newest);
        }
        let c = self.c.unwrap_or(0.0);
        let (mut s1, mut s2) = (0.0, 0.0);
        for &v in self.ring.buf.iter().filter(|v| !v.is_nan()) {
            s1 += v - c;
            s2 += (v - c) * (v - c);
        }
        (self.s1, self.s2) = (s1, s2);
    }

    /// True when the whole window holds one value (`last`).
    #[inline(always)]
    fn flat(&self) -> bool {
        self.run >= self.ring.buf.len()
    }

    #[inline(always)]
    fn mean(&self) -> f64 {
        if self.flat() {
            return self.last;
        }
        self.c.unwrap_or(0.0) + self.s1 / self.ring.buf.len() as f64
    }

    /// (mean, population standard deviation (ddof = 0)). When the running sums cancel to
    /// under `CANCEL` of their size (a nearly flat window after larger moves), their residue
    /// would swamp the spread, so both come from two passes over the window instead.
    #[inline(always)]
    fn stats(&self) -> (f64, f64) {
        if self.flat() {
            return (self.last, 0.0);
        }
        let n = self.ring.buf.len() as f64;
        let spread = self.s2 - self.s1 * self.s1 / n;
        if spread >= CANCEL * self.s2 {
            return (self.mean(), (spread / n).max(0.0).sqrt());
        }
        let w = &self.ring.buf;
        let mean = w.iter().sum::<f64>() / n;
        let var = w.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n;
        (mean, var.sqrt())
    }
}

#[derive(Debug, Clone)]
pub(super) enum State {
    Stateless,
    Lag(Ring),
    Mean(Moments),
    Std(Moments),
    ZScore(Moments),
    Min(Extreme),
    Max(Extreme),
    MinScan(Trail),
    MaxScan(Trail),
    Rank(Trail),
    Ema {
        alpha: f64,
        span: usize,
        seen: usize,
        y: Option<f64>,
    },
}

impl State {
    pub fn new(instr: &Instr) -> State {
        let k = instr.k;
        match instr.op {
            Op::Lag => State::Lag(Ring::new(k)),
            Op::Mean => State::Mean(Moments::new(k)),
            Op::Std => State::Std(Moments::new(k)),
            Op::ZScore => State::ZScore(Moments::new(k)),
            Op::Min if k <= SCAN_MAX => State::MinScan(Trail::new(k)),
            Op::Max if k <= SCAN_MAX => State::MaxScan(Trail::new(k)),
            Op::Min => State::Min(Extreme::new(k)),
            Op::Max => State::Max(Extreme::new(k)),
            Op::Rank => State::Rank(Trail::new(k)),
            Op::Ema => State::Ema {
                alpha: 2.0 / (k as f64 + 1.0),
                span: k,
                seen: 0,
                y: None,
            },
            _ => State::Stateless,
        }
    }

    /// Replaces each value of `xs` (consecutive rows) by the op's output for that row;
    /// the op is dispatched once per block, then the row loop runs without a match (and with
    /// no closure: a closure is compiled apart, without the caller's vector features, and
    /// was called once per row).
    #[inline(always)]
    pub fn run(&mut self, xs: &mut [f64]) {
        match self {
            State::Stateless => {}
            State::Lag(r) => {
                for v in xs.iter_mut() {
                    *v = lag(r, *v);
                }
            }
            State::Mean(m) => {
                m.run(xs, mean_of);
            }
            State::Std(m) => {
                m.run(xs, std_of);
            }
            State::ZScore(m) => {
                m.run(xs, zscore_of);
            }
            State::Min(e) => {
                for v in xs.iter_mut() {
                    *v = e.step(*v);
                }
            }
            // max(x) = −min(−x) exactly: negation is exact and flips every comparison.
            State::Max(e) => {
                for v in xs.iter_mut() {
                    *v = neg_min(e, *v);
                }
            }
            State::MinScan(t) => t.scan::<trail::Min>(xs),
            State::MaxScan(t) => t.scan::<trail::Max>(xs),
            State::Rank(t) => t.scan::<trail::Rank>(xs),
            State::Ema {
                alpha,
                span,
                seen,
                y,
            } => {
                // The state in locals for the block: through the reference, every row
                // stored it back to memory and loaded it again.
                let (mut n, mut last) = (*seen, *y);
                for v in xs.iter_mut() {
                    *v = ema(*alpha, *span, &mut n, &mut last, *v);
                }
                (*seen, *y) = (n, last);
            }
        }
    }
}

#[inline(always)]
fn lag(r: &mut Ring, x: f64) -> f64 {
    r.push(x).unwrap_or(f64::NAN)
}

/// One EMA row: a NaN input is skipped (state unchanged); the warm-up counts valid inputs,
/// so it adds up along a chain of look-backs like every other window.
#[inline(always)]
fn ema(alpha: f64, span: usize, seen: &mut usize, y: &mut Option<f64>, x: f64) -> f64 {
    if x.is_nan() {
        return f64::NAN;
    }
    *seen += 1;
    // prev + α(x − prev): exactly constant on a constant input (no rank ties broken by
    // rounding), the same value as αx + (1 − α)prev in exact arithmetic.
    let next = y.map_or(x, |prev| prev + alpha * (x - prev));
    *y = Some(next);
    if *seen >= span {
        next
    } else {
        f64::NAN
    }
}

#[inline(always)]
fn mean_of(m: &Moments, _x: f64) -> f64 {
    m.mean()
}

#[inline(always)]
fn std_of(m: &Moments, _x: f64) -> f64 {
    m.stats().1
}

#[inline(always)]
fn zscore_of(m: &Moments, x: f64) -> f64 {
    zscore(x, m.stats())
}

/// max(x) as −min(−x), keeping a NaN output a plain (positive) NaN.
#[inline(always)]
fn neg_min(e: &mut Extreme, x: f64) -> f64 {
    let v = e.step(-x);
    if v.is_nan() {
        v
    } else {
        -v
    }
}

#[inline(always)]
fn moment(m: &mut Moments, x: f64, f: impl Fn(&Moments, f64) -> f64) -> f64 {
    m.push(x);
    if m.ring.valid() {
        f(m, x)
    } else {
        f64::NAN
    }
}

#[inline(always)]
fn zscore(x: f64, (mean, std): (f64, f64)) -> f64 {
    if std < DIV_EPS {
        0.0
    } else {
        (x - mean) / std
    }
}
