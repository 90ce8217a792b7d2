//! Summation in numpy's order, so centre frequencies round the way vmdpy's do.

/// Blocks at most this long are summed with eight accumulators (numpy's `PW_BLOCKSIZE`).
const BLOCK: usize = 128;

/// Sum `a` exactly as `numpy.sum` does for a contiguous float64 array (pairwise, unrolled by 8).
pub fn pairwise_sum(a: &[f64]) -> f64 {
    let n = a.len();
    if n < 8 {
        return a.iter().fold(-0.0, |acc, &x| acc + x);
    }
    if n <= BLOCK {
        let mut r = [a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7]];
        let full = n - n % 8;
        for chunk in a[8..full].chunks_exact(8) {
            for (acc, &x) in r.iter_mut().zip(chunk) {
                *acc += x;
            }
        }
        let mut res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        for &x in &a[full..] {
            res += x;
        }
        return res;
    }
    let mut half = n / 2;
    half -= half % 8;
    pairwise_sum(&a[..half]) + pairwise_sum(&a[half..])
}

#[cfg(test)]
mod tests {
    use super::pairwise_sum;

    #[test]
    fn sums_small_and_large_arrays() {
        for n in [0usize, 1, 7, 8, 9, 128, 129, 1000] {
            let a: Vec<f64> = (0..n).map(|i| i as f64).collect();
            let exact = (n * n.saturating_sub(1) / 2) as f64;
            assert_eq!(pairwise_sum(&a), exact, "n={n}");
        }
    }
}
