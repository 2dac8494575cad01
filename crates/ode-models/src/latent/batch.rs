//! Irregularly sampled sequences batched on the union of their times.
//!
//! Every sequence of a batch has its own observation times. Rather than
//! one solve per sequence, a batch is laid out on the sorted union of all
//! its times with a 0/1 mask saying which sequence is observed when (the
//! scheme of Rubanova et al.'s latent ODE code). Then:
//!
//! - the latent ODE makes **one** solve of the stacked `[B, latent]` state
//!   with an output at every union time. ode-core's outputs come from the
//!   dense interpolant and never shorten steps, so a union of hundreds of
//!   times costs one interpolation each, not extra steps; the step size is
//!   set by the stiffest sequence of the batch, which for a shared model is
//!   the same dynamics anyway;
//! - recurrent encoders and baselines walk the union times and update a
//!   sequence's hidden state only where its mask is 1, so a sequence sees
//!   exactly its own observations, in order;
//! - likelihoods are sums over masked entries.
//!
//! The spirals share one time grid, so their union has at most `n_window`
//! times.

use tch::{Kind, Tensor};

use super::LatentError;

/// Sequences on the union of their observation times.
#[derive(Debug)]
pub struct IrregularBatch {
    /// Union of the observation times, strictly increasing.
    pub times: Vec<f64>,
    /// `[B, U, D]`; entries where `mask` is 0 are ignored (zero by convention).
    pub values: Tensor,
    /// `[B, U]`: 1 where the sequence is observed at that time, else 0.
    pub mask: Tensor,
}

impl IrregularBatch {
    /// Checks shapes, times (finite, strictly increasing), the mask (0/1,
    /// every sequence observed at least once) and the values (finite).
    pub fn new(times: Vec<f64>, values: Tensor, mask: Tensor) -> Result<Self, LatentError> {
        let shape = |m: String| Err(LatentError::Shape(m));
        let vs = values.size();
        if vs.len() != 3 || vs[0] == 0 || vs[2] == 0 {
            return shape(format!("values must be [B, U, D] with B, D > 0, got {vs:?}"));
        }
        if vs[1] as usize != times.len() || times.is_empty() {
            return shape(format!("{} times for values of shape {vs:?}", times.len()));
        }
        if mask.size() != [vs[0], vs[1]] {
            return shape(format!("mask has shape {:?}, values {vs:?}", mask.size()));
        }
        if times.iter().any(|t| !t.is_finite()) || times.windows(2).any(|w| w[1] <= w[0]) {
            return Err(LatentError::InvalidArgument {
                name: "times",
                reason: "observation times must be finite and strictly increasing".into(),
            });
        }
        let (binary, per_seq_min, finite) = tch::no_grad(|| {
            let m = mask.to_kind(Kind::Double);
            let binary = m.eq(0.0).logical_or(&m.eq(1.0)).all().int64_value(&[]) == 1;
            let per_seq_min = m.sum_dim_intlist(1, false, Kind::Double).min().double_value(&[]);
            let finite = values.isfinite().all().int64_value(&[]) == 1;
            (binary, per_seq_min, finite)
        });
        if !binary {
            return Err(LatentError::InvalidArgument {
                name: "mask",
                reason: "entries must be 0 or 1".into(),
            });
        }
        if per_seq_min < 1.0 {
            return Err(LatentError::InvalidArgument {
                name: "mask",
                reason: "every sequence needs at least one observation".into(),
            });
        }
        if !finite {
            return Err(LatentError::InvalidArgument { name: "values", reason: "NaN or infinity".into() });
        }
        Ok(IrregularBatch { times, values, mask })
    }

    /// From sequences on a shared grid (`values [B, G, D]`, `mask [B, G]`):
    /// keeps the grid times at which at least one sequence is observed.
    pub fn from_grid(grid: &[f64], values: &Tensor, mask: &Tensor) -> Result<Self, LatentError> {
        if mask.dim() != 2 || mask.size()[1] as usize != grid.len() {
            return Err(LatentError::Shape(format!(
                "mask of shape {:?} for a grid of {} times",
                mask.size(),
                grid.len()
            )));
        }
        let any: Vec<f64> =
            Vec::try_from(mask.sum_dim_intlist(0, false, Kind::Double).to_device(tch::Device::Cpu))?;
        let keep: Vec<i64> = (0..grid.len()).filter(|&k| any[k] > 0.0).map(|k| k as i64).collect();
        let times = keep.iter().map(|&k| grid[k as usize]).collect();
        let idx = Tensor::from_slice(&keep).to_device(values.device());
        IrregularBatch::new(times, values.index_select(1, &idx), mask.index_select(1, &idx))
    }

    pub fn batch_size(&self) -> i64 {
        self.values.size()[0]
    }

    pub fn dim(&self) -> i64 {
        self.values.size()[2]
    }

    /// Observed entries in the batch.
    pub fn n_observed(&self) -> f64 {
        tch::no_grad(|| self.mask.sum(Kind::Double).double_value(&[]))
    }

    /// The union time `k` as a `[B, 1]` tensor of the values' kind.
    pub(crate) fn mask_at(&self, k: i64) -> Tensor {
        self.mask.select(1, k).unsqueeze(-1)
    }
}
