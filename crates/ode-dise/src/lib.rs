//! # ode-dise
//!
//! Solver-aware regularizers for neural ODEs, the first half of DISE
//! (Ghosh et al., "Dynamic integrator selection" ICLR 2021 submission,
//! section 3.1): train the dynamics so that an adaptive solver needs fewer
//! steps, with the task loss plus `sum_k lambda_k R_k`.
//!
//! | regularizer | `R` | needs from the solve |
//! |---|---|---|
//! | [`ErrorSum`] | sum over samples and accepted steps of the controller's scaled error norm (the paper's Eq. 2; `x |h|` as Pal et al.'s ERNODE) | the block's step error sums (Direct or ACA) |
//! | [`Kinetic`] | `int |f|^2 dt` (RNODE) | an extra state channel |
//! | [`JacobianFrobenius`] | `int |eps^T df/dy|^2 dt`, Hutchinson's estimate of `int ||df/dy||_F^2 dt` (RNODE) | an extra state channel |
//! | [`L1`], [`L2`] | `sum |theta|`, `sum theta^2` over the dynamics' parameters | nothing |
//!
//! Each is a value with its coefficient, a [`Regularizer`]; a
//! [`Regularizers`] set adds them up; [`RegularizedBlock`] runs one solve
//! that computes everything the set needs and returns the weighted total
//! as a scalar tensor that joins the task loss, with each term's value for
//! logging. The mechanism behind [`ErrorSum`] (differentiable per-sample
//! step error estimates) lives in ode-models: `OdeBlock::step_errors`.
//!
//! The second half (section 3.2) is [`IntegratorSelector`] in
//! [`selector`]: an auxiliary network that sends each sample to the
//! integrator it predicts to be cheapest, with the always-X and oracle
//! analysis rows beside it.
//!
//! ```
//! use ode_core::SolveOptions;
//! use ode_dise::{ErrorSum, RegularizedBlock, Regularizers};
//! use ode_models::{GradMode, OdeBlock, TorchRhs};
//! use tch::{nn, nn::Module, Device, Kind, Tensor};
//!
//! let vs = nn::VarStore::new(Device::Cpu);
//! let lin = nn::linear(vs.root(), 2, 2, Default::default());
//! let f = TorchRhs::new(|_t, y: &Tensor| lin.forward(y).tanh(), vs.trainable_variables());
//! let block = OdeBlock::new(SolveOptions::default().tol(1e-4, 1e-6), GradMode::Direct);
//! let reg = RegularizedBlock::new(block, Regularizers::new().with(ErrorSum::new(0.005)?));
//! let x = Tensor::randn([8, 2], (Kind::Float, Device::Cpu));
//! let fwd = reg.forward(&f, &x)?;
//! let loss = fwd.y1.square().mean(Kind::Float) + &fwd.values.total;
//! loss.backward();
//! reg.backward(&f, fwd)?;
//! # Ok::<(), ode_dise::DiseError>(())
//! ```

mod augment;
mod block;
mod choice;
mod error;
mod error_sum;
mod image;
mod jacobian;
mod kinetic;
mod l1;
mod l2;
mod regularizer;
pub mod selector;

pub use augment::IGNORED_ATOL;
pub use block::{RegularizedBlock, RegularizedForward, RegularizedStep};
pub use choice::RegularizerChoice;
pub use error::DiseError;
pub use error_sum::ErrorSum;
pub use image::{measure_test_cost, RegularizedOdeNet, TestCost};
pub use jacobian::{JacobianFrobenius, Noise};
pub use kinetic::Kinetic;
pub use l1::L1;
pub use l2::L2;
pub use ode_models::block::ErrorWeighting;
pub use regularizer::{
    BatchReduction, Needs, Regularizer, RegularizerTerm, RegularizerValues, Regularizers, SolveTerms,
};
pub use selector::{CostConfig, IntegratorSelector, SelectionReport};
