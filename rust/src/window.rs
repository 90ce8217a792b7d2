//! Trailing time-window max/min over an event clock, O(n) with monotonic queues.
//!
//! Row i sees rows j ≤ i (input order) with `ts[j] > ts[i] − window`, so rows sharing a
//! timestamp never see a later row: the same window `FeatureStream` keeps in `features.py`.

use crate::error::{CoreError, CoreResult};

/// Indices in a Vec with a moving head: every row is pushed at most once, so no ring is needed.
struct MonoQueue {
    idx: Vec<usize>,
    head: usize,
}

impl MonoQueue {
    fn with_capacity(n: usize) -> Self {
        Self {
            idx: Vec::with_capacity(n),
            head: 0,
        }
    }

    /// Drop newer-side entries `dominated(old)` says the new value beats, then append `i`.
    fn push(&mut self, i: usize, dominated: impl Fn(usize) -> bool) {
        while self.idx.len() > self.head && dominated(self.idx[self.idx.len() - 1]) {
            self.idx.pop();
        }
        self.idx.push(i);
    }

    /// Drop oldest entries whose timestamp is at or before `edge` (they left the window).
    fn expire(&mut self, ts: &[i64], edge: Option<i64>) {
        let Some(edge) = edge else { return };
        while self.head < self.idx.len() && ts[self.idx[self.head]] <= edge {
            self.head += 1;
        }
    }

    fn front(&self) -> Option<usize> {
        self.idx.get(self.head).copied()
    }
}

fn check(ts: &[i64], values: &[f64], window: i64) -> CoreResult<()> {
    if ts.len() != values.len() {
        return Err(CoreError::InvalidInput(format!(
            "ts has {} rows but values has {}",
            ts.len(),
            values.len()
        )));
    }
    if window <= 0 {
        return Err(CoreError::InvalidInput(format!(
            "window must be positive, got {window}"
        )));
    }
    if let Some(i) = ts.windows(2).position(|p| p[1] < p[0]) {
        return Err(CoreError::InvalidInput(format!(
            "ts must never decrease: row {} ({}) is before row {} ({})",
            i + 1,
            ts[i + 1],
            i,
            ts[i]
        )));
    }
    Ok(())
}

/// Per row: (max, min) of the non-NaN `values` in the trailing window, NaN when it has none.
///
/// Ties keep the newest row (`<=` / `>=` pops), as the streaming deques do.
pub fn trailing_max_min(
    ts: &[i64],
    values: &[f64],
    window: i64,
) -> CoreResult<(Vec<f64>, Vec<f64>)> {
    check(ts, values, window)?;
    let n = ts.len();
    let (mut maxq, mut minq) = (MonoQueue::with_capacity(n), MonoQueue::with_capacity(n));
    let (mut hi, mut lo) = (Vec::with_capacity(n), Vec::with_capacity(n));
    for (i, (&t, &v)) in ts.iter().zip(values).enumerate() {
        if !v.is_nan() {
            maxq.push(i, |j| values[j] <= v);
            minq.push(i, |j| values[j] >= v);
        }
        // None when t − window underflows: then no row can have left the window.
        let edge = t.checked_sub(window);
        maxq.expire(ts, edge);
        minq.expire(ts, edge);
        hi.push(maxq.front().map_or(f64::NAN, |j| values[j]));
        lo.push(minq.front().map_or(f64::NAN, |j| values[j]));
    }
    Ok((hi, lo))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The definition, O(n²).
    fn naive(ts: &[i64], values: &[f64], window: i64) -> (Vec<f64>, Vec<f64>) {
        let mut hi = vec![f64::NAN; ts.len()];
        let mut lo = vec![f64::NAN; ts.len()];
        for i in 0..ts.len() {
            for j in 0..=i {
                let inside = i128::from(ts[j]) > i128::from(ts[i]) - i128::from(window);
                if inside && !values[j].is_nan() {
                    if hi[i].is_nan() || values[j] > hi[i] {
                        hi[i] = values[j];
                    }
                    if lo[i].is_nan() || values[j] < lo[i] {
                        lo[i] = values[j];
                    }
                }
            }
        }
        (hi, lo)
    }

    fn same(a: &[f64], b: &[f64]) -> bool {
        a.len() == b.len()
            && a.iter()
                .zip(b)
                .all(|(x, y)| (x.is_nan() && y.is_nan()) || x == y)
    }

    #[test]
    fn ties_never_see_later_rows() {
        let ts = [10, 10, 10, 20];
        let v = [5.0, 7.0, 3.0, f64::NAN];
        let (hi, lo) = trailing_max_min(&ts, &v, 5).unwrap();
        assert!(same(&hi, &[5.0, 7.0, 7.0, f64::NAN]));
        assert!(same(&lo, &[5.0, 5.0, 3.0, f64::NAN]));
    }

    #[test]
    fn window_is_open_at_the_start() {
        // ts 0 leaves the window of ts 10 exactly at the edge (t − w, t].
        let (hi, lo) = trailing_max_min(&[0, 5, 10], &[9.0, 1.0, 2.0], 10).unwrap();
        assert!(same(&hi, &[9.0, 9.0, 2.0]));
        assert!(same(&lo, &[9.0, 1.0, 1.0]));
    }

    #[test]
    fn nan_rows_are_skipped_and_empty_is_nan() {
        let (hi, lo) = trailing_max_min(&[0, 1, 2], &[f64::NAN, 4.0, f64::NAN], 100).unwrap();
        assert!(same(&hi, &[f64::NAN, 4.0, 4.0]));
        assert!(same(&lo, &[f64::NAN, 4.0, 4.0]));
        let (hi, lo) = trailing_max_min(&[], &[], 1).unwrap();
        assert!(hi.is_empty() && lo.is_empty());
    }

    #[test]
    fn extreme_timestamps_do_not_overflow() {
        let ts = [i64::MIN, i64::MIN + 1, i64::MAX];
        let (hi, _) = trailing_max_min(&ts, &[1.0, 2.0, 3.0], i64::MAX).unwrap();
        assert!(same(&hi, &[1.0, 2.0, 3.0]));
    }

    #[test]
    fn bad_input_is_rejected() {
        assert!(trailing_max_min(&[1, 2], &[1.0], 5).is_err());
        assert!(trailing_max_min(&[1], &[1.0], 0).is_err());
        let err = trailing_max_min(&[2, 1], &[1.0, 1.0], 5).unwrap_err();
        assert!(err.to_string().contains("never decrease"), "{err}");
    }

    fn rows() -> impl Strategy<Value = (Vec<i64>, Vec<f64>, i64)> {
        let step = prop_oneof![Just(0i64), 0i64..4, 0i64..40];
        let value = prop_oneof![Just(f64::NAN), (0i32..8).prop_map(f64::from), -1e3f64..1e3];
        (prop::collection::vec((step, value), 0..120), 1i64..60).prop_map(|(r, w)| {
            let mut t = 0;
            let (ts, v) = r
                .into_iter()
                .map(|(d, x)| {
                    t += d;
                    (t, x)
                })
                .unzip();
            (ts, v, w)
        })
    }

    proptest! {
        #[test]
        fn equals_the_definition((ts, v, w) in rows()) {
            let (hi, lo) = trailing_max_min(&ts, &v, w).unwrap();
            let (nhi, nlo) = naive(&ts, &v, w);
            prop_assert!(same(&hi, &nhi), "hi {:?} vs {:?}", hi, nhi);
            prop_assert!(same(&lo, &nlo), "lo {:?} vs {:?}", lo, nlo);
        }
    }
}
