use numpy::PyArray2;
use pyo3::prelude::*;

use super::backtest_py::{metrics_table, Col, MarketArgs, PyBacktestConfig};
use super::expr_py::PyExprProgram;
use super::{to_py, CoreInputError};
use crate::backtest;
use crate::expr::{Forest, Program};

/// Evaluates each program on the shared columns and backtests it: metrics, one row each.
#[pyfunction]
#[pyo3(signature = (programs, columns, close, market, config, bars_per_year, threads))]
#[allow(clippy::too_many_arguments)]
fn expr_backtest_batch<'py>(
    py: Python<'py>,
    programs: Vec<PyRef<'py, PyExprProgram>>,
    columns: Vec<Col<'py>>,
    close: Col<'py>,
    market: MarketArgs<'py>,
    config: &PyBacktestConfig,
    bars_per_year: f64,
    threads: usize,
) -> PyResult<Bound<'py, PyArray2<f64>>> {
    let m = market.market(&close)?;
    let cols = columns
        .iter()
        .map(|c| {
            c.as_slice()
                .map_err(|_| CoreInputError::new_err("columns must be C-contiguous"))
        })
        .collect::<PyResult<Vec<&[f64]>>>()?;
    // Programs are a few hundred bytes: cloning frees them from the GIL-bound refs.
    let progs: Vec<Program> = programs.iter().map(|p| p.inner.clone()).collect();
    let cfg = &config.inner;
    let all = py
        .detach(|| {
            backtest::evaluate_and_backtest_batch(&progs, &cols, &m, cfg, bars_per_year, threads)
        })
        .map_err(to_py)?;
    metrics_table(py, &all)
}

/// Evaluates and backtests each program on each `(start, stop)` row window from a cold start;
/// metrics, one row per (program, window), program-major. Shared subtrees run once.
#[pyfunction]
#[pyo3(signature = (programs, columns, close, market, windows, config, bars_per_year, threads))]
#[allow(clippy::too_many_arguments)]
fn expr_backtest_windows<'py>(
    py: Python<'py>,
    programs: Vec<PyRef<'py, PyExprProgram>>,
    columns: Vec<Col<'py>>,
    close: Col<'py>,
    market: MarketArgs<'py>,
    windows: Vec<(usize, usize)>,
    config: &PyBacktestConfig,
    bars_per_year: f64,
    threads: usize,
) -> PyResult<Bound<'py, PyArray2<f64>>> {
    let m = market.market(&close)?;
    let cols = columns
        .iter()
        .map(|c| {
            c.as_slice()
                .map_err(|_| CoreInputError::new_err("columns must be C-contiguous"))
        })
        .collect::<PyResult<Vec<&[f64]>>>()?;
    let progs: Vec<Program> = programs.iter().map(|p| p.inner.clone()).collect();
    let ranges: Vec<std::ops::Range<usize>> = windows.iter().map(|&(a, b)| a..b).collect();
    let cfg = &config.inner;
    let all = py
        .detach(|| {
            backtest::evaluate_and_backtest_windows(
                &progs,
                &cols,
                &m,
                &ranges,
                cfg,
                bars_per_year,
                threads,
            )
        })
        .map_err(to_py)?;
    metrics_table(py, &all)
}

/// (distinct subtrees, instructions) of the programs merged into one forest.
#[pyfunction]
fn expr_forest_size(programs: Vec<PyRef<'_, PyExprProgram>>) -> PyResult<(usize, usize)> {
    let progs: Vec<Program> = programs.iter().map(|p| p.inner.clone()).collect();
    let n_columns = progs.first().map_or(0, |p| p.n_columns);
    let f = Forest::new(&progs, n_columns).map_err(to_py)?;
    Ok((f.nodes(), f.instructions()))
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(expr_backtest_batch, m)?)?;
    m.add_function(wrap_pyfunction!(expr_backtest_windows, m)?)?;
    m.add_function(wrap_pyfunction!(expr_forest_size, m)?)?;
    Ok(())
}
