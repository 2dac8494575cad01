//! `ErrorSum`: the DISE paper's `R_err` (Eq. 2), the sum of every
//! accepted step's error estimate.

use ode_models::block::ErrorWeighting;
use tch::Tensor;

use crate::error::DiseError;
use crate::regularizer::{check_lambda, required, BatchReduction, Needs, Regularizer, SolveTerms};

/// `R_err = reduce_s sum_n w_n r_{s,n}`: for each sample `s` the sum over
/// its accepted steps of the step controller's scaled RMS error norm
/// `r_{s,n}` (definition and the reasons for it in
/// [`ode_models::block::step_errors`]). Shrinking it lets
/// the controller take longer steps, hence fewer evaluations of `f`.
///
/// With [`ErrorWeighting::PerStep`] (the default) this is the paper's Eq. 2;
/// with [`ErrorWeighting::StepSize`] every step is weighted by `|h_n|`, the
/// `err x |dt|` of Pal et al. 2021 (ERNODE). Differentiable in
/// `GradMode::Direct` (full-batch or per-sample stepping) and
/// `GradMode::Aca`; the adjoint and MALI return
/// `BlockError::StepErrorsNotDifferentiable`.
///
/// ```
/// use ode_core::SolveOptions;
/// use ode_dise::{ErrorSum, RegularizedBlock, Regularizers};
/// use ode_models::{GradMode, OdeBlock, TorchRhs};
/// use tch::{nn, nn::Module, Device, Kind, Tensor};
///
/// let vs = nn::VarStore::new(Device::Cpu);
/// let lin = nn::linear(vs.root(), 2, 2, Default::default());
/// let f = TorchRhs::new(|_t, y: &Tensor| lin.forward(y).tanh(), vs.trainable_variables());
/// let block = OdeBlock::new(SolveOptions::default().tol(1e-4, 1e-6), GradMode::Aca);
/// let reg = RegularizedBlock::new(block, Regularizers::new().with(ErrorSum::new(0.005)?));
/// let x = Tensor::randn([16, 2], (Kind::Float, Device::Cpu));
/// let step = reg.train_step(&f, &x, |y1| y1.square().mean(Kind::Float))?;
/// assert_eq!(step.regularizers[0].0, "error_sum");
/// assert!(step.regularizers[0].1 > 0.0);
/// # Ok::<(), ode_dise::DiseError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ErrorSum {
    pub lambda: f64,
    pub weighting: ErrorWeighting,
    pub reduction: BatchReduction,
}

impl ErrorSum {
    /// The paper's form (per-step weights), averaged over the batch.
    pub fn new(lambda: f64) -> Result<Self, DiseError> {
        Ok(ErrorSum {
            lambda: check_lambda(lambda)?,
            weighting: ErrorWeighting::PerStep,
            reduction: BatchReduction::Mean,
        })
    }

    pub fn weighting(mut self, weighting: ErrorWeighting) -> Self {
        self.weighting = weighting;
        self
    }

    pub fn reduction(mut self, reduction: BatchReduction) -> Self {
        self.reduction = reduction;
        self
    }
}

impl Regularizer for ErrorSum {
    fn name(&self) -> &str {
        "error_sum"
    }

    fn lambda(&self) -> f64 {
        self.lambda
    }

    fn needs(&self) -> Needs {
        Needs { step_errors: Some(self.weighting), ..Needs::default() }
    }

    fn value(&self, terms: &SolveTerms<'_>) -> Result<Tensor, DiseError> {
        Ok(self.reduction.reduce(required(terms.error_sums, self.name(), "step error sums")?))
    }
}
