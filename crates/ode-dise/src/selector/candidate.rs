//! The integrators a selector chooses between.

use ode_core::tableau::{DOPRI5, EULER, RK4};
use ode_core::{ButcherTableau, SolveOptions, Tolerance};
use serde::{Deserialize, Serialize};

use crate::error::DiseError;

/// How a candidate steps over the block's interval.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stepping {
    /// `steps` equal steps (NFE = `steps` x stages, the same for every
    /// sample).
    Fixed { steps: usize },
    /// Error-controlled steps at this tolerance with ode-core's default
    /// controller (NFE depends on the sample).
    Adaptive { tol: Tolerance },
}

/// One integrator the selector may send a sample to: a method, how it
/// steps, and the name reports and checkpoints use.
#[derive(Clone, Debug)]
pub struct Candidate {
    pub name: String,
    pub method: &'static ButcherTableau,
    pub stepping: Stepping,
}

/// What a checkpoint's sidecar records of a [`Candidate`] (the method by
/// name), so that a selector trained for one candidate list is never
/// loaded for another.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CandidateSpec {
    pub name: String,
    pub method: String,
    pub stepping: Stepping,
}

impl Candidate {
    /// `method` with `steps` equal steps; named after the method, with the
    /// step count when it is not one (`euler`, `rk4-2`).
    pub fn fixed(method: &'static ButcherTableau, steps: usize) -> Result<Self, DiseError> {
        if steps == 0 {
            return Err(DiseError::InvalidSelector(format!("candidate {}: zero fixed steps", method.name)));
        }
        let name = if steps == 1 { method.name.to_string() } else { format!("{}-{steps}", method.name) };
        Ok(Candidate { name, method, stepping: Stepping::Fixed { steps } })
    }

    /// `method` with error control at `tol`; the method needs an error
    /// estimator.
    pub fn adaptive(method: &'static ButcherTableau, tol: Tolerance) -> Result<Self, DiseError> {
        if !method.is_adaptive() {
            return Err(DiseError::InvalidSelector(format!(
                "candidate {}: the method has no error estimator, it cannot step adaptively",
                method.name
            )));
        }
        if !(tol.rtol.is_finite() && tol.rtol >= 0.0) {
            return Err(DiseError::InvalidSelector(format!("candidate {}: rtol {}", method.name, tol.rtol)));
        }
        Ok(Candidate { name: method.name.to_string(), method, stepping: Stepping::Adaptive { tol } })
    }

    /// Euler with `steps` fixed steps (the paper: one, NFE 1).
    pub fn euler(steps: usize) -> Result<Self, DiseError> {
        Self::fixed(&EULER, steps)
    }

    /// Classic RK4 with `steps` fixed steps (the paper: one, NFE 4).
    pub fn rk4(steps: usize) -> Result<Self, DiseError> {
        Self::fixed(&RK4, steps)
    }

    /// Adaptive dopri5 at `tol` (the model's tolerance).
    pub fn dopri5(tol: Tolerance) -> Result<Self, DiseError> {
        Self::adaptive(&DOPRI5, tol)
    }

    /// The paper's three: Euler and RK4 with `fixed_steps` steps each,
    /// dopri5 at `tol`. In that order, cheapest first.
    pub fn paper_defaults(fixed_steps: usize, tol: Tolerance) -> Result<Vec<Self>, DiseError> {
        Ok(vec![Self::euler(fixed_steps)?, Self::rk4(fixed_steps)?, Self::dopri5(tol)?])
    }

    /// A different name (two candidates of one selector must differ).
    pub fn named(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// ode-core options for a solve over `[t0, t1]`. Fixed steps go on an
    /// explicit grid so that rounding of `(t1 - t0) / steps` cannot add a
    /// sliver of a step (and its evaluations) at the end.
    pub fn options(&self, t0: f64, t1: f64) -> SolveOptions {
        let opts = SolveOptions::default().method(self.method);
        match &self.stepping {
            Stepping::Fixed { steps } => {
                let n = *steps;
                let grid =
                    (0..=n).map(|i| if i == n { t1 } else { t0 + (t1 - t0) * i as f64 / n as f64 }).collect();
                opts.grid(grid)
            }
            Stepping::Adaptive { tol } => {
                let mut o = opts;
                o.tol = tol.clone();
                o
            }
        }
    }

    /// Whether every sample costs the same (fixed steps).
    pub fn is_fixed(&self) -> bool {
        matches!(self.stepping, Stepping::Fixed { .. })
    }

    /// What a checkpoint records of this candidate.
    pub fn spec(&self) -> CandidateSpec {
        CandidateSpec {
            name: self.name.clone(),
            method: self.method.name.to_string(),
            stepping: self.stepping.clone(),
        }
    }

    /// The candidate a sidecar describes.
    pub fn from_spec(spec: &CandidateSpec) -> Result<Self, DiseError> {
        let method = ButcherTableau::by_name(&spec.method)
            .ok_or_else(|| DiseError::InvalidSelector(format!("unknown method `{}`", spec.method)))?;
        let c = match &spec.stepping {
            Stepping::Fixed { steps } => Self::fixed(method, *steps)?,
            Stepping::Adaptive { tol } => Self::adaptive(method, tol.clone())?,
        };
        Ok(c.named(spec.name.clone()))
    }
}

/// Checks a candidate list: not empty, names distinct.
pub(crate) fn check_candidates(candidates: &[Candidate]) -> Result<(), DiseError> {
    if candidates.is_empty() {
        return Err(DiseError::InvalidSelector("the candidate list is empty".into()));
    }
    for (i, c) in candidates.iter().enumerate() {
        if let Stepping::Fixed { steps: 0 } = c.stepping {
            return Err(DiseError::InvalidSelector(format!("candidate {}: zero fixed steps", c.name)));
        }
        if candidates[..i].iter().any(|d| d.name == c.name) {
            return Err(DiseError::InvalidSelector(format!("two candidates are named `{}`", c.name)));
        }
    }
    Ok(())
}
