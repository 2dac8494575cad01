//! The cost labels of the paper's Eq. 4 and Eq. 5, and the verdicts they
//! are computed from.

use serde::{Deserialize, Serialize};
use tch::{Kind, Tensor};

use crate::error::DiseError;

/// The label hyperparameters: exponent `alpha`, penalty `M` for a wrong
/// answer, and for tasks judged by an error `Gamma` the threshold `beta`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CostConfig {
    pub alpha: f64,
    /// `M`, the cost of a wrong answer before the exponent.
    pub penalty: f64,
    /// `beta`: an error `Gamma <= beta` counts as acceptable (Eq. 5). Only
    /// needed when the verdicts are errors.
    pub beta: Option<f64>,
}

impl CostConfig {
    /// Checks `alpha > 0`, `M > 0` and `beta >= 0`, all finite.
    pub fn new(alpha: f64, penalty: f64, beta: Option<f64>) -> Result<Self, DiseError> {
        if !(alpha.is_finite() && alpha > 0.0) {
            return Err(DiseError::InvalidSelector(format!("alpha must be finite and > 0, got {alpha}")));
        }
        if !(penalty.is_finite() && penalty > 0.0) {
            return Err(DiseError::InvalidSelector(format!("M must be finite and > 0, got {penalty}")));
        }
        if let Some(b) = beta {
            if !(b.is_finite() && b >= 0.0) {
                return Err(DiseError::InvalidSelector(format!("beta must be finite and >= 0, got {b}")));
            }
        }
        Ok(CostConfig { alpha, penalty, beta })
    }

    /// MNIST (section 4.1): alpha 0.3, M 1000.
    pub fn mnist() -> Self {
        CostConfig { alpha: 0.3, penalty: 1000.0, beta: None }
    }

    /// PhysioNet (section 4.2): alpha 0.05, M 1000.
    pub fn physionet() -> Self {
        CostConfig { alpha: 0.05, penalty: 1000.0, beta: None }
    }

    /// Continuous normalizing flows (section 4.3): alpha 0.03, M 1000,
    /// beta the mean negative log-probability of the error-regularized
    /// model (the paper's choice; it depends on the run, hence an argument).
    pub fn cnf(beta: f64) -> Result<Self, DiseError> {
        Self::new(0.03, 1000.0, Some(beta))
    }

    /// Whether an outcome is acceptable: a right prediction, or an error
    /// `Gamma <= beta`.
    pub fn acceptable(&self, outcome: Outcome) -> Result<bool, DiseError> {
        match outcome {
            Outcome::Right(right) => Ok(right),
            Outcome::Error(gamma) => Ok(gamma.is_finite() && gamma <= self.beta_or_err()?),
        }
    }

    /// The label of one sample and one candidate of `nfe` evaluations.
    ///
    /// Eq. 4 for [`Outcome::Right`]: `NFE^alpha` when right, `M^alpha`
    /// otherwise. Eq. 5 for [`Outcome::Error`]: `(NFE x Gamma)^alpha` when
    /// `Gamma <= beta`, `M^alpha` otherwise.
    pub fn cost(&self, nfe: usize, outcome: Outcome) -> Result<f64, DiseError> {
        let wrong = self.penalty.powf(self.alpha);
        Ok(match outcome {
            Outcome::Right(true) => (nfe as f64).powf(self.alpha),
            Outcome::Right(false) => wrong,
            Outcome::Error(gamma) if self.acceptable(outcome)? => (nfe as f64 * gamma).powf(self.alpha),
            Outcome::Error(_) => wrong,
        })
    }

    fn beta_or_err(&self) -> Result<f64, DiseError> {
        self.beta.ok_or_else(|| {
            DiseError::InvalidSelector("verdicts are errors (Eq. 5) but the cost has no beta".into())
        })
    }
}

/// How a candidate's output did on one sample.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub enum Outcome {
    /// Classification: whether the prediction from this output is right.
    Right(bool),
    /// Other tasks: the task error `Gamma` (smaller is better).
    Error(f64),
}

impl Outcome {
    /// One [`Outcome::Right`] per element of a `[B]` boolean (or 0/1) tensor.
    pub fn rights(mask: &Tensor) -> Result<Vec<Outcome>, DiseError> {
        let v = one_per_sample(mask, "verdict mask")?;
        Ok(v.into_iter().map(|x| Outcome::Right(x != 0.0)).collect())
    }

    /// One [`Outcome::Error`] per element of a `[B]` tensor of errors.
    pub fn errors(gamma: &Tensor) -> Result<Vec<Outcome>, DiseError> {
        Ok(one_per_sample(gamma, "error")?.into_iter().map(Outcome::Error).collect())
    }
}

fn one_per_sample(t: &Tensor, what: &str) -> Result<Vec<f64>, DiseError> {
    if t.dim() != 1 {
        return Err(DiseError::BadBatch {
            expected: format!("a [B] {what} tensor"),
            got: format!("{:?}", t.size()),
        });
    }
    Vec::<f64>::try_from(&t.to_kind(Kind::Double)).map_err(DiseError::Torch)
}

/// Says how a candidate's output `h(t1)` did on each sample of the batch
/// it was computed from, in batch order: whatever the task needs (a head
/// and labels, a decoder and targets, a density and a threshold). The
/// selector runs it once per candidate, without a graph.
///
/// Any `Fn(&Tensor) -> Result<Vec<Outcome>, DiseError>` is one:
///
/// ```
/// use ode_dise::selector::{Judge, Outcome};
/// use tch::Tensor;
/// let labels = Tensor::from_slice(&[1i64, 0]);
/// // A head that predicts class 1 when the first component is positive.
/// let judge = |h1: &Tensor| Outcome::rights(&h1.select(1, 0).gt(0.0).to_kind(tch::Kind::Int64).eq_tensor(&labels));
/// let h1 = Tensor::from_slice(&[0.5f32, 0.0, 0.3, 0.0]).reshape([2, 2]);
/// assert_eq!(judge.judge(&h1)?, [Outcome::Right(true), Outcome::Right(false)]);
/// # Ok::<(), ode_dise::DiseError>(())
/// ```
pub trait Judge {
    fn judge(&self, h1: &Tensor) -> Result<Vec<Outcome>, DiseError>;
}

impl<F: Fn(&Tensor) -> Result<Vec<Outcome>, DiseError>> Judge for F {
    fn judge(&self, h1: &Tensor) -> Result<Vec<Outcome>, DiseError> {
        self(h1)
    }
}
