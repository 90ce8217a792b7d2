use super::*;

/// Postfix nodes as (op, k, a, b).
fn prog(nodes: &[(Op, i64, f64, f64)], n_columns: usize) -> CoreResult<Program> {
    let ops: Vec<i64> = nodes
        .iter()
        .map(|n| OPS.iter().position(|o| *o == n.0).unwrap() as i64)
        .collect();
    let ints: Vec<i64> = nodes.iter().map(|n| n.1).collect();
    let a: Vec<f64> = nodes.iter().map(|n| n.2).collect();
    let b: Vec<f64> = nodes.iter().map(|n| n.3).collect();
    compile(&ops, &ints, &a, &b, n_columns)
}

fn bits(v: &[f64]) -> Vec<u64> {
    v.iter().map(|x| x.to_bits()).collect()
}

fn col(c: i64) -> (Op, i64, f64, f64) {
    (Op::Col, c, 0.0, 0.0)
}

#[test]
fn rolling_mean_over_blocks_matches_brute_force() {
    let p = prog(
        &[col(0), (Op::Mean, 3, 0.0, 0.0), (Op::Tanh, 0, 0.0, 0.0)],
        1,
    )
    .unwrap();
    let x: Vec<f64> = (0..50).map(|i| ((i * 7) % 11) as f64 * 0.1).collect();
    let whole = evaluate(&p, &[&x], x.len(), 1024).unwrap();
    for block in [1, 2, 3, 7, 64] {
        assert_eq!(
            bits(&evaluate(&p, &[&x], x.len(), block).unwrap()),
            bits(&whole)
        );
    }
    assert!(whole[..2].iter().all(|v| v.is_nan()));
    for i in 2..x.len() {
        let m = (x[i - 2] + x[i - 1] + x[i]) / 3.0;
        assert!((whole[i] - m.tanh()).abs() < 1e-12);
    }
}

#[test]
fn streaming_equals_vectorized_bit_for_bit() {
    let p = prog(
        &[
            col(0),
            (Op::ZScore, 4, 0.0, 0.0),
            col(1),
            (Op::Lag, 2, 0.0, 0.0),
            (Op::Div, 0, 0.0, 0.0),
        ],
        2,
    )
    .unwrap();
    let x: Vec<f64> = (0..40)
        .map(|i| if i == 9 { f64::NAN } else { (i as f64).sin() })
        .collect();
    let y: Vec<f64> = (0..40).map(|i| (i as f64 * 0.3).cos()).collect();
    let whole = evaluate(&p, &[&x, &y], 40, 16).unwrap();
    let mut ev = Evaluator::new(p, 1).unwrap();
    for i in 0..40 {
        let v = ev.step(&[x[i], y[i]]).unwrap();
        assert_eq!(v.to_bits(), whole[i].to_bits(), "row {i}");
    }
}

#[test]
fn bad_programs_are_errors() {
    assert!(prog(&[col(0), (Op::Add, 0, 0.0, 0.0)], 1).is_err());
    assert!(prog(&[col(0), col(0), (Op::Gt, 0, 0.0, 0.0)], 1).is_err());
    assert!(prog(&[col(3)], 1).is_err());
    assert!(prog(&[(Op::Const, 0, f64::NAN, 0.0)], 0).is_err());
    assert!(prog(&[col(0), (Op::Mean, 0, 0.0, 0.0)], 1).is_err());
    assert!(prog(&[col(0), (Op::Clip, 0, 1.0, -1.0)], 1).is_err());
    assert!(compile(&[99], &[0], &[0.0], &[0.0], 0).is_err());
    assert!(compile(&[], &[], &[], &[], 0).is_err());
    let p = prog(&[col(0)], 1).unwrap();
    assert!(evaluate(&p, &[&[1.0, 2.0]], 3, 8).is_err());
    assert!(evaluate(&p, &[&[1.0]], 1, 0).is_err());
}

proptest::proptest! {
    /// The monotonic-queue min/max equal a scan of the full window, NaN rules included.
    #[test]
    fn rolling_min_max_equal_a_window_scan(
        raw in proptest::collection::vec(proptest::option::weighted(0.9, -5i32..5), 1..80),
        k in 1usize..9,
    ) {
        // Values within [-1, 1]: the root of a program is clipped to a position.
        let x: Vec<f64> = raw.iter().map(|v| v.map_or(f64::NAN, |v| f64::from(v) * 0.2)).collect();
        for (op, pick) in [(Op::Min, f64::min as fn(f64, f64) -> f64), (Op::Max, f64::max)] {
            let p = prog(&[col(0), (op, k as i64, 0.0, 0.0)], 1).unwrap();
            let got = evaluate(&p, &[&x], x.len(), 5).unwrap();
            for i in 0..x.len() {
                let want = if i + 1 < k || x[i + 1 - k..=i].iter().any(|v| v.is_nan()) {
                    f64::NAN
                } else {
                    x[i + 1 - k..=i].iter().copied().reduce(pick).unwrap()
                };
                proptest::prop_assert!(
                    got[i] == want || (got[i].is_nan() && want.is_nan()),
                    "{op:?} k={k} row {i}: {} vs {want}", got[i]
                );
            }
        }
    }
}

#[test]
fn flat_windows_have_exact_mean_and_zero_std_after_large_moves() {
    // Large swings, then a flat stretch: the running sums keep a rounding residue there.
    let mut x: Vec<f64> = (0..40)
        .map(|i| 60_000.0 + 977.3 * (i as f64).sin())
        .collect();
    x.extend([61_234.5; 12]);
    let n = x.len();
    let run = |op: Op| {
        let p = prog(&[col(0), (op, 5, 0.0, 0.0)], 1).unwrap();
        evaluate(&p, &[&x], n, 7).unwrap()
    };
    let (std, z) = (run(Op::Std), run(Op::ZScore));
    let p = prog(
        &[
            col(0),
            (Op::Mean, 5, 0.0, 0.0),
            col(0),
            (Op::Sub, 0, 0.0, 0.0),
        ],
        1,
    )
    .unwrap();
    let dev = evaluate(&p, &[&x], n, 7).unwrap();
    for i in 44..n {
        assert_eq!(std[i], 0.0, "row {i}");
        assert_eq!(z[i], 0.0, "row {i}");
        assert_eq!(dev[i], 0.0, "row {i}");
    }
    assert!(std[43] > 0.0);
}

/// A window statistic computed the plain way.
type Reference = fn(&[f64]) -> f64;

/// Window `i + 1 - k..=i` of `x`, or None while it is short or holds a NaN.
fn full_window(x: &[f64], i: usize, k: usize) -> Option<&[f64]> {
    let w = x.get((i + 1).checked_sub(k)?..=i)?;
    (!w.iter().any(|v| v.is_nan())).then_some(w)
}

/// The newest value among the window's extremes (`better(a, b)`: a is strictly better).
fn newest_extreme(w: &[f64], better: fn(f64, f64) -> bool) -> f64 {
    let mut best = w[0];
    for &v in &w[1..] {
        if !better(best, v) {
            best = v;
        }
    }
    best
}

/// pandas `rank(pct=True)`: (less + (equal + 1) / 2) / n, `equal` counting the value itself.
fn pct_rank(w: &[f64]) -> f64 {
    let x = w[w.len() - 1];
    let less = w.iter().filter(|&&v| v < x).count();
    let equal = w.iter().filter(|&&v| v == x).count();
    ((2 * less + equal + 1) as f64 / 2.0) / w.len() as f64
}

proptest::proptest! {
    /// Rank and min/max (the row-vector scan up to 128 rows, the queue above) equal a plain
    /// scan of each full window bit for bit, for any block size: ties, 0.0 against −0.0
    /// (the newest is kept) and NaN rules included.
    #[test]
    fn window_scans_equal_each_window_bit_for_bit(
        raw in proptest::collection::vec(proptest::option::weighted(0.93, -4i32..4), 1..400),
        k in proptest::sample::select(vec![1usize, 2, 3, 5, 8, 9, 17, 128, 129, 200]),
        block in proptest::sample::select(vec![1usize, 3, 8, 64, 256]),
    ) {
        // -0.0 for the zeros of odd positions: equal to 0.0 but other bits.
        let x: Vec<f64> = raw.iter().enumerate().map(|(i, v)| match v {
            None => f64::NAN,
            Some(0) if i % 2 == 1 => -0.0,
            Some(v) => f64::from(*v) * 0.25,
        }).collect();
        let ops: [(Op, Reference); 3] = [
            (Op::Min, |w| newest_extreme(w, |a, b| a < b)),
            (Op::Max, |w| newest_extreme(w, |a, b| a > b)),
            (Op::Rank, pct_rank),
        ];
        for (op, want_of) in ops {
            if op == Op::Rank && k < 2 {
                continue;
            }
            let p = prog(&[col(0), (op, k as i64, 0.0, 0.0)], 1).unwrap();
            let got = evaluate(&p, &[&x], x.len(), block).unwrap();
            for (i, &g) in got.iter().enumerate() {
                // The root is clipped to [-1, 1]: the values already are.
                let want = full_window(&x, i, k).map_or(f64::NAN, want_of);
                proptest::prop_assert!(
                    g.to_bits() == want.to_bits() || (g.is_nan() && want.is_nan()),
                    "{op:?} k={k} block {block} row {i}: {g} vs {want}"
                );
            }
        }
    }
}

#[test]
fn nearly_flat_windows_after_large_moves_keep_their_small_spread() {
    // Swings of ±50,000, then steps of 1e-5: the sums carry the swings' terms until they
    // leave, and the small windows after them must still get their small spread.
    let mut x: Vec<f64> = (0..40)
        .map(|i| 60_000.0 + 50_000.0 * (i as f64).sin())
        .collect();
    x.extend((0..60).map(|i| 61_234.5 + 1e-5 * f64::from(i % 3)));
    let k = 16;
    for block in [1, 7, 64] {
        let run = |op: Op| {
            let p = prog(&[col(0), (op, k as i64, 0.0, 0.0)], 1).unwrap();
            evaluate(&p, &[&x], x.len(), block).unwrap()
        };
        let (std, z) = (run(Op::Std), run(Op::ZScore));
        for i in 40 + k..x.len() {
            let w = &x[i + 1 - k..=i];
            let mean = w.iter().sum::<f64>() / k as f64;
            let sd = (w.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / k as f64).sqrt();
            assert!(
                sd > 1e-6 && (std[i] - sd).abs() <= 1e-9 * sd,
                "row {i}: {} vs {sd}",
                std[i]
            );
            // z is clipped to [-1, 1] as a program's root
            let want = ((x[i] - mean) / sd).clamp(-1.0, 1.0);
            assert!((z[i] - want).abs() <= 1e-6, "row {i}: {} vs {want}", z[i]);
        }
    }
}
