//! Unit tests of the VMD core: known spectra, reconstruction, planner reuse, trailing features.

use std::f64::consts::PI;

use super::*;

fn tones(n: usize, parts: &[(f64, f64)]) -> Vec<f64> {
    (0..n)
        .map(|i| {
            parts
                .iter()
                .map(|&(amp, f)| amp * (2.0 * PI * f * i as f64).cos())
                .sum()
        })
        .collect()
}

fn params(k: usize) -> VmdParams {
    VmdParams {
        k,
        ..VmdParams::default()
    }
}

/// Small deterministic noise (a linear congruential generator), centred on zero.
fn noise(n: usize, seed: u64) -> Vec<f64> {
    let mut s = seed;
    (0..n)
        .map(|_| {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((s >> 11) as f64 / (1u64 << 53) as f64) - 0.5
        })
        .collect()
}

#[test]
fn pure_sinusoid_centre_frequency_is_recovered() {
    let signal = tones(256, &[(1.0, 0.1)]);
    let out = vmd(&signal, &params(1)).unwrap();
    assert!((out.omega[0] - 0.1).abs() < 2e-3, "omega {:?}", out.omega);
}

#[test]
fn two_tones_land_in_two_modes() {
    let signal = tones(512, &[(1.0, 0.03), (0.5, 0.21)]);
    let out = vmd(&signal, &params(2)).unwrap();
    assert!((out.omega[0] - 0.03).abs() < 2e-3, "omega {:?}", out.omega);
    assert!((out.omega[1] - 0.21).abs() < 2e-3, "omega {:?}", out.omega);
    assert!(out.iterations > 1 && out.iterations < 499);
}

#[test]
fn modes_sum_back_to_the_signal() {
    let n = 512;
    let clean = tones(n, &[(1.0, 0.02), (0.6, 0.11), (0.3, 0.27)]);
    let signal: Vec<f64> = clean
        .iter()
        .zip(noise(n, 7))
        .map(|(c, e)| c + 0.01 * e)
        .collect();
    let out = vmd(&signal, &params(3)).unwrap();
    let rms = (signal.iter().map(|x| x * x).sum::<f64>() / n as f64).sqrt();
    // Skip the edges, where the mirror extension bends the modes.
    let err = (n / 8..n - n / 8)
        .map(|i| {
            let sum: f64 = out.modes.iter().map(|m| m[i]).sum();
            (sum - signal[i]).powi(2)
        })
        .sum::<f64>()
        / (n - n / 4) as f64;
    assert!(
        err.sqrt() < 0.05 * rms,
        "rms error {} vs rms {rms}",
        err.sqrt()
    );
}

#[test]
fn dc_mode_stays_at_zero_frequency() {
    let signal: Vec<f64> = tones(128, &[(1.0, 0.15)]).iter().map(|x| x + 3.0).collect();
    let p = VmdParams {
        dc: true,
        ..params(2)
    };
    let out = vmd(&signal, &p).unwrap();
    assert_eq!(out.omega[0], 0.0);
    assert!((out.omega[1] - 0.15).abs() < 5e-3, "omega {:?}", out.omega);
}

#[test]
fn odd_length_drops_the_last_sample() {
    let signal = tones(129, &[(1.0, 0.07), (0.4, 0.3)]);
    let odd = vmd(&signal, &params(2)).unwrap();
    let even = vmd(&signal[..128], &params(2)).unwrap();
    assert_eq!(odd, even);
    assert_eq!(odd.modes[0].len(), 128);
}

#[test]
fn planner_reuse_gives_identical_results() {
    let a = tones(128, &[(1.0, 0.05), (0.5, 0.2)]);
    let b = noise(128, 3);
    let p = params(3);
    let mut planner = VmdPlanner::new(128, 3).unwrap();
    let mut first = vec![0.0; 128];
    planner.run(&a, &p).unwrap();
    planner.mode_into(1, &mut first);
    planner.run(&b, &p).unwrap();
    planner.run(&a, &p).unwrap();
    let mut again = vec![0.0; 128];
    planner.mode_into(1, &mut again);
    assert_eq!(first, again);
    assert_eq!(vmd(&a, &p).unwrap().modes[1], first);
}

#[test]
fn iteration_cap_is_respected() {
    let signal = noise(64, 11);
    let p = VmdParams {
        tol: 0.0,
        max_iter: 5,
        ..params(2)
    };
    assert_eq!(vmd(&signal, &p).unwrap().iterations, 4);
}

#[test]
fn bad_parameters_are_rejected() {
    let signal = noise(64, 1);
    let cases = [
        VmdParams { k: 0, ..params(1) },
        VmdParams {
            alpha: f64::NAN,
            ..params(2)
        },
        VmdParams {
            alpha: -1.0,
            ..params(2)
        },
        VmdParams {
            tau: f64::INFINITY,
            ..params(2)
        },
        VmdParams {
            max_iter: 1,
            ..params(2)
        },
        VmdParams { k: 40, ..params(2) },
    ];
    for p in cases {
        assert!(vmd(&signal, &p).is_err(), "{p:?}");
    }
    let mut with_nan = signal.clone();
    with_nan[5] = f64::NAN;
    assert!(vmd(&with_nan, &params(2)).is_err());
    assert!(vmd(&signal[..6], &params(1)).is_err());
    assert!(Init::from_code(2).is_err());
}

fn random_walk(n: usize, seed: u64) -> Vec<f64> {
    let mut level = 10.0;
    noise(n, seed)
        .into_iter()
        .map(|e| {
            level += 0.01 * e;
            level
        })
        .collect()
}

fn trailing_cfg(window: usize, stride: usize, threads: usize) -> TrailingConfig {
    TrailingConfig {
        window,
        stride,
        params: params(3),
        threads,
    }
}

fn same_bits(a: &[f64], b: &[f64]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits())
}

#[test]
fn trailing_rows_match_direct_decomposition() {
    let series = random_walk(90, 5);
    let cfg = trailing_cfg(32, 3, 1);
    let out = vmd_trailing(&series, &cfg).unwrap();
    assert!(out.last_values[..31 * 3].iter().all(|x| x.is_nan()));
    for t in 31..90 {
        let anchor = 31 + (t - 31) / 3 * 3;
        let direct = vmd(&series[anchor + 1 - 32..=anchor], &cfg.params).unwrap();
        let mut pairs: Vec<(f64, f64)> = direct
            .omega
            .iter()
            .zip(&direct.modes)
            .map(|(&w, m)| (w, m[31]))
            .collect();
        pairs.sort_by(|a, b| a.0.total_cmp(&b.0));
        for (i, (w, last)) in pairs.into_iter().enumerate() {
            assert_eq!(out.centre_freqs[t * 3 + i].to_bits(), w.to_bits());
            assert_eq!(out.last_values[t * 3 + i].to_bits(), last.to_bits());
        }
    }
}

#[test]
fn thread_count_does_not_change_results() {
    let series = random_walk(200, 9);
    let one = vmd_trailing(&series, &trailing_cfg(24, 1, 1)).unwrap();
    for threads in [2, 3, 8] {
        let many = vmd_trailing(&series, &trailing_cfg(24, 1, threads)).unwrap();
        assert!(same_bits(&one.last_values, &many.last_values));
        assert!(same_bits(&one.centre_freqs, &many.centre_freqs));
    }
}

#[test]
fn nan_in_window_gives_nan_rows_then_recovers() {
    let mut series = random_walk(80, 2);
    series[40] = f64::NAN;
    let out = vmd_trailing(&series, &trailing_cfg(16, 1, 2)).unwrap();
    for t in 40..56 {
        assert!(out.last_values[t * 3..t * 3 + 3].iter().all(|x| x.is_nan()));
    }
    assert!(out.last_values[56 * 3..].iter().all(|x| x.is_finite()));
    assert!(out.last_values[39 * 3..40 * 3]
        .iter()
        .all(|x| x.is_finite()));
}

#[test]
fn future_changes_leave_the_past_alone() {
    let series = random_walk(120, 4);
    let base = vmd_trailing(&series, &trailing_cfg(20, 2, 2)).unwrap();
    for cut in [25usize, 60, 100] {
        let mut changed = series.clone();
        for x in &mut changed[cut + 1..] {
            *x += 0.5;
        }
        let out = vmd_trailing(&changed, &trailing_cfg(20, 2, 2)).unwrap();
        let keep = (cut + 1) * 3;
        assert!(same_bits(
            &base.last_values[..keep],
            &out.last_values[..keep]
        ));
        assert!(same_bits(
            &base.centre_freqs[..keep],
            &out.centre_freqs[..keep]
        ));
    }
}

#[test]
fn stream_equals_batch() {
    let mut series = random_walk(150, 8);
    series[70] = f64::NAN;
    let cfg = trailing_cfg(20, 3, 2);
    let batch = vmd_trailing(&series, &cfg).unwrap();
    let mut stream = VmdStream::new(cfg).unwrap();
    for (t, &x) in series.iter().enumerate() {
        let (last, freq) = stream.update(x).unwrap();
        assert!(
            same_bits(last, &batch.last_values[t * 3..t * 3 + 3]),
            "t={t}"
        );
        assert!(
            same_bits(freq, &batch.centre_freqs[t * 3..t * 3 + 3]),
            "t={t}"
        );
    }
    assert_eq!(stream.seen(), 150);
}

#[test]
fn bad_trailing_configs_are_rejected() {
    let series = random_walk(50, 1);
    for cfg in [
        trailing_cfg(21, 1, 1),
        trailing_cfg(4, 1, 1),
        trailing_cfg(20, 0, 1),
        trailing_cfg(20, 1, 0),
    ] {
        assert!(vmd_trailing(&series, &cfg).is_err(), "{cfg:?}");
    }
    let short = vmd_trailing(&series[..10], &trailing_cfg(20, 1, 1)).unwrap();
    assert!(short.last_values.iter().all(|x| x.is_nan()));
}
