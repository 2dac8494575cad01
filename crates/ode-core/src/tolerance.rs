//! Error tolerances for adaptive step control.

use serde::{Deserialize, Serialize};

/// Absolute tolerance: one number for every component, or one per component
/// (in the flattened, row-major order of the state's parts).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Atol {
    Scalar(f64),
    PerComponent(Vec<f64>),
}

impl From<f64> for Atol {
    fn from(x: f64) -> Self {
        Atol::Scalar(x)
    }
}

impl From<Vec<f64>> for Atol {
    fn from(v: Vec<f64>) -> Self {
        Atol::PerComponent(v)
    }
}

/// Relative and absolute tolerance. A component's error scale is
/// `atol_j + rtol * max(|y0_j|, |y1_j|)`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Tolerance {
    pub rtol: f64,
    pub atol: Atol,
}

impl Tolerance {
    pub fn new(rtol: f64, atol: impl Into<Atol>) -> Self {
        Tolerance { rtol, atol: atol.into() }
    }

    /// The absolute tolerance of component `j`.
    #[inline]
    pub fn atol_at(&self, j: usize) -> f64 {
        match &self.atol {
            Atol::Scalar(a) => *a,
            // Out-of-range indices cannot happen after `validate`; falling
            // back to the last entry keeps this total instead of panicking.
            Atol::PerComponent(v) => v.get(j).or(v.last()).copied().unwrap_or(0.0),
        }
    }

    /// Checks the tolerances against a state of `numel` components.
    /// Returns a description of the first problem found.
    pub fn validate(&self, numel: usize) -> Result<(), String> {
        if !(self.rtol.is_finite() && self.rtol >= 0.0) {
            return Err(format!("rtol must be finite and >= 0, got {}", self.rtol));
        }
        let atols: &[f64] = match &self.atol {
            Atol::Scalar(a) => std::slice::from_ref(a),
            Atol::PerComponent(v) => {
                if v.len() != numel {
                    return Err(format!(
                        "per-component atol has {} entries but the state has {} components",
                        v.len(),
                        numel
                    ));
                }
                v
            }
        };
        if let Some(a) = atols.iter().find(|a| !(a.is_finite() && **a >= 0.0)) {
            return Err(format!("atol must be finite and >= 0, got {a}"));
        }
        // With rtol = 0 a zero atol would make every scale zero: no error
        // could ever be accepted.
        if self.rtol == 0.0 && atols.contains(&0.0) {
            return Err("rtol and atol are both zero for some component".into());
        }
        Ok(())
    }
}

impl Default for Tolerance {
    /// torchdiffeq's defaults: rtol 1e-7, atol 1e-9.
    fn default() -> Self {
        Tolerance::new(1e-7, 1e-9)
    }
}
