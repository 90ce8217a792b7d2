//! Summary of one backtest: returns, risk ratios, drawdown, trading activity and costs.

use super::engine::{Bar, BarOutputs, BarSink};
use crate::error::{CoreError, CoreResult};

/// Names of `Metrics::to_array`'s entries, in order.
pub const METRIC_NAMES: [&str; 20] = [
    "total_return",
    "annual_return",
    "sharpe",
    "sortino",
    "calmar",
    "max_drawdown",
    "max_drawdown_bars",
    "turnover",
    "hit_rate",
    "avg_holding_bars",
    "round_trips",
    "trades",
    "fees_paid",
    "spread_paid",
    "slippage_paid",
    "impact_paid",
    "impact_perm_paid",
    "funding_paid",
    "total_cost",
    "final_equity",
];

/// Ratios with a zero denominator (no variance, no drawdown, no round trip) are NaN.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Metrics {
    pub total_return: f64,
    pub annual_return: f64,
    pub sharpe: f64,
    pub sortino: f64,
    pub calmar: f64,
    /// Largest fall from a running peak of equity, as a fraction of that peak.
    pub max_drawdown: f64,
    /// Longest stretch of bars spent below a previous peak.
    pub max_drawdown_bars: f64,
    /// Traded notional over initial capital.
    pub turnover: f64,
    /// Share of closed round trips (flat → position → flat or flip) with positive PnL.
    pub hit_rate: f64,
    pub avg_holding_bars: f64,
    pub round_trips: f64,
    /// Bars with a fill.
    pub trades: f64,
    pub fees_paid: f64,
    pub spread_paid: f64,
    /// Walking the book beyond the touch.
    pub slippage_paid: f64,
    /// Temporary impact.
    pub impact_paid: f64,
    /// Paid on later fills because of the carried permanent impact.
    pub impact_perm_paid: f64,
    pub funding_paid: f64,
    /// Fees + spread + slippage + both impacts + funding.
    pub total_cost: f64,
    pub final_equity: f64,
}

impl Metrics {
    /// Values in `METRIC_NAMES` order.
    pub fn to_array(&self) -> [f64; 20] {
        [
            self.total_return,
            self.annual_return,
            self.sharpe,
            self.sortino,
            self.calmar,
            self.max_drawdown,
            self.max_drawdown_bars,
            self.turnover,
            self.hit_rate,
            self.avg_holding_bars,
            self.round_trips,
            self.trades,
            self.fees_paid,
            self.spread_paid,
            self.slippage_paid,
            self.impact_paid,
            self.impact_perm_paid,
            self.funding_paid,
            self.total_cost,
            self.final_equity,
        ]
    }
}

fn ratio(num: f64, den: f64) -> f64 {
    if den > 0.0 {
        num / den
    } else {
        f64::NAN
    }
}

/// Checks the annualisation factor before any work is done.
pub fn check_bars_per_year(bars_per_year: f64) -> CoreResult<()> {
    if bars_per_year.is_finite() && bars_per_year > 0.0 {
        Ok(())
    } else {
        Err(CoreError::InvalidInput(format!(
            "bars_per_year must be finite and > 0, got {bars_per_year}"
        )))
    }
}

/// Relative margin of the drawdown pre-check, far above the rounding of its product.
pub(super) const DD_MARGIN: f64 = 1e-9;

/// Every metric accumulated in one pass over the bars, so batches keep no per-bar arrays.
/// `compute_metrics` feeds it the stored bars, so both paths give the same bits.
#[derive(Debug, Clone)]
pub struct MetricsAcc {
    pub(super) initial: f64,
    pub(super) bars: usize,
    pub(super) last_equity: f64,
    /// Simple returns: previous equity, the first return (the shift that keeps the variance
    /// free of cancellation), sums of (r − shift) and (r − shift)², sum of min(r, 0)².
    pub(super) prev_equity: f64,
    pub(super) shift: f64,
    pub(super) s1: f64,
    pub(super) s2: f64,
    pub(super) down2: f64,
    /// Drawdown from the running peak (starting at the initial capital).
    pub(super) peak: f64,
    pub(super) worst_dd: f64,
    pub(super) under: usize,
    pub(super) longest_under: usize,
    /// Round trips: open trip's PnL and start, position before the bar, closed trips.
    pub(super) trip_pnl: f64,
    pub(super) trip_start: usize,
    pub(super) prev_pos: f64,
    pub(super) trips: usize,
    pub(super) wins: usize,
    pub(super) held: usize,
    pub(super) traded: f64,
    pub(super) trades: usize,
    pub(super) fees: f64,
    pub(super) spread: f64,
    pub(super) slippage: f64,
    pub(super) impact: f64,
    pub(super) impact_perm: f64,
    pub(super) funding: f64,
}

impl MetricsAcc {
    pub fn new(initial: f64) -> Self {
        Self {
            initial,
            bars: 0,
            last_equity: f64::NAN,
            prev_equity: initial,
            shift: 0.0,
            s1: 0.0,
            s2: 0.0,
            down2: 0.0,
            peak: initial,
            worst_dd: 0.0,
            under: 0,
            longest_under: 0,
            trip_pnl: 0.0,
            trip_start: 0,
            prev_pos: 0.0,
            trips: 0,
            wins: 0,
            held: 0,
            traded: 0.0,
            trades: 0,
            fees: 0.0,
            spread: 0.0,
            slippage: 0.0,
            impact: 0.0,
            impact_perm: 0.0,
            funding: 0.0,
        }
    }

    /// Simple return of this bar's equity (0 once ruined) into the moment sums.
    #[inline]
    fn add_return(&mut self, e: f64) {
        let r = if self.prev_equity > 0.0 {
            e / self.prev_equity - 1.0
        } else {
            0.0
        };
        self.prev_equity = e;
        if self.bars == 0 {
            self.shift = r;
        }
        let d = r - self.shift;
        self.s1 += d;
        self.s2 += d * d;
        self.down2 += r.min(0.0) * r.min(0.0);
    }

    /// Largest fall from a running peak and the longest stretch under water.
    #[inline]
    fn add_drawdown(&mut self, e: f64) {
        if e >= self.peak {
            self.peak = e;
            self.under = 0;
        } else {
            self.under += 1;
            self.longest_under = self.longest_under.max(self.under);
            // Divide only when this bar may deepen the drawdown: above the margin,
            // 1 − e / peak is certainly below `worst_dd` (peak > 0, worst_dd < 1).
            if e < self.peak * (1.0 - self.worst_dd) * (1.0 + DD_MARGIN) {
                self.worst_dd = self.worst_dd.max(1.0 - e / self.peak);
            }
        }
    }

    /// Round trips (flat → position → flat or flip) from the fills and funding.
    #[inline]
    fn add_trip(&mut self, b: &Bar) {
        self.trip_pnl -= b.funding;
        let (q, pos, prev) = (b.traded_qty, b.position, self.prev_pos);
        if q != 0.0 {
            let flow = -q * b.fill_price - b.fees;
            if prev == 0.0 {
                (self.trip_pnl, self.trip_start) = (flow, self.bars);
            } else if pos != 0.0 && pos.signum() == prev.signum() {
                self.trip_pnl += flow;
            } else {
                // Closes (or flips): the closing share of the fill ends this trip.
                let closing = prev.abs() / q.abs();
                self.trip_pnl += flow * closing;
                self.trips += 1;
                self.wins += usize::from(self.trip_pnl > 0.0);
                self.held += self.bars - self.trip_start;
                (self.trip_pnl, self.trip_start) = (flow * (1.0 - closing), self.bars);
            }
            self.traded += q.abs() * b.fill_price;
            self.trades += 1;
        }
        self.prev_pos = pos;
    }

    /// Metrics of the bars pushed so far; `bars_per_year` annualises returns and ratios.
    pub fn finish(&self, bars_per_year: f64) -> CoreResult<Metrics> {
        check_bars_per_year(bars_per_year)?;
        if self.bars == 0 {
            return Err(CoreError::InvalidInput("no bars to summarise".into()));
        }
        let n = self.bars as f64;
        let last = self.last_equity;
        let growth = last / self.initial;
        let annual = if growth > 0.0 {
            growth.powf(bars_per_year / n) - 1.0
        } else {
            -1.0
        };
        let mean = self.shift + self.s1 / n;
        let var = if self.bars > 1 {
            ((self.s2 - self.s1 * self.s1 / n) / (n - 1.0)).max(0.0)
        } else {
            0.0
        };
        let scale = bars_per_year.sqrt();
        let max_dd = self.worst_dd;
        let (trips, wins) = (self.trips as f64, self.wins as f64);
        let total_cost =
            self.fees + self.spread + self.slippage + self.impact + self.impact_perm + self.funding;
        Ok(Metrics {
            total_return: growth - 1.0,
            annual_return: annual,
            sharpe: ratio(mean, var.sqrt()) * scale,
            sortino: ratio(mean, (self.down2 / n).sqrt()) * scale,
            calmar: ratio(annual, max_dd),
            max_drawdown: max_dd,
            max_drawdown_bars: self.longest_under as f64,
            turnover: self.traded / self.initial,
            hit_rate: ratio(wins, trips),
            avg_holding_bars: ratio(self.held as f64, trips),
            round_trips: trips,
            trades: self.trades as f64,
            fees_paid: self.fees,
            spread_paid: self.spread,
            slippage_paid: self.slippage,
            impact_paid: self.impact,
            impact_perm_paid: self.impact_perm,
            funding_paid: self.funding,
            total_cost,
            final_equity: last,
        })
    }
}

impl BarSink for MetricsAcc {
    #[inline]
    fn push(&mut self, b: &Bar) {
        self.add_return(b.equity);
        self.add_drawdown(b.equity);
        self.add_trip(b);
        // A bar without a fill costs +0.0 in every component, and adding +0.0 to these
        // sums (never −0.0: they start at +0.0) changes nothing, so it is skipped.
        if b.traded_qty != 0.0 {
            self.fees += b.fees;
            self.spread += b.spread_cost;
            self.slippage += b.slippage;
            self.impact += b.impact;
            self.impact_perm += b.impact_perm;
        }
        self.funding += b.funding;
        self.last_equity = b.equity;
        self.bars += 1;
    }
}

/// Metrics of one run's per-bar outputs; `bars_per_year` annualises returns and ratios.
pub fn compute_metrics(b: &BarOutputs, initial: f64, bars_per_year: f64) -> CoreResult<Metrics> {
    check_bars_per_year(bars_per_year)?;
    let mut acc = MetricsAcc::new(initial);
    for t in 0..b.len() {
        acc.push(&b.bar(t));
    }
    acc.finish(bars_per_year)
}
