use numpy::{PyArray1, PyArray2, PyArrayMethods, PyReadonlyArray1};
use pyo3::prelude::*;

use super::{to_py, CoreInputError};
use crate::vmd::{self, Init, TrailingConfig, VmdParams, VmdStream};

/// (modes k×n, omega k, iterations).
type Decomposition<'py> = (Bound<'py, PyArray2<f64>>, Bound<'py, PyArray1<f64>>, usize);
/// (last values, centre frequencies), one row per sample.
type Features2<'py> = (Bound<'py, PyArray2<f64>>, Bound<'py, PyArray2<f64>>);
/// (last values, centre frequencies) of the newest sample.
type Features1<'py> = (Bound<'py, PyArray1<f64>>, Bound<'py, PyArray1<f64>>);

/// Contiguous view of a numpy array, or a clear error for a strided one.
fn as_slice<'a>(a: &'a PyReadonlyArray1<'_, f64>, what: &str) -> PyResult<&'a [f64]> {
    a.as_slice()
        .map_err(|_| CoreInputError::new_err(format!("{what} must be C-contiguous")))
}

/// Features use vmdpy's defaults for tau, dc and init.
fn feature_params(k: usize, alpha: f64, tol: f64, max_iter: usize) -> VmdParams {
    VmdParams {
        k,
        alpha,
        tol,
        max_iter,
        ..VmdParams::default()
    }
}

fn rows_by_k<'py>(
    py: Python<'py>,
    data: Vec<f64>,
    rows: usize,
    k: usize,
) -> PyResult<Bound<'py, PyArray2<f64>>> {
    PyArray1::from_vec(py, data).reshape([rows, k])
}

/// Decompose one signal: (modes k×n, omega k, iterations).
#[pyfunction]
#[pyo3(signature = (signal, k, alpha, tau, dc, init, tol, max_iter))]
#[allow(clippy::too_many_arguments)]
fn vmd_decompose<'py>(
    py: Python<'py>,
    signal: PyReadonlyArray1<'py, f64>,
    k: usize,
    alpha: f64,
    tau: f64,
    dc: bool,
    init: i64,
    tol: f64,
    max_iter: usize,
) -> PyResult<Decomposition<'py>> {
    let params = VmdParams {
        k,
        alpha,
        tau,
        dc,
        init: Init::from_code(init).map_err(to_py)?,
        tol,
        max_iter,
    };
    let x = as_slice(&signal, "signal")?;
    let out = py.detach(|| vmd::vmd(x, &params)).map_err(to_py)?;
    let n = out.modes.first().map_or(0, Vec::len);
    let modes = rows_by_k(py, out.modes.concat(), k, n)?;
    Ok((modes, PyArray1::from_vec(py, out.omega), out.iterations))
}

/// Trailing-window features: (last values n×k, centre frequencies n×k).
#[pyfunction]
#[pyo3(signature = (series, window, stride, k, alpha, tol, max_iter, threads=None))]
#[allow(clippy::too_many_arguments)]
fn vmd_trailing<'py>(
    py: Python<'py>,
    series: PyReadonlyArray1<'py, f64>,
    window: usize,
    stride: usize,
    k: usize,
    alpha: f64,
    tol: f64,
    max_iter: usize,
    threads: Option<usize>,
) -> PyResult<Features2<'py>> {
    let threads = threads.unwrap_or_else(|| {
        std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
    });
    let cfg = TrailingConfig {
        window,
        stride,
        params: feature_params(k, alpha, tol, max_iter),
        threads,
    };
    let x = as_slice(&series, "series")?;
    let out = py.detach(|| vmd::vmd_trailing(x, &cfg)).map_err(to_py)?;
    Ok((
        rows_by_k(py, out.last_values, out.rows, k)?,
        rows_by_k(py, out.centre_freqs, out.rows, k)?,
    ))
}

/// Streaming trailing-window features; equal to `vmd_trailing` over the same series.
#[pyclass(module = "nexusforge._core", name = "VmdStreamCore")]
struct PyVmdStream {
    inner: VmdStream,
}

#[pymethods]
impl PyVmdStream {
    #[new]
    #[pyo3(signature = (window, stride, k, alpha, tol, max_iter))]
    fn new(
        window: usize,
        stride: usize,
        k: usize,
        alpha: f64,
        tol: f64,
        max_iter: usize,
    ) -> PyResult<Self> {
        let cfg = TrailingConfig {
            window,
            stride,
            params: feature_params(k, alpha, tol, max_iter),
            threads: 1,
        };
        let inner = VmdStream::new(cfg).map_err(to_py)?;
        Ok(Self { inner })
    }

    /// Add one sample; returns (mode last values, centre frequencies) as new arrays.
    fn update<'py>(&mut self, py: Python<'py>, x: f64) -> PyResult<Features1<'py>> {
        let inner = &mut self.inner;
        let (last, freq) = py.detach(|| inner.update(x)).map_err(to_py)?;
        Ok((
            PyArray1::from_slice(py, last),
            PyArray1::from_slice(py, freq),
        ))
    }

    /// Samples seen so far.
    #[getter]
    fn seen(&self) -> usize {
        self.inner.seen()
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(vmd_decompose, m)?)?;
    m.add_function(wrap_pyfunction!(vmd_trailing, m)?)?;
    m.add_class::<PyVmdStream>()?;
    Ok(())
}
