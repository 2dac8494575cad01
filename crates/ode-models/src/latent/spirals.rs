//! The bi-directional spirals of the neural ODE paper (section 5.1), as in
//! torchdiffeq's `latent_ode.py` example:
//!
//! - one base grid of `n_total` = 500 times on `[start, stop]` = `[0, 6 pi]`;
//! - clockwise: `z = stop + 1 - t`, radius `a + 50 b / z`, centre `(-5, 0)`;
//!   counter-clockwise: `z = t`, radius `a + b z`, centre `(+5, 0)`
//!   (`a = 0`, `b = 0.3`); the point is `centre + r (cos z, sin z)`;
//! - every spiral is a random window of `n_window` = 100 consecutive grid
//!   points, followed by `n_extrap` = 100 more points, the span the paper
//!   evaluates extrapolation on; times are relative to the window's start,
//!   so all spirals share one time grid;
//! - Gaussian noise of standard deviation 0.3 on every point; the clean
//!   points are kept for evaluation.
//!
//! Unlike the torchdiffeq example (which picks the direction at random) the
//! split is exactly half and half: spiral `i` is clockwise when `i` is even,
//! so any contiguous train/test split is balanced too.
//!
//! ```
//! use ode_models::latent::{SpiralConfig, Spirals};
//! let data = Spirals::generate(&SpiralConfig { n_spirals: 10, ..SpiralConfig::default() }).unwrap();
//! let obs = data.subsample(30, 1).unwrap();
//! assert_eq!(data.noisy.dim(), (10, 200, 2));
//! assert_eq!(obs.indices[0].len(), 30);
//! ```

use ndarray::Array3;
use serde::{Deserialize, Serialize};
use tch::{Device, Kind, Tensor};

use super::batch::IrregularBatch;
use super::rng::DataRng;
use super::LatentError;

/// How to generate the spirals. `Default` is the paper's setup.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SpiralConfig {
    pub n_spirals: usize,
    /// Points of the base grid on `[start, stop]`.
    pub n_total: usize,
    /// Points of the observed window per spiral.
    pub n_window: usize,
    /// Points after the window kept for evaluating extrapolation.
    pub n_extrap: usize,
    /// Windows start at grid index `min_start` or later (torchdiffeq's
    /// example skips the first `n_window` points, where the clockwise
    /// spiral barely moves).
    pub min_start: usize,
    pub start: f64,
    pub stop: f64,
    pub a: f64,
    pub b: f64,
    pub noise_std: f64,
    /// Fraction of spirals held out for testing (the last ones).
    pub test_fraction: f64,
    pub seed: u64,
}

impl Default for SpiralConfig {
    fn default() -> Self {
        SpiralConfig {
            n_spirals: 1000,
            n_total: 500,
            n_window: 100,
            n_extrap: 100,
            min_start: 100,
            start: 0.0,
            stop: 6.0 * std::f64::consts::PI,
            a: 0.0,
            b: 0.3,
            noise_std: 0.3,
            test_fraction: 0.2,
            seed: 0,
        }
    }
}

fn bad(name: &'static str, reason: impl Into<String>) -> LatentError {
    LatentError::InvalidArgument { name, reason: reason.into() }
}

impl SpiralConfig {
    /// Checks every field; the error names the first bad one.
    pub fn validate(&self) -> Result<(), LatentError> {
        for (name, v) in
            [("n_spirals", self.n_spirals), ("n_total", self.n_total), ("n_window", self.n_window)]
        {
            if v == 0 {
                return Err(bad(name, "must be at least 1"));
            }
        }
        if self.n_total < 2 {
            return Err(bad("n_total", "the base grid needs at least 2 points"));
        }
        for (name, v) in [("start", self.start), ("stop", self.stop), ("a", self.a), ("b", self.b)] {
            if !v.is_finite() {
                return Err(bad(name, format!("{v} is not finite")));
            }
        }
        if self.stop <= self.start {
            return Err(bad("stop", format!("must exceed start ({} <= {})", self.stop, self.start)));
        }
        if !(self.noise_std.is_finite() && self.noise_std >= 0.0) {
            return Err(bad("noise_std", format!("{} is not a finite non-negative number", self.noise_std)));
        }
        let need = self.min_start + self.n_window + self.n_extrap;
        if need > self.n_total {
            return Err(bad(
                "n_total",
                format!(
                    "min_start + n_window + n_extrap = {need} points do not fit in {} grid points",
                    self.n_total
                ),
            ));
        }
        let n_test = self.n_test();
        if !(self.test_fraction > 0.0 && self.test_fraction < 1.0) || n_test == 0 || n_test == self.n_spirals
        {
            return Err(bad(
                "test_fraction",
                format!(
                    "{} of {} spirals leaves an empty training or test set",
                    self.test_fraction, self.n_spirals
                ),
            ));
        }
        Ok(())
    }

    /// Spirals held out for testing.
    pub fn n_test(&self) -> usize {
        let t = (self.n_spirals as f64 * self.test_fraction).round();
        if t.is_finite() && t >= 0.0 {
            t as usize
        } else {
            0
        }
    }
}

/// The generated data set.
#[derive(Clone, Debug)]
pub struct Spirals {
    pub config: SpiralConfig,
    /// `n_window + n_extrap` times relative to the window start (shared by all spirals).
    pub times: Vec<f64>,
    /// Noise-free points, `[n_spirals, n_window + n_extrap, 2]`.
    pub clean: Array3<f64>,
    /// `clean` plus the observation noise.
    pub noisy: Array3<f64>,
    pub clockwise: Vec<bool>,
    /// Grid index of every window's first point.
    pub start_index: Vec<usize>,
}

/// Which window points of every spiral are observed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Observations {
    pub n_obs: usize,
    /// Per spiral: `n_obs` distinct window indices, ascending.
    pub indices: Vec<Vec<usize>>,
}

impl Spirals {
    /// Generates the data set; deterministic for a given config (seed included).
    pub fn generate(cfg: &SpiralConfig) -> Result<Self, LatentError> {
        cfg.validate()?;
        let dt = (cfg.stop - cfg.start) / (cfg.n_total - 1) as f64;
        let grid: Vec<f64> = (0..cfg.n_total).map(|k| cfg.start + k as f64 * dt).collect();
        let len = cfg.n_window + cfg.n_extrap;
        let times: Vec<f64> = grid[..len].iter().map(|t| t - cfg.start).collect();
        let point = |cw: bool, t: f64| -> (f64, f64) {
            if cw {
                let z = cfg.stop + 1.0 - t;
                let r = cfg.a + 50.0 * cfg.b / z;
                (r * z.cos() - 5.0, r * z.sin())
            } else {
                let r = cfg.a + cfg.b * t;
                (r * t.cos() + 5.0, r * t.sin())
            }
        };
        let mut rng = DataRng::stream(cfg.seed, 1);
        let n = cfg.n_spirals;
        let mut clean = Array3::<f64>::zeros((n, len, 2));
        let mut noisy = Array3::<f64>::zeros((n, len, 2));
        let mut clockwise = Vec::with_capacity(n);
        let mut start_index = Vec::with_capacity(n);
        let span = (cfg.n_total - len - cfg.min_start + 1) as u64;
        for i in 0..n {
            let cw = i % 2 == 0;
            let s = cfg.min_start + rng.below(span) as usize;
            for k in 0..len {
                let (x, y) = point(cw, grid[s + k]);
                clean[[i, k, 0]] = x;
                clean[[i, k, 1]] = y;
                noisy[[i, k, 0]] = x + cfg.noise_std * rng.normal();
                noisy[[i, k, 1]] = y + cfg.noise_std * rng.normal();
            }
            clockwise.push(cw);
            start_index.push(s);
        }
        Ok(Spirals { config: cfg.clone(), times, clean, noisy, clockwise, start_index })
    }

    pub fn len(&self) -> usize {
        self.clockwise.len()
    }

    pub fn is_empty(&self) -> bool {
        self.clockwise.is_empty()
    }

    /// Training and test spiral indices: the last `n_test` spirals are the test set.
    pub fn split(&self) -> (Vec<usize>, Vec<usize>) {
        let n_train = self.len() - self.config.n_test();
        ((0..n_train).collect(), (n_train..self.len()).collect())
    }

    /// Draws `n_obs` of the `n_window` window points of every spiral,
    /// without replacement (the paper's irregular sampling); deterministic
    /// for a seed.
    pub fn subsample(&self, n_obs: usize, seed: u64) -> Result<Observations, LatentError> {
        let w = self.config.n_window;
        if n_obs == 0 {
            return Err(bad("n_obs", "must be at least 1"));
        }
        if n_obs > w {
            return Err(bad(
                "n_obs",
                format!("{n_obs} observations cannot be drawn without replacement from {w} window points"),
            ));
        }
        let mut rng = DataRng::stream(seed, 2);
        let indices = (0..self.len()).map(|_| rng.choose_sorted(w, n_obs)).collect();
        Ok(Observations { n_obs, indices })
    }

    /// The observed points of spirals `which` as a batch on the union of
    /// their observation times.
    pub fn batch(
        &self,
        obs: &Observations,
        which: &[usize],
        kind: Kind,
        device: Device,
    ) -> Result<IrregularBatch, LatentError> {
        let w = self.config.n_window;
        if obs.indices.len() != self.len() {
            return Err(LatentError::Shape(format!(
                "observations for {} spirals, data has {}",
                obs.indices.len(),
                self.len()
            )));
        }
        let mut values = vec![0.0f64; which.len() * w * 2];
        let mut mask = vec![0.0f64; which.len() * w];
        for (b, &i) in which.iter().enumerate() {
            let idx = obs.indices.get(i).ok_or_else(|| bad("which", format!("no spiral {i}")))?;
            for &k in idx {
                if k >= w {
                    return Err(bad("obs", format!("window index {k} >= {w}")));
                }
                mask[b * w + k] = 1.0;
                values[(b * w + k) * 2] = self.noisy[[i, k, 0]];
                values[(b * w + k) * 2 + 1] = self.noisy[[i, k, 1]];
            }
        }
        let bsz = which.len() as i64;
        let values = Tensor::from_slice(&values).view([bsz, w as i64, 2]).to_kind(kind).to_device(device);
        let mask = Tensor::from_slice(&mask).view([bsz, w as i64]).to_kind(kind).to_device(device);
        IrregularBatch::from_grid(&self.times[..w], &values, &mask)
    }

    /// Clean points of spirals `which` at window indices `from..to`, `[B, to - from, 2]`.
    pub fn clean_tensor(
        &self,
        which: &[usize],
        from: usize,
        to: usize,
        kind: Kind,
        device: Device,
    ) -> Tensor {
        let mut v = Vec::with_capacity(which.len() * (to - from) * 2);
        for &i in which {
            for k in from..to {
                v.push(self.clean[[i, k, 0]]);
                v.push(self.clean[[i, k, 1]]);
            }
        }
        Tensor::from_slice(&v)
            .view([which.len() as i64, (to - from) as i64, 2])
            .to_kind(kind)
            .to_device(device)
    }
}
