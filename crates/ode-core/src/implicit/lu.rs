//! LU factorizations of the Newton iteration matrices, real and complex:
//! dense (LAPACK `getrf`/`getrs` through ndarray-linalg) or banded
//! ([`super::banded::BandLu`]), behind one enum per scalar so that the
//! methods do not fork on the Jacobian's structure.

use ndarray::{Array1, Array2, OwnedRepr};
use ndarray_linalg::{c64, Factorize, FactorizeInto, LUFactorized, Lapack, Scalar, Solve};

use super::banded::BandLu;
use super::lapack_stack;

/// The LU factors of a real square matrix.
pub(crate) struct RealLu(LUFactorized<OwnedRepr<f64>>);

/// The LU factors of a complex square matrix (Radau's complex pair).
pub(crate) struct ComplexLu(LUFactorized<OwnedRepr<c64>>);

/// The matrix is singular to working precision (a zero pivot).
#[derive(Debug)]
pub(crate) struct Singular;

/// `getrf` of `m`, where the stack has room for it
/// ([`super::lapack_stack`]).
fn factorize<A>(m: Array2<A>) -> Result<LUFactorized<OwnedRepr<A>>, Singular>
where
    A: Scalar + Lapack + Send + Sync,
{
    if lapack_stack::needs_room(m.nrows()) {
        lapack_stack::on_roomy_thread(|| m.factorize().map_err(|_| Singular))
    } else {
        m.factorize_into().map_err(|_| Singular)
    }
}

impl RealLu {
    pub fn new(m: Array2<f64>) -> Result<Self, Singular> {
        factorize(m).map(RealLu)
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
        factorize(m).map(ComplexLu)
    }

    pub fn solve(&self, b: Array1<c64>) -> Array1<c64> {
        let n = b.len();
        self.0.solve_into(b).unwrap_or_else(|_| Array1::from_elem(n, c64::new(f64::NAN, f64::NAN)))
    }
}

/// Fewer unknowns than this never count as cheap to refactorize (see
/// [`RealFactor::rebuild_costs_an_iteration`]). Tiny dense systems are
/// stored as bands (Van der Pol's 2 x 2 is "tridiagonal"); there
/// refactorizing at every change of the step size took Van der Pol at
/// rtol 1e-8 from 423 LUs to 776 and saved no time.
const CHEAP_REBUILD_MIN_N: usize = 16;

/// A factorized real iteration matrix, dense or banded.
pub(crate) enum RealFactor {
    Dense(RealLu),
    Banded(BandLu<f64>),
}

impl RealFactor {
    /// Whether building this factorization again costs about what a
    /// Newton iteration does: a tridiagonal matrix of at least
    /// [`CHEAP_REBUILD_MIN_N`] unknowns (the factorization, the solve and
    /// `f` are all a few passes over `n` values). Dense matrices cost `n`
    /// solves to factorize; below that size every part of a step costs
    /// about the same and the counts, not the kind of matrix, decide.
    pub fn rebuild_costs_an_iteration(&self) -> bool {
        match self {
            RealFactor::Dense(_) => false,
            RealFactor::Banded(lu) => lu.is_tridiagonal() && lu.n() >= CHEAP_REBUILD_MIN_N,
        }
    }

    /// Solves `M x = b`; a size mismatch (which the solvers never cause)
    /// gives NaNs, treated as divergence, not a panic.
    pub fn solve(&self, b: Array1<f64>) -> Array1<f64> {
        match self {
            RealFactor::Dense(lu) => lu.solve(b),
            RealFactor::Banded(lu) => {
                let n = b.len();
                lu.solve(b).unwrap_or_else(|_| Array1::from_elem(n, f64::NAN))
            }
        }
    }
}

/// A factorized complex iteration matrix, dense or banded.
pub(crate) enum ComplexFactor {
    Dense(ComplexLu),
    Banded(BandLu<c64>),
}

impl ComplexFactor {
    pub fn solve(&self, b: Array1<c64>) -> Array1<c64> {
        match self {
            ComplexFactor::Dense(lu) => lu.solve(b),
            ComplexFactor::Banded(lu) => {
                let n = b.len();
                lu.solve(b).unwrap_or_else(|_| Array1::from_elem(n, c64::new(f64::NAN, f64::NAN)))
            }
        }
    }
}

/// Solves `R x = b` and `C z = c` (Radau's two systems of one Newton
/// iteration): what `real.solve(b)` and `complex.solve(c)` return, with the
/// two banded solves interleaved when both allow it.
pub(crate) fn solve_pair(
    real: &RealFactor,
    complex: &ComplexFactor,
    b: Array1<f64>,
    c: Array1<c64>,
) -> (Array1<f64>, Array1<c64>) {
    match (real, complex) {
        (RealFactor::Banded(r), ComplexFactor::Banded(z)) => {
            let (n, m) = (b.len(), c.len());
            r.solve_pair(b, z, c).unwrap_or_else(|_| {
                (Array1::from_elem(n, f64::NAN), Array1::from_elem(m, c64::new(f64::NAN, f64::NAN)))
            })
        }
        _ => (real.solve(b), complex.solve(c)),
    }
}
