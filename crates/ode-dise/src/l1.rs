//! `L1`: the sum of the absolute values of the dynamics' parameters.

use tch::Tensor;

use crate::error::DiseError;
use crate::regularizer::{check_lambda, param_sum, Regularizer, SolveTerms};

/// `R_1 = sum_p sum_i |theta_{p,i}|` over the dynamics' parameters
/// (`TorchRhs::params`). Needs nothing from the solve, so it works with
/// every gradient mode.
///
/// ```
/// use ode_dise::{Regularizer, SolveTerms, L1};
/// use tch::Tensor;
/// let params = [Tensor::from_slice(&[1.0f64, -2.0]), Tensor::from_slice(&[0.5f64])];
/// let terms = SolveTerms { error_sums: None, kinetic: None, jacobian: None, params: &params };
/// assert_eq!(L1::new(0.1)?.value(&terms)?.double_value(&[]), 3.5);
/// # Ok::<(), ode_dise::DiseError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct L1 {
    pub lambda: f64,
}

impl L1 {
    pub fn new(lambda: f64) -> Result<Self, DiseError> {
        Ok(L1 { lambda: check_lambda(lambda)? })
    }
}

impl Regularizer for L1 {
    fn name(&self) -> &str {
        "l1"
    }

    fn lambda(&self) -> f64 {
        self.lambda
    }

    fn value(&self, terms: &SolveTerms<'_>) -> Result<Tensor, DiseError> {
        Ok(param_sum(terms.params, Tensor::abs))
    }
}
