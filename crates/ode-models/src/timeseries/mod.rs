//! Irregularly sampled time-series classification (issue 22, parts 4-5):
//! an ODE-RNN (Rubanova et al. 2019) and a Latent ODE classifier, GRU
//! baselines at matched parameter counts, their training and the metrics
//! (accuracy, macro one-vs-rest AUC, test NFE and wall clock per sample).
//!
//! | file | job |
//! |---|---|
//! | `batch.rs` | [`SeriesBatch`]: a batch of padded series as model inputs, channel standardization |
//! | `gru.rs` | [`GruCell`]: torch's GRU cell with a mask that freezes padded and unobserved steps |
//! | `ode_rnn.rs` | [`OdeRnnEncoder`]: GRU updates at observations, an `OdeBlock` between them |
//! | `chain.rs` | [`BlockChain`]: the backward pass through a sequence of cut blocks (Adjoint, ACA, MALI) |
//! | `ode_rnn_classifier.rs` | [`OdeRnnClassifier`] |
//! | `latent_classifier.rs` | [`LatentOdeClassifier`] |
//! | `baselines.rs` | [`GruClassifier`]: GRU with time gaps, GRU-D, plain GRU |
//! | `sizes.rs` | model sizes and the baselines' matched hidden sizes |
//! | `metrics.rs` | accuracy, macro one-vs-rest AUC |
//! | `train.rs` | [`train_classifier`]: Adam, checkpoints, resume, `metrics.json` |
//! | `eval.rs` | [`evaluate`]: test metrics, NFE and time per sample |

mod baselines;
mod batch;
mod chain;
mod eval;
mod gru;
mod latent_classifier;
mod metrics;
mod ode_rnn;
mod ode_rnn_classifier;
mod sizes;
mod train;

use std::path::PathBuf;

use tch::nn;

pub use baselines::{GruClassifier, GruVariant};
pub use batch::{SeriesBatch, Standardizer};
pub use chain::BlockChain;
pub use eval::{evaluate, TestMetrics};
pub use gru::GruCell;
pub use latent_classifier::{LatentOdeClassifier, LatentSizes};
pub use metrics::{accuracy, macro_auc, one_vs_rest_auc};
pub use ode_rnn::{EncoderOutput, OdeRnnEncoder};
pub use ode_rnn_classifier::OdeRnnClassifier;
pub use sizes::{build_classifier, matched_hidden, ModelKind, ModelSizes};
pub use train::{train_classifier, EpochRecord, TsRun, TsTrainConfig};

use crate::block::BlockError;
use crate::optim::OptimError;

/// Errors of the time-series models and their training.
#[derive(Debug, thiserror::Error)]
pub enum TsModelError {
    #[error("invalid argument `{name}`: {reason}")]
    InvalidArgument { name: &'static str, reason: String },
    #[error("shape mismatch: {0}")]
    Shape(String),
    #[error(transparent)]
    Block(#[from] BlockError),
    #[error("the loss is not finite ({0})")]
    NonFiniteLoss(f64),
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("checkpoint {path}: {msg}")]
    Checkpoint { path: PathBuf, msg: String },
    #[error("optimizer: {0}")]
    Optim(#[from] OptimError),
    #[error("libtorch: {0}")]
    Torch(#[from] tch::TchError),
}

/// Evaluation counts of one pass of a classifier.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PassStats {
    pub nfe_forward: usize,
    pub nfe_backward: usize,
}

/// The result of a training step.
#[derive(Clone, Copy, Debug)]
pub struct StepOutput {
    pub loss: f64,
    pub stats: PassStats,
}

/// The result of an inference pass.
pub struct Inference {
    /// `[B, K]` class logits.
    pub logits: tch::Tensor,
    /// Dynamics evaluations each sample's state went through (0 for the
    /// GRU baselines); see [`evaluate`] for how a batch's count is shared.
    pub nfe_per_sample: Vec<usize>,
}

/// A classifier of irregularly sampled series: everything the trainer and
/// the evaluation need.
pub trait SeriesClassifier {
    /// `ode-rnn`, `latent-ode`, `gru-dt`, `gru-d`, `gru`.
    fn name(&self) -> &'static str;
    fn var_store(&self) -> &nn::VarStore;
    fn var_store_mut(&mut self) -> &mut nn::VarStore;
    /// Forward, loss (mean cross-entropy, plus the model's own terms) and
    /// backward: the gradients of every parameter are accumulated (call the
    /// optimizer's `zero_grad` before and `step` after).
    fn train_step(&self, batch: &SeriesBatch) -> Result<StepOutput, TsModelError>;
    /// Class logits without gradients (the Latent ODE uses the mean of
    /// `q(z0 | x)`).
    fn infer(&self, batch: &SeriesBatch) -> Result<Inference, TsModelError>;
    /// Number of trainable scalars.
    fn parameter_count(&self) -> i64 {
        self.var_store().trainable_variables().iter().map(|t| t.numel() as i64).sum()
    }
}

/// Mean cross-entropy of `logits [B, K]` against `labels [B]` (i64).
pub(crate) fn cross_entropy(logits: &tch::Tensor, labels: &tch::Tensor) -> tch::Tensor {
    logits.log_softmax(-1, logits.kind()).nll_loss(labels)
}
