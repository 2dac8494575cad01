//! The Poisson-process likelihood of event times (the neural ODE paper's
//! latent ODE variant): events on `[t0, T]` come from an inhomogeneous
//! Poisson process with intensity `lambda(z(t))`, so
//!
//! `log p(t_1..t_N) = sum_i log lambda(z(t_i)) - integral_{t0}^{T} lambda(z(t)) dt`.
//!
//! The integral is not a quadrature: it is one more state component,
//! `d Lambda / dt = lambda(z(t))` with `Lambda(t0) = 0`, solved jointly with
//! the latent ODE, so the solver's error control covers it too and its
//! gradient comes with the solve's.

use tch::nn::{self, Module};
use tch::Tensor;

/// The intensity net: `lambda(z) = softplus(W2 tanh(W1 z + b1) + b2)`, a
/// positive scalar per latent state.
#[derive(Debug)]
pub struct PoissonHead {
    l1: nn::Linear,
    l2: nn::Linear,
}

/// Keeps `log lambda` finite when softplus underflows.
const MIN_INTENSITY: f64 = 1e-8;

impl PoissonHead {
    pub fn new(path: nn::Path, latent_dim: i64, hidden: i64) -> Self {
        PoissonHead {
            l1: nn::linear(&path / "l1", latent_dim, hidden, Default::default()),
            l2: nn::linear(&path / "l2", hidden, 1, Default::default()),
        }
    }

    /// `lambda(z)`: `[..., L] -> [..., 1]`.
    pub fn intensity(&self, z: &Tensor) -> Tensor {
        self.l2.forward(&self.l1.forward(z).tanh()).softplus() + MIN_INTENSITY
    }

    /// `sum_i mask_i log lambda(z_i) - integral` per sequence: `z [B, U, L]`,
    /// `mask [B, U]`, `integral [B]` (the solved `Lambda(T)`) -> `[B]`.
    pub fn log_likelihood(&self, z: &Tensor, mask: &Tensor, integral: &Tensor) -> Tensor {
        let log_l = self.intensity(z).squeeze_dim(-1).log();
        (log_l * mask).sum_dim_intlist(1, false, z.kind()) - integral
    }
}
