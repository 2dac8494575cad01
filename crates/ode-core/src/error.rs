//! The one error type of the solvers. Bad input is a value, never a panic.

use crate::solution::Stats;

/// What had been computed when a solve stopped early: the output times
/// reached so far with their states, the last accepted time and state, and
/// the statistics up to that point.
#[derive(Debug)]
pub struct Partial<S> {
    pub ts: Vec<f64>,
    pub ys: Vec<S>,
    pub t_reached: f64,
    pub y_reached: S,
    pub stats: Stats,
}

/// Everything that can go wrong in a solve.
#[derive(Debug, thiserror::Error)]
pub enum SolveError<S: std::fmt::Debug> {
    /// Output times are empty, non-finite or not strictly monotonic.
    #[error("invalid output times: {reason}")]
    InvalidTimes { reason: String },

    /// rtol/atol are negative, non-finite, both zero, or of the wrong length.
    #[error("invalid tolerance: {reason}")]
    InvalidTolerance { reason: String },

    /// Some other option is out of range (step sizes, grids, max_steps, ...).
    #[error("invalid option `{name}`: {reason}")]
    InvalidOption { name: &'static str, reason: String },

    /// The method cannot be used this way (e.g. adaptive stepping with a
    /// method that has no error estimate).
    #[error("method {method} {reason}")]
    UnsupportedMethod { method: &'static str, reason: String },

    /// The right-hand side returned a value whose shape differs from y.
    #[error("at t = {t}: f(t, y) has shape {found} but y has shape {expected}")]
    ShapeMismatch { t: f64, expected: String, found: String },

    /// The state contains NaN or infinity (the initial state, or after a step).
    #[error("at t = {t}: the state is not finite (NaN or infinity)")]
    NonFiniteState { t: f64 },

    /// The right-hand side returned NaN or infinity.
    #[error("at t = {t}: f(t, y) returned a non-finite value (NaN or infinity)")]
    NonFiniteRhs { t: f64 },

    /// The controller asked for a step smaller than `min_step` or too small
    /// to advance t in floating point: the problem is probably stiff or
    /// singular here.
    #[error("step size underflow at t = {t} (h = {h:e}); the problem may be stiff or singular")]
    StepSizeUnderflow { t: f64, h: f64, partial: Box<Partial<S>> },

    /// More than `max_steps` steps (accepted plus rejected) were needed.
    #[error("exceeded max_steps = {max_steps} at t = {t} (h = {h:e})")]
    MaxStepsExceeded { t: f64, h: f64, max_steps: usize, partial: Box<Partial<S>> },

    /// The event function returned a non-finite value.
    #[error("at t = {t}: the event function returned a non-finite value")]
    NonFiniteEvent { t: f64 },

    /// Implicit methods: the Newton iteration matrix (`I - h gamma J`) was
    /// singular to working precision, with a fresh Jacobian and after
    /// repeatedly halving the step.
    #[error("at t = {t}: the Newton iteration matrix is singular (h = {h:e}); check the Jacobian")]
    SingularJacobian { t: f64, h: f64, partial: Box<Partial<S>> },

    /// Implicit methods: the Newton iteration kept diverging, with a fresh
    /// Jacobian and after repeatedly halving the step.
    #[error("at t = {t}: Newton iterations failed to converge down to h = {h:e}; check the Jacobian")]
    NewtonFailed { t: f64, h: f64, partial: Box<Partial<S>> },

    /// Implicit methods: the analytic Jacobian returned NaN or infinity.
    #[error("at t = {t}: the Jacobian returned a non-finite value (NaN or infinity)")]
    NonFiniteJacobian { t: f64 },

    /// Implicit methods with a banded Jacobian: the analytic Jacobian has a
    /// non-zero entry `(row, col)` outside the declared band.
    #[error(
        "at t = {t}: the Jacobian has a non-zero entry ({row}, {col}) outside the declared band \
         (lower {lower}, upper {upper})"
    )]
    JacobianNotBanded { t: f64, row: usize, col: usize, lower: usize, upper: usize },
}

impl<S: std::fmt::Debug> SolveError<S> {
    /// The partial solution carried by the errors that stop mid-solve.
    pub fn partial(&self) -> Option<&Partial<S>> {
        match self {
            SolveError::StepSizeUnderflow { partial, .. }
            | SolveError::MaxStepsExceeded { partial, .. }
            | SolveError::SingularJacobian { partial, .. }
            | SolveError::NewtonFailed { partial, .. } => Some(partial),
            _ => None,
        }
    }
}
