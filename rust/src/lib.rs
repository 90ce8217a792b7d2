//! NexusForge core. Plain Rust modules hold the hot loops; this file is the only place that
//! knows about Python (behind the `python` feature, which maturin enables).

pub mod backtest;
pub mod book;
pub mod costs;
pub mod error;
pub mod expr;
pub mod vmd;
pub mod window;

#[cfg(feature = "python")]
mod bindings {
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

    // ---- book bindings (rust/src/book) ----
    mod book_py {
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

        fn slice<'a, T: numpy::Element>(
            a: &'a PyReadonlyArray1<'_, T>,
            name: &str,
        ) -> PyResult<&'a [T]> {
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
    }

    // ---- vmd bindings (rust/src/vmd.rs) ----

    mod vmd_py {
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
    }

    // ---- window bindings (rust/src/window.rs) ----
    mod window_py {
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
    }

    // ---- costs bindings (rust/src/costs.rs) ----
    mod costs_py {
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
    }

    // ---- backtest bindings (rust/src/backtest) ----
    mod backtest_py {
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

        /// Per-bar price data as Python hands it over.
        pub(super) struct MarketArgs<'py> {
            pub(super) close: Col<'py>,
            pub(super) bid: Option<Col<'py>>,
            pub(super) ask: Option<Col<'py>>,
            pub(super) funding: Option<Col<'py>>,
            pub(super) sigma: Option<Col<'py>>,
            pub(super) volume: Option<Col<'py>>,
            pub(super) depth: Option<DepthGrids<'py>>,
        }

        impl MarketArgs<'_> {
            pub(super) fn market(&self) -> PyResult<Market<'_>> {
                Ok(Market {
                    close: slice(&self.close, "close")?,
                    bid: opt(&self.bid, "bid")?,
                    ask: opt(&self.ask, "ask")?,
                    funding: opt(&self.funding, "funding")?,
                    sigma: opt(&self.sigma, "sigma")?,
                    volume: opt(&self.volume, "volume")?,
                    depth: levels(&self.depth)?,
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
        #[pyo3(signature = (target, close, bid, ask, funding, sigma, volume, depth, config,
            bars_per_year))]
        #[allow(clippy::too_many_arguments)]
        fn backtest_run<'py>(
            py: Python<'py>,
            target: Col<'py>,
            close: Col<'py>,
            bid: Option<Col<'py>>,
            ask: Option<Col<'py>>,
            funding: Option<Col<'py>>,
            sigma: Option<Col<'py>>,
            volume: Option<Col<'py>>,
            depth: Option<DepthGrids<'py>>,
            config: &PyBacktestConfig,
            bars_per_year: f64,
        ) -> PyResult<(Bound<'py, PyDict>, Bound<'py, PyArray1<f64>>)> {
            let args = MarketArgs {
                close,
                bid,
                ask,
                funding,
                sigma,
                volume,
                depth,
            };
            let m = args.market()?;
            let t = slice(&target, "target")?;
            let cfg = &config.inner;
            let (out, metrics) = py
                .detach(|| {
                    let out = backtest::run(t, &m, cfg)?;
                    let metrics =
                        backtest::compute_metrics(&out, cfg.initial_capital, bars_per_year)?;
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
        #[pyo3(signature = (targets, close, bid, ask, funding, sigma, volume, depth, config,
            bars_per_year, threads))]
        #[allow(clippy::too_many_arguments)]
        fn backtest_batch<'py>(
            py: Python<'py>,
            targets: Grid<'py>,
            close: Col<'py>,
            bid: Option<Col<'py>>,
            ask: Option<Col<'py>>,
            funding: Option<Col<'py>>,
            sigma: Option<Col<'py>>,
            volume: Option<Col<'py>>,
            depth: Option<DepthGrids<'py>>,
            config: &PyBacktestConfig,
            bars_per_year: f64,
            threads: usize,
        ) -> PyResult<Bound<'py, PyArray2<f64>>> {
            let args = MarketArgs {
                close,
                bid,
                ask,
                funding,
                sigma,
                volume,
                depth,
            };
            let m = args.market()?;
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
    }

    // ---- expr bindings (rust/src/expr) ----
    mod expr_py {
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
    }

    // ---- batch bindings (rust/src/backtest/exprs.rs) ----
    mod batch_py {
        use numpy::PyArray2;
        use pyo3::prelude::*;

        use super::backtest_py::{metrics_table, Col, DepthGrids, MarketArgs, PyBacktestConfig};
        use super::expr_py::PyExprProgram;
        use super::{to_py, CoreInputError};
        use crate::backtest;
        use crate::expr::Program;

        /// Evaluates each program on the shared columns and backtests it: metrics, one row each.
        #[pyfunction]
        #[pyo3(signature = (programs, columns, close, bid, ask, funding, sigma, volume, depth,
            config, bars_per_year, threads))]
        #[allow(clippy::too_many_arguments)]
        fn expr_backtest_batch<'py>(
            py: Python<'py>,
            programs: Vec<PyRef<'py, PyExprProgram>>,
            columns: Vec<Col<'py>>,
            close: Col<'py>,
            bid: Option<Col<'py>>,
            ask: Option<Col<'py>>,
            funding: Option<Col<'py>>,
            sigma: Option<Col<'py>>,
            volume: Option<Col<'py>>,
            depth: Option<DepthGrids<'py>>,
            config: &PyBacktestConfig,
            bars_per_year: f64,
            threads: usize,
        ) -> PyResult<Bound<'py, PyArray2<f64>>> {
            let args = MarketArgs {
                close,
                bid,
                ask,
                funding,
                sigma,
                volume,
                depth,
            };
            let m = args.market()?;
            let cols = columns
                .iter()
                .map(|c| {
                    c.as_slice()
                        .map_err(|_| CoreInputError::new_err("columns must be C-contiguous"))
                })
                .collect::<PyResult<Vec<&[f64]>>>()?;
            // Programs are a few hundred bytes: cloning frees them from the GIL-bound refs.
            let progs: Vec<Program> = programs.iter().map(|p| p.inner.clone()).collect();
            let cfg = &config.inner;
            let all = py
                .detach(|| {
                    backtest::evaluate_and_backtest_batch(
                        &progs,
                        &cols,
                        &m,
                        cfg,
                        bars_per_year,
                        threads,
                    )
                })
                .map_err(to_py)?;
            metrics_table(py, &all)
        }

        pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
            m.add_function(wrap_pyfunction!(expr_backtest_batch, m)?)?;
            Ok(())
        }
    }

    #[pymodule]
    fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
        m.add("CoreInputError", m.py().get_type::<CoreInputError>())?;
        m.add(
            "CoreMalformedError",
            m.py().get_type::<CoreMalformedError>(),
        )?;
        m.add_function(wrap_pyfunction!(core_version, m)?)?;
        // ---- register book ----
        book_py::register(m)?;
        // ---- register vmd ----
        vmd_py::register(m)?;
        // ---- register window ----
        window_py::register(m)?;
        // ---- register backtest ----
        backtest_py::register(m)?;
        // ---- register costs ----
        costs_py::register(m)?;
        // ---- register expr ----
        expr_py::register(m)?;
        // ---- register batch ----
        batch_py::register(m)?;
        Ok(())
    }

    #[allow(dead_code)]
    fn _assert_to_py_used() -> fn(CoreError) -> PyErr {
        to_py
    }
}
