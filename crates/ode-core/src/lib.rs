//! # ode-core
//!
//! Explicit Runge-Kutta solvers with adaptive step control for
//! `dy/dt = f(t, y)`, generic over the state type: owned `ndarray` arrays of
//! `f32`/`f64` of any dimension, tuples and `Vec`s of states, and (in
//! `ode-models`) `tch` tensors.
//!
//! Each concept is its own piece: [`tableau`] (methods as data), [`rk`] (one
//! generic step), [`control`] (step-size controllers), [`dense`]
//! (interpolants), [`solve()`] (the loop), [`SolveError`] (typed errors).
//!
//! ```
//! use ndarray::{array, Array1};
//! use ode_core::{solve, SolveOptions};
//!
//! // y' = -y, y(0) = 1, observed at t = 0, 1, 2.
//! let f = |_t: f64, y: &Array1<f64>| -y;
//! let sol = solve(&f, array![1.0], &[0.0, 1.0, 2.0], &SolveOptions::default()).unwrap();
//! assert!((sol.ys[2][0] - (-2.0f64).exp()).abs() < 1e-7);
//! println!("{} evaluations, {} steps", sol.stats.nfe, sol.stats.n_accepted);
//! ```

pub mod batch;
pub mod control;
pub mod dense;
pub mod error;
pub mod event;
#[cfg(feature = "stiff")]
pub mod implicit;
pub mod options;
pub mod problems;
pub mod rhs;
pub mod rk;
pub mod solution;
pub mod solve;
pub mod state;
#[cfg(feature = "tch")]
mod state_tch;
pub mod tableau;
pub mod tolerance;

pub use batch::solve_batch;
pub use control::Controller;
pub use dense::DenseSolution;
pub use error::{Partial, SolveError};
pub use options::{SolveOptions, StepSize};
pub use rhs::Rhs;
pub use solution::{EventHit, Solution, Stats, StepRecord};
pub use solve::{solve, solve_with_event};
pub use state::{OdeState, Real};
pub use tableau::ButcherTableau;
pub use tolerance::{Atol, Tolerance};
