//! # ode-models
//!
//! Neural ODEs on tch (libtorch). ode-core's solvers run on `tch::Tensor`
//! states (feature `tch` of ode-core), [`TorchRhs`] turns any tch function of
//! `(t, y)` with trainable parameters into a right-hand side whose
//! vector-Jacobian products come from autograd, and [`OdeBlock`] makes a
//! solve a layer with four gradient modes (`Direct`, `Adjoint`, `Aca`,
//! `Mali`).
//!
//! ```no_run
//! use ode_core::SolveOptions;
//! use ode_models::{GradMode, OdeBlock, TorchRhs};
//! use tch::{nn, nn::Module, nn::OptimizerConfig, Device, Kind, Tensor};
//!
//! let vs = nn::VarStore::new(Device::cuda_if_available());
//! let lin = nn::linear(vs.root(), 2, 2, Default::default());
//! let f = TorchRhs::new(|_t, y: &Tensor| lin.forward(y).tanh(), vs.trainable_variables());
//! let block = OdeBlock::new(SolveOptions::default().tol(1e-5, 1e-7), GradMode::Aca);
//! let mut opt = nn::Adam::default().build(&vs, 1e-2).unwrap();
//! let x = Tensor::randn([64, 2], (Kind::Float, vs.device()));
//! opt.zero_grad();
//! let (loss, stats) = block.train_step(&f, &x, |y1| y1.square().mean(Kind::Float)).unwrap();
//! opt.step();
//! println!("loss {loss}, forward NFE {}, backward NFE {}", stats.nfe_forward, stats.nfe_backward);
//! ```

pub mod block;
pub mod checkpoint;
pub mod cli;
pub mod clip;
pub mod cnf;
pub mod data;
pub mod device;
pub mod dynamics;
pub mod image;
pub mod latent;
mod nfe;
pub mod optim;
pub mod per_sample;
pub mod timeseries;
pub mod train;

pub use block::BlockForwardAt;
pub use block::{BlockError, BlockForward, BlockStats, GradMode, OdeBlock};
pub use device::DeviceFlag;
pub use dynamics::TorchRhs;
pub use nfe::NfeSummary;
pub use per_sample::{solve_per_sample, PerSampleError, PerSampleSolution, PerSampleStats};
