//! What a solve returns: states at the output times, statistics, the
//! accepted steps, and optionally a dense solution and an event.

use serde::{Deserialize, Serialize};

use crate::dense::DenseSolution;

/// Counters of one solve.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stats {
    /// Evaluations of the right-hand side (every call, including the one in
    /// the initial-step heuristic and extra dense-output stages).
    pub nfe: usize,
    /// Accepted steps.
    pub n_accepted: usize,
    /// Rejected step-size trials.
    pub n_rejected: usize,
}

impl Stats {
    /// Accepted plus rejected steps: what `max_steps` limits.
    pub fn n_steps(&self) -> usize {
        self.n_accepted + self.n_rejected
    }
}

/// One accepted step: where it started, its signed size and the error ratio
/// the controller saw (0 for fixed-step methods without an estimator).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct StepRecord {
    pub t: f64,
    pub h: f64,
    pub error_ratio: f64,
}

/// The event that stopped a solve: where the event function crossed zero.
#[derive(Clone, Debug)]
pub struct EventHit<S> {
    pub t: f64,
    pub y: S,
}

/// The result of a successful solve.
#[derive(Debug)]
pub struct Solution<S> {
    /// Output times actually reached (all requested ones unless an event
    /// stopped the solve first).
    pub ts: Vec<f64>,
    /// States at `ts`.
    pub ys: Vec<S>,
    pub stats: Stats,
    /// Accepted steps in order.
    pub steps: Vec<StepRecord>,
    /// Continuous solution over the integrated interval, when asked for.
    pub dense: Option<DenseSolution<S>>,
    /// The terminal event, when one fired.
    pub event: Option<EventHit<S>>,
    /// With `SolveOptions::checkpoints`: the state at the start of every
    /// accepted step (`checkpoints[n]` is y at `steps[n].t`).
    pub checkpoints: Option<Vec<S>>,
}
