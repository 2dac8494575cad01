//! Solver options: method, tolerances, step-size policy and limits.

use crate::control::Controller;
use crate::tableau::{ButcherTableau, DOPRI5};
use crate::tolerance::{Atol, Tolerance};

/// How step sizes are chosen.
#[derive(Clone, Debug, PartialEq)]
pub enum StepSize {
    /// Error-controlled steps (needs a method with an error estimator).
    Adaptive(Controller),
    /// Constant step `h > 0` (the last step is shortened to land on the end).
    Fixed(f64),
    /// Steps between consecutive points of this grid, which must start at
    /// the first output time and end at the last one.
    Grid(Vec<f64>),
}

/// Options of a solve. `SolveOptions::default()` is dopri5 with an integral
/// controller at rtol 1e-7, atol 1e-9 (torchdiffeq's defaults).
///
/// ```
/// use ode_core::{SolveOptions, tableau::TSIT5};
/// let opts = SolveOptions::default().method(&TSIT5).tol(1e-6, 1e-9).max_step(0.5);
/// assert_eq!(opts.method.name, "tsit5");
/// ```
#[derive(Clone, Debug)]
pub struct SolveOptions {
    pub method: &'static ButcherTableau,
    pub tol: Tolerance,
    pub step: StepSize,
    /// Size of the first step; chosen by Hairer's heuristic when `None`.
    pub first_step: Option<f64>,
    /// Smallest step size allowed (absolute value); 0 means only
    /// floating-point underflow stops the solve.
    pub min_step: f64,
    /// Largest step size allowed (absolute value).
    pub max_step: f64,
    /// Limit on accepted plus rejected steps.
    pub max_steps: usize,
    /// Times the steps must land on exactly (the controller clips to them).
    pub step_t: Vec<f64>,
    /// Discontinuities of f in t: steps land on them and the stage after a
    /// jump is evaluated afresh just past it (no FSAL reuse across it).
    pub jump_t: Vec<f64>,
    /// Keep a [`crate::DenseSolution`] of the whole interval.
    pub dense: bool,
    /// Keep the state at the start of every accepted step
    /// ([`crate::Solution::checkpoints`]): what the adaptive checkpoint
    /// adjoint replays from.
    pub checkpoints: bool,
}

impl Default for SolveOptions {
    fn default() -> Self {
        SolveOptions {
            method: &DOPRI5,
            tol: Tolerance::default(),
            step: StepSize::Adaptive(Controller::default()),
            first_step: None,
            min_step: 0.0,
            max_step: f64::INFINITY,
            max_steps: 100_000,
            step_t: Vec::new(),
            jump_t: Vec::new(),
            dense: false,
            checkpoints: false,
        }
    }
}

impl SolveOptions {
    pub fn method(mut self, method: &'static ButcherTableau) -> Self {
        self.method = method;
        self
    }
    pub fn tol(mut self, rtol: f64, atol: impl Into<Atol>) -> Self {
        self.tol = Tolerance::new(rtol, atol);
        self
    }
    pub fn controller(mut self, c: Controller) -> Self {
        self.step = StepSize::Adaptive(c);
        self
    }
    pub fn fixed_step(mut self, h: f64) -> Self {
        self.step = StepSize::Fixed(h);
        self
    }
    pub fn grid(mut self, grid: Vec<f64>) -> Self {
        self.step = StepSize::Grid(grid);
        self
    }
    pub fn first_step(mut self, h: f64) -> Self {
        self.first_step = Some(h);
        self
    }
    pub fn min_step(mut self, h: f64) -> Self {
        self.min_step = h;
        self
    }
    pub fn max_step(mut self, h: f64) -> Self {
        self.max_step = h;
        self
    }
    pub fn max_steps(mut self, n: usize) -> Self {
        self.max_steps = n;
        self
    }
    pub fn step_t(mut self, ts: Vec<f64>) -> Self {
        self.step_t = ts;
        self
    }
    pub fn jump_t(mut self, ts: Vec<f64>) -> Self {
        self.jump_t = ts;
        self
    }
    pub fn dense(mut self, yes: bool) -> Self {
        self.dense = yes;
        self
    }
    pub fn checkpoints(mut self, yes: bool) -> Self {
        self.checkpoints = yes;
        self
    }
}

impl SolveOptions {
    /// Checks the step-size limits and landing times shared by every solver:
    /// returns the offending option's name and why. Solvers built outside
    /// this crate on the same options (MALI's leapfrog in ode-autodiff) call
    /// it so that they reject what `solve` rejects.
    ///
    /// ```
    /// use ode_core::SolveOptions;
    /// assert!(SolveOptions::default().validate_step_limits().is_ok());
    /// let (name, _why) = SolveOptions::default().max_step(-1.0).validate_step_limits().unwrap_err();
    /// assert_eq!(name, "max_step");
    /// ```
    pub fn validate_step_limits(&self) -> Result<(), (&'static str, String)> {
        if !(self.min_step.is_finite() && self.min_step >= 0.0) {
            return Err(("min_step", format!("must be finite and >= 0, got {}", self.min_step)));
        }
        if self.max_step.is_nan() || self.max_step <= 0.0 || self.max_step < self.min_step {
            return Err(("max_step", format!("must be > 0 and >= min_step, got {}", self.max_step)));
        }
        if self.max_steps == 0 {
            return Err(("max_steps", "must be at least 1".into()));
        }
        if let Some(h) = self.first_step {
            if !(h.is_finite() && h != 0.0) {
                return Err(("first_step", format!("must be finite and non-zero, got {h}")));
            }
        }
        for (name, list) in [("step_t", &self.step_t), ("jump_t", &self.jump_t)] {
            if let Some(t) = list.iter().find(|t| !t.is_finite()) {
                return Err((name, format!("contains a non-finite time {t}")));
            }
        }
        Ok(())
    }
}
