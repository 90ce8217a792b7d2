//! Lot and tick rounding that is exact for values already on the grid (0.3 / 0.1 is 2.999...).

/// Relative slack under which a quotient counts as a whole number of steps.
const GRID_EPS: f64 = 1e-9;

/// Number of steps in `x / step`, snapped to the nearest integer when within `GRID_EPS`.
fn steps(x: f64, step: f64) -> (f64, bool) {
    let n = x / step;
    let r = n.round();
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
        n.trunc() * step
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
        n.ceil() * tick
    } else {
        n.floor() * tick
    }
}
