//! Optimizers whose state goes into the checkpoint, so that a run killed
//! and resumed is the run that would have happened.
//!
//! tch's `nn::Adam` / `nn::Sgd` wrap libtorch's C++ optimizers, whose
//! state (Adam's moments and step counts, SGD's momentum buffers) tch does
//! not expose; a resume with them restarts that state from zero. [`Adam`]
//! and [`Sgd`] implement torch.optim.Adam's and torch.optim.SGD's updates
//! with tensor operations under `no_grad` on the trainable variables of a
//! `VarStore` (each state tensor on its variable's device, in its dtype),
//! and export / import their state as named tensors:
//!
//! ```text
//! optim.adam.step.<variable>          0-d int64: updates this variable received
//! optim.adam.exp_avg.<variable>       first moment   (only once step > 0)
//! optim.adam.exp_avg_sq.<variable>    second moment  (only once step > 0)
//! optim.sgd.step.<variable>
//! optim.sgd.momentum_buffer.<variable> (only with momentum, once step > 0)
//! ```
//!
//! [`crate::checkpoint::CheckpointStore::save_with_optimizer`] writes them
//! into the same safetensors file as the weights. Loading checks every
//! name, shape and value before it changes anything, and a checkpoint with
//! no optimizer state at all (one written before optimizers were saved) is
//! [`OptimError::NoState`], which the trainers turn into a warning.
//!
//! Hyperparameters (learning rate, betas, momentum) are not state: they come
//! from the run's configuration, and the learning rate can change every step
//! ([`Optimizer::set_lr`]) for schedules.
//!
//! One difference from PyTorch: tch cannot reset a gradient to `None`, so
//! [`Optimizer::zero_grad`] zeroes gradients in place (torch's
//! `zero_grad(set_to_none=False)`). A variable that never received a
//! gradient is skipped, as in torch; one that had a gradient in an earlier
//! step but is not reached by this step's backward gets a zero-gradient
//! update (its moments decay) where torch would skip it.
//!
//! ```no_run
//! use ode_models::optim::{Adam, AdamConfig, Optimizer};
//! use tch::{nn, nn::Module, Device, Kind, Tensor};
//!
//! let vs = nn::VarStore::new(Device::Cpu);
//! let lin = nn::linear(vs.root(), 3, 1, Default::default());
//! let mut opt = Adam::new(&vs, AdamConfig { lr: 0.01, ..Default::default() })?;
//! let x = Tensor::randn([32, 3], (Kind::Float, Device::Cpu));
//! for _ in 0..10 {
//!     opt.zero_grad();
//!     lin.forward(&x).square().mean(Kind::Float).backward();
//!     opt.step()?;
//! }
//! let state = opt.state_tensors()?; // into a checkpoint
//! # Ok::<(), ode_models::optim::OptimError>(())
//! ```

mod adam;
mod params;
mod sgd;
mod state;

use std::collections::HashMap;

use tch::Tensor;

pub use adam::{Adam, AdamConfig};
pub use sgd::{Sgd, SgdConfig};

/// Every name of optimizer state starts with this.
pub const STATE_PREFIX: &str = "optim.";

/// Errors of the optimizers and of their state on import.
#[derive(Debug, thiserror::Error)]
pub enum OptimError {
    #[error("invalid optimizer setting `{name}`: {reason}")]
    InvalidArgument { name: &'static str, reason: String },
    #[error("the variable store has no trainable variables to optimize")]
    NoParameters,
    #[error("the gradient of `{0}` contains NaN or infinity; no variable was updated")]
    NonFiniteGradient(String),
    #[error("the checkpoint holds no optimizer state")]
    NoState,
    #[error("the checkpoint holds `{found}` optimizer state, this optimizer is `{expected}`")]
    KindMismatch { expected: &'static str, found: String },
    #[error("optimizer state `{0}` is missing")]
    MissingState(String),
    #[error("unexpected optimizer state `{0}` (another model or another optimizer configuration?)")]
    UnexpectedState(String),
    #[error("optimizer state `{name}` has shape {found:?}, the variable {expected:?}")]
    ShapeMismatch { name: String, expected: Vec<i64>, found: Vec<i64> },
    #[error("optimizer state `{name}` is corrupt: {reason}")]
    Corrupt { name: String, reason: String },
    #[error("libtorch: {0}")]
    Torch(#[from] tch::TchError),
}

/// A first-order optimizer over the trainable variables of a `VarStore`.
pub trait Optimizer {
    /// `"adam"`, `"sgd"`: the middle part of the state names.
    fn kind(&self) -> &'static str;
    /// Zeroes the gradients of the optimized variables (in place).
    fn zero_grad(&mut self);
    /// One update from the variables' current gradients. A NaN or infinite
    /// gradient is an error and leaves every variable and state untouched.
    fn step(&mut self) -> Result<(), OptimError>;
    /// The learning rate of the next step.
    fn lr(&self) -> f64;
    /// Sets the learning rate of the next steps (finite, not negative).
    fn set_lr(&mut self, lr: f64) -> Result<(), OptimError>;
    /// The state as named tensors (names in the module docs).
    fn state_tensors(&self) -> Result<Vec<(String, Tensor)>, OptimError>;
    /// Replaces the state by the one in `named` (which may hold other
    /// tensors too: only names under [`STATE_PREFIX`] are read). Checks
    /// everything first: on error the optimizer is unchanged.
    fn load_state(&mut self, named: &HashMap<String, Tensor>) -> Result<(), OptimError>;
}

fn check_lr(lr: f64) -> Result<(), OptimError> {
    if lr.is_finite() && lr >= 0.0 {
        Ok(())
    } else {
        Err(OptimError::InvalidArgument { name: "lr", reason: format!("{lr} is not finite and >= 0") })
    }
}
