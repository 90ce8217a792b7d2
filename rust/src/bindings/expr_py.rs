use numpy::{IntoPyArray, PyArray1, PyReadonlyArray1};
use pyo3::prelude::*;

use super::{to_py, CoreInputError};
use crate::expr::{self, Evaluator, Program};

fn as_slice<'a, T: numpy::Element>(
    a: &'a PyReadonlyArray1<'_, T>,
    what: &str,
) -> PyResult<&'a [T]> {
    a.as_slice()
        .map_err(|_| CoreInputError::new_err(format!("{what} must be C-contiguous")))
}

/// A checked, compiled expression (postfix nodes: opcode, int param, two float params).
#[pyclass(module = "nexusforge._core", name = "ExprProgram", frozen)]
pub(super) struct PyExprProgram {
    pub(super) inner: Program,
}

#[pymethods]
impl PyExprProgram {
    #[new]
    #[pyo3(signature = (ops, ints, a, b, n_columns))]
    fn new(
        ops: PyReadonlyArray1<'_, i64>,
        ints: PyReadonlyArray1<'_, i64>,
        a: PyReadonlyArray1<'_, f64>,
        b: PyReadonlyArray1<'_, f64>,
        n_columns: usize,
    ) -> PyResult<Self> {
        let inner = expr::compile(
            as_slice(&ops, "ops")?,
            as_slice(&ints, "ints")?,
            as_slice(&a, "a")?,
            as_slice(&b, "b")?,
            n_columns,
        )
        .map_err(to_py)?;
        Ok(Self { inner })
    }

    /// Positions in [-1, 1] for every row; columns are read in place, GIL released.
    #[pyo3(signature = (columns, rows, block_rows))]
    fn evaluate<'py>(
        &self,
        py: Python<'py>,
        columns: Vec<PyReadonlyArray1<'py, f64>>,
        rows: usize,
        block_rows: usize,
    ) -> PyResult<Bound<'py, PyArray1<f64>>> {
        let cols = columns
            .iter()
            .map(|c| as_slice(c, "column"))
            .collect::<PyResult<Vec<_>>>()?;
        let program = &self.inner;
        let out = py
            .detach(|| expr::evaluate(program, &cols, rows, block_rows))
            .map_err(to_py)?;
        Ok(out.into_pyarray(py))
    }

    /// Instructions in the flat program.
    #[getter]
    fn size(&self) -> usize {
        self.inner.instrs.len()
    }
}

/// Row-at-a-time evaluation with the same state updates as `ExprProgram.evaluate`.
#[pyclass(module = "nexusforge._core", name = "ExprStreamCore")]
struct PyExprStream {
    inner: Evaluator,
}

#[pymethods]
impl PyExprStream {
    #[new]
    fn new(program: &Bound<'_, PyExprProgram>) -> PyResult<Self> {
        let inner = Evaluator::new(program.get().inner.clone(), 1).map_err(to_py)?;
        Ok(Self { inner })
    }

    /// Position for the next row, given one value per column.
    fn update(&mut self, row: PyReadonlyArray1<'_, f64>) -> PyResult<f64> {
        self.inner.step(as_slice(&row, "row")?).map_err(to_py)
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyExprProgram>()?;
    m.add_class::<PyExprStream>()?;
    Ok(())
}
