//! Vectorized backtester: target positions and prices in, fills, cash, fees, funding and
//! equity per bar out, plus a metrics summary. Plain Rust; `bindings/` holds the PyO3 surface.

mod batch;
mod engine;
mod exprs;
mod jobs;
mod lean;
mod metrics;
mod pack_metrics;
mod rounding;
mod schedule;
#[cfg(test)]
mod tests;
mod windows;

pub use batch::run_batch;
pub use engine::{run, Bar, BarOutputs, BarSink};
pub use exprs::evaluate_and_backtest_batch;
pub use metrics::{compute_metrics, Metrics, MetricsAcc, METRIC_NAMES};
pub use rounding::{price_to_tick, qty_toward_zero};
pub use windows::evaluate_and_backtest_windows;

use crate::costs::CostModel;
use crate::error::{CoreError, CoreResult};

/// Order rounding rules of one instrument; a step of 0 means no rounding.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct InstrumentRules {
    pub tick_size: f64,
    pub qty_step: f64,
    pub min_qty: f64,
}

/// Everything but the data: instrument, the shared cost model, capital, limits and latency.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BacktestConfig {
    pub rules: InstrumentRules,
    /// Prices every fill (`CostModel::price_fill`, taker market orders).
    pub costs: CostModel,
    /// Half the spread in basis points of the close, used for the touch without bid/ask data.
    pub half_spread_bps: f64,
    pub initial_capital: f64,
    /// Largest absolute position in contracts (`f64::INFINITY` for none).
    pub max_contracts: f64,
    /// Largest absolute position notional at the mark (`f64::INFINITY` for none).
    pub max_notional: f64,
    /// A target decided at bar t trades at bar t + latency (1: decide on close t, fill at t+1).
    pub latency: usize,
}

/// Top-N book levels per bar, row-major (`bars × levels`), best level first; NaN prices pad
/// rows with fewer levels (the layout of `replay_top_levels`).
#[derive(Debug, Clone, Copy)]
pub struct BookLevels<'a> {
    pub levels: usize,
    pub bid_px: &'a [f64],
    pub bid_qty: &'a [f64],
    pub ask_px: &'a [f64],
    pub ask_qty: &'a [f64],
}

/// Price data per bar; `close` is the mark, bid/ask (both or neither) set the touch and the
/// mid, `depth` is walked by large orders, `sigma` (return volatility per bar) and `volume`
/// (base units per bar) switch on impact (both or neither), and a non-zero `funding` rate is
/// charged on the position's notional at that bar.
#[derive(Debug, Clone, Copy)]
pub struct Market<'a> {
    pub close: &'a [f64],
    pub bid: Option<&'a [f64]>,
    pub ask: Option<&'a [f64]>,
    pub funding: Option<&'a [f64]>,
    pub sigma: Option<&'a [f64]>,
    pub volume: Option<&'a [f64]>,
    pub depth: Option<BookLevels<'a>>,
}

fn bad(msg: String) -> CoreError {
    CoreError::InvalidInput(msg)
}

fn check_nonneg(name: &str, v: f64) -> CoreResult<()> {
    if v.is_finite() && v >= 0.0 {
        Ok(())
    } else {
        Err(bad(format!("{name} must be finite and >= 0, got {v}")))
    }
}

impl BacktestConfig {
    /// Rejects NaN, negative or infinite parameters (limits may be +inf).
    pub fn validate(&self) -> CoreResult<()> {
        check_nonneg("tick_size", self.rules.tick_size)?;
        check_nonneg("qty_step", self.rules.qty_step)?;
        check_nonneg("min_qty", self.rules.min_qty)?;
        self.costs.validate()?;
        check_nonneg("half_spread_bps", self.half_spread_bps)?;
        if !(self.initial_capital.is_finite() && self.initial_capital > 0.0) {
            return Err(bad(format!(
                "initial_capital must be finite and > 0, got {}",
                self.initial_capital
            )));
        }
        for (name, v) in [
            ("max_contracts", self.max_contracts),
            ("max_notional", self.max_notional),
        ] {
            if v.is_nan() || v <= 0.0 {
                return Err(bad(format!("{name} must be > 0 (inf for none), got {v}")));
            }
        }
        Ok(())
    }
}

fn check_len(name: &str, a: &[f64], n: usize) -> CoreResult<()> {
    if a.len() == n {
        Ok(())
    } else {
        Err(bad(format!("{name} has {} bars, close has {n}", a.len())))
    }
}

fn check_prices(name: &str, a: &[f64]) -> CoreResult<()> {
    match a.iter().position(|p| !(p.is_finite() && *p > 0.0)) {
        None => Ok(()),
        Some(i) => Err(bad(format!(
            "{name}[{i}] = {} is not a finite positive price",
            a[i]
        ))),
    }
}

impl Market<'_> {
    /// Checks lengths, that prices are finite and positive, bid <= ask, funding finite.
    pub fn validate(&self) -> CoreResult<()> {
        let n = self.close.len();
        if n == 0 {
            return Err(bad("no bars: close is empty".into()));
        }
        check_prices("close", self.close)?;
        match (self.bid, self.ask) {
            (None, None) => {}
            (Some(b), Some(a)) => {
                check_len("bid", b, n)?;
                check_len("ask", a, n)?;
                check_prices("bid", b)?;
                check_prices("ask", a)?;
                if let Some(i) = (0..n).find(|&i| b[i] > a[i]) {
                    return Err(bad(format!("bid[{i}] = {} > ask[{i}] = {}", b[i], a[i])));
                }
            }
            _ => return Err(bad("bid and ask must be given together".into())),
        }
        if let Some(f) = self.funding {
            check_len("funding", f, n)?;
            if let Some(i) = f.iter().position(|r| !r.is_finite()) {
                return Err(bad(format!("funding[{i}] = {} is not finite", f[i])));
            }
        }
        self.validate_impact(n)?;
        self.validate_depth(n)
    }

    fn validate_impact(&self, n: usize) -> CoreResult<()> {
        match (self.sigma, self.volume) {
            (None, None) => Ok(()),
            (Some(s), Some(v)) => {
                check_len("sigma", s, n)?;
                check_len("volume", v, n)?;
                if let Some(i) = s.iter().position(|x| !(x.is_finite() && *x >= 0.0)) {
                    return Err(bad(format!("sigma[{i}] = {} is not finite >= 0", s[i])));
                }
                match v.iter().position(|x| !(x.is_finite() && *x > 0.0)) {
                    None => Ok(()),
                    Some(i) => Err(bad(format!("volume[{i}] = {} is not finite > 0", v[i]))),
                }
            }
            _ => Err(bad("sigma and volume must be given together".into())),
        }
    }

    fn validate_depth(&self, n: usize) -> CoreResult<()> {
        let Some(d) = self.depth else { return Ok(()) };
        if d.levels == 0 {
            return Err(bad("depth needs at least one level".into()));
        }
        for (name, a) in [
            ("bid_px", d.bid_px),
            ("bid_qty", d.bid_qty),
            ("ask_px", d.ask_px),
            ("ask_qty", d.ask_qty),
        ] {
            if a.len() != n * d.levels {
                return Err(bad(format!(
                    "{name} holds {} values, expected {n} bars × {} levels",
                    a.len(),
                    d.levels
                )));
            }
        }
        Ok(())
    }
}

/// Targets must match the bars and lie in [-1, 1]; NaN (hold) is allowed, inf is not.
pub fn validate_target(target: &[f64], n: usize) -> CoreResult<()> {
    check_len("target", target, n)?;
    match target.iter().position(|t| t.is_infinite() || t.abs() > 1.0) {
        None => Ok(()),
        Some(i) => Err(bad(format!(
            "target[{i}] = {} is outside [-1, 1] (NaN means hold)",
            target[i]
        ))),
    }
}
