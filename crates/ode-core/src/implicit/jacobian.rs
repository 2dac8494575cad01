//! Right-hand sides of implicit solves, with an optional analytic Jacobian
//! (dense or banded), the declared structure of the Jacobian, and the
//! finite-difference Jacobians used when there is no analytic one.

use ndarray::{Array1, Array2};
use ndarray_linalg::c64;
use serde::{Deserialize, Serialize};

use super::banded::{BandLu, BandMatrix};
use super::lu::{ComplexFactor, ComplexLu, RealFactor, RealLu, Singular};

/// The sparsity the solver may assume of `df/dy`.
///
/// With `Banded { lower, upper }` (entries `J[i][j]` vanish unless
/// `i - lower <= j <= i + upper`), Jacobians are kept in band storage, the
/// Newton matrices are factorized by a banded LU, and a finite-difference
/// Jacobian costs `lower + upper + 1` evaluations of `f` instead of `n`.
/// Set it with [`super::StiffOptions::banded`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum JacobianStructure {
    /// A full `n x n` matrix and LAPACK's dense LU.
    #[default]
    Dense,
    /// A band of `lower` diagonals below and `upper` above the main one.
    Banded { lower: usize, upper: usize },
}

/// A right-hand side `f(t, y)` on `Array1<f64>` states for the implicit
/// solvers, with an optional analytic Jacobian `df/dy`.
///
/// Every `Fn(f64, &Array1<f64>) -> Array1<f64>` is one (its Jacobian is
/// approximated by finite differences); [`WithJacobian`] pairs a closure
/// with an analytic Jacobian, and a struct can implement both methods.
///
/// ```
/// use ndarray::{array, Array1, Array2};
/// use ode_core::implicit::StiffRhs;
/// struct Decay(f64);
/// impl StiffRhs for Decay {
///     fn eval(&self, _t: f64, y: &Array1<f64>) -> Array1<f64> {
///         y * -self.0
///     }
///     fn jacobian(&self, _t: f64, y: &Array1<f64>) -> Option<Array2<f64>> {
///         Some(Array2::eye(y.len()) * -self.0)
///     }
/// }
/// assert_eq!(Decay(2.0).jacobian(0.0, &array![1.0]), Some(array![[-2.0]]));
/// ```
pub trait StiffRhs {
    /// `f(t, y)`.
    fn eval(&self, t: f64, y: &Array1<f64>) -> Array1<f64>;

    /// The `n x n` Jacobian `J[i][j] = d f_i / d y_j` at `(t, y)`, or `None`
    /// (the default) to let the solver use finite differences.
    fn jacobian(&self, _t: f64, _y: &Array1<f64>) -> Option<Array2<f64>> {
        None
    }

    /// Used when the solve declares a banded Jacobian
    /// ([`JacobianStructure::Banded`]): fills `jac` (all zeros on entry,
    /// with the declared bandwidths) with `df/dy` at `(t, y)` and returns
    /// `true`, or returns `false` (the default) to let the solver use
    /// [`StiffRhs::jacobian`] (checked to be banded) or grouped finite
    /// differences. A non-zero entry set outside the band is an error
    /// ([`crate::SolveError::JacobianNotBanded`]).
    ///
    /// ```
    /// use ndarray::{array, Array1};
    /// use ode_core::implicit::banded::BandMatrix;
    /// use ode_core::implicit::StiffRhs;
    /// /// `y_i' = y_{i-1} - y_i`: a chain, lower bandwidth 1.
    /// struct Chain;
    /// impl StiffRhs for Chain {
    ///     fn eval(&self, _t: f64, y: &Array1<f64>) -> Array1<f64> {
    ///         Array1::from_shape_fn(y.len(), |i| if i > 0 { y[i - 1] - y[i] } else { -y[0] })
    ///     }
    ///     fn banded_jacobian(&self, _t: f64, y: &Array1<f64>, jac: &mut BandMatrix) -> bool {
    ///         for i in 0..y.len() {
    ///             jac.set(i, i, -1.0);
    ///             if i > 0 {
    ///                 jac.set(i, i - 1, 1.0);
    ///             }
    ///         }
    ///         true
    ///     }
    /// }
    /// let mut j = BandMatrix::zeros(3, 1, 0).unwrap();
    /// assert!(Chain.banded_jacobian(0.0, &array![1.0, 2.0, 3.0], &mut j));
    /// assert_eq!(j.get(2, 1), 1.0);
    /// ```
    fn banded_jacobian(&self, _t: f64, _y: &Array1<f64>, _jac: &mut BandMatrix) -> bool {
        false
    }
}

impl<F: Fn(f64, &Array1<f64>) -> Array1<f64>> StiffRhs for F {
    #[inline]
    fn eval(&self, t: f64, y: &Array1<f64>) -> Array1<f64> {
        self(t, y)
    }
}

/// A right-hand side `f` with its analytic Jacobian `jac`.
///
/// ```
/// use ndarray::{array, Array1, Array2};
/// use ode_core::implicit::{StiffRhs, WithJacobian};
/// let rhs = WithJacobian {
///     f: |_t: f64, y: &Array1<f64>| array![-1e4 * y[0]],
///     jac: |_t: f64, _y: &Array1<f64>| array![[-1e4]],
/// };
/// assert_eq!(rhs.jacobian(0.0, &array![1.0]).unwrap()[[0, 0]], -1e4);
/// ```
#[derive(Clone, Copy, Debug)]
pub struct WithJacobian<F, J> {
    pub f: F,
    pub jac: J,
}

impl<F, J> StiffRhs for WithJacobian<F, J>
where
    F: Fn(f64, &Array1<f64>) -> Array1<f64>,
    J: Fn(f64, &Array1<f64>) -> Array2<f64>,
{
    #[inline]
    fn eval(&self, t: f64, y: &Array1<f64>) -> Array1<f64> {
        (self.f)(t, y)
    }
    fn jacobian(&self, t: f64, y: &Array1<f64>) -> Option<Array2<f64>> {
        Some((self.jac)(t, y))
    }
}

/// A right-hand side `f` with its analytic banded Jacobian: `jac(t, y,
/// band)` fills the band storage (see [`StiffRhs::banded_jacobian`]).
/// Without a banded structure in the options the solver uses finite
/// differences.
#[derive(Clone, Copy, Debug)]
pub struct WithBandedJacobian<F, J> {
    pub f: F,
    pub jac: J,
}

impl<F, J> StiffRhs for WithBandedJacobian<F, J>
where
    F: Fn(f64, &Array1<f64>) -> Array1<f64>,
    J: Fn(f64, &Array1<f64>, &mut BandMatrix),
{
    #[inline]
    fn eval(&self, t: f64, y: &Array1<f64>) -> Array1<f64> {
        (self.f)(t, y)
    }
    fn banded_jacobian(&self, t: f64, y: &Array1<f64>, jac: &mut BandMatrix) -> bool {
        (self.jac)(t, y, jac);
        true
    }
}

/// A Jacobian as the solver keeps it: dense, or in band storage.
#[derive(Clone, Debug)]
pub(crate) enum Jacobian {
    Dense(Array2<f64>),
    Banded(BandMatrix),
}

impl Jacobian {
    pub fn nrows(&self) -> usize {
        match self {
            Jacobian::Dense(a) => a.nrows(),
            Jacobian::Banded(b) => b.n(),
        }
    }

    /// The trace, `sum_i J_ii`: the sum of the eigenvalues.
    pub fn trace(&self) -> f64 {
        match self {
            Jacobian::Dense(a) => a.diag().sum(),
            Jacobian::Banded(b) => (0..b.n()).map(|i| b.get(i, i)).sum(),
        }
    }

    /// `J v`.
    pub fn dot(&self, v: &Array1<f64>) -> Array1<f64> {
        match self {
            Jacobian::Dense(a) => a.dot(v),
            Jacobian::Banded(b) => b.dot(v),
        }
    }

    /// `J v` into `out` (of the same length), with the bits of [`Jacobian::dot`].
    pub(crate) fn dot_into(&self, v: &Array1<f64>, out: &mut Array1<f64>) {
        match (self, v.as_slice(), out.as_slice_mut()) {
            (Jacobian::Banded(b), Some(x), Some(o)) => b.dot_rows_into(x, o),
            _ => out.assign(&self.dot(v)),
        }
    }

    /// The LU of `diag I + scale J` (BDF: `I - (h/alpha) J`; Radau: the
    /// real system `mu/h I - J`).
    pub fn factor_real(&self, diag: f64, scale: f64) -> Result<RealFactor, Singular> {
        match self {
            Jacobian::Dense(a) => {
                let mut m = a * scale;
                m.diag_mut().mapv_inplace(|v| v + diag);
                RealLu::new(m).map(RealFactor::Dense)
            }
            Jacobian::Banded(b) => {
                BandLu::shifted(b, diag, scale).map(RealFactor::Banded).map_err(|_| Singular)
            }
        }
    }

    /// The LU of `diag I + scale J` for a complex `diag` (Radau's complex
    /// system).
    pub fn factor_complex(&self, diag: c64, scale: f64) -> Result<ComplexFactor, Singular> {
        match self {
            Jacobian::Dense(a) => {
                let mut m = a.mapv(|v| c64::new(scale * v, 0.0));
                m.diag_mut().mapv_inplace(|v| v + diag);
                ComplexLu::new(m).map(ComplexFactor::Dense)
            }
            Jacobian::Banded(b) => {
                BandLu::shifted(b, diag, scale).map(ComplexFactor::Banded).map_err(|_| Singular)
            }
        }
    }
}

/// Forward differences, one evaluation of `f` per column, with Hairer's
/// increment `sqrt(eps * max(1e-5, y_j^2))` (RADAU5's choice). `f0` is
/// `f(t, y)`. Returns the Jacobian and whether every entry is finite.
pub(crate) fn finite_difference<F: StiffRhs + ?Sized>(
    f: &F,
    t: f64,
    y: &Array1<f64>,
    f0: &Array1<f64>,
    nfe: &mut usize,
) -> Result<Array2<f64>, String> {
    let n = y.len();
    let mut jac = Array2::zeros((n, n));
    let mut yp = y.clone();
    for j in 0..n {
        let yj = y[j];
        let delta = (f64::EPSILON * 1e-5f64.max(yj * yj)).sqrt();
        yp[j] = yj + delta;
        // The increment actually represented in floating point.
        let dj = yp[j] - yj;
        let fj = f.eval(t, &yp);
        *nfe += 1;
        if fj.len() != n {
            return Err(format!("{:?}", fj.shape()));
        }
        let mut col = jac.column_mut(j);
        for i in 0..n {
            col[i] = (fj[i] - f0[i]) / dj;
        }
        yp[j] = yj;
    }
    Ok(jac)
}

/// Forward differences for a banded Jacobian with Curtis, Powell and
/// Reid's column grouping: columns `lower + upper + 1` apart touch disjoint
/// rows, so one evaluation of `f` perturbs all of them at once and the
/// Jacobian costs `min(n, lower + upper + 1)` evaluations. Each column gets
/// the same increment as in [`finite_difference`], so for a truly banded
/// `f` the two agree.
pub(crate) fn finite_difference_banded<F: StiffRhs + ?Sized>(
    f: &F,
    t: f64,
    y: &Array1<f64>,
    f0: &Array1<f64>,
    lower: usize,
    upper: usize,
    nfe: &mut usize,
) -> Result<BandMatrix, String> {
    let n = y.len();
    let mut jac = BandMatrix::zeros(n, lower, upper).map_err(|e| e.to_string())?;
    let groups = (lower + upper + 1).min(n);
    let mut yp = y.clone();
    let mut deltas = vec![0.0; n];
    for g in 0..groups {
        for j in (g..n).step_by(groups) {
            let yj = y[j];
            yp[j] = yj + (f64::EPSILON * 1e-5f64.max(yj * yj)).sqrt();
            deltas[j] = yp[j] - yj;
        }
        let fp = f.eval(t, &yp);
        *nfe += 1;
        if fp.len() != n {
            return Err(format!("{:?}", fp.shape()));
        }
        for j in (g..n).step_by(groups) {
            for i in j.saturating_sub(upper)..(j + lower + 1).min(n) {
                jac.set(i, j, (fp[i] - f0[i]) / deltas[j]);
            }
            yp[j] = y[j];
        }
    }
    Ok(jac)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The trace in band storage is the dense matrix's, and bounds the
    /// spectral radius from below (`|tr| / n`), which `Auto` relies on.
    #[test]
    fn trace_of_banded_and_dense_jacobians() {
        let n = 7;
        let mut b = BandMatrix::<f64>::zeros(n, 2, 1).unwrap();
        for i in 0..n {
            for j in i.saturating_sub(2)..(i + 2).min(n) {
                b.set(i, j, ((i * 5 + j * 3) as f64 * 0.7).sin() - if i == j { 3.0 } else { 0.0 });
            }
        }
        let dense = b.to_dense();
        let expected: f64 = (0..n).map(|i| dense[[i, i]]).sum();
        assert_eq!(Jacobian::Banded(b).trace(), expected);
        assert_eq!(Jacobian::Dense(dense.clone()).trace(), expected);
        // The heat operator's trace is -2 n / dx^2 and its spectral radius
        // below 4 / dx^2: the bound is within a factor 2.
        let heat = crate::implicit::problems::Heat1d { n: 50 };
        let mut band = BandMatrix::<f64>::zeros(50, 1, 1).unwrap();
        assert!(heat.banded_jacobian(0.0, &heat.y0(), &mut band));
        let j = Jacobian::Banded(band);
        let dx = 1.0 / 51.0;
        assert!((j.trace() + 2.0 * 50.0 / (dx * dx)).abs() < 1e-9 * 2.0 * 50.0 / (dx * dx));
        let radius = 4.0 / (dx * dx);
        assert!(j.trace().abs() / 50.0 <= radius && j.trace().abs() / 50.0 >= radius / 2.1);
    }

    /// A banded nonlinear `f` (bandwidths 2 below, 1 above) with
    /// position-dependent coefficients, so that no two columns look alike.
    fn banded_f(_t: f64, y: &Array1<f64>) -> Array1<f64> {
        let n = y.len();
        Array1::from_shape_fn(n, |i| {
            let mut v = -(1.0 + i as f64) * y[i] * y[i].abs();
            if i >= 2 {
                v += 0.3 * y[i - 2].sin();
            }
            if i >= 1 {
                v += 2.0 * y[i - 1];
            }
            if i + 1 < n {
                v += (0.5 + 0.1 * i as f64) * y[i + 1] * y[i];
            }
            v
        })
    }

    #[test]
    fn grouped_differences_equal_column_by_column_ones() {
        for n in [1usize, 3, 4, 17] {
            let (lower, upper) = (2.min(n - 1), 1.min(n - 1));
            let y = Array1::from_shape_fn(n, |i| 0.3 + (i as f64 * 0.7).cos());
            let f0 = banded_f(0.0, &y);
            let (mut nfe_dense, mut nfe_band) = (0, 0);
            let dense = finite_difference(&banded_f, 0.0, &y, &f0, &mut nfe_dense).unwrap();
            let band =
                finite_difference_banded(&banded_f, 0.0, &y, &f0, lower, upper, &mut nfe_band).unwrap();
            assert_eq!(nfe_dense, n);
            assert_eq!(nfe_band, (lower + upper + 1).min(n));
            // Row i of f reads only columns in the band, and the same
            // increments are used, so the entries agree to rounding.
            let diff = (&band.to_dense() - &dense).mapv(f64::abs).fold(0.0f64, |a, &b| a.max(b));
            assert!(diff <= 1e-12 * dense.mapv(f64::abs).fold(1.0f64, |a, &b| a.max(b)), "n {n}: {diff}");
            assert!(band.outside_band().is_none());
        }
    }

    #[test]
    fn banded_and_dense_iteration_matrices_solve_alike() {
        let n = 9;
        let y = Array1::from_shape_fn(n, |i| 1.0 + 0.1 * i as f64);
        let f0 = banded_f(0.0, &y);
        let mut nfe = 0;
        let band = finite_difference_banded(&banded_f, 0.0, &y, &f0, 2, 1, &mut nfe).unwrap();
        let dense = Jacobian::Dense(band.to_dense());
        let band = Jacobian::Banded(band);
        let b = Array1::from_shape_fn(n, |i| (i as f64).sin());
        let x1 = dense.factor_real(1.0, -0.3).unwrap().solve(b.clone());
        let x2 = band.factor_real(1.0, -0.3).unwrap().solve(b.clone());
        assert!((&x1 - &x2).iter().all(|e| e.abs() < 1e-12), "{x1} vs {x2}");
        let bc = b.mapv(|v| c64::new(v, -v));
        let d = c64::new(2.7, -3.1);
        let z1 = dense.factor_complex(d, -1.0).unwrap().solve(bc.clone());
        let z2 = band.factor_complex(d, -1.0).unwrap().solve(bc);
        assert!((&z1 - &z2).iter().all(|e| e.norm() < 1e-12));
        assert!((band.dot(&b) - dense.dot(&b)).iter().all(|e| e.abs() < 1e-12));
    }
}
