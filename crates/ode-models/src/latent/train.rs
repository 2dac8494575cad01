//! Training and evaluation of a [`SequenceModel`] on the spirals: Adam,
//! indicatif progress (loss, NFE), atomic safetensors checkpoints with a
//! JSON sidecar, resume, and a `metrics.json` with the test RMSE and a few
//! example predictions for the figures. Layout of a run directory:
//!
//! ```text
//! <run_dir>/metrics.json                        config, loss history, test metrics, examples
//! <run_dir>/checkpoints/iter-000500.safetensors the weights after 500 iterations
//! <run_dir>/checkpoints/iter-000500.json        its sidecar (iteration, loss history)
//! ```
//!
//! Evaluation ([`super::eval`]) follows the paper: each test spiral is encoded from its `n`
//! irregular noisy observations in the window, and the model predicts the
//! next `n_extrap` = 100 grid times after the window; the predictive RMSE
//! compares those predictions with the noise-free spiral.
//!
//! A checkpoint holds the weights and Adam's state ([`crate::optim::Adam`]),
//! and torch's generator (the latent ODE's reparameterisation noise) is
//! seeded afresh every iteration from the seed and the iteration number, so
//! a resumed run is the uninterrupted one (bitwise on CPU with one thread).

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Instant;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::{Deserialize, Serialize};
use tch::Kind;

use super::eval::{evaluate, Example, TestMetrics};
use super::rng::DataRng;
use super::spirals::{Observations, SpiralConfig, Spirals};
use super::{LatentError, SequenceModel};
use crate::checkpoint::{write_json_atomic, CheckpointStore, OptimizerRestore};
use crate::clip::clip_grad_norm;
use crate::optim::{Adam, AdamConfig, Optimizer};
use crate::train::TrainError;

/// How to train.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct LatentTrainConfig {
    pub iterations: usize,
    /// Spirals per iteration; 0 or more than the training set: all of them
    /// (torchdiffeq's example trains on the whole set every iteration).
    pub batch_size: usize,
    /// Adam's learning rate (the paper's 0.01).
    pub lr: f64,
    /// Clip the gradients' joint L2 norm to this before each step (None:
    /// no clipping, as the paper). See [`crate::clip`].
    #[serde(default)]
    pub clip_grad_norm: Option<f64>,
    pub seed: u64,
    pub checkpoint_every: usize,
    pub keep_checkpoints: usize,
    /// Loss history resolution.
    pub log_every: usize,
    /// Test spirals whose predictions go into `metrics.json`.
    pub n_examples: usize,
    pub progress: bool,
}

impl Default for LatentTrainConfig {
    fn default() -> Self {
        LatentTrainConfig {
            iterations: 2000,
            batch_size: 0,
            lr: 0.01,
            clip_grad_norm: None,
            seed: 0,
            checkpoint_every: 100,
            keep_checkpoints: 2,
            log_every: 10,
            n_examples: 4,
            progress: true,
        }
    }
}

/// One point of the loss history.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct IterRecord {
    pub iteration: usize,
    pub loss: f64,
    pub nfe_forward: usize,
    pub nfe_backward: usize,
    /// Wall time of this iteration.
    pub time_s: f64,
    /// The gradients' joint L2 norm before clipping.
    #[serde(default)]
    pub grad_norm: Option<f64>,
}

/// The run's `metrics.json`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SpiralRun {
    pub model: String,
    pub parameters: i64,
    pub device: String,
    pub n_obs: usize,
    pub n_train: usize,
    pub spirals: SpiralConfig,
    pub train: LatentTrainConfig,
    /// Caller-supplied description (solver, gradient mode, threads, ...).
    pub info: serde_json::Value,
    pub resumed_from: Option<usize>,
    pub iterations_done: usize,
    pub history: Vec<IterRecord>,
    /// Mean wall time of the logged iterations (every `log_every`-th).
    pub time_per_iter_s: f64,
    pub test: Option<TestMetrics>,
    pub examples: Vec<Example>,
    pub finished: bool,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
struct Sidecar {
    model: String,
    iteration: usize,
    weights: String,
    history: Vec<IterRecord>,
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> LatentError + '_ {
    move |source| LatentError::Io { path: path.to_path_buf(), source }
}

fn write_json(path: &Path, value: &impl Serialize) -> Result<(), LatentError> {
    write_json_atomic(path, value).map_err(from_train)
}

/// `iter-001000` ...
fn store(run_dir: &Path) -> CheckpointStore {
    CheckpointStore::new(run_dir, "iter", 6)
}

/// The shared checkpoint store's errors as this module's.
fn from_train(e: TrainError) -> LatentError {
    match e {
        TrainError::Io { path, source } => LatentError::Io { path, source },
        TrainError::Checkpoint { path, msg } => LatentError::Checkpoint { path, msg },
        TrainError::Torch(e) => LatentError::Torch(e),
        TrainError::OptimizerState { path, source } => LatentError::OptimizerState { path, source },
        TrainError::Optim(e) => LatentError::Optim(e),
        other => LatentError::Checkpoint { path: PathBuf::new(), msg: other.to_string() },
    }
}

fn save_checkpoint(
    model: &dyn SequenceModel,
    opt: &dyn Optimizer,
    run_dir: &Path,
    iteration: usize,
    history: &[IterRecord],
    keep: usize,
) -> Result<(), LatentError> {
    let meta = Sidecar {
        model: model.name().into(),
        iteration,
        weights: store(run_dir)
            .weights_path(iteration)
            .file_name()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default(),
        history: history.to_vec(),
    };
    store(run_dir).save_with_optimizer(model.var_store(), opt, iteration, &meta, keep).map_err(from_train)
}

/// Loads the newest checkpoint of `run_dir` into `model` and `opt`; `None`
/// when there is none. A corrupt or mismatching checkpoint is an error
/// naming the file.
fn load_latest(
    model: &mut dyn SequenceModel,
    opt: &mut dyn Optimizer,
    run_dir: &Path,
) -> Result<Option<(Sidecar, OptimizerRestore)>, LatentError> {
    let name = model.name().to_string();
    store(run_dir)
        .load_latest_with_optimizer(model.var_store_mut(), opt, &name, |m: &Sidecar| &m.model)
        .map_err(from_train)
}

fn progress_bar(show: bool, len: u64, pos: u64, prefix: String) -> ProgressBar {
    let target = if show { ProgressDrawTarget::stderr() } else { ProgressDrawTarget::hidden() };
    let bar = ProgressBar::with_draw_target(Some(len), target);
    if let Ok(style) = ProgressStyle::with_template("{prefix} [{bar:25}] {pos}/{len} {msg} ({elapsed}<{eta})")
    {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_prefix(prefix);
    bar.set_position(pos);
    bar
}

/// Trains `model` for `cfg.iterations` on the training spirals with
/// observations `obs`, then evaluates on the test spirals. With `resume`,
/// continues after the newest checkpoint in `run_dir`.
pub fn train_spirals(
    model: &mut dyn SequenceModel,
    data: &Spirals,
    obs: &Observations,
    cfg: &LatentTrainConfig,
    run_dir: &Path,
    resume: bool,
    info: serde_json::Value,
) -> Result<SpiralRun, LatentError> {
    if !(cfg.lr.is_finite() && cfg.lr > 0.0) {
        return Err(LatentError::InvalidArgument {
            name: "lr",
            reason: format!("{} is not positive", cfg.lr),
        });
    }
    if cfg.clip_grad_norm.is_some_and(|c| !(c.is_finite() && c > 0.0)) {
        return Err(LatentError::InvalidArgument {
            name: "clip_grad_norm",
            reason: format!("{:?} is not a positive number", cfg.clip_grad_norm),
        });
    }
    fs::create_dir_all(run_dir).map_err(io_err(run_dir))?;
    let (train_idx, test_idx) = data.split();
    let w = data.config.n_window;
    let (t0, t_end) = (data.times[0], data.times[w - 1]);
    let device = model.var_store().device();
    let kind = model.var_store().trainable_variables().first().map(|t| t.kind()).unwrap_or(Kind::Float);
    let mut history = Vec::new();
    let mut start = 0;
    let mut resumed_from = None;
    let adam = AdamConfig { lr: cfg.lr, ..AdamConfig::default() };
    let mut opt = Adam::new(model.var_store(), adam)?;
    if resume {
        if let Some((meta, restore)) = load_latest(model, &mut opt, run_dir)? {
            if meta.iteration > cfg.iterations {
                return Err(LatentError::InvalidArgument {
                    name: "iterations",
                    reason: format!(
                        "{} holds a checkpoint after iteration {}, past the {} asked for; ask for at least {} \
                         or use another run directory",
                        run_dir.display(),
                        meta.iteration,
                        cfg.iterations,
                        meta.iteration
                    ),
                });
            }
            eprintln!("[latent] {}: resuming after iteration {}", model.name(), meta.iteration);
            restore.warn_if_absent("latent");
            start = meta.iteration;
            history = meta.history;
            resumed_from = Some(meta.iteration);
        }
    }
    let mut run = SpiralRun {
        model: model.name().into(),
        parameters: model.parameter_count(),
        device: format!("{device:?}"),
        n_obs: obs.n_obs,
        n_train: train_idx.len(),
        spirals: data.config.clone(),
        train: cfg.clone(),
        info,
        resumed_from,
        iterations_done: start,
        history,
        time_per_iter_s: 0.0,
        test: None,
        examples: Vec::new(),
        finished: false,
    };
    let metrics_path = run_dir.join("metrics.json");
    let full = cfg.batch_size == 0 || cfg.batch_size >= train_idx.len();
    let full_batch = if full { Some(data.batch(obs, &train_idx, kind, device)?) } else { None };
    let bar = progress_bar(
        cfg.progress,
        cfg.iterations as u64,
        start.min(cfg.iterations) as u64,
        format!("{} n={}", model.name(), obs.n_obs),
    );
    for it in start..cfg.iterations {
        // Per iteration, so that a resumed run draws what the uninterrupted one drew.
        tch::manual_seed(cfg.seed as i64 ^ (it as i64).wrapping_mul(0x9E37_79B9));
        let t_it = Instant::now();
        let sampled;
        let batch = match &full_batch {
            Some(b) => b,
            None => {
                let mut rng = DataRng::stream(cfg.seed, 1000 + it as u64);
                let pick = rng.choose_sorted(train_idx.len(), cfg.batch_size);
                let which: Vec<usize> = pick.iter().map(|&k| train_idx[k]).collect();
                sampled = data.batch(obs, &which, kind, device)?;
                &sampled
            }
        };
        opt.zero_grad();
        let out = model.train_step(batch, t0, t_end)?;
        let vars = model.var_store().trainable_variables();
        let grad_norm = clip_grad_norm(&vars, cfg.clip_grad_norm.unwrap_or(f64::INFINITY));
        opt.step()?;
        let rec = IterRecord {
            iteration: it + 1,
            loss: out.loss,
            nfe_forward: out.nfe_forward,
            nfe_backward: out.nfe_backward,
            time_s: t_it.elapsed().as_secs_f64(),
            grad_norm: Some(grad_norm),
        };
        bar.set_message(format!("loss {:.3} nfe f {} b {}", out.loss, out.nfe_forward, out.nfe_backward));
        bar.inc(1);
        if (it + 1) % cfg.log_every.max(1) == 0 || it + 1 == cfg.iterations {
            run.history.push(rec);
        }
        run.iterations_done = it + 1;
        if (it + 1) % cfg.checkpoint_every.max(1) == 0 || it + 1 == cfg.iterations {
            save_checkpoint(&*model, &opt, run_dir, it + 1, &run.history, cfg.keep_checkpoints)?;
            write_json(&metrics_path, &run)?;
        }
    }
    bar.finish_and_clear();
    // From the logged iterations (kept across resumes), so that a finished
    // run evaluated again still reports its training speed.
    let logged = run.history.len().max(1) as f64;
    run.time_per_iter_s = run.history.iter().map(|h| h.time_s).sum::<f64>() / logged;
    let (test, examples) = evaluate(&*model, data, obs, &test_idx, cfg.n_examples)?;
    eprintln!(
        "[latent] {} n={}: test predictive RMSE {:.4} (observed times {:.4}, whole window {}), {:.3} s/iteration",
        model.name(),
        obs.n_obs,
        test.rmse_extrap,
        test.rmse_obs,
        test.rmse_window.map(|r| format!("{r:.4}")).unwrap_or_else(|| "-".into()),
        run.time_per_iter_s
    );
    run.test = Some(test);
    run.examples = examples;
    run.finished = true;
    write_json(&metrics_path, &run)?;
    Ok(run)
}
