//! Per-sample adaptive stepping (`ode_models::per_sample`): agreement with
//! ode-core for one sample, accuracy and work on batches with mixed time
//! scales, independence of samples, Direct gradients, the block option and
//! typed errors.

#[path = "per_sample/bench.rs"]
mod bench;
#[path = "per_sample/block.rs"]
mod block;
#[path = "per_sample/common.rs"]
mod common;
#[path = "per_sample/equivalence.rs"]
mod equivalence;
#[path = "per_sample/errors.rs"]
mod errors;
#[path = "per_sample/grads.rs"]
mod grads;
#[path = "per_sample/independence.rs"]
mod independence;
#[path = "per_sample/scales.rs"]
mod scales;
