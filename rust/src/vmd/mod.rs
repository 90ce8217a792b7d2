//! Variational Mode Decomposition (Dragomiretskiy & Zosso, 2014), computed the way the reference
//! Python implementation `vmdpy` does it, plus trailing-window features and a streaming form.
//!
//! Parity notes (what `vmdpy.VMD` does and we mirror on purpose):
//! - an odd-length signal loses its LAST sample before decomposition;
//! - the signal is mirror-extended by half its length on each side and only the positive half of
//!   its spectrum is updated (the negative half stays exactly zero, so we never store it);
//! - the loop runs while the update size exceeds `tol` and fewer than `max_iter - 1` updates ran;
//! - the returned modes and centre frequencies are those of the last-but-one iterate (vmdpy's
//!   0-based translation of the MATLAB code reads row `n - 1` after `n` updates).
//!
//! Unlike vmdpy we keep only two iterates, not the whole history.

mod planner;
mod stream;
mod sum;
mod trailing;

pub use planner::VmdPlanner;
pub use stream::VmdStream;
pub use trailing::{is_anchor, vmd_trailing, TrailingConfig, TrailingFeatures, WindowWorker};

use std::cell::RefCell;

use crate::error::{CoreError, CoreResult};

/// Shortest (even) signal we decompose: fewer points carry no usable spectrum.
pub const MIN_LEN: usize = 8;

/// How the centre frequencies start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Init {
    /// All centre frequencies start at 0 (vmdpy `init=0`).
    Zero,
    /// Centre frequencies start spread uniformly over [0, 0.5) (vmdpy `init=1`).
    Uniform,
}

impl Init {
    /// Map vmdpy's integer code; the random variant (2) is not supported.
    pub fn from_code(code: i64) -> CoreResult<Self> {
        match code {
            0 => Ok(Init::Zero),
            1 => Ok(Init::Uniform),
            other => Err(CoreError::InvalidInput(format!(
                "vmd init must be 0 (zero) or 1 (uniform), got {other}"
            ))),
        }
    }
}

/// Parameters of one decomposition.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct VmdParams {
    /// Number of modes.
    pub k: usize,
    /// Bandwidth penalty (data-fidelity balance); larger means narrower modes.
    pub alpha: f64,
    /// Dual ascent step; 0 lets the reconstruction absorb noise.
    pub tau: f64,
    /// Hold the first mode at zero frequency.
    pub dc: bool,
    /// Starting centre frequencies.
    pub init: Init,
    /// Convergence tolerance on the squared update size.
    pub tol: f64,
    /// Iteration cap as vmdpy counts it: at most `max_iter - 1` updates.
    pub max_iter: usize,
}

impl Default for VmdParams {
    fn default() -> Self {
        Self {
            k: 3,
            alpha: 2000.0,
            tau: 0.0,
            dc: false,
            init: Init::Uniform,
            tol: 1e-7,
            max_iter: 500,
        }
    }
}

impl VmdParams {
    /// Reject parameters the algorithm cannot run with.
    pub fn validate(&self) -> CoreResult<()> {
        let bad = |msg: String| Err(CoreError::InvalidInput(msg));
        if self.k < 1 {
            return bad("vmd k must be >= 1".into());
        }
        if !(self.alpha.is_finite() && self.alpha > 0.0) {
            return bad(format!(
                "vmd alpha must be finite and > 0, got {}",
                self.alpha
            ));
        }
        if !(self.tau.is_finite() && self.tau >= 0.0) {
            return bad(format!("vmd tau must be finite and >= 0, got {}", self.tau));
        }
        if !(self.tol.is_finite() && self.tol >= 0.0) {
            return bad(format!("vmd tol must be finite and >= 0, got {}", self.tol));
        }
        if self.max_iter < 2 {
            return bad(format!("vmd max_iter must be >= 2, got {}", self.max_iter));
        }
        Ok(())
    }

    /// Shortest even signal length these parameters accept.
    pub fn min_len(&self) -> usize {
        MIN_LEN.max(2 * self.k)
    }
}

/// Output of [`vmd`].
#[derive(Debug, Clone, PartialEq)]
pub struct VmdResult {
    /// `k` modes, each as long as the (even-trimmed) signal.
    pub modes: Vec<Vec<f64>>,
    /// Final centre frequencies, cycles per sample in [0, 0.5).
    pub omega: Vec<f64>,
    /// Number of ADMM updates run.
    pub iterations: usize,
}

/// Even length vmdpy decomposes for a signal of `len` samples (odd: drop the last).
pub fn even_len(len: usize) -> usize {
    len - len % 2
}

/// Decompose `signal` into `params.k` modes.
pub fn vmd(signal: &[f64], params: &VmdParams) -> CoreResult<VmdResult> {
    params.validate()?;
    let n = even_len(signal.len());
    if n < params.min_len() {
        return Err(CoreError::InvalidInput(format!(
            "vmd needs at least {} samples (even part) for k={}, got {}",
            params.min_len(),
            params.k,
            signal.len()
        )));
    }
    PLANNER.with(|cell| {
        let mut cached = cell.borrow_mut();
        if cached
            .as_ref()
            .is_none_or(|p| p.len() != n || p.k() != params.k)
        {
            *cached = Some(VmdPlanner::new(n, params.k)?);
        }
        let planner = cached.as_mut().expect("planner was just set");
        let iterations = planner.run(&signal[..n], params)?;
        let mut modes = vec![vec![0.0; n]; params.k];
        for (m, mode) in modes.iter_mut().enumerate() {
            planner.mode_into(m, mode);
        }
        Ok(VmdResult {
            modes,
            omega: planner.omega().to_vec(),
            iterations,
        })
    })
}

thread_local! {
    /// The last planner `vmd` used on this thread: repeated calls of one shape skip FFT planning.
    static PLANNER: RefCell<Option<VmdPlanner>> = const { RefCell::new(None) };
}

#[cfg(test)]
mod tests;
