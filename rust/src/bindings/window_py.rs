use numpy::{IntoPyArray, PyArray1, PyReadonlyArray1};
use pyo3::prelude::*;

use super::{to_py, CoreInputError};
use crate::window;

/// (max, min) per row.
type MaxMin<'py> = (Bound<'py, PyArray1<f64>>, Bound<'py, PyArray1<f64>>);

/// Per row, max and min of the non-NaN values over rows j <= i with
/// ts[j] > ts[i] - window_ns (NaN when none); ts must never decrease.
#[pyfunction]
#[pyo3(signature = (ts, values, window_ns))]
fn trailing_max_min<'py>(
    py: Python<'py>,
    ts: PyReadonlyArray1<'py, i64>,
    values: PyReadonlyArray1<'py, f64>,
    window_ns: i64,
) -> PyResult<MaxMin<'py>> {
    let t = ts
        .as_slice()
        .map_err(|_| CoreInputError::new_err("ts must be C-contiguous"))?;
    let v = values
        .as_slice()
        .map_err(|_| CoreInputError::new_err("values must be C-contiguous"))?;
    let (hi, lo) = py
        .detach(|| window::trailing_max_min(t, v, window_ns))
        .map_err(to_py)?;
    Ok((hi.into_pyarray(py), lo.into_pyarray(py)))
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(trailing_max_min, m)?)?;
    Ok(())
}
