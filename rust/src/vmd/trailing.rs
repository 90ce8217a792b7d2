//! VMD features over trailing windows: each mode's last value and centre frequency at every t.

use std::sync::Mutex;
use std::thread;

use super::{VmdParams, VmdPlanner};
use crate::error::{CoreError, CoreResult};

/// Windows handed to a thread at a time: small enough to balance uneven iteration counts.
const CHUNK_WINDOWS: usize = 8;

/// How trailing features are computed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TrailingConfig {
    /// Samples per window (even, at least `params.min_len()`).
    pub window: usize,
    /// Decompose every `stride`-th window, anchored at the start of the series.
    pub stride: usize,
    /// Decomposition parameters.
    pub params: VmdParams,
    /// Worker threads (results do not depend on it).
    pub threads: usize,
}

impl TrailingConfig {
    /// Reject configurations that cannot run.
    pub fn validate(&self) -> CoreResult<()> {
        self.params.validate()?;
        let bad = |msg: String| Err(CoreError::InvalidInput(msg));
        if !self.window.is_multiple_of(2) {
            // vmdpy would drop the newest sample of an odd window; refuse rather than lag.
            return bad(format!("vmd window must be even, got {}", self.window));
        }
        if self.window < self.params.min_len() {
            return bad(format!(
                "vmd window must be >= {} for k={}, got {}",
                self.params.min_len(),
                self.params.k,
                self.window
            ));
        }
        if self.stride < 1 {
            return bad("vmd stride must be >= 1".into());
        }
        if self.threads < 1 {
            return bad("vmd threads must be >= 1".into());
        }
        Ok(())
    }
}

/// Trailing features, row-major `rows × k`; modes sorted by centre frequency, ascending.
#[derive(Debug, Clone, PartialEq)]
pub struct TrailingFeatures {
    pub rows: usize,
    pub k: usize,
    /// Last value of each mode in the window ending at the row.
    pub last_values: Vec<f64>,
    /// Centre frequency of each mode, cycles per sample.
    pub centre_freqs: Vec<f64>,
}

/// True when the window ending at index `t` is decomposed (not held forward).
pub fn is_anchor(t: usize, window: usize, stride: usize) -> bool {
    t + 1 >= window && (t + 1 - window).is_multiple_of(stride)
}

/// One window's features; shared by the batch and streaming paths so they agree exactly.
pub struct WindowWorker {
    planner: VmdPlanner,
    mode: Vec<f64>,
    last: Vec<f64>,
    order: Vec<usize>,
}

impl WindowWorker {
    /// Workspace for windows of even length `window` and `k` modes.
    pub fn new(window: usize, k: usize) -> CoreResult<Self> {
        Ok(Self {
            planner: VmdPlanner::new(window, k)?,
            mode: vec![0.0; window],
            last: vec![0.0; k],
            order: (0..k).collect(),
        })
    }

    /// Write each mode's last value and centre frequency (sorted by frequency) for `window`.
    ///
    /// A window holding any non-finite value gives NaN for every output.
    pub fn features(
        &mut self,
        window: &[f64],
        params: &VmdParams,
        last_out: &mut [f64],
        freq_out: &mut [f64],
    ) -> CoreResult<()> {
        if window.iter().any(|x| !x.is_finite()) {
            last_out.fill(f64::NAN);
            freq_out.fill(f64::NAN);
            return Ok(());
        }
        self.planner.run(window, params)?;
        for m in 0..params.k {
            self.planner.mode_into(m, &mut self.mode);
            self.last[m] = self.mode[window.len() - 1];
        }
        let omega = self.planner.omega();
        self.order.clear();
        self.order.extend(0..params.k);
        self.order.sort_by(|&a, &b| omega[a].total_cmp(&omega[b]));
        for (i, &m) in self.order.iter().enumerate() {
            last_out[i] = self.last[m];
            freq_out[i] = omega[m];
        }
        Ok(())
    }
}

/// Features of every trailing window of `series`; non-anchor rows hold the latest anchor's
/// values, rows before the first full window are NaN.
pub fn vmd_trailing(series: &[f64], cfg: &TrailingConfig) -> CoreResult<TrailingFeatures> {
    cfg.validate()?;
    let k = cfg.params.k;
    let anchors: Vec<usize> = (cfg.window.saturating_sub(1)..series.len())
        .step_by(cfg.stride)
        .collect();
    let mut anchor_last = vec![f64::NAN; anchors.len() * k];
    let mut anchor_freq = vec![f64::NAN; anchors.len() * k];
    compute_anchors(series, cfg, &anchors, &mut anchor_last, &mut anchor_freq)?;
    let rows = series.len();
    let mut last_values = vec![f64::NAN; rows * k];
    let mut centre_freqs = vec![f64::NAN; rows * k];
    for t in cfg.window.saturating_sub(1)..rows {
        let a = (t + 1 - cfg.window) / cfg.stride;
        last_values[t * k..(t + 1) * k].copy_from_slice(&anchor_last[a * k..(a + 1) * k]);
        centre_freqs[t * k..(t + 1) * k].copy_from_slice(&anchor_freq[a * k..(a + 1) * k]);
    }
    Ok(TrailingFeatures {
        rows,
        k,
        last_values,
        centre_freqs,
    })
}

/// Decompose the anchor windows on `cfg.threads` threads, handing out chunks on demand.
fn compute_anchors(
    series: &[f64],
    cfg: &TrailingConfig,
    anchors: &[usize],
    last: &mut [f64],
    freq: &mut [f64],
) -> CoreResult<()> {
    if anchors.is_empty() {
        return Ok(());
    }
    let k = cfg.params.k;
    let span = CHUNK_WINDOWS * k;
    let chunks = last
        .chunks_mut(span)
        .zip(freq.chunks_mut(span))
        .zip(anchors.chunks(CHUNK_WINDOWS));
    let work = Mutex::new(chunks);
    let n_chunks = anchors.len().div_ceil(CHUNK_WINDOWS);
    let threads = cfg.threads.min(n_chunks).max(1);
    let run_worker = || -> CoreResult<()> {
        let mut worker = WindowWorker::new(cfg.window, k)?;
        loop {
            let next = work.lock().map_err(|_| poisoned())?.next();
            let Some(((last_c, freq_c), anchor_c)) = next else {
                return Ok(());
            };
            for (i, &t) in anchor_c.iter().enumerate() {
                let window = &series[t + 1 - cfg.window..=t];
                let out = i * k..(i + 1) * k;
                worker.features(
                    window,
                    &cfg.params,
                    &mut last_c[out.clone()],
                    &mut freq_c[out],
                )?;
            }
        }
    };
    if threads == 1 {
        return run_worker();
    }
    thread::scope(|s| {
        let handles: Vec<_> = (0..threads).map(|_| s.spawn(run_worker)).collect();
        handles
            .into_iter()
            .try_for_each(|h| h.join().unwrap_or_else(|_| Err(poisoned())))
    })
}

fn poisoned() -> CoreError {
    CoreError::InvalidInput("a vmd worker thread panicked".into())
}
