//! Lot and tick rounding that is exact for values already on the grid (0.3 / 0.1 is 2.999...).

/// Relative slack under which a quotient counts as a whole number of steps.
const GRID_EPS: f64 = 1e-9;

/// From 2^52 on every f64 is a whole number.
const WHOLE: f64 = 4_503_599_627_370_496.0;

// `f64::trunc/round/floor/ceil` are libm calls on the baseline x86-64 target (no SSE4.1),
// one per bar in the backtest's critical path; these give the same bits through an integer
// conversion (exact below 2^52), signed zeros and NaN included.

fn trunc(x: f64) -> f64 {
    if x.abs() < WHOLE {
        ((x as i64) as f64).copysign(x)
    } else {
        x
    }
}

fn round(x: f64) -> f64 {
    let t = trunc(x);
    // x − t is exact: the fraction of a double below 2^52 is representable. Branch-free (the
    // fraction of an order size is noise, so a branch here mispredicts half the time); adding
    // ±0 with x's sign keeps t's signed zero.
    let up = f64::from(u8::from((x - t).abs() >= 0.5));
    t + up.copysign(x)
}

fn floor(x: f64) -> f64 {
    let t = trunc(x);
    if x < t {
        t - 1.0
    } else {
        t
    }
}

fn ceil(x: f64) -> f64 {
    let t = trunc(x);
    if x > t {
        t + 1.0
    } else {
        t
    }
}

/// Number of steps in `x / step`, snapped to the nearest integer when within `GRID_EPS`.
fn steps(x: f64, step: f64) -> (f64, bool) {
    let n = x / step;
    let r = round(n);
    if (n - r).abs() <= GRID_EPS * r.abs().max(1.0) {
        (r, true)
    } else {
        (n, false)
    }
}

/// `qty` rounded toward zero to a multiple of `step` (unchanged when `step` is 0).
pub fn qty_toward_zero(qty: f64, step: f64) -> f64 {
    if step <= 0.0 {
        return qty;
    }
    let (n, on_grid) = steps(qty, step);
    if on_grid {
        n * step
    } else {
        trunc(n) * step
    }
}

/// `price` on the tick grid, rounded against the trader: up for buys, down for sells.
pub fn price_to_tick(price: f64, tick: f64, buy: bool) -> f64 {
    if tick <= 0.0 {
        return price;
    }
    let (n, on_grid) = steps(price, tick);
    if on_grid {
        n * tick
    } else if buy {
        ceil(n) * tick
    } else {
        floor(n) * tick
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn same(a: f64, b: f64) -> bool {
        a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())
    }

    fn check(x: f64) {
        assert!(same(trunc(x), x.trunc()), "trunc {x}");
        assert!(same(round(x), x.round()), "round {x}");
        assert!(same(floor(x), x.floor()), "floor {x}");
        assert!(same(ceil(x), x.ceil()), "ceil {x}");
    }

    #[test]
    fn edge_values_match_std() {
        let half_below = 0.5 - f64::EPSILON / 4.0;
        for x in [
            0.0,
            -0.0,
            0.5,
            -0.5,
            1.5,
            -2.5,
            half_below,
            -half_below,
            1e-300,
            -1e-300,
            WHOLE,
            -WHOLE,
            WHOLE - 0.5,
            -(WHOLE - 0.5),
            1e300,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::NAN,
            f64::MIN_POSITIVE,
            -3.999_999_999_999_999_6,
        ] {
            check(x);
        }
    }

    proptest! {
        #[test]
        fn any_bits_match_std(bits in any::<u64>()) {
            check(f64::from_bits(bits));
        }

        #[test]
        fn quotients_match_std(x in -1e7_f64..1e7, step in 1e-9_f64..10.0) {
            check(x / step);
        }
    }
}
