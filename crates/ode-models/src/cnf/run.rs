//! Checkpoints of an iteration-based flow training run, in the pattern of
//! [`crate::train`]: `<run_dir>/checkpoints/iter-00001000.safetensors` with
//! a JSON sidecar written after it (a checkpoint counts only once both
//! exist), both written atomically ([`CheckpointStore`]), with the
//! optimizer's state (Adam's moments and step counts) in the weights file,
//! so that a resumed run continues as the uninterrupted one.

use std::path::Path;

use serde::{Deserialize, Serialize};
use tch::nn::VarStore;

use crate::checkpoint::{CheckpointStore, OptimizerRestore};
use crate::optim::Optimizer;
use crate::train::TrainError;

/// One logged training iteration.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct IterRecord {
    /// 1-based.
    pub iter: usize,
    pub loss: f64,
    pub nfe: usize,
    pub time_s: f64,
}

/// The sidecar of a checkpoint.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct IterCheckpoint {
    /// Identifies the model configuration; a resume into a different one is refused.
    pub model: String,
    /// Iterations completed.
    pub iter: usize,
    pub history: Vec<IterRecord>,
}

/// `iter-00001000` ...
fn store(run_dir: &Path) -> CheckpointStore {
    CheckpointStore::new(run_dir, "iter", 8)
}

/// Saves the variables, the optimizer's state and the sidecar, keeping the
/// newest `keep` checkpoints.
pub fn save_checkpoint(
    vs: &VarStore,
    opt: &dyn Optimizer,
    run_dir: &Path,
    meta: &IterCheckpoint,
    keep: usize,
) -> Result<(), TrainError> {
    store(run_dir).save_with_optimizer(vs, opt, meta.iter, meta, keep)
}

/// Loads the newest checkpoint of `run_dir` into `vs` and `opt`; `None`
/// when there is none. A corrupt or mismatching checkpoint is an error
/// naming the file; one without optimizer state loads the weights and says
/// so with [`OptimizerRestore::Absent`].
pub fn load_latest_checkpoint(
    vs: &mut VarStore,
    opt: &mut dyn Optimizer,
    run_dir: &Path,
    model: &str,
) -> Result<Option<(IterCheckpoint, OptimizerRestore)>, TrainError> {
    store(run_dir).load_latest_with_optimizer(vs, opt, model, |m: &IterCheckpoint| &m.model)
}
