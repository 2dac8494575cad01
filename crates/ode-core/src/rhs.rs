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

    /// Called by the explicit Runge-Kutta step before it evaluates its
    /// stages, with the times it will evaluate them at, in order (a
    /// rejected step is followed by another call with the retried step's
    /// times). Dynamics with costly work that depends on `t` alone (a
    /// hypernetwork of `t`, an interpolated forcing term) can do that work
    /// for all stages at once here and look it up in [`Rhs::eval`] by the
    /// exact `t`. The default does nothing; `eval` must not depend on
    /// whether this was called.
    ///
    /// ```
    /// use std::cell::RefCell;
    /// use ndarray::{array, Array1};
    /// use ode_core::{solve, Rhs, SolveOptions};
    /// /// `y' = -k(t) y` with `k(t) = 1 + t^2` worked out once per step.
    /// struct Decay { rates: RefCell<Vec<(f64, f64)>> }
    /// impl Rhs<Array1<f64>> for Decay {
    ///     fn eval(&self, t: f64, y: &Array1<f64>) -> Array1<f64> {
    ///         let cached = self.rates.borrow().iter().find(|(s, _)| *s == t).map(|&(_, k)| k);
    ///         -cached.unwrap_or(1.0 + t * t) * y
    ///     }
    ///     fn stage_times(&self, ts: &[f64]) {
    ///         *self.rates.borrow_mut() = ts.iter().map(|&t| (t, 1.0 + t * t)).collect();
    ///     }
    /// }
    /// let f = Decay { rates: RefCell::new(Vec::new()) };
    /// let sol = solve(&f, array![1.0], &[0.0, 1.0], &SolveOptions::default().tol(1e-10, 1e-12))?;
    /// assert!((sol.ys[1][0] - (-4.0f64 / 3.0).exp()).abs() < 1e-8);
    /// # Ok::<(), ode_core::SolveError<Array1<f64>>>(())
    /// ```
    #[inline]
    fn stage_times(&self, _ts: &[f64]) {}
}

impl<S, F: Fn(f64, &S) -> S + ?Sized> Rhs<S> for F {
    #[inline]
    fn eval(&self, t: f64, y: &S) -> S {
        self(t, y)
    }
}
