//! The HF-ABM simulator: the matching engine here, the event kernel and agents beside it.

pub mod agents;
pub mod config;
pub mod kernel;
pub mod matching;
pub mod process;
pub mod queue;
pub mod run;
pub mod scenario;

/// Simulated time in nanoseconds since the start of a run.
pub type Ns = i64;
