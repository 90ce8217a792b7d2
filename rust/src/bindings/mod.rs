//! The PyO3 surface: one file per area (`book_py` wraps `crate::book`, …), thin wrappers
//! over the plain Rust modules. New areas add a file here and one `register` line.

use pyo3::create_exception;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

use crate::error::CoreError;

create_exception!(
    _core,
    CoreInputError,
    PyValueError,
    "Invalid input to the Rust core."
);
create_exception!(
    _core,
    CoreMalformedError,
    PyValueError,
    "A message the core could not parse."
);

/// The single mapping from core errors to Python exceptions.
pub fn to_py(err: CoreError) -> PyErr {
    match err {
        CoreError::InvalidInput(msg) => CoreInputError::new_err(msg),
        CoreError::Malformed(msg) => CoreMalformedError::new_err(msg),
    }
}

/// Version of the compiled core, to check the extension matches the Python package.
#[pyfunction]
fn core_version() -> &'static str {
    env!("CARGO_PKG_VERSION")
}

mod backtest_py;
mod batch_py;
mod book_py;
mod costs_py;
mod expr_py;
mod sim_matching_py;
mod sim_py;
mod vmd_py;
mod window_py;

#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("CoreInputError", m.py().get_type::<CoreInputError>())?;
    m.add(
        "CoreMalformedError",
        m.py().get_type::<CoreMalformedError>(),
    )?;
    m.add_function(wrap_pyfunction!(core_version, m)?)?;
    book_py::register(m)?;
    vmd_py::register(m)?;
    window_py::register(m)?;
    backtest_py::register(m)?;
    costs_py::register(m)?;
    expr_py::register(m)?;
    batch_py::register(m)?;
    sim_matching_py::register(m)?;
    sim_py::register(m)?;
    Ok(())
}

#[allow(dead_code)]
fn _assert_to_py_used() -> fn(CoreError) -> PyErr {
    to_py
}
