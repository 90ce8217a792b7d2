//! GP batches: many compiled expressions over the same columns and prices in one call.
//! Threads pull expressions from a shared counter; each evaluates into one target buffer it
//! owns (reused for every expression it takes) and backtests it, so memory grows with the
//! thread count, never with the number of expressions. Each expression runs alone on its
//! thread, so results do not depend on the thread count.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;

use super::engine::run_unchecked;
use super::metrics::{compute_metrics, Metrics};
use super::{BacktestConfig, Market};
use crate::error::{CoreError, CoreResult};
use crate::expr::{evaluate_into, Program};

/// Rows per evaluation block: slots × block floats stay in L1/L2 for typical trees.
const BLOCK_ROWS: usize = 2048;

fn check_programs(programs: &[Program], columns: &[&[f64]], n: usize) -> CoreResult<()> {
    if let Some(c) = columns.iter().position(|c| c.len() != n) {
        return Err(CoreError::InvalidInput(format!(
            "column {c} has {} rows, close has {n}",
            columns[c].len()
        )));
    }
    match programs.iter().position(|p| p.n_columns != columns.len()) {
        None => Ok(()),
        Some(i) => Err(CoreError::InvalidInput(format!(
            "expression {i} reads {} columns, got {}",
            programs[i].n_columns,
            columns.len()
        ))),
    }
}

/// Evaluates and backtests one expression using the thread's reusable target buffer.
fn one(
    program: &Program,
    columns: &[&[f64]],
    target: &mut [f64],
    m: &Market<'_>,
    cfg: &BacktestConfig,
    bars_per_year: f64,
) -> CoreResult<Metrics> {
    // Targets come clamped to [-1, 1] (NaN kept), so they pass `validate_target` by design.
    evaluate_into(program, columns, BLOCK_ROWS, target)?;
    compute_metrics(
        &run_unchecked(target, m, cfg)?,
        cfg.initial_capital,
        bars_per_year,
    )
}

/// Metrics of each program (in order) evaluated on `columns` and backtested on `m`.
pub fn evaluate_and_backtest_batch(
    programs: &[Program],
    columns: &[&[f64]],
    m: &Market<'_>,
    cfg: &BacktestConfig,
    bars_per_year: f64,
    threads: usize,
) -> CoreResult<Vec<Metrics>> {
    cfg.validate()?;
    m.validate()?;
    let n = m.close.len();
    check_programs(programs, columns, n)?;
    let next = AtomicUsize::new(0);
    let workers = threads.clamp(1, programs.len().max(1));
    let parts = thread::scope(|s| {
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                s.spawn(|| {
                    let mut target = vec![0.0; n];
                    let mut done = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(p) = programs.get(i) else { break };
                        done.push((i, one(p, columns, &mut target, m, cfg, bars_per_year)));
                    }
                    done
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join())
            .collect::<Result<Vec<_>, _>>()
    })
    .map_err(|_| CoreError::InvalidInput("a batch thread panicked".into()))?;
    let mut slots: Vec<Option<CoreResult<Metrics>>> = programs.iter().map(|_| None).collect();
    for (i, r) in parts.into_iter().flatten() {
        slots[i] = Some(r);
    }
    slots
        .into_iter()
        .enumerate()
        .map(|(i, r)| {
            r.unwrap_or_else(|| Err(CoreError::InvalidInput(format!("expression {i} not run"))))
                .map_err(|e| CoreError::InvalidInput(format!("expression {i}: {e}")))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backtest::{compute_metrics, run, InstrumentRules};
    use crate::costs::CostModel;
    use crate::expr::{compile, evaluate};

    fn market_data(n: usize) -> (Vec<f64>, Vec<f64>) {
        let close: Vec<f64> = (0..n)
            .map(|i| 100.0 + 5.0 * (i as f64 * 0.05).sin() + 0.01 * i as f64)
            .collect();
        let vol: Vec<f64> = (0..n).map(|i| 1.0 + (i as f64 * 0.3).cos().abs()).collect();
        (close, vol)
    }

    fn config() -> BacktestConfig {
        BacktestConfig {
            rules: InstrumentRules {
                tick_size: 0.01,
                qty_step: 0.001,
                min_qty: 0.001,
            },
            costs: CostModel::default(),
            half_spread_bps: 1.0,
            initial_capital: 10_000.0,
            max_contracts: f64::INFINITY,
            max_notional: f64::INFINITY,
            latency: 1,
        }
    }

    /// zscore(col0, k), sign(col1 - mean(col1, k)), tanh(col0 - lag(col0, k)) for a few k.
    fn programs() -> Vec<Program> {
        let mut out = Vec::new();
        for k in [3_i64, 10, 40] {
            out.push(compile(&[0, 22], &[0, k], &[0.0; 2], &[0.0; 2], 2).unwrap());
            out.push(
                compile(&[0, 0, 20, 3, 8], &[1, 1, k, 0, 0], &[0.0; 5], &[0.0; 5], 2).unwrap(),
            );
            out.push(
                compile(&[0, 0, 19, 3, 9], &[0, 0, k, 0, 0], &[0.0; 5], &[0.0; 5], 2).unwrap(),
            );
        }
        out
    }

    #[test]
    fn batch_matches_evaluate_then_run_for_any_thread_count() {
        let n = 5_000;
        let (close, vol) = market_data(n);
        let cols: Vec<&[f64]> = vec![&close, &vol];
        let m = Market {
            close: &close,
            bid: None,
            ask: None,
            funding: None,
            sigma: None,
            volume: None,
            depth: None,
        };
        let cfg = config();
        let progs = programs();
        let expected: Vec<[f64; 20]> = progs
            .iter()
            .map(|p| {
                let t = evaluate(p, &cols, n, 777).unwrap();
                let out = run(&t, &m, &cfg).unwrap();
                compute_metrics(&out, cfg.initial_capital, 525_600.0)
                    .unwrap()
                    .to_array()
            })
            .collect();
        for threads in [1, 2, 3, 16] {
            let got =
                evaluate_and_backtest_batch(&progs, &cols, &m, &cfg, 525_600.0, threads).unwrap();
            assert_eq!(got.len(), progs.len());
            for (g, e) in got.iter().zip(&expected) {
                let g = g.to_array();
                for (a, b) in g.iter().zip(e) {
                    assert!(a.to_bits() == b.to_bits(), "{a} != {b} ({threads} threads)");
                }
            }
        }
    }

    #[test]
    fn batch_rejects_mismatched_columns() {
        let (close, vol) = market_data(100);
        let short = &vol[..50];
        let m = Market {
            close: &close,
            bid: None,
            ask: None,
            funding: None,
            sigma: None,
            volume: None,
            depth: None,
        };
        let progs = programs();
        let err = evaluate_and_backtest_batch(&progs, &[&close, short], &m, &config(), 1.0, 2);
        assert!(err.is_err());
        let err = evaluate_and_backtest_batch(&progs, &[&close], &m, &config(), 1.0, 2);
        assert!(err.is_err());
    }
}
