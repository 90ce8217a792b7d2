use numpy::{IntoPyArray, PyReadonlyArray1};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict};

use super::{to_py, CoreInputError};
use crate::book::{self, BookFormat, BookRows, OrderBook, RowBuffer};

/// Level-row columns in `BOOK_COLUMNS` order.
type RowArrays<'py> = (
    PyReadonlyArray1<'py, i64>,
    PyReadonlyArray1<'py, i64>,
    PyReadonlyArray1<'py, i64>,
    PyReadonlyArray1<'py, i64>,
    PyReadonlyArray1<'py, f64>,
    PyReadonlyArray1<'py, f64>,
    PyReadonlyArray1<'py, i8>,
    PyReadonlyArray1<'py, u8>,
);

fn slice<'a, T: numpy::Element>(a: &'a PyReadonlyArray1<'_, T>, name: &str) -> PyResult<&'a [T]> {
    a.as_slice()
        .map_err(|_| CoreInputError::new_err(format!("{name} must be C-contiguous")))
}

fn rows<'a>(r: &'a RowArrays<'_>) -> PyResult<BookRows<'a>> {
    Ok(BookRows {
        exch_ts: slice(&r.0, "exch_ts")?,
        local_ts: slice(&r.1, "local_ts")?,
        update_id: slice(&r.2, "update_id")?,
        prev_update_id: slice(&r.3, "prev_update_id")?,
        price: slice(&r.4, "price")?,
        qty: slice(&r.5, "qty")?,
        side: slice(&r.6, "side")?,
        flags: slice(&r.7, "flags")?,
    })
}

fn message_slices<'a>(messages: &'a [Bound<'_, PyBytes>]) -> Vec<&'a [u8]> {
    messages.iter().map(|m| m.as_bytes()).collect()
}

fn flat(levels: Vec<(f64, f64)>) -> Vec<f64> {
    levels.into_iter().flat_map(|(p, q)| [p, q]).collect()
}

/// The Rust L2 book; `nexusforge.market.book.OrderBook` is its Python face.
#[pyclass(name = "OrderBook", module = "nexusforge._core")]
pub struct PyOrderBook {
    inner: OrderBook,
}

#[pymethods]
impl PyOrderBook {
    #[new]
    fn new(tick_size: f64) -> PyResult<Self> {
        Ok(Self {
            inner: OrderBook::new(tick_size).map_err(to_py)?,
        })
    }

    fn apply_rows(&mut self, py: Python<'_>, cols: RowArrays<'_>) -> PyResult<()> {
        let r = rows(&cols)?;
        let inner = &mut self.inner;
        py.detach(|| inner.apply_rows(&r)).map_err(to_py)
    }

    #[pyo3(signature = (messages, fmt, local_ts=None))]
    fn apply_json(
        &mut self,
        py: Python<'_>,
        messages: Vec<Bound<'_, PyBytes>>,
        fmt: &str,
        local_ts: Option<PyReadonlyArray1<'_, i64>>,
    ) -> PyResult<usize> {
        let format = BookFormat::parse(fmt).map_err(to_py)?;
        let msgs = message_slices(&messages);
        let local = local_ts
            .as_ref()
            .map(|a| slice(a, "local_ts"))
            .transpose()?;
        let inner = &mut self.inner;
        py.detach(|| inner.apply_json(&msgs, format, local))
            .map_err(to_py)
    }

    /// Like `apply_json` on one buffer of newline-separated messages (one crossing).
    #[pyo3(signature = (data, fmt, local_ts=None))]
    fn apply_json_lines(
        &mut self,
        py: Python<'_>,
        data: &[u8],
        fmt: &str,
        local_ts: Option<PyReadonlyArray1<'_, i64>>,
    ) -> PyResult<usize> {
        let format = BookFormat::parse(fmt).map_err(to_py)?;
        let local = local_ts
            .as_ref()
            .map(|a| slice(a, "local_ts"))
            .transpose()?;
        let inner = &mut self.inner;
        py.detach(|| inner.apply_json(&book::json::split_lines(data), format, local))
            .map_err(to_py)
    }

    fn best_bid(&self) -> Option<(f64, f64)> {
        self.inner.best_bid()
    }

    fn best_ask(&self) -> Option<(f64, f64)> {
        self.inner.best_ask()
    }

    fn mid(&self) -> Option<f64> {
        self.inner.mid()
    }

    fn microprice(&self) -> Option<f64> {
        self.inner.microprice()
    }

    fn spread(&self) -> Option<f64> {
        self.inner.spread()
    }

    /// Top `n` levels per side as flat [price, qty, price, qty, ...] arrays.
    fn depth<'py>(&self, py: Python<'py>, n: usize) -> PyResult<Bound<'py, PyAny>> {
        let (b, a) = self.inner.depth(n);
        let out = (flat(b).into_pyarray(py), flat(a).into_pyarray(py));
        Ok(out.into_pyobject(py)?.into_any())
    }

    fn cost_to_buy(&self, qty: f64) -> PyResult<(f64, f64, f64)> {
        let f = self.inner.cost_to_buy(qty).map_err(to_py)?;
        Ok((f.avg_price, f.filled_qty, f.notional))
    }

    fn cost_to_sell(&self, qty: f64) -> PyResult<(f64, f64, f64)> {
        let f = self.inner.cost_to_sell(qty).map_err(to_py)?;
        Ok((f.avg_price, f.filled_qty, f.notional))
    }

    #[getter]
    fn is_valid(&self) -> bool {
        self.inner.is_valid()
    }

    #[getter]
    fn last_update_id(&self) -> i64 {
        self.inner.last_update_id()
    }

    #[getter]
    fn tick_size(&self) -> f64 {
        self.inner.tick_size()
    }

    fn stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let c = self.inner.counters();
        let d = PyDict::new(py);
        d.set_item("snapshots", c.snapshots)?;
        d.set_item("deltas_applied", c.deltas_applied)?;
        d.set_item("level_updates", c.level_updates)?;
        d.set_item("deltas_before_snapshot", c.deltas_before_snapshot)?;
        d.set_item("skipped_while_invalid", c.skipped_while_invalid)?;
        d.set_item("stale", c.stale)?;
        d.set_item("gaps", c.gaps)?;
        d.set_item("crossed", c.crossed)?;
        d.set_item("bad_messages", c.bad_messages)?;
        d.set_item("replayed", c.replayed)?;
        Ok(d)
    }
}

/// Replay rows through a fresh book; top `depth` levels after every message.
#[pyfunction]
fn replay_top_levels<'py>(
    py: Python<'py>,
    cols: RowArrays<'_>,
    tick_size: f64,
    depth: usize,
) -> PyResult<Bound<'py, PyDict>> {
    let r = rows(&cols)?;
    let top = py
        .detach(|| book::replay_top_levels(&r, tick_size, depth))
        .map_err(to_py)?;
    let d = PyDict::new(py);
    d.set_item("exch_ts", top.exch_ts.into_pyarray(py))?;
    d.set_item("local_ts", top.local_ts.into_pyarray(py))?;
    d.set_item("update_id", top.update_id.into_pyarray(py))?;
    d.set_item("valid", top.valid.into_pyarray(py))?;
    d.set_item("bid_px", top.bid_px.into_pyarray(py))?;
    d.set_item("bid_qty", top.bid_qty.into_pyarray(py))?;
    d.set_item("ask_px", top.ask_px.into_pyarray(py))?;
    d.set_item("ask_qty", top.ask_qty.into_pyarray(py))?;
    Ok(d)
}

/// Parse raw book messages into level-row columns, `seq`, per-message status, errors.
#[pyfunction]
#[pyo3(signature = (messages, fmt, local_ts=None))]
fn parse_book_messages<'py>(
    py: Python<'py>,
    messages: Vec<Bound<'py, PyBytes>>,
    fmt: &str,
    local_ts: Option<PyReadonlyArray1<'py, i64>>,
) -> PyResult<Bound<'py, PyDict>> {
    let format = BookFormat::parse(fmt).map_err(to_py)?;
    let msgs = message_slices(&messages);
    let local = local_ts
        .as_ref()
        .map(|a| slice(a, "local_ts"))
        .transpose()?;
    let parsed = py
        .detach(|| book::parse_book_messages(&msgs, format, local))
        .map_err(to_py)?;
    parsed_dict(py, parsed)
}

/// `parse_book_messages` on one buffer of newline-separated messages (one crossing).
#[pyfunction]
#[pyo3(signature = (data, fmt, local_ts=None))]
fn parse_book_lines<'py>(
    py: Python<'py>,
    data: &[u8],
    fmt: &str,
    local_ts: Option<PyReadonlyArray1<'py, i64>>,
) -> PyResult<Bound<'py, PyDict>> {
    let format = BookFormat::parse(fmt).map_err(to_py)?;
    let local = local_ts
        .as_ref()
        .map(|a| slice(a, "local_ts"))
        .transpose()?;
    let parsed = py
        .detach(|| book::parse_book_messages(&book::json::split_lines(data), format, local))
        .map_err(to_py)?;
    parsed_dict(py, parsed)
}

fn parsed_dict(py: Python<'_>, parsed: book::ParsedBook) -> PyResult<Bound<'_, PyDict>> {
    let RowBuffer {
        exch_ts,
        local_ts,
        update_id,
        prev_update_id,
        price,
        qty,
        side,
        flags,
        seq,
    } = parsed.rows;
    let d = PyDict::new(py);
    d.set_item("exch_ts", exch_ts.into_pyarray(py))?;
    d.set_item("local_ts", local_ts.into_pyarray(py))?;
    d.set_item("update_id", update_id.into_pyarray(py))?;
    d.set_item("prev_update_id", prev_update_id.into_pyarray(py))?;
    d.set_item("price", price.into_pyarray(py))?;
    d.set_item("qty", qty.into_pyarray(py))?;
    d.set_item("side", side.into_pyarray(py))?;
    d.set_item("flags", flags.into_pyarray(py))?;
    d.set_item("seq", seq.into_pyarray(py))?;
    d.set_item("status", parsed.summary.status.into_pyarray(py))?;
    d.set_item("errors", parsed.summary.errors)?;
    d.set_item("malformed", parsed.summary.malformed)?;
    Ok(d)
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyOrderBook>()?;
    m.add_function(wrap_pyfunction!(replay_top_levels, m)?)?;
    m.add_function(wrap_pyfunction!(parse_book_messages, m)?)?;
    m.add_function(wrap_pyfunction!(parse_book_lines, m)?)?;
    Ok(())
}
