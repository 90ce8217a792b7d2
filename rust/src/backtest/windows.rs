//! A GP population over several row windows of one history in one call: every program is
//! evaluated and backtested on each window from a cold start (flat, initial capital, fresh
//! window state: the same as slicing the data to the window and running `evaluate` + `run`).
//! The programs are merged into a `Forest`, so a subtree shared by many programs is
//! evaluated once per block of rows. Work items are (window, chunk of programs), planned by
//! `schedule` and pulled longest first by threads from a shared counter; every program runs
//! alone on its own engine state, so results do not depend on the thread count or the
//! chunking.

use std::ops::Range;

use super::engine::{touch_grid, Bar, BarSink, Sim};
use super::jobs::run_jobs;
use super::lean::{self, Lean};
use super::metrics::{check_bars_per_year, Metrics, MetricsAcc};
use super::pack_metrics::{V, W};
use super::schedule::{self, Cut};
use super::{BacktestConfig, BookLevels, Market};
use crate::error::{CoreError, CoreResult};
use crate::expr::{Forest, ForestEvaluator, Program};

/// Rows per block: the forest's live buffers × block floats stay in cache.
const BLOCK_ROWS: usize = 256;
/// Rows of targets transposed into a pack at a time (a few KiB).
const TILE_ROWS: usize = 16;
/// Engines stepped side by side bar by bar (their dependency chains overlap).
const LANES: usize = 8;

/// The market restricted to `r` (bars re-numbered from 0).
fn window_market<'a>(m: &Market<'a>, r: &Range<usize>) -> Market<'a> {
    let cut = |a: Option<&'a [f64]>| a.map(|a| &a[r.clone()]);
    Market {
        close: &m.close[r.clone()],
        bid: cut(m.bid),
        ask: cut(m.ask),
        funding: cut(m.funding),
        sigma: cut(m.sigma),
        volume: cut(m.volume),
        depth: m.depth.map(|d| {
            let rr = r.start * d.levels..r.end * d.levels;
            BookLevels {
                levels: d.levels,
                bid_px: &d.bid_px[rr.clone()],
                bid_qty: &d.bid_qty[rr.clone()],
                ask_px: &d.ask_px[rr.clone()],
                ask_qty: &d.ask_qty[rr],
            }
        }),
    }
}

fn check_windows(windows: &[Range<usize>], n: usize) -> CoreResult<()> {
    match windows.iter().position(|w| w.start >= w.end || w.end > n) {
        None => Ok(()),
        Some(i) => Err(CoreError::InvalidInput(format!(
            "window {i} ({}..{}) is empty or outside 0..{n}",
            windows[i].start, windows[i].end
        ))),
    }
}

/// A strategy's engine state, fed bar by bar.
trait Step {
    /// Bar `t` given the target reaching it, into `out`.
    fn step_into(&mut self, t: usize, wanted: f64, out: &mut Bar) -> CoreResult<()>;
}

impl Step for Sim<'_, '_> {
    #[inline]
    fn step_into(&mut self, t: usize, wanted: f64, out: &mut Bar) -> CoreResult<()> {
        *out = self.step(t, wanted)?;
        Ok(())
    }
}

/// One engine in flight: its state, metrics and target buffer.
struct Lane<S> {
    sim: S,
    acc: MetricsAcc,
    /// `latency` carried targets, then one block of fresh ones.
    targets: Vec<f64>,
    error: Option<CoreError>,
}

/// Evaluates and backtests a forest's programs on one window; metrics in program order.
fn run_window(
    forest: &Forest,
    columns: &[&[f64]],
    m: &Market<'_>,
    touch: Option<&[[f64; 2]]>,
    cfg: &BacktestConfig,
    bars_per_year: f64,
) -> CoreResult<Vec<CoreResult<Metrics>>> {
    match touch {
        // The common research case: the inlined step without the general fill request.
        Some(grid) if lean::covers(m) => run_packs(forest, columns, m, grid, cfg, bars_per_year),
        _ => run_lanes(forest, columns, m.close.len(), cfg, bars_per_year, || {
            Sim::new(cfg, m, touch)
        }),
    }
}

/// The research case: `W` programs per `Lean` pack, stepped in lockstep bar by bar.
fn run_packs(
    forest: &Forest,
    columns: &[&[f64]],
    m: &Market<'_>,
    grid: &[[f64; 2]],
    cfg: &BacktestConfig,
    bars_per_year: f64,
) -> CoreResult<Vec<CoreResult<Metrics>>> {
    let n = m.close.len();
    // A target decided `n` or more bars back never trades, so longer delays act as `n`.
    let lat = cfg.latency.min(n);
    let programs = forest.programs();
    let mut ev = ForestEvaluator::new(forest, BLOCK_ROWS)?;
    // Each pack's targets, lane-interleaved: `latency` carried rows, then one block of fresh
    // ones; lanes past the last program stay NaN (they never trade).
    let mut packs: Vec<(Lean<'_>, Vec<V>)> = (0..programs.div_ceil(W))
        .map(|_| {
            (
                Lean::new(cfg, m, grid),
                vec![[f64::NAN; W]; lat + BLOCK_ROWS],
            )
        })
        .collect();
    let mut start = 0;
    while start < n {
        let len = BLOCK_ROWS.min(n - start);
        ev.eval_rows(columns, start, len);
        for (g, (lean, targets)) in packs.iter_mut().enumerate() {
            // Transposed a tile of rows at a time, so the tile's rows stay in L1 while every
            // lane writes into them; `Lean` clamps them to [−1, 1] (a vector op per bar).
            for r in (0..len).step_by(TILE_ROWS) {
                let rows = r..(r + TILE_ROWS).min(len);
                let tile = &mut targets[lat + rows.start..lat + rows.end];
                for (k, j) in (g * W..programs.min((g + 1) * W)).enumerate() {
                    for (row, &v) in tile.iter_mut().zip(&ev.root(j)[rows.clone()]) {
                        row[k] = v;
                    }
                }
            }
            // targets[i] is the target of bar start + i − lat: the one trading now.
            lean.step_rows(start, &targets[..len]);
            targets.copy_within(len..len + lat, 0);
        }
        start += len;
    }
    let mut out = Vec::with_capacity(programs);
    for (lean, _) in &mut packs {
        for k in 0..W.min(programs - out.len()) {
            out.push(match lean.errors[k].take() {
                Some(e) => Err(e),
                None => lean.acc.lane(k).finish(bars_per_year),
            });
        }
    }
    Ok(out)
}

fn run_lanes<S: Step>(
    forest: &Forest,
    columns: &[&[f64]],
    n: usize,
    cfg: &BacktestConfig,
    bars_per_year: f64,
    engine: impl Fn() -> S,
) -> CoreResult<Vec<CoreResult<Metrics>>> {
    // A target decided `n` or more bars back never trades, so longer delays act as `n`.
    let lat = cfg.latency.min(n);
    let mut ev = ForestEvaluator::new(forest, BLOCK_ROWS)?;
    let mut lanes: Vec<Lane<S>> = (0..forest.programs())
        .map(|_| Lane {
            sim: engine(),
            acc: MetricsAcc::new(cfg.initial_capital),
            targets: vec![f64::NAN; lat + BLOCK_ROWS],
            error: None,
        })
        .collect();
    let mut bar = Bar::default();
    let mut start = 0;
    while start < n {
        let len = BLOCK_ROWS.min(n - start);
        ev.eval_rows(columns, start, len);
        for (j, l) in lanes.iter_mut().enumerate() {
            ev.root_into(j, &mut l.targets[lat..lat + len]);
        }
        for group in lanes.chunks_mut(LANES) {
            for i in 0..len {
                for l in group.iter_mut().filter(|l| l.error.is_none()) {
                    // targets[i] is the target of bar start + i − lat: the one trading now.
                    match l.sim.step_into(start + i, l.targets[i], &mut bar) {
                        Ok(()) => l.acc.push(&bar),
                        Err(e) => l.error = Some(e),
                    }
                }
            }
        }
        for l in &mut lanes {
            l.targets.copy_within(len..len + lat, 0);
        }
        start += len;
    }
    Ok(lanes
        .into_iter()
        .map(|l| match l.error {
            Some(e) => Err(e),
            None => l.acc.finish(bars_per_year),
        })
        .collect())
}

/// `programs` in `chunks` consecutive forests of equal size (the last may be smaller), and
/// that size.
fn cut_forests(
    programs: &[Program],
    n_columns: usize,
    chunks: usize,
) -> CoreResult<(usize, Vec<Forest>)> {
    let per_chunk = programs.len().div_ceil(chunks);
    let forests = programs
        .chunks(per_chunk)
        .map(|c| Forest::new(c, n_columns))
        .collect::<CoreResult<Vec<_>>>()?;
    Ok((per_chunk, forests))
}

/// Metrics of every program on every window, program-major (`programs × windows`): each
/// equals slicing the columns and market to the window, `evaluate` and `run`, bit for bit.
pub fn evaluate_and_backtest_windows(
    programs: &[Program],
    columns: &[&[f64]],
    m: &Market<'_>,
    windows: &[Range<usize>],
    cfg: &BacktestConfig,
    bars_per_year: f64,
    threads: usize,
) -> CoreResult<Vec<Metrics>> {
    cfg.validate()?;
    m.validate()?;
    check_bars_per_year(bars_per_year)?;
    let n = m.close.len();
    if let Some(c) = columns.iter().position(|c| c.len() != n) {
        return Err(CoreError::InvalidInput(format!(
            "column {c} has {} rows, close has {n}",
            columns[c].len()
        )));
    }
    check_windows(windows, n)?;
    if programs.is_empty() || windows.is_empty() {
        return Ok(Vec::new());
    }
    let threads = threads.max(1);
    // Enough items to keep every thread busy to the end, as few chunks as that allows
    // (a bigger chunk shares more subtrees); a window may take half-size chunks where that
    // evens out the threads' finish (see `schedule`).
    let most = programs.len().div_ceil(LANES);
    let chunks = (2 * threads).div_ceil(windows.len()).min(most);
    let counts = if threads > 1 && 2 * chunks <= most {
        vec![chunks, 2 * chunks]
    } else {
        vec![chunks]
    };
    let cuts = counts
        .iter()
        .map(|&c| cut_forests(programs, columns.len(), c))
        .collect::<CoreResult<Vec<_>>>()?;
    let sizes: Vec<Cut> = cuts
        .iter()
        .map(|(_, forests)| forests.iter().map(|f| (f.nodes(), f.programs())).collect())
        .collect();
    let lens: Vec<usize> = windows.iter().map(ExactSizeIterator::len).collect();
    let items = schedule::plan(&lens, &sizes, threads);
    let touch = touch_grid(cfg, m);
    let parts = run_jobs(items.len(), threads, |k| {
        let (w, c, f) = items[k];
        let r = &windows[w];
        let wm = window_market(m, r);
        let cols: Vec<&[f64]> = columns.iter().map(|col| &col[r.clone()]).collect();
        let wt = touch.as_deref().map(|t| &t[r.clone()]);
        let first = f * cuts[c].0;
        (
            w,
            first,
            run_window(&cuts[c].1[f], &cols, &wm, wt, cfg, bars_per_year),
        )
    })?;
    let mut out: Vec<Option<Metrics>> = vec![None; programs.len() * windows.len()];
    for (w, first, res) in parts {
        for (j, r) in res?.into_iter().enumerate() {
            let p = first + j;
            let metrics = r.map_err(|e| CoreError::InvalidInput(format!("expression {p}: {e}")))?;
            out[p * windows.len() + w] = Some(metrics);
        }
    }
    out.into_iter()
        .map(|x| x.ok_or_else(|| CoreError::InvalidInput("a window was not run".into())))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backtest::tests::{market, research_config};
    use crate::backtest::{compute_metrics, run};
    use crate::expr::{compile, evaluate};

    fn config(latency: usize) -> BacktestConfig {
        BacktestConfig {
            half_spread_bps: 1.0,
            max_notional: 50_000.0,
            latency,
            ..research_config()
        }
    }

    /// zscore(c0, k), sign(c1 - mean(c1, k)) and their sum for a few k (shared subtrees).
    fn programs() -> Vec<Program> {
        let mut out = Vec::new();
        for k in [3_i64, 10, 40] {
            out.push(compile(&[0, 22], &[0, k], &[0.0; 2], &[0.0; 2], 2).unwrap());
            let sign = [0, 0, 20, 3, 8];
            out.push(compile(&sign, &[1, 1, k, 0, 0], &[0.0; 5], &[0.0; 5], 2).unwrap());
            let sum = [0, 22, 0, 0, 20, 3, 8, 2];
            let ints = [0, k, 1, 1, k, 0, 0, 0];
            out.push(compile(&sum, &ints, &[0.0; 8], &[0.0; 8], 2).unwrap());
        }
        out
    }

    /// Each (program, window) equals slicing, `evaluate`, `run` and `compute_metrics`.
    fn assert_matches_sliced_runs(
        progs: &[Program],
        cols: &[&[f64]],
        m: &Market<'_>,
        windows: &[Range<usize>],
        cfg: &BacktestConfig,
    ) {
        let want: Vec<[f64; 20]> = progs
            .iter()
            .flat_map(|p| windows.iter().map(move |w| (p, w.clone())))
            .map(|(p, w)| {
                let wm = window_market(m, &w);
                let wc: Vec<&[f64]> = cols.iter().map(|c| &c[w.clone()]).collect();
                let t = evaluate(p, &wc, w.len(), 100).unwrap();
                let out = run(&t, &wm, cfg).unwrap();
                compute_metrics(&out, cfg.initial_capital, 525_600.0)
                    .unwrap()
                    .to_array()
            })
            .collect();
        for threads in [1, 2, 7] {
            let got =
                evaluate_and_backtest_windows(progs, cols, m, windows, cfg, 525_600.0, threads)
                    .unwrap();
            assert_eq!(got.len(), want.len());
            for (g, w) in got.iter().zip(&want) {
                let g = g.to_array();
                let same = g.iter().zip(w).all(|(a, b)| a.to_bits() == b.to_bits());
                assert!(same, "{g:?} != {w:?} ({cfg:?}, {threads} threads)");
            }
        }
    }

    fn series(n: usize) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
        let close: Vec<f64> = (0..n)
            .map(|i| 100.0 + 5.0 * (i as f64 * 0.05).sin() + 0.01 * i as f64)
            .collect();
        let vol: Vec<f64> = (0..n).map(|i| 1.0 + (i as f64 * 0.3).cos().abs()).collect();
        let funding: Vec<f64> = (0..n)
            .map(|i| if i % 480 == 0 { 1e-4 } else { 0.0 })
            .collect();
        (close, vol, funding)
    }

    const WINDOWS: [Range<usize>; 5] =
        [0..1_500, 1_500..2_250, 2_250..3_000, 3_000..4_000, 10..600];

    #[test]
    fn windows_equal_sliced_single_runs_for_any_threads_latency_and_lot_rules() {
        let (close, vol, funding) = series(4_000);
        let m = Market {
            funding: Some(&funding),
            ..market(&close)
        };
        let cols: Vec<&[f64]> = vec![&close, &vol];
        for latency in [0, 1, 300, 5_000] {
            assert_matches_sliced_runs(&programs(), &cols, &m, &WINDOWS, &config(latency));
        }
        // Lot rounding, a minimum order and a contract cap (the fast step's sizing).
        let mut cfg = config(1);
        cfg.rules.qty_step = 0.01;
        cfg.rules.min_qty = 0.5;
        cfg.max_contracts = 60.0;
        assert_matches_sliced_runs(&programs(), &cols, &m, &WINDOWS, &cfg);
    }

    #[test]
    fn more_programs_than_a_pack_fill_several_packs_in_order() {
        let (close, vol, funding) = series(3_000);
        let m = Market {
            funding: Some(&funding),
            ..market(&close)
        };
        let cols: Vec<&[f64]> = vec![&close, &vol];
        // W + 9 programs: a full pack and a partial one, in both orders of the families.
        let mut progs = Vec::new();
        for k in 2_i64..=(W as i64 + 10) {
            let sign = [0, 0, 20, 3, 8];
            progs.push(compile(&sign, &[1, 1, k, 0, 0], &[0.0; 5], &[0.0; 5], 2).unwrap());
        }
        progs.truncate(W + 9);
        progs.swap(0, W + 3);
        let windows = [0..1_000, 1_000..3_000, 500..2_600];
        assert_matches_sliced_runs(&progs, &cols, &m, &windows, &config(1));
    }

    #[test]
    fn windows_with_quotes_and_impact_take_the_general_engine() {
        let (close, vol, funding) = series(4_000);
        let bid: Vec<f64> = close.iter().map(|c| c - 0.02).collect();
        let ask: Vec<f64> = close.iter().map(|c| c + 0.03).collect();
        let sigma = vec![0.001; close.len()];
        let m = Market {
            close: &close,
            bid: Some(&bid),
            ask: Some(&ask),
            funding: Some(&funding),
            sigma: Some(&sigma),
            volume: Some(&vol),
            depth: None,
        };
        let cols: Vec<&[f64]> = vec![&close, &vol];
        let mut cfg = config(1);
        cfg.costs.impact_eta = 0.1;
        cfg.costs.impact_gamma = 0.05;
        assert_matches_sliced_runs(&programs(), &cols, &m, &WINDOWS, &cfg);
    }

    #[test]
    fn a_fill_the_cost_model_refuses_is_the_same_error() {
        // A half-spread over 100 % puts the synthetic bid below zero.
        let (close, vol, _) = series(500);
        let m = market(&close);
        let mut cfg = config(0);
        cfg.half_spread_bps = 20_000.0;
        let cols: Vec<&[f64]> = vec![&close, &vol];
        let progs = programs();
        let whole: Range<usize> = 0..close.len();
        let t = evaluate(&progs[0], &cols, close.len(), 64).unwrap();
        let want = run(&t, &m, &cfg).unwrap_err().to_string();
        let got = evaluate_and_backtest_windows(&progs, &cols, &m, &[whole], &cfg, 1.0, 1)
            .unwrap_err()
            .to_string();
        assert!(got.ends_with(&want), "{got} vs {want}");
    }

    #[test]
    fn bad_windows_and_columns_are_refused() {
        let close = vec![100.0; 50];
        let m = market(&close);
        let progs = programs();
        let cols: Vec<&[f64]> = vec![&close, &close];
        let cfg = config(1);
        // Past the end, empty, reversed.
        for (a, b) in [(0, 51), (10, 10), (30, 20)] {
            let w = Range { start: a, end: b };
            let one = std::slice::from_ref(&w);
            assert!(evaluate_and_backtest_windows(&progs, &cols, &m, one, &cfg, 1.0, 2).is_err());
        }
        let halves = [0..25, 25..50];
        let short: Vec<&[f64]> = vec![&close, &close[..40]];
        assert!(evaluate_and_backtest_windows(&progs, &short, &m, &halves, &cfg, 1.0, 2).is_err());
        let one: Vec<&[f64]> = vec![&close];
        assert!(evaluate_and_backtest_windows(&progs, &one, &m, &halves, &cfg, 1.0, 2).is_err());
    }
}
