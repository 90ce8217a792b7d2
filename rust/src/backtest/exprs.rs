//! GP batches: many compiled expressions over the same columns and prices in one call.
//! Threads pull expressions from a shared counter. Each expression is evaluated one block of
//! rows at a time into a small per-thread buffer, and that block is backtested and folded into
//! running metrics at once, while it is still in cache: memory grows with the thread count
//! and the block size, never with the number of expressions or bars. The synthetic touch
//! (close ± half-spread on the tick grid) is computed once for all expressions. Each
//! expression runs alone on its thread, so results do not depend on the thread count, and
//! they equal `evaluate` followed by `run` + `compute_metrics` bit for bit.

use super::engine::{touch_grid, BarSink, Sim};
use super::jobs::run_jobs;
use super::metrics::{check_bars_per_year, Metrics, MetricsAcc};
use super::{BacktestConfig, Market};
use crate::error::{CoreError, CoreResult};
use crate::expr::{Evaluator, Program};

/// Rows per evaluation block: slots × block floats stay in L1/L2 for typical trees.
const BLOCK_ROWS: usize = 256;

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

/// Expressions a thread runs side by side. One strategy's bar depends on the previous bar
/// (cash → equity → order size → fill → cash), a chain of divisions and roundings that leaves
/// the core idle; stepping several independent strategies bar by bar overlaps their chains.
const LANES: usize = 8;

/// One expression in flight: its evaluator, engine state, metrics and target buffer.
struct Lane<'a, 'm> {
    index: usize,
    ev: Evaluator,
    sim: Sim<'a, 'm>,
    acc: MetricsAcc,
    /// `latency` carried targets, then one block of fresh ones.
    targets: Vec<f64>,
    error: Option<CoreError>,
}

/// What one thread shares across its expressions: the data and the settings.
struct Worker<'a, 'm> {
    columns: &'a [&'a [f64]],
    m: &'a Market<'m>,
    cfg: &'a BacktestConfig,
    touch: Option<&'a [[f64; 2]]>,
    bars_per_year: f64,
}

impl<'a, 'm> Worker<'a, 'm> {
    /// A target decided `n` or more bars back never trades, so longer delays act as `n`.
    fn latency(&self) -> usize {
        self.cfg.latency.min(self.m.close.len())
    }

    fn lane(&self, index: usize, program: &Program) -> CoreResult<Lane<'a, 'm>> {
        Ok(Lane {
            index,
            ev: Evaluator::new(program.clone(), BLOCK_ROWS)?,
            sim: Sim::new(self.cfg, self.m, self.touch),
            acc: MetricsAcc::new(self.cfg.initial_capital),
            targets: vec![f64::NAN; self.latency() + BLOCK_ROWS],
            error: None,
        })
    }

    /// Evaluates and backtests up to `LANES` expressions together, block by block.
    fn group(&self, first: usize, programs: &[Program]) -> Vec<(usize, CoreResult<Metrics>)> {
        let (n, lat) = (self.m.close.len(), self.latency());
        let mut done = Vec::new();
        let mut lanes = Vec::with_capacity(programs.len());
        for (j, p) in programs.iter().enumerate() {
            match self.lane(first + j, p) {
                Ok(l) => lanes.push(l),
                Err(e) => done.push((first + j, Err(e))),
            }
        }
        let mut start = 0;
        while start < n {
            let len = BLOCK_ROWS.min(n - start);
            for l in &mut lanes {
                // Targets come clamped to [-1, 1] (NaN kept): they pass `validate_target`.
                l.ev.eval_rows(self.columns, start, &mut l.targets[lat..lat + len]);
            }
            for i in 0..len {
                for l in lanes.iter_mut().filter(|l| l.error.is_none()) {
                    // targets[i] is the target of bar start + i − lat: the one trading now.
                    match l.sim.step(start + i, l.targets[i]) {
                        Ok(bar) => l.acc.push(&bar),
                        Err(e) => l.error = Some(e),
                    }
                }
            }
            for l in &mut lanes {
                l.targets.copy_within(len..len + lat, 0);
            }
            start += len;
        }
        for l in lanes {
            let r = match l.error {
                Some(e) => Err(e),
                None => l.acc.finish(self.bars_per_year),
            };
            done.push((l.index, r));
        }
        done
    }
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
    check_bars_per_year(bars_per_year)?;
    let n = m.close.len();
    check_programs(programs, columns, n)?;
    let touch = touch_grid(cfg, m);
    let w = Worker {
        columns,
        m,
        cfg,
        touch: touch.as_deref(),
        bars_per_year,
    };
    let groups = run_jobs(programs.len().div_ceil(LANES), threads, |g| {
        let first = g * LANES;
        w.group(first, &programs[first..(first + LANES).min(programs.len())])
    })?;
    let mut slots: Vec<Option<CoreResult<Metrics>>> = programs.iter().map(|_| None).collect();
    for (i, r) in groups.into_iter().flatten() {
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
    use crate::backtest::tests::research_config;
    use crate::backtest::{compute_metrics, run, InstrumentRules};
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
            half_spread_bps: 1.0,
            latency: 1,
            ..research_config()
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
        assert_batch_equals_single(&programs(), &cols, &m, &config(), &[1, 2, 3, 16]);
    }

    /// The batch gives the bits of `evaluate` + `run` + `compute_metrics` for each program.
    fn assert_batch_equals_single(
        progs: &[Program],
        cols: &[&[f64]],
        m: &Market<'_>,
        cfg: &BacktestConfig,
        thread_counts: &[usize],
    ) {
        let n = m.close.len();
        let expected: Vec<[f64; 20]> = progs
            .iter()
            .map(|p| {
                let t = evaluate(p, cols, n, 777).unwrap();
                let out = run(&t, m, cfg).unwrap();
                compute_metrics(&out, cfg.initial_capital, 525_600.0)
                    .unwrap()
                    .to_array()
            })
            .collect();
        for &threads in thread_counts {
            let got = evaluate_and_backtest_batch(progs, cols, m, cfg, 525_600.0, threads).unwrap();
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
    fn batch_matches_single_runs_for_any_latency_limit_and_funding() {
        let n = 3_000;
        let (close, vol) = market_data(n);
        let funding: Vec<f64> = (0..n)
            .map(|i| {
                if i % 480 == 0 {
                    1e-4 * (i as f64).cos()
                } else {
                    0.0
                }
            })
            .collect();
        let cols: Vec<&[f64]> = vec![&close, &vol];
        let m = Market {
            close: &close,
            bid: None,
            ask: None,
            funding: Some(&funding),
            sigma: None,
            volume: None,
            depth: None,
        };
        let progs = programs();
        // Delays within a block, across blocks, and longer than the data (never trades).
        for latency in [0, 1, 3, BLOCK_ROWS + 5, n, n + 7] {
            let mut cfg = config();
            cfg.latency = latency;
            cfg.max_notional = 5_000.0;
            assert_batch_equals_single(&progs, &cols, &m, &cfg, &[1, 2]);
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
