//! The VMD workspace: FFT plans and every buffer one decomposition needs, reused across calls.

use std::sync::Arc;

use rustfft::num_complex::Complex64;
use rustfft::{Fft, FftPlanner};

use super::sum::pairwise_sum;
use super::{Init, VmdParams, MIN_LEN};
use crate::error::{CoreError, CoreResult};

const ZERO: Complex64 = Complex64::new(0.0, 0.0);

/// Workspace for decomposing signals of one even length `n` into `k` modes.
///
/// Only the positive half of the mirrored spectrum (length `n`) is stored: vmdpy zeroes the
/// negative half of the input spectrum and its updates keep it exactly zero.
pub struct VmdPlanner {
    n: usize,
    k: usize,
    forward: Arc<dyn Fft<f64>>,
    inverse: Arc<dyn Fft<f64>>,
    scratch: Vec<Complex64>,
    /// Length-2n buffer for the mirrored signal and for mode reconstruction.
    buffer: Vec<Complex64>,
    /// Positive half of vmdpy's `freqs` grid.
    freqs: Vec<f64>,
    /// Positive half of the centred spectrum of the mirrored signal.
    f_hat: Vec<Complex64>,
    /// Mode spectra, mode-major (`m * n + j`): after `run`, `u_new` is the newest iterate and
    /// `u_old` the one before it (the one vmdpy returns).
    u_new: Vec<Complex64>,
    u_old: Vec<Complex64>,
    omega_new: Vec<f64>,
    omega_old: Vec<f64>,
    sum_uk: Vec<Complex64>,
    lambda: Vec<Complex64>,
    power: Vec<f64>,
    weighted: Vec<f64>,
}

impl VmdPlanner {
    /// Plan FFTs and allocate buffers for signals of even length `n` and `k` modes.
    pub fn new(n: usize, k: usize) -> CoreResult<Self> {
        if !n.is_multiple_of(2) || n < MIN_LEN.max(2 * k) || k < 1 {
            return Err(CoreError::InvalidInput(format!(
                "vmd planner needs k >= 1 and an even length >= max({MIN_LEN}, 2k); got n={n}, k={k}"
            )));
        }
        let t_len = 2 * n;
        let mut fft_planner = FftPlanner::new();
        let forward = fft_planner.plan_fft_forward(t_len);
        let inverse = fft_planner.plan_fft_inverse(t_len);
        let scratch_len = forward
            .get_inplace_scratch_len()
            .max(inverse.get_inplace_scratch_len());
        // vmdpy: t = arange(1, T+1) / T; freqs = t - 0.5 - 1/T (same operations, same order).
        let t_f = t_len as f64;
        let freqs = (n..t_len)
            .map(|i| ((i + 1) as f64 / t_f - 0.5) - 1.0 / t_f)
            .collect();
        Ok(Self {
            n,
            k,
            forward,
            inverse,
            scratch: vec![ZERO; scratch_len],
            buffer: vec![ZERO; t_len],
            freqs,
            f_hat: vec![ZERO; n],
            u_new: vec![ZERO; k * n],
            u_old: vec![ZERO; k * n],
            omega_new: vec![0.0; k],
            omega_old: vec![0.0; k],
            sum_uk: vec![ZERO; n],
            lambda: vec![ZERO; n],
            power: vec![0.0; n],
            weighted: vec![0.0; n],
        })
    }

    /// Signal length this planner decomposes.
    pub fn len(&self) -> usize {
        self.n
    }

    /// Always false: a planner is never built for an empty signal.
    pub fn is_empty(&self) -> bool {
        self.n == 0
    }

    /// Number of modes this planner decomposes into.
    pub fn k(&self) -> usize {
        self.k
    }

    /// Decompose `signal` (length `len()`, finite); returns the number of updates run.
    pub fn run(&mut self, signal: &[f64], params: &VmdParams) -> CoreResult<usize> {
        params.validate()?;
        if signal.len() != self.n || params.k != self.k {
            return Err(CoreError::InvalidInput(format!(
                "vmd planner is for n={}, k={}; got n={}, k={}",
                self.n,
                self.k,
                signal.len(),
                params.k
            )));
        }
        if let Some(i) = signal.iter().position(|x| !x.is_finite()) {
            return Err(CoreError::InvalidInput(format!(
                "vmd signal is not finite at index {i}"
            )));
        }
        self.load_spectrum(signal);
        self.reset(params);
        let tol = params.tol;
        let mut u_diff = tol + f64::EPSILON;
        let mut iterations = 0usize;
        while u_diff > tol && iterations < params.max_iter - 1 {
            // The newest iterate becomes the previous one; the update overwrites the older.
            std::mem::swap(&mut self.u_new, &mut self.u_old);
            std::mem::swap(&mut self.omega_new, &mut self.omega_old);
            u_diff = self.update(params);
            iterations += 1;
        }
        Ok(iterations)
    }

    /// Centre frequencies of the returned iterate, in mode order (not sorted).
    pub fn omega(&self) -> &[f64] {
        &self.omega_old
    }

    /// Write mode `m` of the returned iterate, in the time domain, into `out` (length `len()`).
    pub fn mode_into(&mut self, m: usize, out: &mut [f64]) {
        let n = self.n;
        assert!(
            m < self.k && out.len() == n,
            "mode_into: bad mode or buffer"
        );
        let up = &self.u_old[m * n..(m + 1) * n];
        // vmdpy builds the full spectrum by Hermitian mirroring (its index T/2 ends up as the
        // conjugate of itself), then ifftshift; this is that array written directly.
        let buf = &mut self.buffer;
        buf[0] = up[0].conj();
        buf[1..n].copy_from_slice(&up[1..n]);
        buf[n] = up[n - 1].conj();
        for i in 1..n {
            buf[n + i] = up[n - i].conj();
        }
        self.inverse.process_with_scratch(buf, &mut self.scratch);
        // numpy's ifft scales by 1/T; keep the middle half (the unmirrored signal).
        let scale = 1.0 / (2 * n) as f64;
        for (o, c) in out.iter_mut().zip(&buf[n / 2..n / 2 + n]) {
            *o = c.re * scale;
        }
    }

    /// FFT of the mirrored signal, keeping the positive half of the centred spectrum.
    fn load_spectrum(&mut self, signal: &[f64]) {
        let n = self.n;
        let half = n / 2;
        let buf = &mut self.buffer;
        for i in 0..half {
            buf[i] = Complex64::new(signal[half - 1 - i], 0.0);
            buf[half + n + i] = Complex64::new(signal[n - 1 - i], 0.0);
        }
        for (b, &x) in buf[half..half + n].iter_mut().zip(signal) {
            *b = Complex64::new(x, 0.0);
        }
        self.forward.process_with_scratch(buf, &mut self.scratch);
        // After fftshift, index T/2 + j holds raw bin j.
        self.f_hat.copy_from_slice(&buf[..n]);
    }

    /// Start state: zero spectra and duals, initial centre frequencies.
    fn reset(&mut self, params: &VmdParams) {
        self.u_new.fill(ZERO);
        self.u_old.fill(ZERO);
        self.sum_uk.fill(ZERO);
        self.lambda.fill(ZERO);
        let k = self.k;
        for (i, w) in self.omega_new.iter_mut().enumerate() {
            *w = match params.init {
                Init::Zero => 0.0,
                Init::Uniform => (0.5 / k as f64) * i as f64,
            };
        }
        if params.dc {
            self.omega_new[0] = 0.0;
        }
        self.omega_old.copy_from_slice(&self.omega_new);
    }

    /// One ADMM sweep, compiled for AVX2+FMA when the CPU has them.
    ///
    /// Rust never fuses or reorders float operations on its own, so both versions round
    /// identically; the fast one only runs the same loops on wider registers.
    fn update(&mut self, params: &VmdParams) -> f64 {
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
        {
            // SAFETY: the CPU supports the features `update_avx2` is compiled for.
            return unsafe { self.update_avx2(params) };
        }
        self.sweep(params)
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    fn update_avx2(&mut self, params: &VmdParams) -> f64 {
        self.sweep(params)
    }

    /// Every mode's Wiener-filter update and centre frequency, the dual step; returns the
    /// update size.
    #[inline(always)]
    fn sweep(&mut self, params: &VmdParams) -> f64 {
        let (n, k) = (self.n, self.k);
        for m in 0..k {
            // Accumulator of the other modes: newest of m-1 in, previous of m out.
            let (add, add_off) = if m == 0 {
                (&self.u_old, (k - 1) * n)
            } else {
                (&self.u_new, (m - 1) * n)
            };
            let add = &add[add_off..add_off + n];
            let sub = &self.u_old[m * n..(m + 1) * n];
            for ((s, &a), &b) in self.sum_uk.iter_mut().zip(add).zip(sub) {
                *s = (a + *s) - b;
            }
            let omega = self.omega_old[m];
            let alpha = params.alpha;
            let mode = &mut self.u_new[m * n..(m + 1) * n];
            let inputs = self.freqs.iter().zip(&self.f_hat).zip(&self.sum_uk);
            for ((u, ((&f, &fh), &s)), &l) in mode.iter_mut().zip(inputs).zip(&self.lambda) {
                let d = f - omega;
                // numpy divides a complex by a real as a multiplication by its reciprocal.
                let scl = 1.0 / (1.0 + alpha * (d * d));
                let num = (fh - s) - l * 0.5;
                *u = Complex64::new(num.re * scl, num.im * scl);
            }
            self.omega_new[m] = if params.dc && m == 0 {
                0.0
            } else {
                self.centre_frequency(m)
            };
        }
        if params.tau != 0.0 {
            self.dual_ascent(params.tau);
        }
        self.update_size()
    }

    /// Power-weighted mean frequency of mode `m`'s newest spectrum.
    #[inline(always)]
    fn centre_frequency(&mut self, m: usize) -> f64 {
        let n = self.n;
        let mode = &self.u_new[m * n..(m + 1) * n];
        for (((p, w), c), &f) in self
            .power
            .iter_mut()
            .zip(self.weighted.iter_mut())
            .zip(mode)
            .zip(&self.freqs)
        {
            // numpy squares |u| (a scaled hypot); re² + im² differs by about one rounding,
            // which keeps us within ~1e-15 of vmdpy and spares a division and a sqrt.
            *p = c.norm_sqr();
            *w = f * *p;
        }
        pairwise_sum(&self.weighted) / pairwise_sum(&self.power)
    }

    /// lambda += tau * (sum of modes - f_hat).
    #[inline(always)]
    fn dual_ascent(&mut self, tau: f64) {
        let n = self.n;
        for j in 0..n {
            let mut rest = Complex64::new(-0.0, -0.0);
            for m in 1..self.k {
                rest += self.u_new[m * n + j];
            }
            let total = self.u_new[j] + rest;
            self.lambda[j] += (total - self.f_hat[j]) * tau;
        }
    }

    /// vmdpy's convergence measure: eps + sum over modes of |u_new - u_old|^2 / T.
    ///
    /// Summed in eight lanes rather than BLAS's order: this only decides when to stop.
    #[inline(always)]
    fn update_size(&self) -> f64 {
        let inv_t = 1.0 / (2 * self.n) as f64;
        let mut u_diff = f64::EPSILON;
        for m in 0..self.k {
            let range = m * self.n..(m + 1) * self.n;
            let mut lanes = [0.0f64; 8];
            let pairs = self.u_new[range.clone()]
                .chunks(8)
                .zip(self.u_old[range].chunks(8));
            for (a, b) in pairs {
                for ((lane, x), y) in lanes.iter_mut().zip(a).zip(b) {
                    *lane += (x - y).norm_sqr();
                }
            }
            u_diff += inv_t * lanes.iter().sum::<f64>();
        }
        u_diff.abs()
    }
}
