use numpy::PyReadonlyArray1;
use pyo3::prelude::*;

use super::{to_py, CoreInputError};
use crate::costs::{CostModel, Depth, FillRequest, Liquidity, Side};

/// (bid_px, bid_qty, ask_px, ask_qty), best level first.
type DepthArrays<'py> = (
    PyReadonlyArray1<'py, f64>,
    PyReadonlyArray1<'py, f64>,
    PyReadonlyArray1<'py, f64>,
    PyReadonlyArray1<'py, f64>,
);

/// (price, notional, fee, spread, slippage, impact_temp, impact_perm, book_short_qty).
type FillTuple = (f64, f64, f64, f64, f64, f64, f64, f64);

fn slice<'a>(arr: &'a PyReadonlyArray1<'_, f64>, name: &str) -> PyResult<&'a [f64]> {
    arr.as_slice()
        .map_err(|_| CoreInputError::new_err(format!("{name} must be C-contiguous")))
}

/// The Rust cost model (rust/src/costs.rs); `nexusforge.market.costs` is the Python twin.
#[pyclass(name = "CostModelCore", frozen)]
pub struct PyCostModel {
    pub(super) inner: CostModel,
}

#[pymethods]
impl PyCostModel {
    #[new]
    fn new(
        maker_fee: f64,
        taker_fee: f64,
        impact_eta: f64,
        impact_gamma: f64,
        latency_bars: u32,
        latency_ms: f64,
    ) -> PyResult<Self> {
        let inner = CostModel {
            maker_fee,
            taker_fee,
            impact_eta,
            impact_gamma,
            latency_bars,
            latency_ms,
        };
        inner.validate().map_err(to_py)?;
        Ok(PyCostModel { inner })
    }

    /// Price one fill; side is +1 (buy) or -1 (sell).
    #[pyo3(signature = (side, qty, mid, best_bid, best_ask, depth, sigma, volume, maker))]
    #[allow(clippy::too_many_arguments)]
    fn price_fill(
        &self,
        side: i8,
        qty: f64,
        mid: f64,
        best_bid: f64,
        best_ask: f64,
        depth: Option<DepthArrays<'_>>,
        sigma: f64,
        volume: f64,
        maker: bool,
    ) -> PyResult<FillTuple> {
        let side = match side {
            1 => Side::Buy,
            -1 => Side::Sell,
            other => {
                return Err(CoreInputError::new_err(format!(
                    "side must be 1 or -1, got {other}"
                )))
            }
        };
        let depth = match &depth {
            None => None,
            Some((bp, bq, ap, aq)) => Some(Depth {
                bid_px: slice(bp, "bid_px")?,
                bid_qty: slice(bq, "bid_qty")?,
                ask_px: slice(ap, "ask_px")?,
                ask_qty: slice(aq, "ask_qty")?,
            }),
        };
        let req = FillRequest {
            side,
            qty,
            mid,
            best_bid,
            best_ask,
            depth,
            sigma,
            volume,
            liquidity: if maker {
                Liquidity::Maker
            } else {
                Liquidity::Taker
            },
        };
        let c = self.inner.price_fill(&req).map_err(to_py)?;
        Ok((
            c.price,
            c.notional,
            c.fee,
            c.spread,
            c.slippage,
            c.impact_temp,
            c.impact_perm,
            c.book_short_qty,
        ))
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyCostModel>()?;
    Ok(())
}
