//! The matching engine and its L2 publisher (`crate::sim::matching`); the Python face is
//! `nexusforge.forge.sim.engine`.

use numpy::{IntoPyArray, PyArray1, PyReadonlyArray1};
use pyo3::prelude::*;
use pyo3::types::PyDict;

use super::{to_py, CoreInputError};
use crate::sim::matching::{
    self as m, EngineConfig, Event, EventColumns, L2Publisher, L2Update, MatchingEngine, NewOrder,
    OpArrays, OrderKind, Side, StpMode,
};

/// (agent, client_id, side, price, qty, leaves, tif code, reduce_only, created_ts, priority).
type OrderTuple = (u32, u64, i8, i64, i64, i64, u8, bool, i64, u64);
/// (snapshot, u, seq, ts, bids, asks) with levels as (price ticks, lots), best first.
type UpdateTuple = (bool, u64, u64, i64, Vec<(i64, i64)>, Vec<(i64, i64)>);
type Col<'py, T> = PyReadonlyArray1<'py, T>;

fn slice<'a, T: numpy::Element>(a: &'a Col<'_, T>, name: &str) -> PyResult<&'a [T]> {
    a.as_slice()
        .map_err(|_| CoreInputError::new_err(format!("{name} must be C-contiguous")))
}

fn side_of(side: i8) -> PyResult<Side> {
    match side {
        1 => Ok(Side::Buy),
        -1 => Ok(Side::Sell),
        other => Err(CoreInputError::new_err(format!(
            "side must be 1 or -1, got {other}"
        ))),
    }
}

fn stp_of(name: &str) -> PyResult<StpMode> {
    match name {
        "cancel_taker" => Ok(StpMode::CancelTaker),
        "cancel_maker" => Ok(StpMode::CancelMaker),
        "cancel_both" => Ok(StpMode::CancelBoth),
        other => Err(CoreInputError::new_err(format!(
            "stp must be cancel_taker, cancel_maker or cancel_both, got {other:?}"
        ))),
    }
}

fn kind_of(tif: &str, price: Option<i64>) -> PyResult<OrderKind> {
    let code = m::TIF_NAMES.iter().position(|n| *n == tif).ok_or_else(|| {
        CoreInputError::new_err(format!(
            "tif must be one of {:?}, got {tif:?}",
            m::TIF_NAMES
        ))
    })?;
    match (m::tif_of(code as u8), price) {
        (None, _) => Ok(OrderKind::Market),
        (Some(tif), Some(price)) => Ok(OrderKind::Limit { price, tif }),
        (Some(_), None) => Err(CoreInputError::new_err("a limit order needs a price")),
    }
}

/// The engine with its own event buffer, drained by `take_events`.
#[pyclass(name = "MatchingEngineCore", module = "nexusforge._core")]
pub struct PyMatchingEngine {
    inner: MatchingEngine,
    events: Vec<Event>,
}

#[pymethods]
impl PyMatchingEngine {
    #[new]
    fn new(
        tick_size: f64,
        lot_size: f64,
        maker_fee: f64,
        taker_fee: f64,
        stp: &str,
    ) -> PyResult<Self> {
        let cfg = EngineConfig {
            tick_size,
            lot_size,
            maker_fee,
            taker_fee,
            stp: stp_of(stp)?,
        };
        Ok(Self {
            inner: MatchingEngine::new(cfg).map_err(to_py)?,
            events: Vec::new(),
        })
    }

    /// Submit an order; `tif` is one of the TIF names ("market" ignores `price`).
    #[pyo3(signature = (ts, agent, client_id, side, qty, price, tif, reduce_only))]
    #[allow(clippy::too_many_arguments)]
    fn submit(
        &mut self,
        ts: i64,
        agent: u32,
        client_id: u64,
        side: i8,
        qty: i64,
        price: Option<i64>,
        tif: &str,
        reduce_only: bool,
    ) -> PyResult<u64> {
        let order = NewOrder {
            agent,
            client_id,
            side: side_of(side)?,
            kind: kind_of(tif, price)?,
            qty,
            reduce_only,
        };
        Ok(self.inner.submit(ts, order, &mut self.events))
    }

    fn cancel(&mut self, ts: i64, agent: u32, order_id: u64) -> bool {
        self.inner.cancel(ts, agent, order_id, &mut self.events)
    }

    fn cancel_all(&mut self, ts: i64, agent: u32) -> usize {
        self.inner.cancel_all(ts, agent, &mut self.events)
    }

    #[pyo3(signature = (ts, agent, order_id, qty, price))]
    fn amend(
        &mut self,
        ts: i64,
        agent: u32,
        order_id: u64,
        qty: Option<i64>,
        price: Option<i64>,
    ) -> bool {
        self.inner
            .amend(ts, agent, order_id, qty, price, &mut self.events)
    }

    /// Apply request arrays in one Rust loop (GIL released): (ops, events, trades).
    #[pyo3(signature = (op, ts, agent, side, price, qty, tif, target, keep_events))]
    #[allow(clippy::too_many_arguments)]
    fn run_ops(
        &mut self,
        py: Python<'_>,
        op: Col<'_, u8>,
        ts: Col<'_, i64>,
        agent: Col<'_, u32>,
        side: Col<'_, i8>,
        price: Col<'_, i64>,
        qty: Col<'_, i64>,
        tif: Col<'_, u8>,
        target: Col<'_, u64>,
        keep_events: bool,
    ) -> PyResult<(u64, u64, u64)> {
        let arrays = OpArrays {
            op: slice(&op, "op")?,
            ts: slice(&ts, "ts")?,
            agent: slice(&agent, "agent")?,
            side: slice(&side, "side")?,
            price: slice(&price, "price")?,
            qty: slice(&qty, "qty")?,
            tif: slice(&tif, "tif")?,
            target: slice(&target, "target")?,
        };
        let (engine, events) = (&mut self.inner, &mut self.events);
        let keep = keep_events.then_some(events);
        let c = py
            .detach(|| m::run_ops(engine, &arrays, keep))
            .map_err(to_py)?;
        Ok((c.ops, c.events, c.trades))
    }

    /// Drain the buffered events as columns (see `matching_codes` for the code columns).
    fn take_events<'py>(&mut self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let mut c = EventColumns::default();
        c.extend(&self.events);
        self.events.clear();
        let d = PyDict::new(py);
        d.set_item("kind", c.kind.into_pyarray(py))?;
        d.set_item("ts", c.ts.into_pyarray(py))?;
        d.set_item("order", c.order.into_pyarray(py))?;
        d.set_item("agent", c.agent.into_pyarray(py))?;
        d.set_item("client_id", c.client_id.into_pyarray(py))?;
        d.set_item("side", c.side.into_pyarray(py))?;
        d.set_item("price", c.price.into_pyarray(py))?;
        d.set_item("qty", c.qty.into_pyarray(py))?;
        d.set_item("leaves", c.leaves.into_pyarray(py))?;
        d.set_item("maker_order", c.maker_order.into_pyarray(py))?;
        d.set_item("maker_agent", c.maker_agent.into_pyarray(py))?;
        d.set_item("maker_leaves", c.maker_leaves.into_pyarray(py))?;
        d.set_item("maker_fee", c.maker_fee.into_pyarray(py))?;
        d.set_item("taker_fee", c.taker_fee.into_pyarray(py))?;
        d.set_item("code", c.code.into_pyarray(py))?;
        d.set_item("action", c.action.into_pyarray(py))?;
        Ok(d)
    }

    fn pending_events(&self) -> usize {
        self.events.len()
    }

    fn best_bid(&self) -> Option<(i64, i64)> {
        self.inner.best_bid()
    }

    fn best_ask(&self) -> Option<(i64, i64)> {
        self.inner.best_ask()
    }

    /// Top `levels` of one side, best first: (prices in ticks, lots).
    #[allow(clippy::type_complexity)]
    fn depth<'py>(
        &self,
        py: Python<'py>,
        side: i8,
        levels: usize,
    ) -> PyResult<(Bound<'py, PyArray1<i64>>, Bound<'py, PyArray1<i64>>)> {
        let mut v = Vec::new();
        self.inner.depth(side_of(side)?, levels, &mut v);
        let (p, q): (Vec<i64>, Vec<i64>) = v.into_iter().unzip();
        Ok((p.into_pyarray(py), q.into_pyarray(py)))
    }

    fn order(&self, order_id: u64) -> Option<OrderTuple> {
        self.inner.order(order_id).map(|o| {
            (
                o.agent,
                o.client_id,
                o.side.sign() as i8,
                o.price,
                o.qty,
                o.leaves,
                m::tif_code(Some(o.tif)),
                o.reduce_only,
                o.created_ts,
                o.priority,
            )
        })
    }

    /// Ids of the agent's resting orders, newest first.
    fn open_orders(&self, agent: u32) -> Vec<u64> {
        self.inner.open_orders(agent).map(|o| o.id).collect()
    }

    fn position(&self, agent: u32) -> i64 {
        self.inner.position(agent)
    }

    fn seq(&self) -> u64 {
        self.inner.seq()
    }

    fn order_count(&self) -> usize {
        self.inner.order_count()
    }

    fn level_count(&self, side: i8) -> PyResult<usize> {
        Ok(self.inner.level_count(side_of(side)?))
    }
}

fn update_tuple(u: L2Update) -> UpdateTuple {
    (u.snapshot, u.u, u.seq, u.ts, u.bids, u.asks)
}

/// Bybit-shaped L2 updates of one engine's book (top `depth` levels).
#[pyclass(name = "L2PublisherCore", module = "nexusforge._core")]
pub struct PyL2Publisher {
    inner: L2Publisher,
}

#[pymethods]
impl PyL2Publisher {
    #[new]
    fn new(depth: usize) -> PyResult<Self> {
        Ok(Self {
            inner: L2Publisher::new(depth).map_err(to_py)?,
        })
    }

    /// First call: a snapshot; then a delta of what changed, or None.
    fn publish(&mut self, engine: &PyMatchingEngine, ts: i64) -> Option<UpdateTuple> {
        self.inner.publish(&engine.inner, ts).map(update_tuple)
    }

    fn publish_snapshot(&mut self, engine: &PyMatchingEngine, ts: i64) -> UpdateTuple {
        update_tuple(self.inner.publish_snapshot(&engine.inner, ts))
    }

    /// The book as last published, as a snapshot with the same `u`; None before any.
    fn current(&self, engine: &PyMatchingEngine, ts: i64) -> Option<UpdateTuple> {
        self.inner.current(engine.inner.seq(), ts).map(update_tuple)
    }

    fn depth(&self) -> usize {
        self.inner.depth()
    }
}

/// Names behind the code columns of `take_events`, by column.
#[pyfunction]
fn matching_codes() -> Vec<(&'static str, Vec<&'static str>)> {
    vec![
        ("kind", m::KIND_NAMES.to_vec()),
        ("tif", m::TIF_NAMES.to_vec()),
        ("action", m::ACTION_NAMES.to_vec()),
        ("reject", m::REJECT_NAMES.to_vec()),
        ("cancel", m::CANCEL_NAMES.to_vec()),
    ]
}

pub fn register(md: &Bound<'_, PyModule>) -> PyResult<()> {
    md.add_class::<PyMatchingEngine>()?;
    md.add_class::<PyL2Publisher>()?;
    md.add_function(wrap_pyfunction!(matching_codes, md)?)?;
    Ok(())
}
