//! # ode-autodiff
//!
//! Gradients of an `ode-core` solve by three methods behind one entry point,
//! generic over the state type:
//!
//! | method | backward | memory in the number of steps N |
//! |---|---|---|
//! | [`GradientMethod::Adjoint`] (Chen et al. 2018) | solves the augmented `[y, a, g]` system backwards | O(1) states (plus the outputs) |
//! | [`GradientMethod::Aca`] (Zhuang et al. 2020) | replays each accepted step from its checkpoint and back-propagates through its stages | O(N) states: one checkpoint per accepted step |
//! | [`GradientMethod::Mali`] (asynchronous leapfrog) | inverts each step exactly and back-propagates through it | O(1) states (plus N step sizes) |
//!
//! ACA's gradient is the exact derivative of the discrete forward solution
//! with the accepted steps held fixed; rejected trials cost nothing in the
//! backward. The adjoint's gradient is accurate to its backward tolerance and
//! can be far off when the dynamics are unstable backwards in time.
//!
//! ```
//! use ndarray::{array, Array1};
//! use ode_autodiff::{solve_with_grad, GradientMethod, problems::Linear};
//! use ode_core::SolveOptions;
//!
//! // y' = A y with A = [[-1, 0], [0, -2]]; L = sum(y(1)).
//! let f = Linear::new(array![[-1.0, 0.0], [0.0, -2.0]]);
//! let fwd = solve_with_grad(&f, array![1.0, 1.0], &[0.0, 1.0], &SolveOptions::default(), &GradientMethod::Aca).unwrap();
//! let g = fwd.backward(&f, &[Array1::zeros(2), array![1.0, 1.0]]).unwrap();
//! assert!((g.dy0[0] - (-1f64).exp()).abs() < 1e-6);
//! assert!((g.dy0[1] - (-2f64).exp()).abs() < 1e-6);
//! ```

mod aca;
mod adjoint;
mod error;
mod grad;
mod mali;
pub mod problems;
mod rhs;

pub use adjoint::AdjointOptions;
pub use error::GradError;
pub use grad::{solve_with_grad, BackwardStats, GradSolve, GradientMethod, Gradients};
pub use mali::MaliOptions;
pub use rhs::VjpRhs;

/// `acc += c * x`, starting from nothing.
pub(crate) fn accumulate<S: ode_core::OdeState>(acc: &mut Option<S>, c: f64, x: &S) {
    *acc = Some(match acc.take() {
        Some(a) => a.lincomb(&[(c, x)]),
        None => x.zeros_like().lincomb(&[(c, x)]),
    });
}

/// `-x` as a new state.
pub(crate) fn neg<S: ode_core::OdeState>(x: &S) -> S {
    x.lincomb(&[(-2.0, x)])
}
