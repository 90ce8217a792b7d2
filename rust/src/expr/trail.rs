//! Trailing windows scanned across rows: a block's inputs sit after the previous `n − 1` in
//! one contiguous buffer, so row t's window is the slice `t..t + n`, and `LANES` neighbouring
//! rows are scanned side by side (one vector lane each) instead of one row's window at a
//! time. That drops the per-row ring bookkeeping and the horizontal sum, and the only
//! branch left per row is the validity check. Rank and small-window min/max run here; every
//! output is an exact count or an exact selection, so it equals the row-at-a-time kernels'.

/// Rows scanned side by side: four 512-bit vectors of f64 or u64, so four independent
/// compare-and-select chains overlap (one chain waits on each compare's latency).
const LANES: usize = G * V;
/// f64 per 512-bit vector.
const V: usize = 8;
/// Vectors per scan.
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
        let (n, h, len) = (self.n, self.n - 1, xs.len());
        self.buf.extend_from_slice(xs);
        // Lanes past the block read padding; their outputs are dropped.
        self.buf.resize(h + len.next_multiple_of(LANES), 0.0);
        for (t0, out) in (0..len).step_by(LANES).zip(xs.chunks_mut(LANES)) {
            let got = K::lanes(&self.buf[t0..t0 + h + LANES], n);
            out.copy_from_slice(&got[..out.len()]);
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

/// A window statistic of `LANES` rows at once. Static dispatch: a kernel passed as a fn
/// value was compiled apart, without the caller's vector features, and called per chunk.
pub(super) trait Kernel {
    /// Lane l's output for its window `s[l..l + n]`, whose current value is `s[l + n − 1]`.
    fn lanes(s: &[f64], n: usize) -> [f64; LANES];
}

pub(super) struct Rank;
pub(super) struct Min;
pub(super) struct Max;

impl Kernel for Rank {
    #[inline(always)]
    fn lanes(s: &[f64], n: usize) -> [f64; LANES] {
        rank_lanes(s, n)
    }
}

impl Kernel for Min {
    #[inline(always)]
    fn lanes(s: &[f64], n: usize) -> [f64; LANES] {
        min_lanes(s, n)
    }
}

impl Kernel for Max {
    #[inline(always)]
    fn lanes(s: &[f64], n: usize) -> [f64; LANES] {
        max_lanes(s, n)
    }
}

/// Average rank of each lane's value in its window divided by `n` (pandas `rank(pct=True)`):
/// below + at-or-below = 2·less + equal, counted exactly in integers (under 2^53, so the
/// halving is exact and equals less + (equal + 1) / 2).
#[inline(always)]
fn rank_lanes(s: &[f64], n: usize) -> [f64; LANES] {
    let x: [[f64; V]; G] = std::array::from_fn(|g| vector(s, n - 1 + g * V));
    let mut twice = [[0_u64; V]; G];
    for d in 0..n {
        for (g, c) in twice.iter_mut().enumerate() {
            let (w, x) = (vector(s, d + g * V), &x[g]);
            for l in 0..V {
                c[l] += u64::from(w[l] < x[l]) + u64::from(w[l] <= x[l]);
            }
        }
    }
    std::array::from_fn(|i| ((twice[i / V][i % V] + 1) as f64 / 2.0) / n as f64)
}

/// Each lane's window minimum; among equal values (0.0 and −0.0) the newest, as the queue.
#[inline(always)]
fn min_lanes(s: &[f64], n: usize) -> [f64; LANES] {
    select_lanes(s, n, |w, m| w <= m)
}

/// Each lane's window maximum; among equal values the newest (= −min(−x) bit for bit).
#[inline(always)]
fn max_lanes(s: &[f64], n: usize) -> [f64; LANES] {
    select_lanes(s, n, |w, m| w >= m)
}

/// Scans each lane's window oldest to newest, taking a value `w` over the kept `m` when
/// `take(w, m)`.
#[inline(always)]
fn select_lanes(s: &[f64], n: usize, take: impl Fn(f64, f64) -> bool + Copy) -> [f64; LANES] {
    let mut m: [[f64; V]; G] = std::array::from_fn(|g| vector(s, g * V));
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
    std::array::from_fn(|i| m[i / V][i % V])
}

/// The `V` values from `s[d]`.
#[inline(always)]
fn vector(s: &[f64], d: usize) -> [f64; V] {
    let mut out = [0.0; V];
    out.copy_from_slice(&s[d..d + V]);
    out
}
