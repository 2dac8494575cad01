//! The crate's error type.

use ode_models::BlockError;

/// What can go wrong computing regularizers.
#[derive(Debug, thiserror::Error)]
pub enum DiseError {
    /// The block's solve or its backward pass failed (this includes asking
    /// for step errors in a gradient mode that cannot differentiate them:
    /// [`BlockError::StepErrorsNotDifferentiable`]).
    #[error(transparent)]
    Block(#[from] BlockError),
    /// A regularizer needs a quantity of the solve that was not computed
    /// (a [`crate::SolveTerms`] built by hand without it).
    #[error("regularizer {regularizer} needs {term}, which this solve did not compute")]
    MissingTerm { regularizer: String, term: &'static str },
    /// Two regularizers of one set ask the solve for the same quantity in
    /// two incompatible ways (two error weightings, two noise kinds).
    #[error("conflicting regularizers: {0}")]
    Conflict(String),
    /// A coefficient or an argument is out of range.
    #[error("invalid regularizer setting: {0}")]
    Invalid(String),
}
