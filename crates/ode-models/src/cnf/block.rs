//! The CNF through [`OdeBlock`]: the augmented state as one `[B, D + 1]`
//! tensor (`TorchRhs` takes a single tensor), so that maximum-likelihood
//! training can use the adjoint, ACA or MALI gradients instead of direct
//! backprop through the solver.

use tch::{Kind, Tensor};

use super::density::{standard_normal_log_density, Cnf};
use super::trace::{sample_noise, TraceMethod};
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
            let attached = y.requires_grad();
            let z = y.narrow(1, 0, d);
            match self.rates(t, &z, probe.as_ref(), attached) {
                Ok((dz, tr)) => Tensor::cat(&[dz, -tr.unsqueeze(1)], 1),
                // A failed trace cannot be returned from an Rhs: NaN stops the solver.
                Err(_) => y.detach() * f64::NAN,
            }
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
            TraceMethod::Exact | TraceMethod::ClosedForm => None,
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
