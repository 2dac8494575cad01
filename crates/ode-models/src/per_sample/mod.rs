//! Per-sample adaptive stepping for batches of independent problems on tch
//! tensors.
//!
//! ode-core solves a `[B, ...]` tensor as one state: one time, one step
//! size and one error norm for the whole batch, so the hardest sample sets
//! every sample's step. Here (the design torchode introduced) each sample
//! has its own time `t[b]`, step size `h[b]`, controller memory, status and
//! accept/reject decision, while the right-hand side is still evaluated on
//! the whole batch at once with a `[B]` tensor of times. Finished samples
//! stay in the batch with `h = 0` and are not counted in their NFE, unless
//! the right-hand side is marked [`Rowwise`]: then only the running
//! samples are evaluated.
//!
//! The controller runs on the host on plain numbers (one read-back of `B`
//! error norms per step, as ode-core reads one); the Butcher tableau, the
//! controller conventions, Hairer's initial step and the dense-output
//! weights are ode-core's own, so a batch of one takes exactly ode-core's
//! steps.
//!
//! | file | job |
//! |---|---|
//! | `rhs` | [`BatchRhs`] (`f(t [B], y)`) and adapters for `Fn(f64, &Tensor)` |
//! | `state` | output times, option checks, each sample's host state |
//! | `step` | tensor arithmetic with per-sample step sizes and norms |
//! | `solve` | the loop: [`solve_per_sample`] |
//! | `extra` | Hairer's initial step and DOP853's extra stages, per sample |
//! | `output` | the running sub-batch, outputs through each sample's dense output |
//! | `stats`, `error` | [`PerSampleStats`], [`PerSampleError`] |

mod error;
mod extra;
mod output;
mod rhs;
mod solve;
mod state;
mod stats;
mod step;

pub use error::PerSampleError;
pub use rhs::{Autonomous, BatchRhs, GroupedByTime, Rowwise};
pub use solve::{solve_per_sample, solve_per_sample_with_errors, PerSampleSolution};
pub use state::OutputTimes;
pub use stats::PerSampleStats;
