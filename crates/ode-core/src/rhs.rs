//! The right-hand side of `dy/dt = f(t, y)`.

/// A right-hand side. Any `Fn(f64, &S) -> S` is one.
///
/// ```
/// use ndarray::{array, Array1};
/// use ode_core::Rhs;
/// let decay = |_t: f64, y: &Array1<f64>| -y;
/// assert_eq!(decay.eval(0.0, &array![2.0]), array![-2.0]);
/// ```
pub trait Rhs<S> {
    fn eval(&self, t: f64, y: &S) -> S;
}

impl<S, F: Fn(f64, &S) -> S + ?Sized> Rhs<S> for F {
    #[inline]
    fn eval(&self, t: f64, y: &S) -> S {
        self(t, y)
    }
}
