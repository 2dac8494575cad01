//! `L2`: the sum of the squares of the dynamics' parameters.

use tch::Tensor;

use crate::error::DiseError;
use crate::regularizer::{check_lambda, param_sum, Regularizer, SolveTerms};

/// `R_2 = sum_p sum_i theta_{p,i}^2` over the dynamics' parameters
/// (`TorchRhs::params`; no square root, the usual weight-decay form).
/// Needs nothing from the solve, so it works with every gradient mode.
///
/// ```
/// use ode_dise::{Regularizer, SolveTerms, L2};
/// use tch::Tensor;
/// let params = [Tensor::from_slice(&[1.0f64, -2.0]), Tensor::from_slice(&[0.5f64])];
/// let terms = SolveTerms { error_sums: None, kinetic: None, jacobian: None, params: &params };
/// assert_eq!(L2::new(0.1)?.value(&terms)?.double_value(&[]), 5.25);
/// # Ok::<(), ode_dise::DiseError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct L2 {
    pub lambda: f64,
}

impl L2 {
    pub fn new(lambda: f64) -> Result<Self, DiseError> {
        Ok(L2 { lambda: check_lambda(lambda)? })
    }
}

impl Regularizer for L2 {
    fn name(&self) -> &str {
        "l2"
    }

    fn lambda(&self) -> f64 {
        self.lambda
    }

    fn value(&self, terms: &SolveTerms<'_>) -> Result<Tensor, DiseError> {
        Ok(param_sum(terms.params, Tensor::square))
    }
}
