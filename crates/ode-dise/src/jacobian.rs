//! `JacobianFrobenius`: RNODE's `int ||df/dy||_F^2 dt`, estimated with
//! Hutchinson's trick.

use tch::{Kind, Tensor};

use crate::error::DiseError;
use crate::regularizer::{check_lambda, required, BatchReduction, Needs, Regularizer, SolveTerms};

/// The distribution of Hutchinson's probe vectors `eps`
/// (`E[eps eps^T] = I`, so `E |eps^T J|^2 = ||J||_F^2`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Noise {
    /// Independent standard normal components (RNODE's choice).
    #[default]
    Gaussian,
    /// Independent +-1 components (lower variance).
    Rademacher,
}

impl Noise {
    /// One probe per sample, shaped like `like` (`[B, N]`).
    pub(crate) fn draw(self, like: &Tensor) -> Tensor {
        let opts = (like.kind(), like.device());
        match self {
            Noise::Gaussian => Tensor::randn(like.size(), opts),
            Noise::Rademacher => {
                Tensor::randint(2, like.size(), (Kind::Int64, like.device())).to_kind(like.kind()) * 2.0 - 1.0
            }
        }
    }
}

/// `R_J = reduce_s int_{t0}^{t1} |eps_s^T df/dy(t, y_s(t))|^2 dt`, one
/// probe `eps_s` per sample drawn once per solve (fixed along the
/// trajectory, as RNODE does): an unbiased estimate of the integral of the
/// Jacobian's squared Frobenius norm.
///
/// Computed by the same solve as `y`, in an extra state channel whose
/// derivative is `|eps^T df/dy|^2`: each evaluation of `f` also takes one
/// vector-Jacobian product, with `create_graph` when gradients are being
/// recorded so that the channel is differentiable in every gradient mode.
///
/// ```
/// use ode_core::SolveOptions;
/// use ode_dise::{JacobianFrobenius, Noise, RegularizedBlock, Regularizers};
/// use ode_models::{GradMode, OdeBlock, TorchRhs};
/// use tch::{Device, Kind, Tensor};
///
/// // f = A y with A = [[-0.5, 1], [-1, -0.5]]: with +-1 probes
/// // |eps^T A|^2 = ||A||_F^2 = 2.5 exactly, so R_J = 2.5 over [0, 1].
/// let a = Tensor::from_slice(&[-0.5f64, 1.0, -1.0, -0.5]).reshape([2, 2]);
/// let f = TorchRhs::new(move |_t, y: &Tensor| y.matmul(&a.tr()), vec![]);
/// let jac = JacobianFrobenius::new(1.0)?.noise(Noise::Rademacher);
/// let block = OdeBlock::new(SolveOptions::default().tol(1e-8, 1e-10), GradMode::Direct);
/// let reg = RegularizedBlock::new(block, Regularizers::new().with(jac));
/// let y0 = Tensor::randn([4, 2], (Kind::Double, Device::Cpu));
/// let fwd = reg.forward(&f, &y0)?;
/// assert!((fwd.values.terms[0].value.double_value(&[]) - 2.5).abs() < 1e-9);
/// # Ok::<(), ode_dise::DiseError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct JacobianFrobenius {
    pub lambda: f64,
    pub noise: Noise,
    pub reduction: BatchReduction,
}

impl JacobianFrobenius {
    /// Gaussian probes, averaged over the batch (RNODE's setting).
    pub fn new(lambda: f64) -> Result<Self, DiseError> {
        Ok(JacobianFrobenius {
            lambda: check_lambda(lambda)?,
            noise: Noise::Gaussian,
            reduction: BatchReduction::Mean,
        })
    }

    pub fn noise(mut self, noise: Noise) -> Self {
        self.noise = noise;
        self
    }

    pub fn reduction(mut self, reduction: BatchReduction) -> Self {
        self.reduction = reduction;
        self
    }
}

impl Regularizer for JacobianFrobenius {
    fn name(&self) -> &str {
        "jacobian_frobenius"
    }

    fn lambda(&self) -> f64 {
        self.lambda
    }

    fn needs(&self) -> Needs {
        Needs { jacobian: Some(self.noise), ..Needs::default() }
    }

    fn value(&self, terms: &SolveTerms<'_>) -> Result<Tensor, DiseError> {
        Ok(self.reduction.reduce(required(terms.jacobian, self.name(), "the Jacobian integral")?))
    }
}
