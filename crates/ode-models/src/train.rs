//! A small training library for the image classifiers of [`crate::image`]:
//! SGD with momentum and the step learning-rate schedule of torchdiffeq's
//! MNIST example, random-crop augmentation, progress bars, evaluation,
//! atomic per-epoch checkpoints (safetensors + a JSON sidecar), `resume`,
//! and per-epoch metrics JSON, all under one run directory:
//!
//! ```text
//! <run_dir>/metrics.json                      the run: config and every epoch
//! <run_dir>/checkpoints/epoch-0007.safetensors the weights after epoch 7
//! <run_dir>/checkpoints/epoch-0007.json        its sidecar (epoch, step, metrics)
//! ```
//!
//! The sidecar is written after the weights, so a checkpoint counts only
//! once both exist. The weights file also holds SGD's momentum buffers
//! ([`crate::optim::Sgd`]), so a resumed run continues exactly as the
//! uninterrupted one (bitwise on CPU with one thread).

use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::time::Instant;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::{Deserialize, Serialize};
use tch::{Kind, Tensor};

use crate::checkpoint::{write_json_atomic, CheckpointStore};
use crate::image::{ImageClassifier, ModelError};
use crate::nfe::NfeSummary;
use crate::optim::{OptimError, Optimizer, Sgd, SgdConfig};

/// Errors of a training run.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("checkpoint {path}: {msg}")]
    Checkpoint { path: PathBuf, msg: String },
    #[error(transparent)]
    Model(#[from] ModelError),
    #[error("libtorch: {0}")]
    Torch(#[from] tch::TchError),
    #[error("bad training configuration: {0}")]
    Config(String),
    #[error("checkpoint {path}: optimizer state: {source}")]
    OptimizerState { path: PathBuf, source: OptimError },
    #[error("optimizer: {0}")]
    Optim(#[from] OptimError),
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> TrainError + '_ {
    move |source| TrainError::Io { path: path.to_path_buf(), source }
}

/// How to train.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TrainConfig {
    pub epochs: usize,
    pub batch_size: usize,
    /// Learning rate at batch 128; the run uses `lr * batch_size / 128`.
    pub lr: f64,
    pub momentum: f64,
    /// Epochs (of [`REFERENCE_EPOCHS`]) after which the rate drops x0.1;
    /// scaled to `epochs` proportionally.
    pub boundaries: Vec<f64>,
    /// The run length the boundaries are scaled to; `None`: `epochs`. A
    /// short run with `Some(160)` keeps the initial rate throughout.
    #[serde(default)]
    pub schedule_epochs: Option<usize>,
    /// Random crop of the original size after zero padding of this many pixels (0: none).
    pub crop_padding: i64,
    pub eval_batch_size: usize,
    pub seed: u64,
    /// Checkpoints kept (the newest ones).
    pub keep_checkpoints: usize,
    pub progress: bool,
}

/// The schedule's boundaries refer to a run of this many epochs.
pub const REFERENCE_EPOCHS: f64 = 160.0;

impl Default for TrainConfig {
    /// The paper's setup: 160 epochs of batch 128, lr 0.1, momentum 0.9,
    /// x0.1 at epochs 60, 100 and 140, random crop with padding 4.
    fn default() -> Self {
        TrainConfig {
            epochs: 160,
            batch_size: 128,
            lr: 0.1,
            momentum: 0.9,
            boundaries: vec![60.0, 100.0, 140.0],
            schedule_epochs: None,
            crop_padding: 4,
            eval_batch_size: 1000,
            seed: 0,
            keep_checkpoints: 2,
            progress: true,
        }
    }
}

impl TrainConfig {
    fn validate(&self) -> Result<(), TrainError> {
        let bad = |m: &str| Err(TrainError::Config(m.into()));
        if self.epochs == 0 {
            return bad("epochs must be at least 1");
        }
        if self.batch_size == 0 || self.eval_batch_size == 0 {
            return bad("batch sizes must be at least 1");
        }
        if !(self.lr.is_finite() && self.lr > 0.0) {
            return bad("the learning rate must be positive");
        }
        if !(0.0..1.0).contains(&self.momentum) {
            return bad("momentum must lie in [0, 1)");
        }
        if self.crop_padding < 0 {
            return bad("crop padding must not be negative");
        }
        Ok(())
    }

    /// The learning rate of iteration `step` (0-based, counted over the
    /// whole run) with `batches_per_epoch` batches per epoch: torchdiffeq's
    /// `learning_rate_with_decay`, boundaries scaled to `self.epochs`.
    pub fn lr_at(&self, step: usize, batches_per_epoch: usize) -> f64 {
        let base = self.lr * self.batch_size as f64 / 128.0;
        let scale = self.schedule_epochs.unwrap_or(self.epochs) as f64 / REFERENCE_EPOCHS;
        let drops = self
            .boundaries
            .iter()
            .filter(|&&b| step as f64 >= (b * scale * batches_per_epoch as f64).round())
            .count();
        base * 0.1f64.powi(drops as i32)
    }
}

/// Zero-pads by `pad` pixels and crops back to the original size at a
/// random offset per image (torchvision's `RandomCrop(28, padding=4)`).
/// Uses torch's generator (seed it with `tch::manual_seed`).
pub fn random_crop(images: &Tensor, pad: i64) -> Tensor {
    if pad == 0 {
        return images.shallow_clone();
    }
    let size = images.size();
    let (b, h, w) = (size[0], size[size.len() - 2], size[size.len() - 1]);
    let padded = images.constant_pad_nd([pad, pad, pad, pad]);
    let offsets: Vec<i64> =
        Vec::try_from(Tensor::randint(2 * pad + 1, [b, 2], (Kind::Int64, tch::Device::Cpu)).flatten(0, -1))
            .unwrap_or_else(|_| vec![pad; 2 * b as usize]);
    let crops: Vec<Tensor> = (0..b)
        .map(|i| {
            let (oy, ox) = (offsets[2 * i as usize], offsets[2 * i as usize + 1]);
            padded.get(i).narrow(-2, oy, h).narrow(-1, ox, w)
        })
        .collect();
    Tensor::stack(&crops, 0)
}

/// Peak resident set size of this process in bytes (VmHWM), if readable.
pub fn peak_rss_bytes() -> Option<u64> {
    let s = fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// Test-set result.
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize)]
pub struct Evaluation {
    /// Fraction misclassified.
    pub error: f64,
    pub loss: f64,
    /// Forward NFE averaged over the evaluation batches (with per-sample
    /// stepping: calls of the ODE function on the batch).
    pub nfe_forward: f64,
    /// Each sample's own NFE, when the model steps samples on their own.
    pub nfe_per_sample: Option<NfeSummary>,
    /// Wall-clock inference time per sample (the model's `predict` over
    /// the whole set divided by its size; loss and accuracy not included).
    pub time_per_sample_s: f64,
}

/// Test error of `model` on `images` / `labels` in batches of `batch_size`.
pub fn evaluate(
    model: &dyn ImageClassifier,
    images: &Tensor,
    labels: &Tensor,
    batch_size: usize,
) -> Result<Evaluation, TrainError> {
    let n = images.size().first().copied().unwrap_or(0);
    if n == 0 || labels.size() != [n] {
        return Err(TrainError::Config(format!(
            "evaluation set: {:?} images vs {:?} labels",
            images.size(),
            labels.size()
        )));
    }
    let (mut wrong, mut loss, mut nfe, mut batches) = (0i64, 0.0, 0usize, 0usize);
    let mut per_sample: Option<Vec<usize>> = None;
    let mut predict_time = 0.0;
    let mut start = 0;
    while start < n {
        let len = (batch_size as i64).min(n - start);
        let x = images.narrow(0, start, len);
        let y = labels.narrow(0, start, len);
        let t0 = Instant::now();
        let p = model.predict(&x)?;
        // The logits are computed by now (predict reads the solver's step
        // sizes back on the host), so this is the inference time.
        predict_time += t0.elapsed().as_secs_f64();
        wrong += p.logits.argmax(-1, false).ne_tensor(&y).sum(Kind::Int64).int64_value(&[]);
        loss += p.logits.cross_entropy_for_logits(&y).double_value(&[]) * len as f64;
        nfe += p.stats.nfe_forward;
        if let Some(counts) = p.nfe_per_sample {
            per_sample.get_or_insert_with(Vec::new).extend(counts);
        }
        batches += 1;
        start += len;
    }
    Ok(Evaluation {
        error: wrong as f64 / n as f64,
        loss: loss / n as f64,
        nfe_forward: nfe as f64 / batches as f64,
        nfe_per_sample: per_sample.as_deref().and_then(NfeSummary::of),
        time_per_sample_s: predict_time / n as f64,
    })
}

/// What one epoch measured.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct EpochMetrics {
    /// 1-based.
    pub epoch: usize,
    /// Learning rate of the epoch's last step.
    pub lr: f64,
    pub train_loss: f64,
    /// Training error on the augmented batches.
    pub train_error: f64,
    pub test_error: f64,
    pub test_loss: f64,
    /// Forward / backward NFE of the training steps, averaged per batch.
    pub nfe_forward: f64,
    pub nfe_backward: f64,
    /// Forward NFE of the test batches, averaged per batch.
    pub test_nfe_forward: f64,
    /// The weighted regularizer term of the training steps, averaged per
    /// sample (0 without a regularizer).
    #[serde(default)]
    pub train_regularizer: f64,
    /// Each test sample's own NFE, when the model steps samples on their own.
    #[serde(default)]
    pub test_nfe_per_sample: Option<NfeSummary>,
    /// Wall-clock inference time per test sample.
    #[serde(default)]
    pub test_time_per_sample_s: f64,
    pub epoch_time_s: f64,
    pub eval_time_s: f64,
    /// VmHWM of the process at the end of the epoch.
    pub peak_rss_bytes: Option<u64>,
}

/// The JSON sidecar of a checkpoint.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CheckpointMeta {
    pub model: String,
    /// Epochs completed.
    pub epoch: usize,
    /// Optimizer steps taken.
    pub step: usize,
    pub weights: String,
    pub metrics: Vec<EpochMetrics>,
}

/// The run's `metrics.json`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RunMetrics {
    pub model: String,
    pub parameters: i64,
    pub device: String,
    pub train_size: i64,
    pub test_size: i64,
    pub config: TrainConfig,
    /// Caller-supplied description (dataset, gradient mode, tolerance, ...).
    pub info: serde_json::Value,
    pub resumed_from_epoch: Option<usize>,
    pub epochs: Vec<EpochMetrics>,
    pub finished: bool,
}

/// Writes a file atomically: `write` fills a temporary file in the same
/// directory (named `.tmp-<name>`, so it keeps the extension), which is
/// fsynced and renamed over `path`; then the directory is fsynced.
pub fn write_atomic(
    path: &Path,
    write: impl FnOnce(&Path) -> Result<(), TrainError>,
) -> Result<(), TrainError> {
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let name =
        path.file_name().ok_or_else(|| TrainError::Config(format!("{} has no file name", path.display())))?;
    let tmp = dir.join(format!(".tmp-{}", name.to_string_lossy()));
    write(&tmp)?;
    File::open(&tmp).and_then(|f| f.sync_all()).map_err(io_err(&tmp))?;
    fs::rename(&tmp, path).map_err(io_err(path))?;
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// Where the MNIST trainer keeps its checkpoints: `epoch-0001` ...
fn epoch_store(run_dir: &Path) -> CheckpointStore {
    CheckpointStore::new(run_dir, "epoch", 4)
}

/// Saves the model, the optimizer's state and the sidecar for
/// `meta.epoch`, then prunes old ones.
pub fn save_checkpoint(
    model: &dyn ImageClassifier,
    opt: &dyn Optimizer,
    run_dir: &Path,
    meta: &CheckpointMeta,
    keep: usize,
) -> Result<(), TrainError> {
    epoch_store(run_dir).save_with_optimizer(model.var_store(), opt, meta.epoch, meta, keep)
}

/// Loads the newest checkpoint's weights of `run_dir` into `model` (for
/// evaluation; [`train`] restores the optimizer too) and returns its
/// sidecar, or `None` when there is none. A corrupt, truncated or
/// mismatching checkpoint is an error naming the file.
pub fn load_latest_checkpoint(
    model: &mut dyn ImageClassifier,
    run_dir: &Path,
) -> Result<Option<CheckpointMeta>, TrainError> {
    let name = model.name();
    epoch_store(run_dir).load_latest(model.var_store_mut(), &name, |m: &CheckpointMeta| &m.model)
}

/// Trains `model` on `train` for `cfg.epochs` epochs, evaluating on `test`
/// after each, with checkpoints and metrics under `run_dir`. With `resume`,
/// continues after the newest checkpoint there (and starts afresh when
/// there is none).
#[allow(clippy::too_many_arguments)]
pub fn train(
    model: &mut dyn ImageClassifier,
    train: (&Tensor, &Tensor),
    test: (&Tensor, &Tensor),
    cfg: &TrainConfig,
    run_dir: &Path,
    resume: bool,
    info: serde_json::Value,
) -> Result<RunMetrics, TrainError> {
    cfg.validate()?;
    let (train_x, train_y) = train;
    let n = train_x.size().first().copied().unwrap_or(0);
    if n == 0 || train_y.size() != [n] || train_x.dim() != 4 {
        return Err(TrainError::Config(format!(
            "training set: {:?} images (want [N, 1, H, W]) vs {:?} labels",
            train_x.size(),
            train_y.size()
        )));
    }
    fs::create_dir_all(run_dir).map_err(io_err(run_dir))?;
    let batches_per_epoch = (n as usize).div_ceil(cfg.batch_size);
    let mut start_epoch = 0;
    let mut step = 0;
    let mut history = Vec::new();
    let mut resumed_from_epoch = None;
    // The rate is set every step from the schedule; this one is a placeholder.
    let sgd = SgdConfig { lr: cfg.lr, momentum: cfg.momentum, ..SgdConfig::default() };
    let mut opt = Sgd::new(model.var_store(), sgd)?;
    if resume {
        let name = model.name();
        let loaded = epoch_store(run_dir).load_latest_with_optimizer(
            model.var_store_mut(),
            &mut opt,
            &name,
            |m: &CheckpointMeta| &m.model,
        )?;
        if let Some((meta, restore)) = loaded {
            if meta.epoch > cfg.epochs {
                return Err(TrainError::Config(format!(
                    "{} holds a checkpoint after epoch {}, past the {} asked for; ask for at least {} or use \
                     another run directory",
                    run_dir.display(),
                    meta.epoch,
                    cfg.epochs,
                    meta.epoch
                )));
            }
            eprintln!("[train] {name}: resuming after epoch {} (step {})", meta.epoch, meta.step);
            restore.warn_if_absent("train");
            start_epoch = meta.epoch;
            step = meta.step;
            history = meta.metrics;
            resumed_from_epoch = Some(meta.epoch);
        }
    }
    let mut run = RunMetrics {
        model: model.name(),
        parameters: model.parameter_count(),
        device: format!("{:?}", model.device()),
        train_size: n,
        test_size: test.0.size().first().copied().unwrap_or(0),
        config: cfg.clone(),
        info,
        resumed_from_epoch,
        epochs: history,
        finished: false,
    };
    let metrics_path = run_dir.join("metrics.json");
    let device = model.device();
    for epoch in start_epoch..cfg.epochs {
        let t0 = Instant::now();
        tch::manual_seed(cfg.seed as i64 ^ (epoch as i64).wrapping_mul(0x9E37_79B9));
        let perm = Tensor::randperm(n, (Kind::Int64, device));
        let bar = progress_bar(
            cfg.progress,
            batches_per_epoch,
            &format!("{} {}/{}", model.name(), epoch + 1, cfg.epochs),
        );
        let (mut loss_sum, mut correct, mut nfe_f, mut nfe_b) = (0.0, 0i64, 0usize, 0usize);
        let mut reg_sum = 0.0;
        let mut lr = cfg.lr;
        for b in 0..batches_per_epoch {
            let start = (b * cfg.batch_size) as i64;
            let len = (cfg.batch_size as i64).min(n - start);
            let idx = perm.narrow(0, start, len);
            let x = random_crop(&train_x.index_select(0, &idx), cfg.crop_padding);
            let y = train_y.index_select(0, &idx);
            lr = cfg.lr_at(step, batches_per_epoch);
            opt.set_lr(lr)?;
            opt.zero_grad();
            let out = model.train_step(&x, &y)?;
            opt.step()?;
            step += 1;
            loss_sum += out.loss * len as f64;
            reg_sum += out.regularizer * len as f64;
            correct += out.correct;
            nfe_f += out.stats.nfe_forward;
            nfe_b += out.stats.nfe_backward;
            bar.set_message(format!(
                "loss {:.4} nfe f {} b {} lr {lr:.3}",
                out.loss, out.stats.nfe_forward, out.stats.nfe_backward
            ));
            bar.inc(1);
        }
        bar.finish_and_clear();
        let train_time = t0.elapsed().as_secs_f64();
        let t1 = Instant::now();
        let ev = evaluate(&*model, test.0, test.1, cfg.eval_batch_size)?;
        let m = EpochMetrics {
            epoch: epoch + 1,
            lr,
            train_loss: loss_sum / n as f64,
            train_error: 1.0 - correct as f64 / n as f64,
            test_error: ev.error,
            test_loss: ev.loss,
            nfe_forward: nfe_f as f64 / batches_per_epoch as f64,
            nfe_backward: nfe_b as f64 / batches_per_epoch as f64,
            test_nfe_forward: ev.nfe_forward,
            train_regularizer: reg_sum / n as f64,
            test_nfe_per_sample: ev.nfe_per_sample,
            test_time_per_sample_s: ev.time_per_sample_s,
            epoch_time_s: train_time,
            eval_time_s: t1.elapsed().as_secs_f64(),
            peak_rss_bytes: peak_rss_bytes(),
        };
        let per_sample = m
            .test_nfe_per_sample
            .map(|s| {
                format!(", test NFE per sample mean {:.1} median {:.0} p90 {:.0}", s.mean, s.median, s.p90)
            })
            .unwrap_or_default();
        let reg = if m.train_regularizer != 0.0 {
            format!(" + reg {:.4}", m.train_regularizer)
        } else {
            String::new()
        };
        eprintln!(
            "[train] {} epoch {}/{}: loss {:.4}{reg}, train error {:.2}%, test error {:.2}%, NFE f {:.1} b {:.1}{per_sample}, {:.1} s + eval {:.1} s",
            model.name(),
            m.epoch,
            cfg.epochs,
            m.train_loss,
            100.0 * m.train_error,
            100.0 * m.test_error,
            m.nfe_forward,
            m.nfe_backward,
            m.epoch_time_s,
            m.eval_time_s
        );
        run.epochs.push(m);
        let meta = CheckpointMeta {
            model: model.name(),
            epoch: epoch + 1,
            step,
            weights: epoch_store(run_dir)
                .weights_path(epoch + 1)
                .file_name()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default(),
            metrics: run.epochs.clone(),
        };
        save_checkpoint(&*model, &opt, run_dir, &meta, cfg.keep_checkpoints)?;
        run.finished = epoch + 1 == cfg.epochs;
        write_json_atomic(&metrics_path, &run)?;
    }
    run.finished = true;
    write_json_atomic(&metrics_path, &run)?;
    Ok(run)
}

fn progress_bar(show: bool, len: usize, prefix: &str) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(
        Some(len as u64),
        if show { ProgressDrawTarget::stderr() } else { ProgressDrawTarget::hidden() },
    );
    if let Ok(style) = ProgressStyle::with_template("{prefix} [{bar:25}] {pos}/{len} {msg} ({elapsed}<{eta})")
    {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_prefix(prefix.to_string());
    bar
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedule_matches_the_reference_and_scales() {
        let cfg = TrainConfig::default();
        let bpe = 10;
        assert_eq!(cfg.lr_at(0, bpe), 0.1);
        assert_eq!(cfg.lr_at(599, bpe), 0.1);
        assert!((cfg.lr_at(600, bpe) - 0.01).abs() < 1e-15);
        assert!((cfg.lr_at(1000, bpe) - 0.001).abs() < 1e-15);
        assert!((cfg.lr_at(1400, bpe) - 1e-4).abs() < 1e-15);
        let short = TrainConfig { epochs: 16, batch_size: 256, ..TrainConfig::default() };
        assert_eq!(short.lr_at(59, bpe), 0.2);
        assert!((short.lr_at(60, bpe) - 0.02).abs() < 1e-15);
        let flat = TrainConfig { epochs: 2, schedule_epochs: Some(160), ..TrainConfig::default() };
        assert_eq!(flat.lr_at(19, bpe), 0.1);
    }

    #[test]
    fn random_crop_keeps_shape_and_content() {
        tch::manual_seed(0);
        let x = Tensor::ones([5, 1, 28, 28], (Kind::Float, tch::Device::Cpu));
        let c = random_crop(&x, 4);
        assert_eq!(c.size(), [5, 1, 28, 28]);
        // At least 20x20 of every 28x28 crop comes from the image.
        let per_image = c.sum_dim_intlist(&[1i64, 2, 3][..], false, Kind::Float);
        assert!(per_image.min().double_value(&[]) >= 400.0);
        assert!(peak_rss_bytes().is_some_and(|b| b > 0));
    }
}
