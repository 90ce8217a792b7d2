//! Streaming VMD features: one point at a time, the same numbers as [`super::vmd_trailing`].

use super::trailing::{is_anchor, TrailingConfig, WindowWorker};
use crate::error::CoreResult;

/// Keeps the trailing window and decomposes it at the same anchors as the batch path.
pub struct VmdStream {
    cfg: TrailingConfig,
    /// Up to `2 * window` most recent samples; compacted when full so a window is contiguous.
    buffer: Vec<f64>,
    seen: usize,
    worker: WindowWorker,
    last: Vec<f64>,
    freq: Vec<f64>,
}

impl VmdStream {
    /// A stream for `cfg` (its `threads` is ignored: one window at a time).
    pub fn new(cfg: TrailingConfig) -> CoreResult<Self> {
        cfg.validate()?;
        let k = cfg.params.k;
        Ok(Self {
            buffer: Vec::with_capacity(2 * cfg.window),
            seen: 0,
            worker: WindowWorker::new(cfg.window, k)?,
            last: vec![f64::NAN; k],
            freq: vec![f64::NAN; k],
            cfg,
        })
    }

    /// Add the newest sample; returns (mode last values, centre frequencies) for it.
    pub fn update(&mut self, x: f64) -> CoreResult<(&[f64], &[f64])> {
        let w = self.cfg.window;
        if self.buffer.len() == 2 * w {
            self.buffer.copy_within(w.., 0);
            self.buffer.truncate(w);
        }
        self.buffer.push(x);
        let t = self.seen;
        self.seen += 1;
        if is_anchor(t, w, self.cfg.stride) {
            let window = &self.buffer[self.buffer.len() - w..];
            self.worker
                .features(window, &self.cfg.params, &mut self.last, &mut self.freq)?;
        }
        Ok((&self.last, &self.freq))
    }

    /// Number of samples seen so far.
    pub fn seen(&self) -> usize {
        self.seen
    }
}
