//! Checkpoints of an iteration-based flow training run, in the pattern of
//! [`crate::train`]: `<run_dir>/checkpoints/iter-00001000.safetensors` with
//! a JSON sidecar written after it (a checkpoint counts only once both
//! exist), both written atomically with [`write_atomic`]. Adam's moment
//! estimates are not saved (tch does not expose them): a resumed run
//! restarts them from zero.

use std::fs;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use tch::nn::VarStore;

use crate::train::{write_atomic, TrainError};

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

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> TrainError + '_ {
    move |source| TrainError::Io { path: path.to_path_buf(), source }
}

fn paths(run_dir: &Path, iter: usize) -> (PathBuf, PathBuf) {
    let dir = run_dir.join("checkpoints");
    (dir.join(format!("iter-{iter:08}.safetensors")), dir.join(format!("iter-{iter:08}.json")))
}

fn saved_iters(run_dir: &Path) -> Result<Vec<usize>, TrainError> {
    let dir = run_dir.join("checkpoints");
    if !dir.exists() {
        return Ok(Vec::new());
    }
    let mut v: Vec<usize> = fs::read_dir(&dir)
        .map_err(io(&dir))?
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            e.file_name().to_string_lossy().strip_prefix("iter-")?.strip_suffix(".json")?.parse().ok()
        })
        .collect();
    v.sort_unstable();
    Ok(v)
}

/// Saves the variables and the sidecar, keeping the newest `keep` checkpoints.
pub fn save_checkpoint(
    vs: &VarStore,
    run_dir: &Path,
    meta: &IterCheckpoint,
    keep: usize,
) -> Result<(), TrainError> {
    let dir = run_dir.join("checkpoints");
    fs::create_dir_all(&dir).map_err(io(&dir))?;
    let (weights, sidecar) = paths(run_dir, meta.iter);
    write_atomic(&weights, |tmp| Ok(vs.save(tmp)?))?;
    let text = serde_json::to_string_pretty(meta).map_err(|e| TrainError::Config(e.to_string()))?;
    write_atomic(&sidecar, |tmp| fs::write(tmp, text.as_bytes()).map_err(io(tmp)))?;
    let iters = saved_iters(run_dir)?;
    for &i in iters.iter().take(iters.len().saturating_sub(keep.max(1))) {
        let (w, s) = paths(run_dir, i);
        let _ = fs::remove_file(s);
        let _ = fs::remove_file(w);
    }
    Ok(())
}

/// Loads the newest checkpoint of `run_dir` into `vs`; `None` when there is none.
pub fn load_latest_checkpoint(
    vs: &mut VarStore,
    run_dir: &Path,
    model: &str,
) -> Result<Option<IterCheckpoint>, TrainError> {
    let Some(&iter) = saved_iters(run_dir)?.last() else {
        return Ok(None);
    };
    let (weights, sidecar) = paths(run_dir, iter);
    let bad = |p: &Path, msg: String| TrainError::Checkpoint { path: p.to_path_buf(), msg };
    let text = fs::read_to_string(&sidecar).map_err(io(&sidecar))?;
    let meta: IterCheckpoint =
        serde_json::from_str(&text).map_err(|e| bad(&sidecar, format!("corrupt sidecar ({e})")))?;
    if meta.model != model {
        return Err(bad(&sidecar, format!("it belongs to `{}`, not `{model}`", meta.model)));
    }
    vs.load(&weights).map_err(|e| bad(&weights, e.to_string()))?;
    Ok(Some(meta))
}
