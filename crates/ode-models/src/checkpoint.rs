//! Checkpoints of a training run, shared by the epoch-based MNIST trainer
//! and the iteration-based latent ODE and flow trainers:
//! `<run_dir>/checkpoints/<prefix>-<step>.safetensors` with a JSON sidecar
//! written after it (a checkpoint counts only once its sidecar exists),
//! both written atomically with [`write_atomic`], the newest `keep` kept.
//!
//! Loading refuses, with an error naming the file, a sidecar that does not
//! parse, one written for another model, and weights that are truncated or
//! whose variables are missing or shaped differently from the model's: a
//! resumed run either continues exactly or says why it cannot.
//!
//! [`CheckpointStore::save_with_optimizer`] puts an optimizer's state
//! ([`crate::optim`]) into the same safetensors file as the weights, under
//! names starting with `optim.`; [`CheckpointStore::load_latest_with_optimizer`]
//! restores both, and reports [`OptimizerRestore::Absent`] for a checkpoint
//! written without optimizer state instead of failing.
//!
//! ```no_run
//! use ode_models::checkpoint::CheckpointStore;
//! use std::path::Path;
//! use tch::{nn, Device};
//!
//! #[derive(serde::Serialize, serde::Deserialize)]
//! struct Meta { model: String, iter: usize }
//!
//! let mut vs = nn::VarStore::new(Device::Cpu);
//! let _w = vs.root().zeros("w", &[3]);
//! let store = CheckpointStore::new(Path::new("target/runs/demo"), "iter", 6);
//! store.save(&vs, 100, &Meta { model: "demo".into(), iter: 100 }, 2)?;
//! let meta: Option<Meta> = store.load_latest(&mut vs, "demo", |m: &Meta| &m.model)?;
//! assert_eq!(meta.map(|m| m.iter), Some(100));
//! # Ok::<(), ode_models::train::TrainError>(())
//! ```

use std::collections::HashMap;
use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use serde::Serialize;
use tch::nn::VarStore;
use tch::Tensor;

use crate::optim::{OptimError, Optimizer, STATE_PREFIX};
use crate::train::{write_atomic, TrainError};

/// Whether a resume restored the optimizer's state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OptimizerRestore {
    /// Step counts, moments and momentum buffers are the saved ones: the
    /// resumed run continues as the uninterrupted one would have.
    Restored,
    /// The checkpoint has no optimizer state (it was written before
    /// optimizers were saved): the optimizer starts from zero state.
    Absent,
}

impl OptimizerRestore {
    /// Says on stderr, under `[tag]`, when the optimizer could not be
    /// restored and the resumed run therefore departs from the
    /// uninterrupted one.
    pub fn warn_if_absent(self, tag: &str) {
        if self == OptimizerRestore::Absent {
            eprintln!(
                "[{tag}] warning: the checkpoint has no optimizer state (written before it was saved); \
                 the optimizer restarts from zero state, so this run will differ from an uninterrupted one"
            );
        }
    }
}

/// Writes `value` as pretty JSON to `path` atomically (metrics files and
/// sidecars: a run killed mid-write leaves the previous version).
pub fn write_json_atomic<T: Serialize>(path: &Path, value: &T) -> Result<(), TrainError> {
    let text = serde_json::to_string_pretty(value)
        .map_err(|e| TrainError::Config(format!("cannot serialize {}: {e}", path.display())))?;
    write_atomic(path, |tmp| {
        let mut f = File::create(tmp).map_err(io_err(tmp))?;
        f.write_all(text.as_bytes()).map_err(io_err(tmp))
    })
}

/// Where the checkpoints of one run live and how their files are named.
#[derive(Clone, Debug)]
pub struct CheckpointStore {
    dir: PathBuf,
    prefix: &'static str,
    width: usize,
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> TrainError + '_ {
    move |source| TrainError::Io { path: path.to_path_buf(), source }
}

fn bad(path: &Path, msg: String) -> TrainError {
    TrainError::Checkpoint { path: path.to_path_buf(), msg }
}

impl CheckpointStore {
    /// Checkpoints under `<run_dir>/checkpoints`, named `<prefix>-<step>`
    /// with the step zero-padded to `width` digits (padding only keeps
    /// listings sorted; any width is read back).
    pub fn new(run_dir: &Path, prefix: &'static str, width: usize) -> Self {
        CheckpointStore { dir: run_dir.join("checkpoints"), prefix, width }
    }

    /// The weights file of `step`'s checkpoint, named as [`Self::save`] names it.
    pub fn weights_path(&self, step: usize) -> PathBuf {
        self.paths(step).0
    }

    fn paths(&self, step: usize) -> (PathBuf, PathBuf) {
        let stem = format!("{}-{step:0w$}", self.prefix, w = self.width);
        (self.dir.join(format!("{stem}.safetensors")), self.dir.join(format!("{stem}.json")))
    }

    /// The steps that have a sidecar, ascending, with the file names they
    /// were found under.
    fn saved(&self) -> Result<Vec<(usize, String)>, TrainError> {
        if !self.dir.exists() {
            return Ok(Vec::new());
        }
        let mut v: Vec<(usize, String)> = fs::read_dir(&self.dir)
            .map_err(io_err(&self.dir))?
            .filter_map(|e| e.ok())
            .filter_map(|e| {
                let name = e.file_name().to_string_lossy().into_owned();
                let stem = name.strip_suffix(".json")?;
                let step = stem.strip_prefix(self.prefix)?.strip_prefix('-')?.parse().ok()?;
                Some((step, stem.to_string()))
            })
            .collect();
        v.sort_unstable();
        Ok(v)
    }

    /// The steps that have a checkpoint, ascending.
    pub fn steps(&self) -> Result<Vec<usize>, TrainError> {
        Ok(self.saved()?.into_iter().map(|(s, _)| s).collect())
    }

    /// Saves `vs` and `meta` as the checkpoint of `step`, then removes all
    /// but the newest `keep` (at least one).
    pub fn save<M: Serialize>(
        &self,
        vs: &VarStore,
        step: usize,
        meta: &M,
        keep: usize,
    ) -> Result<(), TrainError> {
        self.save_tensors(vs, Vec::new(), step, meta, keep)
    }

    /// [`Self::save`] with `opt`'s state in the weights file.
    pub fn save_with_optimizer<M: Serialize>(
        &self,
        vs: &VarStore,
        opt: &dyn Optimizer,
        step: usize,
        meta: &M,
        keep: usize,
    ) -> Result<(), TrainError> {
        self.save_tensors(vs, opt.state_tensors()?, step, meta, keep)
    }

    fn save_tensors<M: Serialize>(
        &self,
        vs: &VarStore,
        extra: Vec<(String, Tensor)>,
        step: usize,
        meta: &M,
        keep: usize,
    ) -> Result<(), TrainError> {
        let mut named: Vec<(String, Tensor)> = vs.variables().into_iter().collect();
        if !extra.is_empty() {
            // Optimizer state is recognised by its prefix on load.
            if let Some((name, _)) = named.iter().find(|(n, _)| n.starts_with(STATE_PREFIX)) {
                return Err(TrainError::Config(format!(
                    "model variable `{name}` uses the prefix `{STATE_PREFIX}` reserved for optimizer state"
                )));
            }
            named.extend(extra);
        }
        fs::create_dir_all(&self.dir).map_err(io_err(&self.dir))?;
        let (weights, sidecar) = self.paths(step);
        write_atomic(&weights, |tmp| Ok(Tensor::write_safetensors(&named, tmp)?))?;
        write_json_atomic(&sidecar, meta)?;
        let saved = self.saved()?;
        for (_, stem) in saved.iter().take(saved.len().saturating_sub(keep.max(1))) {
            let _ = fs::remove_file(self.dir.join(format!("{stem}.json")));
            let _ = fs::remove_file(self.dir.join(format!("{stem}.safetensors")));
        }
        Ok(())
    }

    /// Loads the newest checkpoint into `vs` and returns its sidecar, or
    /// `None` when there is none. `model_of` reads the model name out of a
    /// sidecar; a checkpoint of another model than `model` is refused.
    pub fn load_latest<M: DeserializeOwned>(
        &self,
        vs: &mut VarStore,
        model: &str,
        model_of: impl Fn(&M) -> &str,
    ) -> Result<Option<M>, TrainError> {
        Ok(self.load_weights(vs, model, model_of)?.map(|(meta, _)| meta))
    }

    /// [`Self::load_latest`], and `opt`'s state from the same file. State
    /// of another optimizer, of other variables, of another shape, or
    /// corrupt is [`TrainError::OptimizerState`] naming the file; no state
    /// at all is [`OptimizerRestore::Absent`] (`opt` keeps its state), for
    /// the caller to report.
    pub fn load_latest_with_optimizer<M: DeserializeOwned>(
        &self,
        vs: &mut VarStore,
        opt: &mut dyn Optimizer,
        model: &str,
        model_of: impl Fn(&M) -> &str,
    ) -> Result<Option<(M, OptimizerRestore)>, TrainError> {
        let Some((meta, weights)) = self.load_weights(vs, model, model_of)? else {
            return Ok(None);
        };
        let vars = vs.variables();
        let state: HashMap<String, Tensor> = Tensor::read_safetensors(&weights)
            .map_err(|e| bad(&weights, e.to_string()))?
            .into_iter()
            .filter(|(n, _)| n.starts_with(STATE_PREFIX) && !vars.contains_key(n))
            .collect();
        match opt.load_state(&state) {
            Ok(()) => Ok(Some((meta, OptimizerRestore::Restored))),
            Err(OptimError::NoState) => Ok(Some((meta, OptimizerRestore::Absent))),
            Err(source) => Err(TrainError::OptimizerState { path: weights, source }),
        }
    }

    /// Loads the newest checkpoint's weights into `vs`: its sidecar and the
    /// weights file, or `None` when there is none.
    fn load_weights<M: DeserializeOwned>(
        &self,
        vs: &mut VarStore,
        model: &str,
        model_of: impl Fn(&M) -> &str,
    ) -> Result<Option<(M, PathBuf)>, TrainError> {
        let Some((_, stem)) = self.saved()?.pop() else {
            return Ok(None);
        };
        let sidecar = self.dir.join(format!("{stem}.json"));
        let weights = self.dir.join(format!("{stem}.safetensors"));
        let text = fs::read_to_string(&sidecar).map_err(io_err(&sidecar))?;
        let meta: M = serde_json::from_str(&text).map_err(|e| {
            bad(
                &sidecar,
                format!("corrupt or truncated sidecar ({e}); delete it to resume from an earlier checkpoint"),
            )
        })?;
        if model_of(&meta) != model {
            return Err(bad(&sidecar, format!("it belongs to model `{}`, not `{model}`", model_of(&meta))));
        }
        let bytes = fs::read(&weights).map_err(io_err(&weights))?;
        let st = safetensors::SafeTensors::deserialize(&bytes)
            .map_err(|e| bad(&weights, format!("corrupt or truncated safetensors file ({e})")))?;
        for (name, var) in vs.variables() {
            let t = st.tensor(&name).map_err(|_| bad(&weights, format!("variable `{name}` is missing")))?;
            let shape: Vec<i64> = t.shape().iter().map(|&d| d as i64).collect();
            if shape != var.size() {
                return Err(bad(
                    &weights,
                    format!("variable `{name}` has shape {shape:?}, the model {:?}", var.size()),
                ));
            }
        }
        drop(st);
        vs.load(&weights).map_err(|e| bad(&weights, e.to_string()))?;
        Ok(Some((meta, weights)))
    }
}
