//! Right-hand sides of implicit solves, with an optional analytic Jacobian,
//! and the finite-difference Jacobian used when there is none.

use ndarray::{Array1, Array2};

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
