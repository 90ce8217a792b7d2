//! Many target arrays over the same prices in one call, split over scoped threads. Each
//! strategy runs alone on its thread, so results do not depend on the thread count; metrics
//! are accumulated bar by bar, so no per-bar arrays are kept.

use std::thread;

use super::engine::{run_into, touch_grid};
use super::metrics::{check_bars_per_year, Metrics, MetricsAcc};
use super::{validate_target, BacktestConfig, Market};
use crate::error::{CoreError, CoreResult};

/// Metrics of each row of `targets` (row-major, `n_strategies` × bars) on market `m`.
pub fn run_batch(
    targets: &[f64],
    n_strategies: usize,
    m: &Market<'_>,
    cfg: &BacktestConfig,
    bars_per_year: f64,
    threads: usize,
) -> CoreResult<Vec<Metrics>> {
    cfg.validate()?;
    m.validate()?;
    check_bars_per_year(bars_per_year)?;
    let n = m.close.len();
    if targets.len() != n_strategies * n {
        return Err(CoreError::InvalidInput(format!(
            "targets hold {} values, expected {n_strategies} strategies × {n} bars",
            targets.len()
        )));
    }
    let rows: Vec<&[f64]> = targets.chunks(n).collect();
    for (i, row) in rows.iter().enumerate() {
        validate_target(row, n)
            .map_err(|e| CoreError::InvalidInput(format!("strategy {i}: {e}")))?;
    }
    let touch = touch_grid(cfg, m);
    let one = |row: &[f64]| {
        let mut acc = MetricsAcc::new(cfg.initial_capital);
        run_into(row, m, cfg, touch.as_deref(), &mut acc)?;
        acc.finish(bars_per_year)
    };
    let per_thread = n_strategies.div_ceil(threads.max(1)).max(1);
    thread::scope(|s| {
        let handles: Vec<_> = rows
            .chunks(per_thread)
            .map(|chunk| s.spawn(move || chunk.iter().map(|r| one(r)).collect::<Vec<_>>()))
            .collect();
        let mut out = Vec::with_capacity(n_strategies);
        for h in handles {
            let part = h
                .join()
                .map_err(|_| CoreError::InvalidInput("a backtest thread panicked".into()))?;
            for m in part {
                out.push(m?);
            }
        }
        Ok(out)
    })
}
