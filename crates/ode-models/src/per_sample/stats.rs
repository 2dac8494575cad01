//! Counters of a per-sample solve.

/// What a per-sample solve cost, per sample and for the whole batch.
///
/// A sample's `nfe[b]` counts the evaluations it *took part in* while it was
/// integrating: the first evaluation, the one in the initial-step heuristic,
/// the new stages of each of its attempted steps and, for methods without
/// FSAL, `f(t1, y1)` after its accepted steps. With one sample this is
/// exactly ode-core's `Stats::nfe` for the same problem. The batch calls `f`
/// on every sample at once, so `n_calls` (calls of `f` on the batch) is at
/// least `max(nfe)`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PerSampleStats {
    /// Evaluations each sample took part in.
    pub nfe: Vec<usize>,
    /// Accepted steps of each sample.
    pub n_accepted: Vec<usize>,
    /// Rejected trials of each sample.
    pub n_rejected: Vec<usize>,
    /// Calls of the right-hand side on the whole batch.
    pub n_calls: usize,
}

impl PerSampleStats {
    pub(crate) fn new(batch: usize) -> Self {
        PerSampleStats {
            nfe: vec![0; batch],
            n_accepted: vec![0; batch],
            n_rejected: vec![0; batch],
            n_calls: 0,
        }
    }

    /// The largest per-sample NFE.
    pub fn nfe_max(&self) -> usize {
        self.nfe.iter().copied().max().unwrap_or(0)
    }

    /// The mean per-sample NFE.
    pub fn nfe_mean(&self) -> f64 {
        if self.nfe.is_empty() {
            0.0
        } else {
            self.nfe.iter().sum::<usize>() as f64 / self.nfe.len() as f64
        }
    }

    /// Accepted plus rejected steps of sample `b`: what `max_steps` limits.
    pub fn n_steps(&self, b: usize) -> usize {
        self.n_accepted[b] + self.n_rejected[b]
    }
}
