//! Saving and loading a selector beside its model, through ode-models'
//! checkpoint kit: the cost network's weights in
//! `<run_dir>/checkpoints/selector-<step>.safetensors`, the configuration
//! in the JSON sidecar, both written atomically. A load compares the
//! sidecar with the selector it is loaded into before touching any weight.

use std::fs;
use std::path::Path;

use ode_models::checkpoint::CheckpointStore;
use ode_models::train::TrainError;
use serde::{Deserialize, Serialize};

use super::candidate::CandidateSpec;
use super::cost::CostConfig;
use super::IntegratorSelector;
use crate::error::DiseError;

/// The file name prefix of selector checkpoints (the model's own use
/// `epoch` or `iter`, so both live in one run directory).
pub const SELECTOR_PREFIX: &str = "selector";

/// The sidecar of a selector checkpoint.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SelectorMeta {
    /// The target model's name: a selector is only valid for the model
    /// whose states and costs it learned.
    pub model: String,
    pub architecture: String,
    pub candidates: Vec<CandidateSpec>,
    pub costs: CostConfig,
    pub span: (f64, f64),
    pub step: usize,
}

impl IntegratorSelector {
    /// The checkpoint store for selectors in `run_dir`.
    pub fn store(run_dir: &Path) -> CheckpointStore {
        CheckpointStore::new(run_dir, SELECTOR_PREFIX, 6)
    }

    fn meta(&self, model: &str, step: usize) -> SelectorMeta {
        SelectorMeta {
            model: model.to_string(),
            architecture: self.net.architecture(),
            candidates: self.candidates.iter().map(|c| c.spec()).collect(),
            costs: self.costs.clone(),
            span: self.span,
            step,
        }
    }

    /// Saves v's weights and the configuration as checkpoint `step` of
    /// `run_dir` for the target model `model`, keeping the newest `keep`.
    pub fn save(&self, run_dir: &Path, model: &str, step: usize, keep: usize) -> Result<(), DiseError> {
        Self::store(run_dir).save(self.net.var_store(), step, &self.meta(model, step), keep)?;
        Ok(())
    }

    /// Loads the newest selector checkpoint of `run_dir` into v and returns
    /// its sidecar, or `None` when there is none. A sidecar of another
    /// model or configuration is [`DiseError::SelectorMismatch`]; a corrupt
    /// sidecar or weights file, or weights of other shapes, is
    /// [`DiseError::Checkpoint`]. Nothing is loaded on an error of the
    /// sidecar.
    pub fn load(&mut self, run_dir: &Path, model: &str) -> Result<Option<SelectorMeta>, DiseError> {
        let store = Self::store(run_dir);
        let Some(&step) = store.steps()?.last() else {
            return Ok(None);
        };
        let sidecar = store.weights_path(step).with_extension("json");
        let text = fs::read_to_string(&sidecar)
            .map_err(|source| TrainError::Io { path: sidecar.clone(), source })?;
        let saved: SelectorMeta = serde_json::from_str(&text).map_err(|e| TrainError::Checkpoint {
            path: sidecar.clone(),
            msg: format!("corrupt or truncated selector sidecar ({e})"),
        })?;
        let mine = self.meta(model, saved.step);
        let what = if saved.model != mine.model {
            Some(format!("written for model `{}`, not `{}`", saved.model, mine.model))
        } else if saved.architecture != mine.architecture {
            Some(format!("cost network `{}`, this selector's is `{}`", saved.architecture, mine.architecture))
        } else if saved.candidates != mine.candidates {
            Some(format!("candidates {:?}, this selector's are {:?}", saved.candidates, mine.candidates))
        } else if saved.costs != mine.costs {
            Some(format!("costs {:?}, this selector's are {:?}", saved.costs, mine.costs))
        } else if saved.span != mine.span {
            Some(format!("interval {:?}, this selector's is {:?}", saved.span, mine.span))
        } else {
            None
        };
        if let Some(what) = what {
            return Err(DiseError::SelectorMismatch { path: sidecar, what });
        }
        let meta = store.load_latest(self.net.var_store_mut(), model, |m: &SelectorMeta| &m.model)?;
        Ok(meta)
    }
}
