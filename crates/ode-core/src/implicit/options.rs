//! The implicit solvers' options, methods and counters.

use serde::{Deserialize, Serialize};

use super::jacobian::JacobianStructure;
use crate::options::{SolveOptions, StepSize};
use crate::tolerance::{Atol, Tolerance};

/// Which implicit method to use.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum StiffMethod {
    /// Variable-order (1-5) BDF/NDF with quasi-constant step size, as in
    /// MATLAB's ode15s and scipy's `BDF`.
    ///
    /// `rtol` and `atol` bound the error made in each step, as in scipy,
    /// so the error at the end can be a multiple of `rtol`. Measured
    /// against reference solutions at rtol 1e-6 and 1e-8
    /// (`tests/stiff_reference.rs`): within 10x rtol on
    /// Robertson and HIRES, but 35-100x on the limit cycles Van der Pol
    /// (mu = 1000) and OREGO, where each cycle's sharp transitions turn
    /// local errors into a growing phase error (scipy's BDF: 31-150x).
    /// The error falls in proportion to the tolerance: asking for
    /// `rtol / 30` brought both within 10x of `rtol`, for about 1.8x the
    /// evaluations of `f`. [`Radau5`](Self::Radau5), whose error estimate
    /// is more cautious, stays within 0.1x rtol on all four problems at
    /// 1.7-2.6x BDF's time. `cargo run --release -p ode-core --example
    /// stiff_stats -- --stiff-only --methods bdf,radau` prints the
    /// numbers, and with `--tighten 30` those at `rtol / 30`.
    Bdf,
    /// Three-stage Radau IIA of order 5, as in Hairer and Wanner's RADAU5.
    Radau5,
    /// Implicit Adams (Adams-Bashforth predictor, Adams-Moulton corrector
    /// iterated to convergence by functional iteration, orders 1-12) with
    /// variable step and order, as LSODE's non-stiff method: no Jacobian,
    /// about two evaluations of `f` per step. With `fixed_step` it runs at
    /// constant step and constant order `max_order`.
    Adams,
    /// Adams switching to BDF where the problem is stiff, and back where it
    /// is not, like LSODA: Adams's step is capped by its stability bound
    /// over an estimate of the stiffest eigenvalue (from the corrector's
    /// contraction rate), and the solve switches to BDF when BDF would take
    /// steps 5 times larger; BDF switches back when Adams, at the same
    /// order and limited by the Jacobian's spectral radius, would take
    /// steps at least as large as BDF's.
    Auto,
}

impl StiffMethod {
    /// The lowercase name used in errors and benchmark records.
    pub fn name(self) -> &'static str {
        match self {
            StiffMethod::Bdf => "bdf",
            StiffMethod::Radau5 => "radau5",
            StiffMethod::Adams => "adams",
            StiffMethod::Auto => "auto",
        }
    }
}

/// Options of an implicit solve.
///
/// `common` carries the options shared with [`crate::solve()`]: tolerances,
/// `first_step`, `min_step`, `max_step`, `max_steps`, `step_t`, `jump_t`
/// (each method restarts just past a jump), `dense` (fills
/// [`StiffSolution::dense`](super::StiffSolution::dense)) and `checkpoints`. `common.step` must be
/// `Adaptive` (its controller is not used: each method has its own step
/// and order selection), except that Radau5 also runs with `Fixed` steps
/// or on a `Grid`, and Adams with `Fixed` steps (at the constant order
/// `max_order`, default 12). `common.method` (an explicit tableau) is
/// ignored.
///
/// ```
/// use ode_core::implicit::{StiffMethod, StiffOptions};
/// let opts = StiffOptions::new(StiffMethod::Radau5).tol(1e-8, 1e-10).max_step(10.0);
/// assert_eq!(opts.common.tol.rtol, 1e-8);
/// ```
#[derive(Clone, Debug)]
pub struct StiffOptions {
    pub method: StiffMethod,
    pub common: SolveOptions,
    /// Highest order: 1-5 for BDF (default 5), 1-12 for Adams and Auto
    /// (default 12; Auto's BDF uses at most 5). Adams with fixed steps runs
    /// at exactly this order. Ignored by Radau5.
    pub max_order: Option<usize>,
    /// Use Shampine's NDF variant of BDF (default, as in scipy and ode15s);
    /// `false` gives the classical BDF formulas.
    pub ndf: bool,
    /// The structure of `df/dy` (default dense); see [`StiffOptions::banded`].
    pub jacobian: JacobianStructure,
    /// BDF keeps the LU of its Newton matrix `I - (h / alpha_k) J` while
    /// `h / alpha_k` stays within 30% of the value it was built with
    /// (LSODA's and CVODE's rule; default `true`), and refactorizes first
    /// when Newton fails with it. `false` refactorizes at every change of
    /// step size or order, as scipy's BDF. Applies to `Auto`'s BDF phase
    /// too (each switch to BDF starts with a fresh Jacobian and LU).
    /// Tridiagonal systems of 16 or more unknowns are refactorized at every
    /// change whatever this says: their LU costs about one Newton
    /// iteration, and a reused one costs a second iteration on each step
    /// until the next refactorization.
    pub lu_reuse: bool,
    /// With the default dense structure, look at each Jacobian for a narrow
    /// band (all non-zeros within `l` diagonals below and `u` above the main
    /// one, with `2l + u + 1 <= n / 4`) and factorize in band storage when
    /// there is one: the same pivots and solution up to rounding, at
    /// `O(n l (l + u))` instead of `O(n^3)` (default `true`). The scan
    /// costs about as much as filling the matrix. Declaring the band with
    /// [`StiffOptions::banded`] is still better when it is known: finite
    /// differences then cost `l + u + 1` evaluations of `f`, not `n`.
    /// Systems of order 8 or less use our LU whatever this says: LAPACK's
    /// per-call overhead costs more than their arithmetic.
    pub detect_band: bool,
}

impl Default for StiffOptions {
    fn default() -> Self {
        StiffOptions::new(StiffMethod::Bdf)
    }
}

impl StiffOptions {
    /// The method with the default options of [`SolveOptions`] (rtol 1e-7,
    /// atol 1e-9, at most 100 000 steps).
    pub fn new(method: StiffMethod) -> Self {
        StiffOptions {
            method,
            common: SolveOptions::default(),
            max_order: None,
            ndf: true,
            jacobian: JacobianStructure::Dense,
            lu_reuse: true,
            detect_band: true,
        }
    }
    pub fn method(mut self, method: StiffMethod) -> Self {
        self.method = method;
        self
    }
    pub fn common(mut self, common: SolveOptions) -> Self {
        self.common = common;
        self
    }
    pub fn tol(mut self, rtol: f64, atol: impl Into<Atol>) -> Self {
        self.common.tol = Tolerance::new(rtol, atol);
        self
    }
    pub fn first_step(mut self, h: f64) -> Self {
        self.common.first_step = Some(h);
        self
    }
    pub fn min_step(mut self, h: f64) -> Self {
        self.common.min_step = h;
        self
    }
    pub fn max_step(mut self, h: f64) -> Self {
        self.common.max_step = h;
        self
    }
    pub fn max_steps(mut self, n: usize) -> Self {
        self.common.max_steps = n;
        self
    }
    pub fn fixed_step(mut self, h: f64) -> Self {
        self.common.step = StepSize::Fixed(h);
        self
    }
    pub fn dense(mut self, yes: bool) -> Self {
        self.common.dense = yes;
        self
    }
    pub fn max_order(mut self, k: usize) -> Self {
        self.max_order = Some(k);
        self
    }
    pub fn ndf(mut self, yes: bool) -> Self {
        self.ndf = yes;
        self
    }
    /// Declares `df/dy` banded: `J[i][j] = 0` unless `i - lower <= j <= i +
    /// upper`. Both bandwidths must be smaller than the dimension.
    ///
    /// ```
    /// use ndarray::Array1;
    /// use ode_core::implicit::problems::Heat1d;
    /// use ode_core::implicit::{solve_stiff, StiffMethod, StiffOptions};
    /// // The heat equation on 200 points: a tridiagonal Jacobian.
    /// let heat = Heat1d { n: 200 };
    /// let opts = StiffOptions::new(StiffMethod::Bdf).tol(1e-6, 1e-9).banded(1, 1);
    /// let sol = solve_stiff(&heat, heat.y0(), &[0.0, 0.1], &opts).unwrap();
    /// let err = (&sol.solution.ys[1] - &heat.exact(0.1)).mapv(f64::abs).fold(0.0f64, |a, &b| a.max(b));
    /// assert!(err < 1e-4);
    /// ```
    pub fn banded(mut self, lower: usize, upper: usize) -> Self {
        self.jacobian = JacobianStructure::Banded { lower, upper };
        self
    }
    pub fn jacobian_structure(mut self, structure: JacobianStructure) -> Self {
        self.jacobian = structure;
        self
    }
    pub fn lu_reuse(mut self, yes: bool) -> Self {
        self.lu_reuse = yes;
        self
    }
    /// Whether dense Jacobians are scanned for a narrow band (see the
    /// field [`StiffOptions::detect_band`]).
    ///
    /// ```
    /// use ndarray::Array1;
    /// use ode_core::implicit::problems::Heat1d;
    /// use ode_core::implicit::{solve_stiff, StiffMethod, StiffOptions};
    /// // A tridiagonal Jacobian handed over as a dense 300 x 300 matrix.
    /// let heat = Heat1d { n: 300 };
    /// let opts = StiffOptions::new(StiffMethod::Bdf).tol(1e-6, 1e-9);
    /// let fast = solve_stiff(&heat, heat.y0(), &[0.0, 0.1], &opts).unwrap();
    /// let slow = solve_stiff(&heat, heat.y0(), &[0.0, 0.1], &opts.clone().detect_band(false)).unwrap();
    /// // Same steps. The tridiagonal LU is cheap enough to rebuild for every
    /// // step size, LAPACK's dense one is reused across changes: fewer
    /// // Newton iterations, and states that agree to well within rtol.
    /// assert_eq!(fast.solution.stats.n_accepted, slow.solution.stats.n_accepted);
    /// assert!(fast.solution.stats.nfe < slow.solution.stats.nfe);
    /// let diff = (&fast.solution.ys[1] - &slow.solution.ys[1]).mapv(f64::abs).fold(0.0f64, |a, &b| a.max(b));
    /// assert!(diff < 1e-8);
    /// ```
    pub fn detect_band(mut self, yes: bool) -> Self {
        self.detect_band = yes;
        self
    }
}

/// Counters specific to implicit methods (the common ones, `nfe` and
/// accepted/rejected steps, are in [`Stats`](crate::solution::Stats)).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StiffStats {
    /// Jacobian evaluations (analytic, or finite differences: those cost
    /// `n` evaluations of `f` each, counted in `Stats::nfe`).
    pub n_jac: usize,
    /// LU factorizations (Radau5 counts its real and complex one).
    pub n_lu: usize,
    /// Newton iterations (each costs one evaluation of f for BDF, three for
    /// Radau5); for Adams, the corrector's functional iterations (one
    /// evaluation of f each).
    pub n_newton_iters: usize,
    /// Trial steps whose Newton iteration (Adams: functional iteration)
    /// did not converge.
    pub n_newton_failures: usize,
    /// `Auto`: switches between Adams and BDF (either way).
    #[serde(default)]
    pub n_switches: usize,
    /// Accepted steps taken with the Adams formulas (`Adams`, and `Auto`
    /// while non-stiff).
    #[serde(default)]
    pub n_adams_steps: usize,
    /// `Auto`: accepted steps taken with BDF while stiff (plain `Bdf`
    /// leaves this at 0: all its steps are in `Stats::n_accepted`).
    #[serde(default)]
    pub n_bdf_steps: usize,
}
