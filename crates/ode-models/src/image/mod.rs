//! Image classifiers of the neural ODE paper's MNIST experiment, as in
//! torchdiffeq's `odenet_mnist.py` example (REFERENCE.md §5):
//!
//! - [`OdeNet`]: downsampling, one [`OdeBlock`](crate::block::OdeBlock) over `[0, 1]` (dopri5 at
//!   `tol` = rtol = atol, default 1e-3) with a configurable [`GradMode`](crate::block::GradMode), head.
//! - [`ResNet`]: the same downsampling and head with 6 residual blocks in
//!   place of the ODE block.
//! - [`RkNet`]: the ODE-Net with backprop (`Direct`) through a fixed RK4 grid.
//!
//! Downsampling is either `conv` — Conv(1,64,3,1), GN, ReLU,
//! Conv(64,64,4,2,1), GN, ReLU, Conv(64,64,4,2,1) — or `res` — Conv(1,64,3,1)
//! and two residual blocks of stride 2 with 1x1 strided shortcuts. The ODE
//! function is GN-ReLU-ConcatConv(64,64,3,1,1)-GN-ReLU-ConcatConv-GN, where
//! ConcatConv prepends a channel filled with t; GroupNorm(min(32, C), C)
//! with affine parameters; the head is GN-ReLU-AdaptiveAvgPool-Flatten-
//! Linear(64,10). Residual blocks are norm-relu-conv-norm-relu-conv (3x3
//! convolutions without bias) plus the shortcut.
//!
//! Parameter counts (trainable, GroupNorm affine parameters and biases
//! included): ODE-Net 208,266 / 232,970 (conv / res downsampling), ResNet
//! 576,778 / 601,482, as in the paper's code.
//!
//! Each model owns one `nn::VarStore` on the device it was created on; the
//! ODE function's parameters live under the `odefunc` path so that
//! [`TorchRhs`](crate::dynamics::TorchRhs) differentiates exactly those.

mod choice;
mod layers;
mod models;

pub use choice::{build, Downsampling, ModelKind};
pub use models::{OdeNet, ResNet, RkNet};

use tch::nn;
use tch::{Device, Kind, Tensor};

use crate::block::{BlockError, BlockStats};

/// Feature width of every model.
pub const WIDTH: i64 = 64;
/// Number of classes.
pub const CLASSES: i64 = 10;
/// The paper's solver tolerance (rtol = atol).
pub const DEFAULT_TOL: f64 = 1e-3;
/// Steps of RK-Net's fixed RK4 grid over `[0, 1]`.
pub const DEFAULT_RK_STEPS: usize = 4;
/// Prefix of the ODE function's variables in an [`OdeNet`]'s VarStore.
const ODEFUNC: &str = "odefunc";

/// Errors of an image model.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error(transparent)]
    Block(#[from] BlockError),
    #[error("ODE solve failed: {0}")]
    Solve(String),
    #[error("bad input: {0}")]
    Input(String),
    #[error("non-finite loss {0}: training diverged (lower the learning rate?)")]
    Diverged(f64),
}

/// What one training step reports.
#[derive(Clone, Copy, Debug, Default)]
pub struct StepOutput {
    /// Mean cross-entropy of the batch (the task loss, without any
    /// regularizer).
    pub loss: f64,
    /// The weighted regularizer term added to the loss (0 without one).
    pub regularizer: f64,
    /// Correctly classified samples of the batch.
    pub correct: i64,
    /// ODE block evaluation counts (zeros for the ResNet).
    pub stats: BlockStats,
}

/// Logits and the block's evaluation counts of an evaluation pass.
pub struct Prediction {
    pub logits: Tensor,
    /// For the batch: with per-sample stepping `nfe_forward` counts calls
    /// of the ODE function on the (running part of the) batch.
    pub stats: BlockStats,
    /// Each sample's own NFE when the block steps per sample
    /// ([`OdeBlock::per_sample`](crate::block::OdeBlock::per_sample)).
    pub nfe_per_sample: Option<Vec<usize>>,
}

/// What the training library needs of a model.
pub trait ImageClassifier {
    /// A short name, e.g. `odenet-aca-conv`.
    fn name(&self) -> String;
    fn var_store(&self) -> &nn::VarStore;
    fn var_store_mut(&mut self) -> &mut nn::VarStore;
    /// Forward pass with cross-entropy loss against `labels` and the
    /// backward pass: gradients of every parameter are accumulated (zero
    /// them before, step the optimizer after).
    fn train_step(&self, images: &Tensor, labels: &Tensor) -> Result<StepOutput, ModelError>;
    /// Logits without autograd.
    fn predict(&self, images: &Tensor) -> Result<Prediction, ModelError>;

    /// Number of trainable scalars.
    fn parameter_count(&self) -> i64 {
        self.var_store().trainable_variables().iter().map(Tensor::numel).sum::<usize>() as i64
    }
    fn device(&self) -> Device {
        self.var_store().device()
    }
}

/// Checks `[B, 1, H, W]` floating-point images and `[B]` int64 labels.
pub fn check_batch(images: &Tensor, labels: Option<&Tensor>) -> Result<(), ModelError> {
    let size = images.size();
    if size.len() != 4 || size[1] != 1 || size[0] == 0 {
        return Err(ModelError::Input(format!("images must be [B, 1, H, W] with B > 0, got {size:?}")));
    }
    if size[2] < 8 || size[3] < 8 {
        return Err(ModelError::Input(format!("images are too small for the downsampling: {size:?}")));
    }
    if !matches!(images.kind(), Kind::Float | Kind::Double | Kind::Half | Kind::BFloat16) {
        return Err(ModelError::Input(format!("images must be floating point, got {:?}", images.kind())));
    }
    if let Some(l) = labels {
        if l.size() != [size[0]] {
            return Err(ModelError::Input(format!(
                "labels must be [{}] to match the images, got {:?}",
                size[0],
                l.size()
            )));
        }
        if l.kind() != Kind::Int64 {
            return Err(ModelError::Input(format!("labels must be int64, got {:?}", l.kind())));
        }
        let (lo, hi) = (l.min().int64_value(&[]), l.max().int64_value(&[]));
        if lo < 0 || hi >= CLASSES {
            return Err(ModelError::Input(format!("labels must lie in 0..{CLASSES}, got {lo}..={hi}")));
        }
    }
    Ok(())
}

/// Cross-entropy of `logits` against `labels` and the number classified
/// right: the loss the image models train on.
pub fn loss_and_correct(logits: &Tensor, labels: &Tensor) -> (Tensor, i64) {
    let loss = logits.cross_entropy_for_logits(labels);
    let correct = logits.argmax(-1, false).eq_tensor(labels).sum(Kind::Int64).int64_value(&[]);
    (loss, correct)
}
