//! NexusForge core. Plain Rust modules hold the hot loops; this file is the only place that
//! knows about Python (behind the `python` feature, which maturin enables).

pub mod error;

#[cfg(feature = "python")]
mod bindings {
    use pyo3::create_exception;
    use pyo3::exceptions::PyValueError;
    use pyo3::prelude::*;

    use crate::error::CoreError;

    create_exception!(_core, CoreInputError, PyValueError, "Invalid input to the Rust core.");
    create_exception!(_core, CoreMalformedError, PyValueError, "A message the core could not parse.");

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

    // ---- book bindings (rust/src/book) ----

    // ---- vmd bindings (rust/src/vmd.rs) ----

    #[pymodule]
    fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
        m.add("CoreInputError", m.py().get_type::<CoreInputError>())?;
        m.add("CoreMalformedError", m.py().get_type::<CoreMalformedError>())?;
        m.add_function(wrap_pyfunction!(core_version, m)?)?;
        // ---- register book ----
        // ---- register vmd ----
        Ok(())
    }

    #[allow(dead_code)]
    fn _assert_to_py_used() -> fn(CoreError) -> PyErr {
        to_py
    }
}
