//! Trailing windows scanned across rows: a block's inputs sit after the previous `n − 1` in
//! one contiguous buffer, so row t's window is the slice `t..t + n`, and `LANES` neighbouring
//! rows are scanned side by side (one vector lane each) instead of one row's window at a
//! time. That drops the per-row ring bookkeeping and the horizontal sum, and the only
//! branch left per row is the validity check. Rank and small-window min/max run here; every
//! output is an exact count or an exact selection, so it equals a plain scan of its window
//! bit for bit (a proptest in `expr/tests.rs`), for any block size.

/// Rows scanned side by side in a block: four 512-bit vectors of f64 or u64, so four
/// independent compare-and-select chains overlap (one chain waits on each compare's latency).
const LANES: usize = G * V;
/// f64 per 512-bit vector.
const V: usize = 8;
/// Vectors per scan of a block.
const G: usize = 4;

/// Windows up to this length use the min/max scan (`n` selects a row, from the buffer in
/// L1); longer ones keep the O(1) monotonic queue.
pub(super) const SCAN_MAX: usize = 128;

/// A trailing window of `n` rows: the last `n − 1` inputs, the row count and the latest NaN.
#[derive(Debug, Clone)]
pub(super) struct Trail {
    n: usize,
    /// The last `n − 1` inputs, oldest first; during a scan followed by the block and padding.
    buf: Vec<f64>,
    seen: usize,
    last_nan: Option<usize>,
}

impl Trail {
    pub fn new(n: usize) -> Self {
        Self {
            n,
            buf: vec![f64::NAN; n - 1],
            seen: 0,
            last_nan: None,
        }
    }

    /// Replaces each value of `xs` (the next rows) by `K`'s output for its window, or NaN
    /// until the window holds `n` values and while it holds a NaN.
    #[inline(always)]
    pub fn scan<K: Kernel>(&mut self, xs: &mut [f64]) {
        // A short block (one-row streaming, live) scans one vector of rows, not `G`.
        if xs.len() < LANES {
            self.scan_by::<K, 1>(xs);
        } else {
            self.scan_by::<K, G>(xs);
        }
    }

    /// `scan` with `N` vectors of rows side by side.
    #[inline(always)]
    fn scan_by<K: Kernel, const N: usize>(&mut self, xs: &mut [f64]) {
        let (n, h, len, lanes) = (self.n, self.n - 1, xs.len(), N * V);
        self.buf.extend_from_slice(xs);
        // Lanes past the block read padding; their outputs are dropped.
        self.buf.resize(h + len.next_multiple_of(lanes), 0.0);
        for (t0, out) in (0..len).step_by(lanes).zip(xs.chunks_mut(lanes)) {
            let got = K::lanes::<N>(&self.buf[t0..t0 + h + lanes], n);
            for (l, o) in out.iter_mut().enumerate() {
                *o = got[l / V][l % V];
            }
        }
        for (t, v) in xs.iter_mut().enumerate() {
            let row = self.seen + t;
            if self.buf[h + t].is_nan() {
                self.last_nan = Some(row);
            }
            if row + 1 < n || self.last_nan.is_some_and(|r| r + n > row) {
                *v = f64::NAN;
            }
        }
        self.seen += len;
        self.buf.copy_within(len..len + h, 0);
        self.buf.truncate(h);
    }
}

/// A window statistic of `N` vectors of rows at once. Static dispatch: a kernel passed as a
/// fn value was compiled apart, without the caller's vector features, and called per chunk.
pub(super) trait Kernel {
    /// Lane (g, l)'s output for its window `s[i..i + n]` (i = g·V + l), whose current value
    /// is `s[i + n − 1]`.
    fn lanes<const N: usize>(s: &[f64], n: usize) -> [[f64; V]; N];
}

pub(super) struct Rank;
pub(super) struct Min;
pub(super) struct Max;

impl Kernel for Rank {
    /// Average rank of each lane's value in its window divided by `n` (pandas
    /// `rank(pct=True)`): below + at-or-below = 2·less + equal, counted exactly in integers
    /// (under 2^53, so the halving is exact and equals less + (equal + 1) / 2).
    #[inline(always)]
    fn lanes<const N: usize>(s: &[f64], n: usize) -> [[f64; V]; N] {
        let x: [[f64; V]; N] = std::array::from_fn(|g| vector(s, n - 1 + g * V));
        let mut twice = [[0_u64; V]; N];
        for d in 0..n {
            for (g, c) in twice.iter_mut().enumerate() {
                let (w, x) = (vector(s, d + g * V), &x[g]);
                for l in 0..V {
                    c[l] += u64::from(w[l] < x[l]) + u64::from(w[l] <= x[l]);
                }
            }
        }
        twice.map(|c| c.map(|c| ((c + 1) as f64 / 2.0) / n as f64))
    }
}

impl Kernel for Min {
    /// Each lane's window minimum; among equal values (0.0 and −0.0) the newest, as the queue.
    #[inline(always)]
    fn lanes<const N: usize>(s: &[f64], n: usize) -> [[f64; V]; N] {
        select_lanes(s, n, |w, m| w <= m)
    }
}

impl Kernel for Max {
    /// Each lane's window maximum; among equal values the newest (= −min(−x) bit for bit).
    #[inline(always)]
    fn lanes<const N: usize>(s: &[f64], n: usize) -> [[f64; V]; N] {
        select_lanes(s, n, |w, m| w >= m)
    }
}

/// Scans each lane's window oldest to newest, taking a value `w` over the kept `m` when
/// `take(w, m)`.
#[inline(always)]
fn select_lanes<const N: usize>(
    s: &[f64],
    n: usize,
    take: impl Fn(f64, f64) -> bool + Copy,
) -> [[f64; V]; N] {
    let mut m: [[f64; V]; N] = std::array::from_fn(|g| vector(s, g * V));
    for d in 1..n {
        for (g, mg) in m.iter_mut().enumerate() {
            let w = vector(s, d + g * V);
            for l in 0..V {
                if take(w[l], mg[l]) {
                    mg[l] = w[l];
                }
            }
        }
    }
    m
}

/// The `V` values from `s[d]`.
#[inline(always)]
fn vector(s: &[f64], d: usize) -> [f64; V] {
    let mut out = [0.0; V];
    out.copy_from_slice(&s[d..d + V]);
    out
}
