//! The crate's error type.

use std::path::PathBuf;

use ode_core::SolveError;
use ode_models::train::TrainError;
use ode_models::BlockError;
use tch::Tensor;

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
    /// An integrator selector's setting is out of range (no candidates,
    /// zero fixed steps, `alpha <= 0`, a cost network whose number of
    /// outputs is not the number of candidates, ...).
    #[error("invalid integrator selector setting: {0}")]
    InvalidSelector(String),
    /// A batch (of initial states, labels or verdicts) has the wrong shape.
    #[error("bad batch: expected {expected}, got {got}")]
    BadBatch { expected: String, got: String },
    /// A candidate integrator's solve failed.
    #[error("candidate integrator {candidate}: {source}")]
    CandidateSolve {
        candidate: String,
        #[source]
        source: SolveError<Tensor>,
    },
    /// Saving or loading the selector's checkpoint failed (I/O, a corrupt
    /// or truncated file, variables of another shape).
    #[error(transparent)]
    Checkpoint(#[from] TrainError),
    /// A saved selector was written for another model or another
    /// configuration (candidates, alpha, M, beta, interval, network).
    #[error("selector checkpoint {path}: {what}")]
    SelectorMismatch { path: PathBuf, what: String },
    /// libtorch refused an operation (building the optimizer of the cost
    /// network).
    #[error("libtorch: {0}")]
    Torch(#[from] tch::TchError),
}
