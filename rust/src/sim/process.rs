//! The fundamental (efficient) price: an Ornstein–Uhlenbeck log value around a drifting
//! anchor plus compound-Poisson jumps, drawn once on a fixed grid so informed agents can read
//! it ahead by their horizon and every reader sees the same path.

use rand_distr::{Distribution, Normal, Poisson, StandardNormal};
use rand_pcg::Pcg64Mcg;

use super::config::ProcessConfig;
use super::Ns;
use crate::error::{CoreError, CoreResult};

/// Most grid points a path may hold (a day at 1 ms); keeps a mistyped step from eating memory.
pub const MAX_POINTS: usize = 100_000_000;
const NS_PER_S: f64 = 1e9;
const S_PER_DAY: f64 = 86_400.0;

/// The fundamental value on a grid of `step_ns`, from time 0 to at least `horizon_ns`.
#[derive(Debug, Clone)]
pub struct FundamentalPath {
    step_ns: Ns,
    log_values: Vec<f64>,
    jumps: usize,
}

impl FundamentalPath {
    /// Draws the path for `[0, horizon_ns]`; `rng` is the process's own stream.
    pub fn generate(cfg: &ProcessConfig, horizon_ns: Ns, rng: &mut Pcg64Mcg) -> CoreResult<Self> {
        let step_ns = (cfg.step_ms * 1e6).round() as Ns;
        if step_ns <= 0 {
            return Err(CoreError::InvalidInput(
                "process.step_ms must be positive".into(),
            ));
        }
        let points = usize::try_from(horizon_ns.max(0) / step_ns + 2).unwrap_or(usize::MAX);
        if points > MAX_POINTS {
            return Err(CoreError::InvalidInput(format!(
                "process.step_ms too small for the duration: {points} points > {MAX_POINTS}"
            )));
        }
        let law = StepLaw::new(cfg, step_ns as f64 / NS_PER_S)?;
        let mut log_values = Vec::with_capacity(points);
        let anchor0 = cfg.initial_price.ln();
        // Track the deviation from the drifting anchor; the anchor itself moves linearly.
        let mut dev = 0.0;
        let mut jumps = 0;
        for i in 0..points {
            log_values.push(anchor0 + law.drift_per_step * i as f64 + dev);
            let (next, n) = law.step(dev, rng);
            dev = next;
            jumps += n;
        }
        Ok(Self {
            step_ns,
            log_values,
            jumps,
        })
    }

    /// The value at `ts` (the last grid point at or before it; clamped to the path's ends).
    pub fn value_at(&self, ts: Ns) -> f64 {
        self.log_value_at(ts).exp()
    }

    /// The log value at `ts`.
    pub fn log_value_at(&self, ts: Ns) -> f64 {
        let i = usize::try_from(ts.max(0) / self.step_ns).unwrap_or(usize::MAX);
        self.log_values[i.min(self.log_values.len() - 1)]
    }

    pub fn step_ns(&self) -> Ns {
        self.step_ns
    }

    pub fn len(&self) -> usize {
        self.log_values.len()
    }

    pub fn is_empty(&self) -> bool {
        self.log_values.is_empty()
    }

    /// Number of jumps drawn over the whole path.
    pub fn jumps(&self) -> usize {
        self.jumps
    }

    pub fn log_values(&self) -> &[f64] {
        &self.log_values
    }
}

/// One grid step of the exact OU transition, plus the jump count and sizes of that step.
struct StepLaw {
    decay: f64,
    noise_sd: f64,
    drift_per_step: f64,
    jumps: Option<Poisson<f64>>,
    jump_size: Normal<f64>,
}

impl StepLaw {
    fn new(cfg: &ProcessConfig, dt_s: f64) -> CoreResult<Self> {
        let sigma = cfg.vol_per_day / S_PER_DAY.sqrt();
        let kappa = cfg.mean_reversion_per_s;
        // Exact OU variance over dt; the kappa → 0 limit is Brownian motion (sigma² dt).
        let var = if kappa * dt_s > 1e-12 {
            sigma * sigma * (1.0 - (-2.0 * kappa * dt_s).exp()) / (2.0 * kappa)
        } else {
            sigma * sigma * dt_s
        };
        let lambda = cfg.jump_rate_per_hour / 3600.0 * dt_s;
        let jumps = if lambda > 0.0 {
            Some(Poisson::new(lambda).map_err(|e| bad(format!("process.jump_rate_per_hour: {e}")))?)
        } else {
            None
        };
        let jump_size = Normal::new(cfg.jump_mean, cfg.jump_std)
            .map_err(|e| bad(format!("process.jump_std: {e}")))?;
        Ok(Self {
            decay: (-kappa * dt_s).exp(),
            noise_sd: var.sqrt(),
            drift_per_step: cfg.drift_per_day / S_PER_DAY * dt_s,
            jumps,
            jump_size,
        })
    }

    fn step(&self, dev: f64, rng: &mut Pcg64Mcg) -> (f64, usize) {
        let z: f64 = StandardNormal.sample(rng);
        let mut next = dev * self.decay + self.noise_sd * z;
        let n = self.jumps.as_ref().map_or(0, |p| p.sample(rng) as usize);
        for _ in 0..n {
            next += self.jump_size.sample(rng);
        }
        (next, n)
    }
}

fn bad(msg: String) -> CoreError {
    CoreError::InvalidInput(msg)
}
