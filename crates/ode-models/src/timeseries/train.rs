//! Training of any [`SeriesClassifier`]: Adam at `lr` decayed x`lr_decay`
//! per epoch (0.01 x 0.999, Rubanova et al.'s PhysioNet setting), batches
//! from a shuffle seeded by the seed and the epoch, gradient-norm clipping
//! ([`crate::clip`]), an atomic checkpoint (weights, Adam's state, sidecar)
//! and `metrics.json` after every epoch, resume from the newest checkpoint,
//! and the test metrics ([`super::evaluate`]) at the end. Layout:
//!
//! ```text
//! <run_dir>/metrics.json                          config, per-epoch history, test metrics
//! <run_dir>/checkpoints/epoch-0005.safetensors    weights and optimizer state after epoch 5
//! <run_dir>/checkpoints/epoch-0005.json           sidecar (model, epoch, history)
//! ```
//!
//! torch's generator (the Latent ODE's reparameterization noise) is seeded
//! afresh every epoch from the seed and the epoch number, so a resumed run
//! draws what the uninterrupted one drew.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Instant;

use ode_core::problems::SplitMix64;
use serde::{Deserialize, Serialize};

use super::batch::{SeriesBatch, Standardizer};
use super::eval::{evaluate, TestMetrics};
use super::{SeriesClassifier, TsModelError};
use crate::checkpoint::{write_json_atomic, CheckpointStore};
use crate::clip::clip_grad_norm;
use crate::optim::{Adam, AdamConfig, Optimizer};
use crate::train::TrainError;

/// How to train.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TsTrainConfig {
    pub epochs: usize,
    pub batch_size: usize,
    pub lr: f64,
    /// Learning rate factor per epoch.
    pub lr_decay: f64,
    /// Clip the gradients' joint L2 norm to this (`None`: no clipping).
    pub clip_grad_norm: Option<f64>,
    pub seed: u64,
    pub keep_checkpoints: usize,
    /// Series per inference pass in the test evaluation (1: each series
    /// solved alone, so its NFE is its own; see [`super::evaluate`]).
    pub eval_batch_size: usize,
    pub progress: bool,
}

impl Default for TsTrainConfig {
    fn default() -> Self {
        TsTrainConfig {
            epochs: 30,
            batch_size: 32,
            lr: 0.01,
            lr_decay: 0.999,
            clip_grad_norm: Some(5.0),
            seed: 0,
            keep_checkpoints: 2,
            eval_batch_size: 1,
            progress: true,
        }
    }
}

/// One epoch of the history.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct EpochRecord {
    pub epoch: usize,
    /// Mean training loss over the epoch's batches.
    pub loss: f64,
    pub lr: f64,
    /// Dynamics evaluations of the epoch (forward solves; backward: the
    /// adjoint's or ACA's evaluations and VJPs).
    pub nfe_forward: usize,
    pub nfe_backward: usize,
    /// The largest gradient norm before clipping.
    pub max_grad_norm: f64,
    pub time_s: f64,
}

/// The run's `metrics.json`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TsRun {
    pub model: String,
    pub parameters: i64,
    pub device: String,
    pub n_train: usize,
    pub n_test: usize,
    pub train: TsTrainConfig,
    /// Caller-supplied description (data set, drop rate, sizes, ...).
    pub info: serde_json::Value,
    pub resumed_from: Option<usize>,
    pub epochs_done: usize,
    pub history: Vec<EpochRecord>,
    /// Sum of the epochs' wall times (across resumes).
    pub train_time_s: f64,
    pub test: Option<TestMetrics>,
    pub finished: bool,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
struct Sidecar {
    model: String,
    epoch: usize,
    history: Vec<EpochRecord>,
}

fn store(run_dir: &Path) -> CheckpointStore {
    CheckpointStore::new(run_dir, "epoch", 4)
}

fn from_train(e: TrainError) -> TsModelError {
    match e {
        TrainError::Io { path, source } => TsModelError::Io { path, source },
        TrainError::Checkpoint { path, msg } => TsModelError::Checkpoint { path, msg },
        TrainError::Torch(e) => TsModelError::Torch(e),
        TrainError::Optim(e) => TsModelError::Optim(e),
        other => TsModelError::Checkpoint { path: PathBuf::new(), msg: other.to_string() },
    }
}

/// `0..n` shuffled by a generator seeded with `seed` and `epoch`.
fn shuffled(n: usize, seed: u64, epoch: usize) -> Vec<usize> {
    let mut rng = SplitMix64::new(seed ^ (epoch as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    let mut order: Vec<usize> = (0..n).collect();
    for i in (1..n).rev() {
        let j = (rng.next_u64() % (i as u64 + 1)) as usize;
        order.swap(i, j);
    }
    order
}

fn check(cfg: &TsTrainConfig) -> Result<(), TsModelError> {
    let bad = |name, reason: String| Err(TsModelError::InvalidArgument { name, reason });
    if !(cfg.lr.is_finite() && cfg.lr > 0.0) {
        return bad("lr", format!("{} is not positive", cfg.lr));
    }
    if !(cfg.lr_decay.is_finite() && cfg.lr_decay > 0.0) {
        return bad("lr_decay", format!("{} is not positive", cfg.lr_decay));
    }
    if cfg.clip_grad_norm.is_some_and(|c| !(c.is_finite() && c > 0.0)) {
        return bad("clip_grad_norm", format!("{:?} is not a positive number", cfg.clip_grad_norm));
    }
    if cfg.batch_size == 0 || cfg.eval_batch_size == 0 {
        return bad("batch_size", "must be at least 1".into());
    }
    Ok(())
}

/// Trains `model` on `train` for `cfg.epochs`, then evaluates it on `test`
/// (inputs standardized by `scale`). With `resume`, continues after the
/// newest checkpoint in `run_dir`.
#[allow(clippy::too_many_arguments)]
pub fn train_classifier(
    model: &mut dyn SeriesClassifier,
    train: &crate::data::SeriesTensors,
    test: &crate::data::SeriesTensors,
    scale: &Standardizer,
    classes: usize,
    cfg: &TsTrainConfig,
    run_dir: &Path,
    resume: bool,
    info: serde_json::Value,
) -> Result<TsRun, TsModelError> {
    check(cfg)?;
    fs::create_dir_all(run_dir).map_err(|source| TsModelError::Io { path: run_dir.to_path_buf(), source })?;
    let device = model.var_store().device();
    let kind = super::ode_rnn::store_kind(model.var_store());
    let mut opt = Adam::new(model.var_store(), AdamConfig { lr: cfg.lr, ..AdamConfig::default() })?;
    let (mut start, mut history, mut resumed_from) = (0, Vec::new(), None);
    if resume {
        let name = model.name().to_string();
        let loaded = store(run_dir)
            .load_latest_with_optimizer(model.var_store_mut(), &mut opt, &name, |m: &Sidecar| &m.model)
            .map_err(from_train)?;
        if let Some((meta, restore)) = loaded {
            if meta.epoch > cfg.epochs {
                return Err(TsModelError::InvalidArgument {
                    name: "epochs",
                    reason: format!(
                        "{} holds a checkpoint after epoch {}, past the {} asked for",
                        run_dir.display(),
                        meta.epoch,
                        cfg.epochs
                    ),
                });
            }
            eprintln!("[timeseries] {name}: resuming after epoch {}", meta.epoch);
            restore.warn_if_absent("timeseries");
            (start, history, resumed_from) = (meta.epoch, meta.history, Some(meta.epoch));
        }
    }
    let mut run = TsRun {
        model: model.name().into(),
        parameters: model.parameter_count(),
        device: format!("{device:?}"),
        n_train: train.len(),
        n_test: test.len(),
        train: cfg.clone(),
        info,
        resumed_from,
        epochs_done: start,
        train_time_s: history.iter().map(|h: &EpochRecord| h.time_s).sum(),
        history,
        test: None,
        finished: false,
    };
    let metrics_path = run_dir.join("metrics.json");
    let write = |run: &TsRun| write_json_atomic(&metrics_path, run).map_err(from_train);
    for epoch in start..cfg.epochs {
        tch::manual_seed(cfg.seed as i64 ^ (epoch as i64).wrapping_mul(0x9E37_79B9));
        let lr = cfg.lr * cfg.lr_decay.powi(epoch as i32);
        opt.set_lr(lr)?;
        let t_epoch = Instant::now();
        let order = shuffled(train.len(), cfg.seed, epoch);
        let mut rec = EpochRecord {
            epoch: epoch + 1,
            loss: 0.0,
            lr,
            nfe_forward: 0,
            nfe_backward: 0,
            max_grad_norm: 0.0,
            time_s: 0.0,
        };
        let mut batches = 0;
        for which in order.chunks(cfg.batch_size) {
            let batch = SeriesBatch::gather(train, which, scale, kind, device)?;
            opt.zero_grad();
            let out = model.train_step(&batch)?;
            let vars = model.var_store().trainable_variables();
            let norm = clip_grad_norm(&vars, cfg.clip_grad_norm.unwrap_or(f64::INFINITY));
            opt.step()?;
            rec.loss += out.loss;
            rec.nfe_forward += out.stats.nfe_forward;
            rec.nfe_backward += out.stats.nfe_backward;
            rec.max_grad_norm = rec.max_grad_norm.max(norm);
            batches += 1;
        }
        rec.loss /= batches.max(1) as f64;
        rec.time_s = t_epoch.elapsed().as_secs_f64();
        if cfg.progress {
            eprintln!(
                "[timeseries] {} epoch {}/{}: loss {:.4}, nfe f {} b {}, {:.1} s",
                model.name(),
                rec.epoch,
                cfg.epochs,
                rec.loss,
                rec.nfe_forward,
                rec.nfe_backward,
                rec.time_s
            );
        }
        run.train_time_s += rec.time_s;
        run.history.push(rec);
        run.epochs_done = epoch + 1;
        let meta = Sidecar { model: model.name().into(), epoch: epoch + 1, history: run.history.clone() };
        store(run_dir)
            .save_with_optimizer(model.var_store(), &opt, epoch + 1, &meta, cfg.keep_checkpoints)
            .map_err(from_train)?;
        write(&run)?;
    }
    let test_metrics = evaluate(&*model, test, scale, cfg.eval_batch_size, classes)?;
    eprintln!(
        "[timeseries] {}: test accuracy {:.4}, macro AUC {}, NFE/sample {}, {:.2} ms/sample",
        model.name(),
        test_metrics.accuracy,
        test_metrics.macro_auc.map_or("-".into(), |a| format!("{a:.4}")),
        test_metrics.nfe_per_sample.map_or("-".into(), |s| format!("{:.1} (p90 {})", s.mean, s.p90)),
        test_metrics.time_per_sample_s * 1e3
    );
    run.test = Some(test_metrics);
    run.finished = true;
    write(&run)?;
    Ok(run)
}
