//! Errors of gradient computations.

use ode_core::SolveError;

/// What can go wrong computing a gradient.
#[derive(Debug, thiserror::Error)]
pub enum GradError<S: std::fmt::Debug> {
    /// The forward solve (or the adjoint's backward solve) failed.
    /// (The message includes the cause, so it is not also chained as a
    /// `source()`: reports would print it twice.)
    #[error("{stage} solve failed: {cause}")]
    Solve { stage: &'static str, cause: SolveError<S> },
    /// The backward pass received the wrong number of cotangents.
    #[error("expected {expected} {what}, got {found}")]
    CotangentCount { what: &'static str, expected: usize, found: usize },
    /// A cotangent's shape differs from the state's.
    #[error("cotangent {index} has shape {found} but the state has shape {expected}")]
    CotangentShape { index: usize, expected: String, found: String },
    /// The chosen gradient method does not support this configuration.
    #[error("{method} does not support {what}")]
    Unsupported { method: &'static str, what: String },
}

impl<S: std::fmt::Debug> GradError<S> {
    pub(crate) fn forward(source: SolveError<S>) -> Self {
        GradError::Solve { stage: "forward", cause: source }
    }
}
