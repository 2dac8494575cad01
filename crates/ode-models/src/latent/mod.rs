//! Latent ODEs for irregularly sampled time series (neural ODE paper,
//! section 5.1): the bi-directional spiral data, the latent ODE, the RNN
//! baselines, an optional Poisson-process likelihood and a training /
//! evaluation loop with checkpoints.
//!
//! | module | job |
//! |---|---|
//! | [`spirals`] | the spiral generator, irregular subsampling, train/test split |
//! | [`batch`] | [`IrregularBatch`]: sequences on the union of their times with a mask |
//! | [`model`] | [`LatentOde`]: RNN encoder, ODE dynamics, decoder, ELBO |
//! | [`poisson`] | the intensity net and the Poisson-process log-likelihood |
//! | [`rnn`] | [`RnnBaseline`]: plain RNN and RNN with the time gap as input |
//! | [`eval`] | test RMSE (predictive, at observed times, whole window) and example curves |
//! | [`train`] | Adam training, checkpoints, resume, metrics JSON |
//!
//! Every model implements [`SequenceModel`], so one training loop and one
//! evaluation serve them all.

pub mod batch;
pub mod eval;
pub mod model;
pub mod poisson;
mod rng;
pub mod rnn;
pub mod spirals;
pub mod train;

use std::path::PathBuf;

use ode_core::SolveError;
use tch::{nn, Tensor};

pub use batch::IrregularBatch;
pub use model::{LatentOde, LatentOdeConfig};
pub use rnn::{RnnBaseline, RnnKind};
pub use spirals::{Observations, SpiralConfig, Spirals};
pub use train::{train_spirals, LatentTrainConfig, SpiralRun};

use crate::optim::OptimError;
use crate::BlockError;

/// Errors of the latent-ODE module.
#[derive(Debug, thiserror::Error)]
pub enum LatentError {
    #[error("invalid argument `{name}`: {reason}")]
    InvalidArgument { name: &'static str, reason: String },
    #[error("shape mismatch: {0}")]
    Shape(String),
    #[error(transparent)]
    Block(#[from] BlockError),
    #[error("latent solve failed: {0}")]
    Solve(#[from] SolveError<Tensor>),
    #[error("the loss is not finite ({0})")]
    NonFiniteLoss(f64),
    #[error("libtorch: {0}")]
    Torch(#[from] tch::TchError),
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("checkpoint {path}: {msg}")]
    Checkpoint { path: PathBuf, msg: String },
    #[error("checkpoint {path}: optimizer state: {source}")]
    OptimizerState { path: PathBuf, source: OptimError },
    #[error("optimizer: {0}")]
    Optim(#[from] OptimError),
}

/// What one training step measured.
#[derive(Clone, Copy, Debug, Default)]
pub struct StepOutput {
    /// The loss (negative ELBO or negative log-likelihood) per sequence.
    pub loss: f64,
    pub nfe_forward: usize,
    pub nfe_backward: usize,
}

/// Predictions of a model for a batch (no gradient).
#[derive(Debug)]
pub struct Prediction {
    /// `[B, U, D]` at the batch's union times: the latent ODE's
    /// reconstruction, the RNNs' one-step-ahead predictions (the point
    /// predicted before seeing it). Only entries where the mask is 1 mean
    /// anything for the RNNs.
    pub at_obs: Tensor,
    /// `[B, Q, D]` at the query times.
    pub at_query: Tensor,
    /// `[B, Q, L]` latent states at the query times (latent ODE only).
    pub latent_query: Option<Tensor>,
    /// Evaluations of the dynamics (latent ODE only).
    pub nfe: usize,
}

/// A model of irregularly sampled sequences that [`train_spirals`] can train.
pub trait SequenceModel {
    fn name(&self) -> &'static str;
    fn var_store(&self) -> &nn::VarStore;
    fn var_store_mut(&mut self) -> &mut nn::VarStore;
    /// Trainable scalars.
    fn parameter_count(&self) -> i64 {
        self.var_store().trainable_variables().iter().map(|t| t.numel() as i64).sum()
    }
    /// Computes the loss of `batch` (observed on `[t0, t_end]`) and
    /// accumulates its gradients: call the optimizer's `zero_grad` before
    /// and `step` after.
    fn train_step(&self, batch: &IrregularBatch, t0: f64, t_end: f64) -> Result<StepOutput, LatentError>;
    /// The loss of `batch` without gradients (and, for the latent ODE,
    /// with `z0` at the posterior mean, so it is deterministic).
    fn loss(&self, batch: &IrregularBatch, t0: f64, t_end: f64) -> Result<f64, LatentError>;
    /// Predictions after seeing `batch`: at its own times and at `query`.
    fn predict(&self, batch: &IrregularBatch, t0: f64, query: &[f64]) -> Result<Prediction, LatentError>;
    /// Whether [`SequenceModel::predict`] accepts any query time from `t0`
    /// on (a continuous-time model) rather than only times after the last
    /// observation.
    fn continuous_time(&self) -> bool {
        false
    }
    /// Predictions `[B, W, D]` at every time of `times` (increasing, from
    /// `t0`, including all of the batch's observation times): the window
    /// reading of the paper's predictive RMSE, comparable across models.
    /// Continuous-time models decode their trajectory (the encoder has seen
    /// every observation); the RNNs override this to predict each time from
    /// the observations before it.
    fn predict_window(&self, batch: &IrregularBatch, t0: f64, times: &[f64]) -> Result<Tensor, LatentError> {
        check_window_times(batch, t0, times)?;
        Ok(self.predict(batch, t0, times)?.at_query)
    }
}

/// `times` is increasing, starts at or after `t0` and holds every observation time of `batch`.
pub(crate) fn check_window_times(batch: &IrregularBatch, t0: f64, times: &[f64]) -> Result<(), LatentError> {
    let increasing = times.windows(2).all(|w| w[1] > w[0]) && times.first().is_some_and(|&t| t >= t0);
    let mut it = times.iter();
    let covers = batch.times.iter().all(|t| it.any(|s| s == t));
    if !increasing || !covers {
        return Err(LatentError::InvalidArgument {
            name: "times",
            reason: "window times must be increasing from t0 and include every observation time".into(),
        });
    }
    Ok(())
}

/// `log N(x; mean, exp(logvar))` elementwise.
pub fn gaussian_log_density(x: &Tensor, mean: &Tensor, logvar: &Tensor) -> Tensor {
    let log_2pi = (2.0 * std::f64::consts::PI).ln();
    ((x - mean).square() / logvar.exp() + logvar + log_2pi) * -0.5
}

/// `KL(N(mean, diag exp(logvar)) || N(0, I))` in closed form, summed over
/// the last dimension: `0.5 sum(exp(logvar) + mean^2 - 1 - logvar)`.
pub fn kl_standard_normal(mean: &Tensor, logvar: &Tensor) -> Tensor {
    ((logvar.exp() + mean.square() - 1.0 - logvar) * 0.5).sum_dim_intlist(-1, false, mean.kind())
}

/// The output times of a solve from `t0` through `times` (and `t_end`,
/// when later than the last of them), and the index in it of `times[0]`.
pub(crate) fn output_times(
    t0: f64,
    times: &[f64],
    t_end: Option<f64>,
) -> Result<(Vec<f64>, usize), LatentError> {
    let bad = |reason: String| Err(LatentError::InvalidArgument { name: "times", reason });
    let (Some(&first), Some(&last)) = (times.first(), times.last()) else {
        return bad("no output times".into());
    };
    if !t0.is_finite() || first < t0 {
        return bad(format!("the first time {first} precedes the initial time {t0}"));
    }
    let mut ts = Vec::with_capacity(times.len() + 2);
    let offset = usize::from(first > t0);
    if offset == 1 {
        ts.push(t0);
    }
    ts.extend_from_slice(times);
    if let Some(end) = t_end {
        if end.is_nan() || end < last {
            return bad(format!("the end {end} of the observation interval precedes the last time {last}"));
        }
        if end > last {
            ts.push(end);
        }
    }
    Ok((ts, offset))
}
