//! One candidate integrator run on a batch of initial states, and how its
//! evaluations are charged to the samples.

use ode_core::{solve, Rhs};
use serde::{Deserialize, Serialize};
use tch::Tensor;

use super::candidate::Candidate;
use crate::error::DiseError;

/// How a sample's NFE under an adaptive candidate is counted (fixed-step
/// candidates cost every sample the same either way and are always solved
/// as one batch).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum NfeAccounting {
    /// Each sample is solved alone and charged its own NFE: the cost label
    /// of a sample does not depend on which samples share its batch. Slower
    /// (one solve per sample).
    #[default]
    PerSample,
    /// The group is solved as one batch and every sample is charged the
    /// batch's NFE (the hardest sample sets everyone's steps): what a
    /// batched deployment costs.
    Batch,
}

/// Solves `h0` (`[B, ...]`) over `span` with candidate `c`, without a
/// graph: `(h(t1), NFE of each sample)`.
pub(crate) fn solve_candidate<F: Rhs<Tensor>>(
    c: &Candidate,
    f: &F,
    h0: &Tensor,
    span: (f64, f64),
    accounting: NfeAccounting,
) -> Result<(Tensor, Vec<usize>), DiseError> {
    let opts = c.options(span.0, span.1);
    let one = |y0: Tensor| -> Result<(Tensor, usize), DiseError> {
        let mut sol = tch::no_grad(|| solve(f, y0, &[span.0, span.1], &opts))
            .map_err(|source| DiseError::CandidateSolve { candidate: c.name.clone(), source })?;
        let y1 = sol.ys.pop().ok_or_else(|| {
            DiseError::InvalidSelector(format!("candidate {}: the solver returned no output", c.name))
        })?;
        Ok((y1, sol.stats.nfe))
    };
    let b = h0.size().first().copied().unwrap_or(0);
    if c.is_fixed() || accounting == NfeAccounting::Batch {
        let (y1, nfe) = one(h0.shallow_clone())?;
        return Ok((y1, vec![nfe; b as usize]));
    }
    let mut outputs = Vec::with_capacity(b as usize);
    let mut nfe = Vec::with_capacity(b as usize);
    for s in 0..b {
        let (y1, n) = one(h0.narrow(0, s, 1))?;
        outputs.push(y1);
        nfe.push(n);
    }
    Ok((Tensor::cat(&outputs, 0), nfe))
}
