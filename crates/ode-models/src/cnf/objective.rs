//! Models and tasks together: the losses of the paper's two 2-D tasks and
//! one optimizer step.
//!
//! - Density matching: `KL(q || p) = E_q[log q(x) - log p(x)]`, estimated
//!   from the model's own samples; `p` is unnormalized, so the loss is the
//!   KL divergence minus `log Z` (the paper reports the same quantity).
//! - Maximum likelihood: `-E_data[log q(x)]` on a batch of samples.

use tch::{Device, Kind, Tensor};

use super::density::{Cnf, FlowOutput};
use super::planar::PlanarFlow;
use super::target::Target;
use super::CnfError;
use crate::optim::Optimizer;

/// A trainable flow.
pub enum Flow {
    /// Boxed: a `Cnf` carries its solver options and is much larger than a planar flow.
    Cnf(Box<Cnf>),
    Planar(PlanarFlow),
}

impl Flow {
    pub fn dim(&self) -> i64 {
        match self {
            Flow::Cnf(c) => c.dim(),
            Flow::Planar(p) => p.dim(),
        }
    }

    /// `n` samples with their log-densities (base draws from torch's generator).
    pub fn sample(&self, n: i64, device: Device, train: bool) -> Result<FlowOutput, CnfError> {
        if n < 1 {
            return Err(CnfError::Arg(format!("cannot draw {n} samples")));
        }
        let z0 = Tensor::randn([n, self.dim()], (Kind::Float, device));
        match self {
            Flow::Cnf(c) => c.sample_from(&z0, train),
            Flow::Planar(p) => p.sample_from(&z0),
        }
    }

    /// `log q(x)` of the rows of `x`.
    pub fn log_density(&self, x: &Tensor, train: bool) -> Result<FlowOutput, CnfError> {
        match self {
            Flow::Cnf(c) => c.log_density(x, train),
            Flow::Planar(p) => p.log_density(x),
        }
    }
}

/// What is minimized.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Objective {
    /// KL(q || p) to the target, from `batch` samples of the model.
    DensityMatching { target: Target, batch: i64 },
    /// Negative log-likelihood of the given data batch.
    MaxLikelihood,
}

/// One step's loss and work.
#[derive(Clone, Copy, Debug)]
pub struct StepOutput {
    pub loss: f64,
    /// Forward evaluations of the dynamics (0 for planar flows).
    pub nfe: usize,
}

impl Objective {
    /// The loss as a differentiable scalar, and the NFE of its forward pass.
    /// `data` is the batch for maximum likelihood (ignored otherwise).
    pub fn loss(
        &self,
        flow: &Flow,
        data: Option<&Tensor>,
        device: Device,
    ) -> Result<(Tensor, usize), CnfError> {
        match *self {
            Objective::DensityMatching { target, batch } => {
                if flow.dim() != 2 {
                    return Err(CnfError::Arg("density matching targets are 2-D".into()));
                }
                let out = flow.sample(batch, device, true)?;
                let kl = (&out.log_q - target.log_density(&out.z)?).mean(Kind::Float);
                Ok((kl, out.nfe))
            }
            Objective::MaxLikelihood => {
                let x = data.ok_or_else(|| CnfError::Arg("maximum likelihood needs a data batch".into()))?;
                let out = flow.log_density(x, true)?;
                Ok((-out.log_q.mean(Kind::Float), out.nfe))
            }
        }
    }

    /// Forward, backward and one optimizer step.
    pub fn step(
        &self,
        flow: &Flow,
        opt: &mut dyn Optimizer,
        data: Option<&Tensor>,
        device: Device,
    ) -> Result<StepOutput, CnfError> {
        opt.zero_grad();
        let out = self.backward(flow, data, device)?;
        opt.step()?;
        Ok(out)
    }

    /// Forward and backward: accumulates the loss's gradient into the
    /// flow's variables (for a caller that clips it before the step). A
    /// non-finite loss is an error, before any gradient is touched.
    pub fn backward(
        &self,
        flow: &Flow,
        data: Option<&Tensor>,
        device: Device,
    ) -> Result<StepOutput, CnfError> {
        let (loss, nfe) = self.loss(flow, data, device)?;
        let value = loss.double_value(&[]);
        if !value.is_finite() {
            return Err(CnfError::NonFinite("the loss"));
        }
        loss.backward();
        Ok(StepOutput { loss: value, nfe })
    }
}
