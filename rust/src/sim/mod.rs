//! The HF-ABM simulator: the matching engine here, the event kernel and agents beside it.

pub mod matching;
