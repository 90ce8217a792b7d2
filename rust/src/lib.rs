//! NexusForge core. Plain Rust modules hold the hot loops; only `bindings/` (one file per area)
//! knows about Python, behind the `python` feature, which maturin enables.

pub mod backtest;
pub mod book;
pub mod costs;
pub mod error;
pub mod expr;
pub mod sim;
pub mod vmd;
pub mod window;

#[cfg(feature = "python")]
mod bindings;
