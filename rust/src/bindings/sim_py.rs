//! The agent-based simulator (`crate::sim::run`): a run from a JSON config (and optionally a
//! compiled strategy), returned as dicts of numpy columns; the Python face is
//! `nexusforge.forge.sim`.

use numpy::IntoPyArray;
use pyo3::prelude::*;
use pyo3::types::PyDict;

use super::expr_py::PyExprProgram;
use super::{to_py, CoreInputError};
use crate::sim::agents::{AgentKind, FEATURE_COLUMNS};
use crate::sim::config::SimConfig;
use crate::sim::run::{self, SimOutput, EVENT_KINDS, EVENT_REASONS};
use crate::sim::scenario::{scenario, SCENARIOS};

fn parse_config(json: &str) -> PyResult<SimConfig> {
    let cfg: SimConfig = serde_json::from_str(json)
        .map_err(|e| CoreInputError::new_err(format!("simulator config: {e}")))?;
    cfg.validate().map_err(to_py)?;
    Ok(cfg)
}

/// The names of the built-in scenarios.
#[pyfunction]
fn sim_scenarios() -> Vec<&'static str> {
    SCENARIOS.to_vec()
}

/// A scenario's complete configuration as JSON (every key, with its value).
#[pyfunction]
fn sim_scenario_config(name: &str) -> PyResult<String> {
    let cfg = scenario(name).map_err(to_py)?;
    serde_json::to_string(&cfg).map_err(|e| CoreInputError::new_err(e.to_string()))
}

/// Checks a JSON config (keys and ranges) without running it.
#[pyfunction]
fn sim_check_config(config_json: &str) -> PyResult<()> {
    parse_config(config_json).map(|_| ())
}

/// (feature columns a strategy reads, agent kinds, event kinds, event reasons), by code.
#[pyfunction]
fn sim_codes() -> (
    Vec<&'static str>,
    Vec<&'static str>,
    Vec<&'static str>,
    Vec<&'static str>,
) {
    (
        FEATURE_COLUMNS.to_vec(),
        AgentKind::ALL.iter().map(|k| k.name()).collect(),
        EVENT_KINDS.to_vec(),
        EVENT_REASONS.to_vec(),
    )
}

/// Runs one simulation with the GIL released; tables come back as dicts of numpy columns.
#[pyfunction]
#[pyo3(signature = (config_json, program=None))]
fn sim_run<'py>(
    py: Python<'py>,
    config_json: &str,
    program: Option<&PyExprProgram>,
) -> PyResult<Bound<'py, PyDict>> {
    let cfg = parse_config(config_json)?;
    let prog = program.map(|p| p.inner.clone());
    let out = py.detach(|| run::run(&cfg, prog)).map_err(to_py)?;
    output_dict(py, out)
}

macro_rules! table {
    ($py:expr, $t:expr, $($f:ident),+) => {{
        let d = PyDict::new($py);
        $( d.set_item(stringify!($f), $t.$f.into_pyarray($py))?; )+
        d
    }};
}

fn output_dict(py: Python<'_>, out: SimOutput) -> PyResult<Bound<'_, PyDict>> {
    let d = PyDict::new(py);
    let e = out.events;
    d.set_item(
        "events",
        table!(py, e, ts, kind, agent, order, side, price, qty, reason),
    )?;
    let t = out.trades;
    d.set_item(
        "trades",
        table!(
            py,
            t,
            ts,
            price,
            qty,
            taker_side,
            maker_agent,
            taker_agent,
            maker_order,
            taker_order,
            maker_fee,
            taker_fee
        ),
    )?;
    let top = out.top;
    d.set_item(
        "top",
        table!(
            py,
            top,
            ts,
            bid,
            bid_qty,
            ask,
            ask_qty,
            last_trade,
            fundamental
        ),
    )?;
    let l2 = out.l2;
    d.set_item("l2", table!(py, l2, ts, side, level, price, qty))?;
    let m = out.mids;
    d.set_item("mids", table!(py, m, ts, mid, fundamental))?;
    let a = out.agents;
    d.set_item(
        "agents",
        table!(
            py,
            a,
            kind,
            position,
            cash,
            fees,
            volume,
            order_latency_ns,
            md_latency_ns
        ),
    )?;
    if let Some(s) = out.strategy {
        let sd = table!(py, s, ts, target, position, cash, fees, slippage, equity, mid);
        sd.set_item("fills", s.fills)?;
        sd.set_item("maker_fills", s.maker_fills)?;
        sd.set_item("traded_lots", s.traded_lots)?;
        sd.set_item("orders", s.orders)?;
        d.set_item("strategy", sd)?;
    }
    let st = out.stats;
    let stats = PyDict::new(py);
    stats.set_item("orders", st.orders)?;
    stats.set_item("cancels", st.cancels)?;
    stats.set_item("trades", st.trades)?;
    stats.set_item("rejects", st.rejects)?;
    stats.set_item("wakeups", st.wakeups)?;
    stats.set_item("md_deliveries", st.md_deliveries)?;
    stats.set_item("messages", st.messages())?;
    stats.set_item("final_mid", out.final_mid)?;
    stats.set_item("fundamental_jumps", out.fundamental_jumps)?;
    d.set_item("stats", stats)?;
    Ok(d)
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(sim_scenarios, m)?)?;
    m.add_function(wrap_pyfunction!(sim_scenario_config, m)?)?;
    m.add_function(wrap_pyfunction!(sim_check_config, m)?)?;
    m.add_function(wrap_pyfunction!(sim_codes, m)?)?;
    m.add_function(wrap_pyfunction!(sim_run, m)?)?;
    Ok(())
}
