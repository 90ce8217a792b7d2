//! The fundamental (efficient) price: an Ornstein–Uhlenbeck log value around a drifting
//! anchor, with optional stochastic volatility (the sum of two log-OU factors, a slow and a
//! fast one: volatility clusters at two time scales, whose mix gives |r| an autocorrelation
//! close to a power law), plus compound-Poisson jumps, drawn once on a fixed grid so informed
//! agents can read it ahead by their horizon and every reader sees the same path.

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
        let mut h = [0.0; 2];
        let mut jumps = 0;
        for i in 0..points {
            log_values.push(anchor0 + law.drift_per_step * i as f64 + dev);
            let (next, n) = law.step(dev, &mut h, rng);
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

/// One grid step of the exact OU transition, plus the jump count and sizes of that step,
/// with the diffusion scaled by exp(h₁ + h₂) for the two log-volatility OU factors.
struct StepLaw {
    decay: f64,
    noise_sd: f64,
    /// Per factor: the OU decay over one step and the step's noise standard deviation.
    vol_decay: [f64; 2],
    vol_noise_sd: [f64; 2],
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
            Some(
                Poisson::new(lambda)
                    .map_err(|e| bad(format!("process.jump_rate_per_hour: {e}")))?,
            )
        } else {
            None
        };
        let jump_size = Normal::new(cfg.jump_mean, cfg.jump_std)
            .map_err(|e| bad(format!("process.jump_std: {e}")))?;
        let factors = [
            (cfg.vol_of_vol, cfg.vol_reversion_per_s),
            (cfg.vol2_of_vol, cfg.vol2_reversion_per_s),
        ];
        let vol_decay = factors.map(|(_, kv)| (-kv * dt_s).exp());
        let vol_noise_sd = factors.map(|(sd, kv)| {
            let v = sd.powi(2) * (1.0 - (-2.0 * kv * dt_s).exp()) / (2.0 * kv);
            v.max(0.0).sqrt()
        });
        Ok(Self {
            decay: (-kappa * dt_s).exp(),
            noise_sd: var.sqrt(),
            vol_decay,
            vol_noise_sd,
            drift_per_step: cfg.drift_per_day / S_PER_DAY * dt_s,
            jumps,
            jump_size,
        })
    }

    fn step(&self, dev: f64, h: &mut [f64; 2], rng: &mut Pcg64Mcg) -> (f64, usize) {
        let z: f64 = StandardNormal.sample(rng);
        let mut next = dev * self.decay + self.noise_sd * (h[0] + h[1]).exp() * z;
        for (i, hi) in h.iter_mut().enumerate() {
            // A factor switched off draws nothing, so a config without it keeps its path.
            if self.vol_noise_sd[i] > 0.0 {
                let zv: f64 = StandardNormal.sample(rng);
                *hi = *hi * self.vol_decay[i] + self.vol_noise_sd[i] * zv;
            }
        }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::agents::agent_rng;

    fn cfg() -> ProcessConfig {
        ProcessConfig {
            initial_price: 100.0,
            vol_per_day: 0.0,
            drift_per_day: 0.0,
            mean_reversion_per_s: 0.0,
            vol_of_vol: 0.0,
            vol_reversion_per_s: 1.0,
            vol2_of_vol: 0.0,
            vol2_reversion_per_s: 1.0,
            jump_rate_per_hour: 0.0,
            jump_mean: 0.0,
            jump_std: 0.0,
            step_ms: 1_000.0,
        }
    }

    const DAY_NS: Ns = 86_400_000_000_000;

    #[test]
    fn without_noise_the_value_follows_the_drift() {
        let c = ProcessConfig {
            drift_per_day: 0.1,
            ..cfg()
        };
        let p = FundamentalPath::generate(&c, DAY_NS, &mut agent_rng(1, 0, 0)).unwrap();
        assert!((p.value_at(0) - 100.0).abs() < 1e-9);
        assert!((p.log_value_at(DAY_NS) - (100f64.ln() + 0.1)).abs() < 1e-9);
        assert_eq!(p.value_at(-5), p.value_at(0));
        assert_eq!(p.jumps(), 0);
    }

    #[test]
    fn diffusion_has_the_configured_variance_and_jumps_their_rate() {
        let c = ProcessConfig {
            vol_per_day: 0.02,
            jump_rate_per_hour: 2.0,
            jump_mean: 0.05,
            jump_std: 0.005,
            ..cfg()
        };
        let p = FundamentalPath::generate(&c, 10 * DAY_NS, &mut agent_rng(2, 0, 0)).unwrap();
        let x = p.log_values();
        let diffs: Vec<f64> = x.windows(2).map(|w| w[1] - w[0]).collect();
        // Jumps are ~0.05, diffusion steps ~7e-5: split them at 0.01.
        let small: Vec<f64> = diffs.iter().copied().filter(|d| d.abs() < 0.01).collect();
        let big = diffs.len() - small.len();
        let var = small.iter().map(|d| d * d).sum::<f64>() / small.len() as f64;
        let want = 0.02f64.powi(2) / 86_400.0;
        assert!((var / want - 1.0).abs() < 0.02, "{var} vs {want}");
        let expected_jumps = 2.0 * 24.0 * 10.0;
        assert!((p.jumps() as f64 - expected_jumps).abs() < 4.0 * expected_jumps.sqrt());
        assert!(
            big <= p.jumps() && big + 5 >= p.jumps(),
            "{big} vs {}",
            p.jumps()
        );
    }

    #[test]
    fn mean_reversion_pulls_back_to_the_anchor() {
        let c = ProcessConfig {
            vol_per_day: 0.05,
            mean_reversion_per_s: 0.01,
            ..cfg()
        };
        let p = FundamentalPath::generate(&c, DAY_NS, &mut agent_rng(3, 0, 0)).unwrap();
        let dev: Vec<f64> = p.log_values().iter().map(|x| x - 100f64.ln()).collect();
        // Stationary sd of OU: sigma / sqrt(2 kappa).
        let sd = (dev.iter().map(|d| d * d).sum::<f64>() / dev.len() as f64).sqrt();
        let want = 0.05 / 86_400f64.sqrt() / (2.0f64 * 0.01).sqrt();
        assert!((sd / want - 1.0).abs() < 0.25, "{sd} vs {want}");
    }

    /// Ratio of the largest to the smallest variance of increments over hour-long windows.
    fn variance_spread(p: &FundamentalPath) -> f64 {
        let d: Vec<f64> = p.log_values().windows(2).map(|w| w[1] - w[0]).collect();
        let vars: Vec<f64> = d
            .chunks_exact(3_600)
            .map(|c| c.iter().map(|x| x * x).sum::<f64>() / c.len() as f64)
            .collect();
        let max = vars.iter().copied().fold(f64::MIN, f64::max);
        let min = vars.iter().copied().fold(f64::MAX, f64::min);
        max / min
    }

    #[test]
    fn stochastic_volatility_makes_calm_and_wild_hours() {
        let constant = ProcessConfig {
            vol_per_day: 0.03,
            ..cfg()
        };
        let clustered = ProcessConfig {
            vol_of_vol: 0.03,
            vol_reversion_per_s: 1.0 / 3_600.0,
            ..constant.clone()
        };
        let a = FundamentalPath::generate(&constant, 2 * DAY_NS, &mut agent_rng(5, 0, 0)).unwrap();
        let b = FundamentalPath::generate(&clustered, 2 * DAY_NS, &mut agent_rng(5, 0, 0)).unwrap();
        assert!(variance_spread(&a) < 1.5, "{}", variance_spread(&a));
        assert!(variance_spread(&b) > 3.0, "{}", variance_spread(&b));
        // The second factor alone clusters too; switched off, it leaves the path as it was.
        let second = ProcessConfig {
            vol2_of_vol: 0.03,
            vol2_reversion_per_s: 1.0 / 3_600.0,
            ..constant.clone()
        };
        let c = FundamentalPath::generate(&second, 2 * DAY_NS, &mut agent_rng(5, 0, 0)).unwrap();
        assert!(variance_spread(&c) > 3.0, "{}", variance_spread(&c));
        let off = ProcessConfig {
            vol2_reversion_per_s: 0.5,
            ..clustered.clone()
        };
        let d = FundamentalPath::generate(&off, 2 * DAY_NS, &mut agent_rng(5, 0, 0)).unwrap();
        assert_eq!(b.log_values(), d.log_values());
    }

    #[test]
    fn same_seed_same_path_and_a_too_fine_grid_is_refused() {
        let c = ProcessConfig {
            vol_per_day: 0.02,
            ..cfg()
        };
        let a = FundamentalPath::generate(&c, DAY_NS, &mut agent_rng(4, 0, 0)).unwrap();
        let b = FundamentalPath::generate(&c, DAY_NS, &mut agent_rng(4, 0, 0)).unwrap();
        assert_eq!(a.log_values(), b.log_values());
        let fine = ProcessConfig {
            step_ms: 1e-6,
            ..cfg()
        };
        let err = FundamentalPath::generate(&fine, DAY_NS, &mut agent_rng(4, 0, 0)).unwrap_err();
        assert!(err.to_string().contains("step_ms"), "{err}");
    }
}
