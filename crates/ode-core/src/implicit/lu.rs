//! Dense LU factorizations (LAPACK `getrf`/`getrs` through ndarray-linalg)
//! of the Newton iteration matrices, real and complex.

use ndarray::{Array1, Array2, OwnedRepr};
use ndarray_linalg::{c64, FactorizeInto, LUFactorized, Solve};

/// The LU factors of a real square matrix.
pub(crate) struct RealLu(LUFactorized<OwnedRepr<f64>>);

/// The LU factors of a complex square matrix (Radau's complex pair).
pub(crate) struct ComplexLu(LUFactorized<OwnedRepr<c64>>);

/// The matrix is singular to working precision (a zero pivot).
#[derive(Debug)]
pub(crate) struct Singular;

impl RealLu {
    pub fn new(m: Array2<f64>) -> Result<Self, Singular> {
        m.factorize_into().map(RealLu).map_err(|_| Singular)
    }

    /// Solves `M x = b`. A LAPACK failure after a successful factorization
    /// cannot happen for matching sizes; it gives NaNs (which the Newton
    /// iteration treats as divergence) rather than a panic.
    pub fn solve(&self, b: Array1<f64>) -> Array1<f64> {
        let n = b.len();
        self.0.solve_into(b).unwrap_or_else(|_| Array1::from_elem(n, f64::NAN))
    }
}

impl ComplexLu {
    pub fn new(m: Array2<c64>) -> Result<Self, Singular> {
        m.factorize_into().map(ComplexLu).map_err(|_| Singular)
    }

    pub fn solve(&self, b: Array1<c64>) -> Array1<c64> {
        let n = b.len();
        self.0.solve_into(b).unwrap_or_else(|_| Array1::from_elem(n, c64::new(f64::NAN, f64::NAN)))
    }
}
