//! The NDF/BDF coefficients of each order (Shampine and Reichelt).

use super::MAX_ORDER;

/// Shampine-Reichelt NDF coefficients (kappa = 0 gives the classical BDF).
const NDF_KAPPA: [f64; MAX_ORDER + 1] = [0.0, -0.1850, -1.0 / 9.0, -0.0823, -0.0415, 0.0];

/// Method coefficients for orders 0..=MAX_ORDER (+1 for the error constant).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Coeffs {
    pub(super) gamma: [f64; MAX_ORDER + 1],
    pub(super) alpha: [f64; MAX_ORDER + 1],
    pub(super) error_const: [f64; MAX_ORDER + 2],
}

impl Coeffs {
    pub fn new(ndf: bool) -> Self {
        let kappa = if ndf { NDF_KAPPA } else { [0.0; MAX_ORDER + 1] };
        let mut gamma = [0.0; MAX_ORDER + 1];
        for k in 1..=MAX_ORDER {
            gamma[k] = gamma[k - 1] + 1.0 / k as f64;
        }
        let mut alpha = [0.0; MAX_ORDER + 1];
        let mut error_const = [0.0; MAX_ORDER + 2];
        for k in 0..=MAX_ORDER {
            alpha[k] = (1.0 - kappa[k]) * gamma[k];
            error_const[k] = kappa[k] * gamma[k] + 1.0 / (k + 1) as f64;
        }
        error_const[MAX_ORDER + 1] = 1.0 / (MAX_ORDER + 2) as f64;
        Coeffs { gamma, alpha, error_const }
    }

    /// The error constant at order `k`: the local error is this times
    /// `|h^(k+1) y^(k+1)|`.
    pub fn error_const(&self, k: usize) -> f64 {
        self.error_const[k.min(MAX_ORDER + 1)]
    }
}
