use numpy::{IntoPyArray, PyArray1, PyArray2, PyArrayMethods, PyReadonlyArray1};
use numpy::{PyReadonlyArray2, PyUntypedArrayMethods};
use pyo3::prelude::*;
use pyo3::types::PyDict;

use super::costs_py::PyCostModel;
use super::{to_py, CoreInputError};
use crate::backtest::{self, BacktestConfig, BookLevels, InstrumentRules, Market};

pub(super) type Col<'py> = PyReadonlyArray1<'py, f64>;
type Grid<'py> = PyReadonlyArray2<'py, f64>;
/// (bid_px, bid_qty, ask_px, ask_qty), each bars × levels, best level first.
pub(super) type DepthGrids<'py> = (Grid<'py>, Grid<'py>, Grid<'py>, Grid<'py>);

fn slice<'a>(a: &'a Col<'_>, name: &str) -> PyResult<&'a [f64]> {
    a.as_slice()
        .map_err(|_| CoreInputError::new_err(format!("{name} must be C-contiguous")))
}

fn opt<'a>(a: &'a Option<Col<'_>>, name: &str) -> PyResult<Option<&'a [f64]>> {
    a.as_ref().map(|x| slice(x, name)).transpose()
}

fn grid<'a>(a: &'a Grid<'_>, name: &str) -> PyResult<&'a [f64]> {
    a.as_slice()
        .map_err(|_| CoreInputError::new_err(format!("{name} must be C-contiguous")))
}

fn levels<'a>(d: &'a Option<DepthGrids<'_>>) -> PyResult<Option<BookLevels<'a>>> {
    let Some((bp, bq, ap, aq)) = d else {
        return Ok(None);
    };
    Ok(Some(BookLevels {
        levels: bp.shape()[1],
        bid_px: grid(bp, "bid_px")?,
        bid_qty: grid(bq, "bid_qty")?,
        ask_px: grid(ap, "ask_px")?,
        ask_qty: grid(aq, "ask_qty")?,
    }))
}

/// The optional per-bar data every backtest entry takes, as one tuple from Python:
/// (bid, ask, funding, sigma, volume, depth) — `MarketData.core_args()`.
#[derive(FromPyObject)]
pub(super) struct MarketArgs<'py>(
    Option<Col<'py>>,
    Option<Col<'py>>,
    Option<Col<'py>>,
    Option<Col<'py>>,
    Option<Col<'py>>,
    Option<DepthGrids<'py>>,
);

impl MarketArgs<'_> {
    pub(super) fn market<'a>(&'a self, close: &'a Col<'_>) -> PyResult<Market<'a>> {
        Ok(Market {
            close: slice(close, "close")?,
            bid: opt(&self.0, "bid")?,
            ask: opt(&self.1, "ask")?,
            funding: opt(&self.2, "funding")?,
            sigma: opt(&self.3, "sigma")?,
            volume: opt(&self.4, "volume")?,
            depth: levels(&self.5)?,
        })
    }
}

/// Backtest settings: instrument rules, the cost model, capital, limits, latency.
#[pyclass(name = "BacktestConfigCore", module = "nexusforge._core", frozen)]
pub struct PyBacktestConfig {
    pub(super) inner: BacktestConfig,
}

#[pymethods]
impl PyBacktestConfig {
    #[new]
    #[pyo3(signature = (tick_size, qty_step, min_qty, initial_capital, max_contracts,
        max_notional, latency, costs, half_spread_bps))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        tick_size: f64,
        qty_step: f64,
        min_qty: f64,
        initial_capital: f64,
        max_contracts: f64,
        max_notional: f64,
        latency: usize,
        costs: &PyCostModel,
        half_spread_bps: f64,
    ) -> PyResult<Self> {
        let inner = BacktestConfig {
            rules: InstrumentRules {
                tick_size,
                qty_step,
                min_qty,
            },
            costs: costs.inner,
            half_spread_bps,
            initial_capital,
            max_contracts,
            max_notional,
            latency,
        };
        inner.validate().map_err(to_py)?;
        Ok(Self { inner })
    }
}

/// Names of the metrics, in the order `backtest_run` and `backtest_batch` give them.
#[pyfunction]
fn backtest_metric_names() -> Vec<&'static str> {
    backtest::METRIC_NAMES.to_vec()
}

/// One strategy: (per-bar arrays by name, metrics in `backtest_metric_names` order).
#[pyfunction]
#[pyo3(signature = (target, close, market, config, bars_per_year))]
fn backtest_run<'py>(
    py: Python<'py>,
    target: Col<'py>,
    close: Col<'py>,
    market: MarketArgs<'py>,
    config: &PyBacktestConfig,
    bars_per_year: f64,
) -> PyResult<(Bound<'py, PyDict>, Bound<'py, PyArray1<f64>>)> {
    let m = market.market(&close)?;
    let t = slice(&target, "target")?;
    let cfg = &config.inner;
    let (out, metrics) = py
        .detach(|| {
            let out = backtest::run(t, &m, cfg)?;
            let metrics = backtest::compute_metrics(&out, cfg.initial_capital, bars_per_year)?;
            Ok((out, metrics))
        })
        .map_err(to_py)?;
    let d = PyDict::new(py);
    d.set_item("position", out.position.into_pyarray(py))?;
    d.set_item("cash", out.cash.into_pyarray(py))?;
    d.set_item("fees", out.fees.into_pyarray(py))?;
    d.set_item("spread_cost", out.spread_cost.into_pyarray(py))?;
    d.set_item("slippage", out.slippage.into_pyarray(py))?;
    d.set_item("impact", out.impact.into_pyarray(py))?;
    d.set_item("impact_perm", out.impact_perm.into_pyarray(py))?;
    d.set_item("funding", out.funding.into_pyarray(py))?;
    d.set_item("traded_qty", out.traded_qty.into_pyarray(py))?;
    d.set_item("fill_price", out.fill_price.into_pyarray(py))?;
    d.set_item("equity", out.equity.into_pyarray(py))?;
    Ok((d, metrics.to_array().to_vec().into_pyarray(py)))
}

/// Many strategies (rows of `targets`) on the same prices: metrics, one row each.
#[pyfunction]
#[pyo3(signature = (targets, close, market, config, bars_per_year, threads))]
fn backtest_batch<'py>(
    py: Python<'py>,
    targets: Grid<'py>,
    close: Col<'py>,
    market: MarketArgs<'py>,
    config: &PyBacktestConfig,
    bars_per_year: f64,
    threads: usize,
) -> PyResult<Bound<'py, PyArray2<f64>>> {
    let m = market.market(&close)?;
    let rows = targets.shape()[0];
    let t = targets
        .as_slice()
        .map_err(|_| CoreInputError::new_err("targets must be C-contiguous"))?;
    let cfg = &config.inner;
    let all = py
        .detach(|| backtest::run_batch(t, rows, &m, cfg, bars_per_year, threads))
        .map_err(to_py)?;
    metrics_table(py, &all)
}

/// Metrics as an (n × METRIC_NAMES) array, one row per strategy, in order.
pub(super) fn metrics_table<'py>(
    py: Python<'py>,
    all: &[backtest::Metrics],
) -> PyResult<Bound<'py, PyArray2<f64>>> {
    let flat: Vec<f64> = all.iter().flat_map(|x| x.to_array()).collect();
    PyArray1::from_vec(py, flat).reshape([all.len(), backtest::METRIC_NAMES.len()])
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyBacktestConfig>()?;
    m.add_function(wrap_pyfunction!(backtest_metric_names, m)?)?;
    m.add_function(wrap_pyfunction!(backtest_run, m)?)?;
    m.add_function(wrap_pyfunction!(backtest_batch, m)?)?;
    Ok(())
}
