//! `Kinetic`: RNODE's kinetic energy `int |f|^2 dt` (Finlay et al. 2020).

use tch::Tensor;

use crate::error::DiseError;
use crate::regularizer::{check_lambda, required, BatchReduction, Needs, Regularizer, SolveTerms};

/// `R_K = reduce_s int_{t0}^{t1} |f(t, y_s(t))|^2 dt`, with `|.|` the
/// Euclidean norm over the sample's components (the DISE paper's Eq. 1).
///
/// Computed by the same solve as `y`: the state carries one more channel
/// per sample whose derivative is `|f|^2`, so the integral is the solver's
/// own quadrature over its accepted steps (for an explicit Runge-Kutta
/// method, `h sum_i b_i |k_i|^2` per step), and its gradient comes from
/// whatever gradient mode the block uses (see [`crate::RegularizedBlock`]
/// for how the channel is kept out of the step control).
///
/// ```
/// use ode_core::SolveOptions;
/// use ode_dise::{Kinetic, RegularizedBlock, Regularizers};
/// use ode_models::{GradMode, OdeBlock, TorchRhs};
/// use tch::{Device, Kind, Tensor};
///
/// // f = -y: |f|^2 = |y0|^2 exp(-2t), whose integral over [0, 1] is
/// // |y0|^2 (1 - exp(-2)) / 2.
/// let f = TorchRhs::new(|_t, y: &Tensor| -y, vec![]);
/// let block = OdeBlock::new(SolveOptions::default().tol(1e-9, 1e-12), GradMode::Direct);
/// let reg = RegularizedBlock::new(block, Regularizers::new().with(Kinetic::new(1.0)?));
/// let y0 = Tensor::from_slice(&[3.0f64, 4.0]).reshape([1, 2]);
/// let fwd = reg.forward(&f, &y0)?;
/// let exact = 25.0 * (1.0 - (-2.0f64).exp()) / 2.0;
/// assert!((fwd.values.terms[0].value.double_value(&[]) - exact).abs() < 1e-7);
/// # Ok::<(), ode_dise::DiseError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Kinetic {
    pub lambda: f64,
    pub reduction: BatchReduction,
}

impl Kinetic {
    /// Averaged over the batch, as RNODE does.
    pub fn new(lambda: f64) -> Result<Self, DiseError> {
        Ok(Kinetic { lambda: check_lambda(lambda)?, reduction: BatchReduction::Mean })
    }

    pub fn reduction(mut self, reduction: BatchReduction) -> Self {
        self.reduction = reduction;
        self
    }
}

impl Regularizer for Kinetic {
    fn name(&self) -> &str {
        "kinetic"
    }

    fn lambda(&self) -> f64 {
        self.lambda
    }

    fn needs(&self) -> Needs {
        Needs { kinetic: true, ..Needs::default() }
    }

    fn value(&self, terms: &SolveTerms<'_>) -> Result<Tensor, DiseError> {
        Ok(self.reduction.reduce(required(terms.kinetic, self.name(), "the kinetic integral")?))
    }
}
