//! The typed errors of a per-sample solve. Every error that concerns some
//! samples names them (indices into the batch dimension).

use super::stats::PerSampleStats;

/// Everything that can go wrong in [`super::solve_per_sample`].
#[derive(Debug, thiserror::Error)]
pub enum PerSampleError {
    /// Output times are empty, non-finite, not strictly monotonic, or a
    /// per-sample time table has the wrong shape.
    #[error("invalid output times: {reason}")]
    InvalidTimes { reason: String },

    /// rtol/atol are negative, non-finite, both zero, or a per-component
    /// atol does not match one sample's number of components.
    #[error("invalid tolerance: {reason}")]
    InvalidTolerance { reason: String },

    /// An option is out of range or not supported by per-sample stepping.
    #[error("invalid option `{name}`: {reason}")]
    InvalidOption { name: &'static str, reason: String },

    /// The method cannot step adaptively per sample.
    #[error("method {method} {reason}")]
    UnsupportedMethod { method: &'static str, reason: String },

    /// The initial state is not a floating-point tensor with a batch
    /// dimension.
    #[error("invalid initial state: {reason}")]
    InvalidState { reason: String },

    /// The right-hand side returned a tensor of another shape, kind or
    /// device than the state.
    #[error("f(t, y) has shape {found} but y has shape {expected}")]
    ShapeMismatch { expected: String, found: String },

    /// These samples of the initial state contain NaN or infinity.
    #[error("samples {samples:?} of the initial state are not finite")]
    NonFiniteState { samples: Vec<usize> },

    /// The right-hand side returned NaN or infinity for these samples (at
    /// their times `t`), and shrinking their steps did not help.
    #[error("f(t, y) is not finite for samples {samples:?} at t = {t:?}")]
    NonFiniteRhs { samples: Vec<usize>, t: Vec<f64> },

    /// These samples' states overflowed to NaN or infinity (with `f` finite
    /// at every stage) and shrinking their steps did not help.
    #[error("the state of samples {samples:?} overflowed at t = {t:?}")]
    StateOverflow { samples: Vec<usize>, t: Vec<f64> },

    /// The controller asked these samples for a step below `min_step` or
    /// too small to advance their `t` in floating point.
    #[error("step size underflow for samples {samples:?} at t = {t:?} (h = {h:?}); stiff or singular?")]
    StepSizeUnderflow { samples: Vec<usize>, t: Vec<f64>, h: Vec<f64>, stats: Box<PerSampleStats> },

    /// These samples needed more than `max_steps` steps (accepted plus
    /// rejected).
    #[error("samples {samples:?} exceeded max_steps = {max_steps} at t = {t:?}")]
    MaxStepsExceeded { samples: Vec<usize>, t: Vec<f64>, max_steps: usize, stats: Box<PerSampleStats> },
}

impl PerSampleError {
    /// The samples an error is about (empty for errors of the arguments).
    pub fn samples(&self) -> &[usize] {
        match self {
            PerSampleError::NonFiniteState { samples }
            | PerSampleError::NonFiniteRhs { samples, .. }
            | PerSampleError::StateOverflow { samples, .. }
            | PerSampleError::StepSizeUnderflow { samples, .. }
            | PerSampleError::MaxStepsExceeded { samples, .. } => samples,
            _ => &[],
        }
    }
}
