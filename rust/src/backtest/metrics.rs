//! Summary of one backtest: returns, risk ratios, drawdown, trading activity and costs.

use super::engine::BarOutputs;
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

/// Simple per-bar returns of equity, starting from the initial capital; 0 once ruined.
fn bar_returns(equity: &[f64], initial: f64) -> Vec<f64> {
    let mut prev = initial;
    equity
        .iter()
        .map(|&e| {
            let r = if prev > 0.0 { e / prev - 1.0 } else { 0.0 };
            prev = e;
            r
        })
        .collect()
}

fn ratio(num: f64, den: f64) -> f64 {
    if den > 0.0 {
        num / den
    } else {
        f64::NAN
    }
}

/// (annualised Sharpe, annualised Sortino) of per-bar returns.
fn sharpe_sortino(r: &[f64], bars_per_year: f64) -> (f64, f64) {
    let n = r.len() as f64;
    let mean = r.iter().sum::<f64>() / n;
    let var = if r.len() > 1 {
        r.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / (n - 1.0)
    } else {
        0.0
    };
    let down = r.iter().map(|x| x.min(0.0) * x.min(0.0)).sum::<f64>() / n;
    let scale = bars_per_year.sqrt();
    (
        ratio(mean, var.sqrt()) * scale,
        ratio(mean, down.sqrt()) * scale,
    )
}

/// (max drawdown fraction, longest bars under water), peaks starting at the initial capital.
fn drawdown(equity: &[f64], initial: f64) -> (f64, f64) {
    let (mut peak, mut worst, mut under, mut longest) = (initial, 0.0_f64, 0_usize, 0_usize);
    for &e in equity {
        if e >= peak {
            peak = e;
            under = 0;
        } else {
            under += 1;
            longest = longest.max(under);
            worst = worst.max(1.0 - e / peak);
        }
    }
    (worst, longest as f64)
}

/// (closed round trips, winners, summed holding bars) from the fills and funding.
fn round_trips(b: &BarOutputs) -> (usize, usize, usize) {
    let (mut trips, mut wins, mut held) = (0, 0, 0);
    let (mut pnl, mut start, mut prev) = (0.0_f64, 0_usize, 0.0_f64);
    for t in 0..b.position.len() {
        pnl -= b.funding[t];
        let q = b.traded_qty[t];
        let pos = b.position[t];
        if q != 0.0 {
            let flow = -q * b.fill_price[t] - b.fees[t];
            if prev == 0.0 {
                (pnl, start) = (flow, t);
            } else if pos != 0.0 && pos.signum() == prev.signum() {
                pnl += flow;
            } else {
                // Closes (or flips): the closing share of the fill ends this trip.
                let closing = prev.abs() / q.abs();
                pnl += flow * closing;
                trips += 1;
                wins += usize::from(pnl > 0.0);
                held += t - start;
                (pnl, start) = (flow * (1.0 - closing), t);
            }
        }
        prev = pos;
    }
    (trips, wins, held)
}

/// Metrics of one run; `bars_per_year` annualises returns and ratios.
pub fn compute_metrics(b: &BarOutputs, initial: f64, bars_per_year: f64) -> CoreResult<Metrics> {
    if !(bars_per_year.is_finite() && bars_per_year > 0.0) {
        return Err(CoreError::InvalidInput(format!(
            "bars_per_year must be finite and > 0, got {bars_per_year}"
        )));
    }
    let n = b.equity.len();
    let Some(&last) = b.equity.last() else {
        return Err(CoreError::InvalidInput("no bars to summarise".into()));
    };
    let growth = last / initial;
    let annual = if growth > 0.0 {
        growth.powf(bars_per_year / n as f64) - 1.0
    } else {
        -1.0
    };
    let (sharpe, sortino) = sharpe_sortino(&bar_returns(&b.equity, initial), bars_per_year);
    let (max_dd, dd_bars) = drawdown(&b.equity, initial);
    let (trips, wins, held) = round_trips(b);
    let traded: f64 = (0..n)
        .filter(|&t| b.traded_qty[t] != 0.0)
        .map(|t| b.traded_qty[t].abs() * b.fill_price[t])
        .sum();
    let fees: f64 = b.fees.iter().sum();
    let spread: f64 = b.spread_cost.iter().sum();
    let funding: f64 = b.funding.iter().sum();
    let slippage: f64 = b.slippage.iter().sum();
    let impact: f64 = b.impact.iter().sum();
    let impact_perm: f64 = b.impact_perm.iter().sum();
    Ok(Metrics {
        total_return: growth - 1.0,
        annual_return: annual,
        sharpe,
        sortino,
        calmar: ratio(annual, max_dd),
        max_drawdown: max_dd,
        max_drawdown_bars: dd_bars,
        turnover: traded / initial,
        hit_rate: ratio(wins as f64, trips as f64),
        avg_holding_bars: ratio(held as f64, trips as f64),
        round_trips: trips as f64,
        trades: b.traded_qty.iter().filter(|q| **q != 0.0).count() as f64,
        fees_paid: fees,
        spread_paid: spread,
        slippage_paid: slippage,
        impact_paid: impact,
        impact_perm_paid: impact_perm,
        funding_paid: funding,
        total_cost: fees + spread + slippage + impact + impact_perm + funding,
        final_equity: last,
    })
}
