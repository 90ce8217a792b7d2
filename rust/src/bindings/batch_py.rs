use numpy::PyArray2;
use pyo3::prelude::*;

use super::backtest_py::{metrics_table, Col, MarketArgs, PyBacktestConfig};
use super::expr_py::PyExprProgram;
use super::{to_py, CoreInputError};
use crate::backtest;
use crate::expr::Program;

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

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(expr_backtest_batch, m)?)?;
    Ok(())
}
