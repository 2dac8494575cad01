//! Continuous normalizing flows (neural ODE paper, section 4) and the
//! planar-flow baseline, with the paper's 2-D tasks and FFJORD's toy data.
//!
//! - [`CnfDynamics`]: `dz/dt = sum_m u_m tanh(w_m^T z + b_m)` with `(w, u, b)`
//!   from a hypernetwork of `t` (width `M`).
//! - [`Cnf`]: sampling and log-density through the instantaneous change of
//!   variables, solving `(z, log p)` with ode-core, trace exact or by
//!   Hutchinson's estimator ([`TraceMethod`]).
//! - [`PlanarFlow`]: `K` planar layers with the closed-form log-determinant.
//! - [`Target`] (density matching, KL(q || p)), [`ToySet`] and
//!   [`GaussianMixture`] (maximum likelihood), and [`Flow`] with
//!   [`Objective`] tying a model to a task.

mod block;
mod density;
pub mod grid;
mod hyper;
mod objective;
mod planar;
pub mod run;
mod target;
mod toy;
mod trace;

pub use density::{standard_normal_log_density, Cnf, FlowOutput};
pub use hyper::{CnfConfig, CnfDynamics, UnitParams};
pub use objective::{Flow, Objective, StepOutput};
pub use planar::{PlanarDirection, PlanarFlow};
pub use target::Target;
pub use toy::{GaussianMixture, ToyRng, ToySet};
pub use trace::{exact_trace, hutchinson_trace, sample_noise, Noise, TraceMethod};

use tch::Tensor;

/// Errors of the flows and their tasks.
#[derive(Debug, thiserror::Error)]
pub enum CnfError {
    #[error("the CNF width M must be at least 1")]
    ZeroWidth,
    #[error("a planar flow needs at least one layer")]
    ZeroLayers,
    #[error("the data dimension must be at least 1")]
    ZeroDim,
    #[error("{what}: expected shape {expected}, got {got:?}")]
    Shape { what: String, expected: String, got: Vec<i64> },
    #[error("{0} contains NaN or infinity")]
    NonFinite(&'static str),
    #[error("not supported: {0}")]
    Unsupported(&'static str),
    #[error("bad argument: {0}")]
    Arg(String),
    #[error("ODE solve failed: {0}")]
    Solve(String),
    #[error("libtorch: {0}")]
    Torch(#[from] tch::TchError),
    #[error("optimizer: {0}")]
    Optim(#[from] crate::optim::OptimError),
}

/// Checks that `x` is `[B, dim]` with `B >= 1` (any `dim >= 1` when `dim < 0`)
/// and returns its dimension.
pub(crate) fn check_batch(x: &Tensor, dim: i64) -> Result<i64, CnfError> {
    let size = x.size();
    let ok = size.len() == 2 && size[0] >= 1 && size[1] >= 1 && (dim < 0 || size[1] == dim);
    if !ok {
        let expected = if dim < 0 { "[B >= 1, D >= 1]".to_string() } else { format!("[B >= 1, {dim}]") };
        return Err(CnfError::Shape { what: "batch".into(), expected, got: size });
    }
    Ok(size[1])
}

pub(crate) fn check_finite(x: &Tensor, what: &'static str) -> Result<(), CnfError> {
    let finite = tch::no_grad(|| x.isfinite().all().int64_value(&[]) != 0);
    if finite {
        Ok(())
    } else {
        Err(CnfError::NonFinite(what))
    }
}
