//! `engine::Sim`'s bar step for the common research case, for `W` strategies at once:
//! quotes from close ± half-spread (the shared touch grid), no depth, no bid/ask arrays, no
//! impact (no sigma/volume). Each lane runs the same float operations in the same order as
//! `Sim` with a zero permanent-impact offset, so it gives the same bits (tested against `run`);
//! the branches of a bar are computed for every lane and selected, so the lanes' arithmetic
//! runs in vector registers. A fill that the cost model would refuse is handed to the cost
//! model for that lane alone, which returns its error.

use super::pack_metrics::{BarPack, MetricsPack, V, W};
use super::rounding::qty_toward_zero;
use super::{BacktestConfig, Market};
use crate::costs::{CostModel, FillRequest, Liquidity, Side};
use crate::error::CoreError;

/// Slack under which an order counts as at least `min_qty` (as in `engine`).
const MIN_QTY_EPS: f64 = 1e-9;

/// True when `m` is the case `Lean` covers.
pub(super) fn covers(m: &Market<'_>) -> bool {
    m.depth.is_none()
        && m.bid.is_none()
        && m.ask.is_none()
        && m.sigma.is_none()
        && m.volume.is_none()
}

/// `W` strategies' cash, positions and metrics over a market `covers` accepts.
pub(super) struct Lean<'a> {
    cfg: &'a BacktestConfig,
    close: &'a [f64],
    funding: Option<&'a [f64]>,
    touch: &'a [[f64; 2]],
    /// The cost model with impact off (as `engine::Pricer` sets it without sigma).
    model: CostModel,
    cash: V,
    pos: V,
    pub(super) acc: MetricsPack,
    /// This bar's fills, funding and equity (what the metrics read).
    bar: BarPack,
    /// A lane whose fill the cost model refused; it is not stepped into the cost model again.
    pub(super) errors: [Option<CoreError>; W],
}

impl<'a> Lean<'a> {
    /// `touch` is `touch_grid`'s output for `m`.
    pub(super) fn new(cfg: &'a BacktestConfig, m: &Market<'a>, touch: &'a [[f64; 2]]) -> Self {
        let mut model = cfg.costs;
        model.impact_eta = 0.0;
        model.impact_gamma = 0.0;
        Self {
            cfg,
            close: m.close,
            funding: m.funding,
            touch,
            model,
            cash: [cfg.initial_capital; W],
            pos: [0.0; W],
            acc: MetricsPack::new(cfg.initial_capital),
            bar: BarPack::default(),
            errors: Default::default(),
        }
    }

    /// Bars `start..start + wanted.len()` given each lane's target reaching them (NaN: hold;
    /// clamped to [−1, 1] here, as `Evaluator` clamps a program's output).
    pub(super) fn step_rows(&mut self, start: usize, wanted: &[V]) {
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx512f") {
            // SAFETY: the CPU supports AVX-512F (checked just above).
            unsafe { self.step_rows_avx512(start, wanted) };
            return;
        }
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU supports AVX2 (checked just above).
            unsafe { self.step_rows_avx2(start, wanted) };
            return;
        }
        self.step_rows_generic(start, wanted);
    }

    /// The same code with 256-bit vectors (no FMA: operations and rounding stay as written).
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    fn step_rows_avx2(&mut self, start: usize, wanted: &[V]) {
        for (i, w) in wanted.iter().enumerate() {
            self.step(start + i, w);
        }
    }

    /// One 512-bit vector per field, selects through mask registers.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f")]
    fn step_rows_avx512(&mut self, start: usize, wanted: &[V]) {
        for (i, w) in wanted.iter().enumerate() {
            self.step(start + i, w);
        }
    }

    fn step_rows_generic(&mut self, start: usize, wanted: &[V]) {
        for (i, w) in wanted.iter().enumerate() {
            self.step(start + i, w);
        }
    }

    /// Bar `t` (bars in order from 0) for every lane, into the metrics.
    #[inline(always)]
    fn step(&mut self, t: usize, wanted: &V) {
        let mark = self.close[t];
        let rate = self.funding.map_or(0.0, |f| f[t]);
        // Every field is written below (no zeroing per bar). cash − 0.0 is cash, so bars
        // without funding skip the subtraction (and the metrics skip its sums).
        let funded = rate != 0.0;
        if funded {
            let b = &mut self.bar;
            for k in 0..W {
                b.funding[k] = self.pos[k] * mark * rate;
                self.cash[k] -= b.funding[k];
            }
        }
        let qty = self.order_qty(wanted, mark);
        let cash0 = self.cash;
        let [bid, ask] = self.touch[t];
        let bar_ok = bid.is_finite()
            && ask.is_finite()
            && mark.is_finite()
            && bid > 0.0
            && bid <= mark
            && mark <= ask;
        let mut slow = false;
        let taker = self.model.taker_fee;
        let b = &mut self.bar;
        for k in 0..W {
            let qty = qty[k];
            let traded = qty != 0.0;
            let (q, buy) = (qty.abs(), qty > 0.0);
            slow |= traded && !(bar_ok && q.is_finite());
            // The permanent-impact offset stays +0.0 without impact: x + 0.0 is x for these
            // finite positive quotes. The engine's slippage (average − touch, no depth),
            // temporary impact and carried-impact cost are ±0.0 here, and adding ±0.0 to
            // their sums (never −0.0) changes nothing, so they are not computed.
            let s = if buy { 1.0 } else { -1.0 };
            let touch = if buy { ask } else { bid };
            let unit = 0.0;
            let price = touch + s * unit;
            let spread = s * (touch - mark) * q;
            let fee = taker * (price * q);
            let cash = self.cash[k] - (qty * price + fee);
            let pos = self.pos[k] + qty;
            self.cash[k] = if traded { cash } else { self.cash[k] };
            self.pos[k] = if traded { pos } else { self.pos[k] };
            b.fees[k] = if traded { fee } else { 0.0 };
            b.spread[k] = if traded { spread } else { 0.0 };
            b.traded[k] = if traded { qty } else { 0.0 };
            b.fill_price[k] = if traded { price } else { f64::NAN };
        }
        if slow {
            self.priced_lanes(&qty, &cash0, [bid, ask, mark], bar_ok);
        }
        let b = &mut self.bar;
        for k in 0..W {
            b.position[k] = self.pos[k];
            b.equity[k] = self.cash[k] + self.pos[k] * mark;
        }
        if funded {
            self.acc.push::<true>(&self.bar);
        } else {
            self.acc.push::<false>(&self.bar);
        }
    }

    /// Contracts each lane trades towards its target (a fraction of equity), after limits and
    /// lot rules (the engine's sizing, operation for operation); 0 where the target is NaN.
    #[inline(always)]
    fn order_qty(&self, wanted: &V, mark: f64) -> V {
        let cfg = self.cfg;
        let cap = if cfg.max_notional.is_finite() {
            cfg.max_contracts.min(cfg.max_notional / mark)
        } else {
            cfg.max_contracts
        };
        let mut qty = [0.0; W];
        for k in 0..W {
            let equity = self.cash[k] + self.pos[k] * mark;
            // f64::clamp(-cap, cap), written as its two selects.
            let d = wanted[k].clamp(-1.0, 1.0) * equity.max(0.0) / mark;
            let d = if d < -cap { -cap } else { d };
            let d = if d > cap { cap } else { d };
            qty[k] = d - self.pos[k];
        }
        let step = cfg.rules.qty_step;
        if step > 0.0 {
            for q in &mut qty {
                *q = qty_toward_zero(*q, step);
            }
        }
        let min = cfg.rules.min_qty * (1.0 - MIN_QTY_EPS);
        for k in 0..W {
            let small = qty[k].abs() < min;
            qty[k] = if small || wanted[k].is_nan() {
                0.0
            } else {
                qty[k]
            };
        }
        qty
    }

    /// Lanes whose fill is outside the fast case: the cost model prices it (and reports what
    /// is wrong); the bar gets those lanes' fill instead of the fast one.
    #[cold]
    #[inline(never)]
    fn priced_lanes(&mut self, qty: &V, cash0: &V, quotes: [f64; 3], ok: bool) {
        let [bid, ask, mark] = quotes;
        let b = &mut self.bar;
        for k in 0..W {
            let (qty, traded) = (qty[k], qty[k] != 0.0);
            if !traded || (ok && qty.abs().is_finite()) || self.errors[k].is_some() {
                continue;
            }
            // The position moved by qty either way; the cash moves by this fill's cost instead.
            match self.model.price_fill(&request(qty, bid, ask, mark)) {
                Ok(c) => {
                    self.cash[k] = cash0[k] - (qty * c.price + c.fee);
                    b.fees[k] = c.fee;
                    b.spread[k] = c.spread;
                    // Only here can these be other than ±0.0 (see `MetricsPack::add_priced`).
                    self.acc.add_priced(k, c.slippage, c.impact_temp, qty * 0.0);
                    b.fill_price[k] = c.price;
                }
                Err(e) => self.errors[k] = Some(e),
            }
        }
    }
}

/// The taker order `Sim` would send the cost model for `qty` (signed) at these quotes.
fn request(qty: f64, bid: f64, ask: f64, mark: f64) -> FillRequest<'static> {
    FillRequest {
        side: if qty > 0.0 { Side::Buy } else { Side::Sell },
        qty: qty.abs(),
        mid: mark + 0.0,
        best_bid: bid + 0.0,
        best_ask: ask + 0.0,
        depth: None,
        sigma: 0.0,
        volume: 0.0,
        liquidity: Liquidity::Taker,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backtest::engine::touch_grid;
    use crate::backtest::tests::{market, research_config};
    use crate::backtest::{compute_metrics, run};

    fn config() -> BacktestConfig {
        research_config()
    }

    /// Lane k's target at bar t: smooth, stepped, sign flips, flat stretches, NaN and 0.
    fn target(k: usize, t: usize) -> f64 {
        let x = ((t * (k + 3)) as f64 * 0.013 + k as f64).sin();
        match k % 6 {
            0 => x,
            1 => (4.0 * x).round() / 4.0,
            2 if t % 97 < 5 => f64::NAN,
            2 => x.signum() * 0.5,
            3 if (t / 50).is_multiple_of(3) => 0.0,
            3 => -x,
            4 => (x * 1e3).clamp(-1.0, 1.0),
            _ => 0.3 + 0.001 * x,
        }
    }

    /// Each lane's metrics, through `step_rows` (the dispatched vector code) or the
    /// baseline-target copy, for `lanes` lanes (the rest hold NaN: never trade).
    fn pack_metrics(
        m: &Market<'_>,
        cfg: &BacktestConfig,
        lanes: usize,
        generic: bool,
    ) -> Vec<[f64; 20]> {
        let grid = touch_grid(cfg, m).unwrap();
        let mut lean = Lean::new(cfg, m, &grid);
        let rows: Vec<V> = (0..m.close.len())
            .map(|t| std::array::from_fn(|k| if k < lanes { target(k, t) } else { f64::NAN }))
            .collect();
        // Uneven chunks: the state carries across calls.
        for (i, chunk) in rows.chunks(77).enumerate() {
            if generic {
                lean.step_rows_generic(i * 77, chunk);
            } else {
                lean.step_rows(i * 77, chunk);
            }
        }
        (0..lanes)
            .map(|k| {
                assert!(lean.errors[k].is_none());
                lean.acc.lane(k).finish(525_600.0).unwrap().to_array()
            })
            .collect()
    }

    #[test]
    fn every_lane_equals_the_scalar_engine_bit_for_bit() {
        let n = 3_000;
        let close: Vec<f64> = (0..n)
            .map(|i| 100.0 + 8.0 * (i as f64 * 0.021).sin() + 0.002 * i as f64)
            .collect();
        let funding: Vec<f64> = (0..n)
            .map(|i| {
                if i % 480 == 7 {
                    1e-4 * (i as f64).cos()
                } else {
                    0.0
                }
            })
            .collect();
        let m = Market {
            funding: Some(&funding),
            ..market(&close)
        };
        let mut lots = config();
        (lots.rules.qty_step, lots.rules.min_qty) = (0.01, 0.05);
        lots.max_notional = 7_000.0;
        let mut capped = config();
        capped.max_contracts = 30.0;
        for cfg in [config(), lots, capped] {
            for lanes in [W, 5] {
                let fast = pack_metrics(&m, &cfg, lanes, false);
                let generic = pack_metrics(&m, &cfg, lanes, true);
                for k in 0..lanes {
                    let t: Vec<f64> = (0..n).map(|t| target(k, t)).collect();
                    let want = compute_metrics(&run(&t, &m, &cfg).unwrap(), 10_000.0, 525_600.0)
                        .unwrap()
                        .to_array();
                    for got in [fast[k], generic[k]] {
                        let same = got
                            .iter()
                            .zip(&want)
                            .all(|(a, b)| a.to_bits() == b.to_bits());
                        assert!(same, "lane {k}: {got:?} != {want:?} ({cfg:?})");
                    }
                }
            }
        }
    }
}
