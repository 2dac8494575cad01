//! Batches of independent problems, solved in parallel with rayon. Each
//! problem has its own step sizes and statistics.

use rayon::prelude::*;

use crate::error::SolveError;
use crate::options::SolveOptions;
use crate::rhs::Rhs;
use crate::solution::Solution;
use crate::solve::solve;
use crate::state::OdeState;

/// Solves `y' = f(t, y)` from every initial state in `y0s` over the same
/// output times, in parallel. Result `i` is exactly what `solve` returns for
/// `y0s[i]`.
///
/// ```
/// use ndarray::{array, Array1};
/// use ode_core::{solve_batch, SolveOptions};
/// let f = |_t: f64, y: &Array1<f64>| -y;
/// let y0s = vec![array![1.0], array![2.0]];
/// let sols = solve_batch(&f, &y0s, &[0.0, 1.0], &SolveOptions::default());
/// assert!((sols[1].as_ref().unwrap().ys[1][0] - 2.0 * (-1f64).exp()).abs() < 1e-7);
/// ```
pub fn solve_batch<S, F>(
    f: &F,
    y0s: &[S],
    ts: &[f64],
    opts: &SolveOptions,
) -> Vec<Result<Solution<S>, SolveError<S>>>
where
    S: OdeState + std::fmt::Debug + Send + Sync,
    F: Rhs<S> + Sync + ?Sized,
{
    y0s.par_iter().map(|y0| solve(f, y0.dup(), ts, opts)).collect()
}
