//! The CNF through [`OdeBlock`]: the augmented state as one `[B, D + 1]`
//! tensor (`TorchRhs` takes a single tensor), so that maximum-likelihood
//! training can use the adjoint, ACA or MALI gradients instead of direct
//! backprop through the solver.

use tch::{Kind, Tensor};

use super::density::{standard_normal_log_density, Cnf};
use super::trace::{exact_trace, hutchinson_trace, sample_noise, TraceMethod};
use super::CnfError;
use crate::{BlockStats, GradMode, OdeBlock, TorchRhs};

impl Cnf {
    /// `d/dt [z, l] = [f(t, z), -tr(df/dz)]` on `[B, D + 1]` states, with the
    /// given Hutchinson probe (`[B, D]`, ignored for the exact trace).
    /// Differentiable when the state requires grad (the VJP of `TorchRhs`
    /// then differentiates through the trace); detached otherwise.
    pub fn augmented_rhs(
        &self,
        probe: Option<Tensor>,
        params: Vec<Tensor>,
    ) -> TorchRhs<impl Fn(f64, &Tensor) -> Tensor + '_> {
        let d = self.dim();
        let f = move |t: f64, y: &Tensor| -> Tensor {
            tch::with_grad(|| {
                let attached = y.requires_grad();
                let z = if attached {
                    y.narrow(1, 0, d)
                } else {
                    y.narrow(1, 0, d).detach().set_requires_grad(true)
                };
                let dz = self.dynamics.velocity(t, &z);
                let tr = match (&self.trace, &probe) {
                    (TraceMethod::Hutchinson(_), Some(e)) => hutchinson_trace(&dz, &z, e, attached),
                    _ => exact_trace(&dz, &z, attached),
                };
                // A failed trace cannot be returned from an Rhs: NaN stops the solver.
                let tr = tr.unwrap_or_else(|_| dz.select(1, 0) * f64::NAN);
                let out = Tensor::cat(&[dz, -tr.unsqueeze(1)], 1);
                if attached {
                    out
                } else {
                    out.detach()
                }
            })
        };
        TorchRhs::new(f, params)
    }

    /// One maximum-likelihood gradient evaluation through an [`OdeBlock`]
    /// with gradient mode `mode`: solves from the data at `T` back to 0,
    /// computes the mean NLL, and accumulates its gradient into `params` (the
    /// dynamics' variables). Returns the loss and the block's statistics.
    pub fn nll_backward_block(
        &self,
        x: &Tensor,
        params: Vec<Tensor>,
        mode: GradMode,
    ) -> Result<(f64, BlockStats), CnfError> {
        let d = super::check_batch(x, self.dim())?;
        super::check_finite(x, "flow input")?;
        let probe = match self.trace {
            TraceMethod::Hutchinson(noise) => Some(sample_noise(noise, x)),
            TraceMethod::Exact => None,
        };
        let f = self.augmented_rhs(probe, params);
        let y0 = Tensor::cat(&[x.detach(), Tensor::zeros([x.size()[0], 1], (x.kind(), x.device()))], 1);
        let block = OdeBlock::new(self.opts.clone(), mode).span(self.t1, 0.0);
        let nll = |y: &Tensor| {
            let log_q = standard_normal_log_density(&y.narrow(1, 0, d)) - y.select(1, d);
            -log_q.mean(Kind::Float)
        };
        block.train_step(&f, &y0, nll).map_err(|e| CnfError::Solve(e.to_string()))
    }
}
