//! The image rows of the DISE paper's Table 1: an ODE-Net trained on
//! MNIST-like data with one regularizer, then its test-time cost measured
//! with the whole batch stepped together and with each sample on its own.
//! `cargo xtask reproduce dise` drives it.
//!
//! ```text
//! dise_image --data datasets/cache/mnist10k --reg error-sum --run-dir target/runs/dise-err
//! ```

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use ode_dise::{measure_test_cost, RegularizedOdeNet, RegularizerChoice};
use ode_models::data::load_idx_dir;
use ode_models::image::{Downsampling, ImageClassifier, OdeNet, DEFAULT_TOL};
use ode_models::train::{self, write_atomic, TrainConfig};
use ode_models::{DeviceFlag, GradMode};

/// Train an ODE-Net with a solver-aware regularizer (DISE, Table 1) and
/// measure its test-time NFE and inference time per sample.
#[derive(Parser, Debug)]
#[command(name = "dise_image")]
struct Args {
    /// Directory with the four MNIST-format IDX files (plain or .gz).
    #[arg(long)]
    data: PathBuf,
    /// Data set name recorded in the metrics (default: the directory name).
    #[arg(long)]
    name: Option<String>,
    /// none | error-sum | kinetic | jacobian | l1 | l2.
    #[arg(long, default_value = "none")]
    reg: RegularizerChoice,
    /// The regularizer's coefficient (default: the paper's MNIST value).
    #[arg(long)]
    lambda: Option<f64>,
    /// direct | aca (the two modes that differentiate step error estimates).
    #[arg(long, default_value = "aca")]
    grad: String,
    /// Solver rtol = atol (dopri5), in training and at test time.
    #[arg(long, default_value_t = DEFAULT_TOL)]
    tol: f64,
    #[arg(long, default_value_t = 160)]
    epochs: usize,
    /// Batch size; lr = lr0 * batch / 128.
    #[arg(long, default_value_t = 128)]
    batch: usize,
    /// Scale the lr drops (60/100/140 of 160) to this many epochs instead of --epochs.
    #[arg(long)]
    schedule_epochs: Option<usize>,
    /// Learning rate at batch 128.
    #[arg(long, default_value_t = 0.1)]
    lr: f64,
    /// Use the first N training images.
    #[arg(long)]
    train_subset: Option<usize>,
    /// Use the first N test images.
    #[arg(long)]
    test_subset: Option<usize>,
    #[arg(long, default_value_t = 1000)]
    eval_batch: usize,
    /// No random crop.
    #[arg(long)]
    no_augment: bool,
    /// Seed of initialisation, shuffling and crops.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// cpu | cuda | cuda:N | auto.
    #[arg(long, default_value = "auto")]
    device: DeviceFlag,
    /// torch intra-op threads (default: torch's choice).
    #[arg(long)]
    threads: Option<i32>,
    /// Checkpoints, metrics.json and test_cost.json go here.
    #[arg(long)]
    run_dir: PathBuf,
    /// Continue after the newest checkpoint in --run-dir.
    #[arg(long)]
    resume: bool,
    /// No progress bars.
    #[arg(long)]
    no_progress: bool,
}

fn run(a: Args) -> Result<(), String> {
    let mode = match a.grad.as_str() {
        "direct" => GradMode::Direct,
        "aca" => GradMode::Aca,
        other => return Err(format!("--grad {other}: the error regularizer needs direct or aca")),
    };
    if !(a.tol.is_finite() && a.tol > 0.0) {
        return Err("--tol must be positive".into());
    }
    if matches!(a.train_subset, Some(0)) || matches!(a.test_subset, Some(0)) {
        return Err("subsets must hold at least one image".into());
    }
    let lambda = a.lambda.unwrap_or_else(|| a.reg.mnist_lambda());
    let regularizers = a.reg.build(lambda).map_err(|e| e.to_string())?;
    if let Some(n) = a.threads {
        tch::set_num_threads(n);
    }
    let device = a.device.resolve();
    tch::manual_seed(a.seed as i64);
    let mut net = OdeNet::new(device, Downsampling::Conv, mode.clone(), a.tol);
    // Every epoch's evaluation reports each test sample's own NFE.
    net.per_sample_inference = true;
    let mut model = RegularizedOdeNet::new(net, regularizers, &a.reg.to_string());
    println!("{}: {} parameters on {device:?}, lambda {lambda}", model.name(), model.parameter_count());

    let name = a.name.clone().unwrap_or_else(|| {
        a.data.file_name().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "data".into())
    });
    let split = load_idx_dir(&a.data, &name).map_err(|e| e.to_string())?;
    let (mut tr, mut te) = (split.train, split.test);
    if let Some(n) = a.train_subset {
        tr = tr.subset(n);
    }
    if let Some(n) = a.test_subset {
        te = te.subset(n);
    }
    let (tr, te) = (tr.to_device(device), te.to_device(device));
    let cfg = TrainConfig {
        epochs: a.epochs,
        batch_size: a.batch,
        lr: a.lr,
        schedule_epochs: a.schedule_epochs,
        crop_padding: if a.no_augment { 0 } else { TrainConfig::default().crop_padding },
        eval_batch_size: a.eval_batch,
        seed: a.seed,
        progress: !a.no_progress,
        ..TrainConfig::default()
    };
    let info = serde_json::json!({
        "dataset": name,
        "data_dir": a.data.display().to_string(),
        "regularizer": a.reg.to_string(),
        "lambda": lambda,
        "grad": mode.name(),
        "tol": a.tol,
        "threads": tch::get_num_threads(),
    });
    let m = train::train(
        &mut model,
        (&tr.images, &tr.labels),
        (&te.images, &te.labels),
        &cfg,
        &a.run_dir,
        a.resume,
        info,
    )
    .map_err(|e| e.to_string())?;
    let cost =
        measure_test_cost(&mut model.net, &te.images, &te.labels, a.eval_batch).map_err(|e| e.to_string())?;
    let path = a.run_dir.join("test_cost.json");
    let text = serde_json::to_string_pretty(&cost).map_err(|e| e.to_string())?;
    write_atomic(&path, |tmp| {
        std::fs::write(tmp, &text).map_err(|source| train::TrainError::Io { path: tmp.to_path_buf(), source })
    })
    .map_err(|e| e.to_string())?;
    let s = cost.nfe_summary.map(|s| format!("mean {:.1}, median {:.0}, p90 {:.0}", s.mean, s.median, s.p90));
    println!(
        "{}: test error {:.2}% after {} epochs; NFE batch {:.1}, per sample {}; {:.2} ms / sample batched, {:.2} ms per-sample; {}",
        m.model,
        100.0 * cost.error_batch,
        m.epochs.len(),
        cost.nfe_batch,
        s.unwrap_or_default(),
        1e3 * cost.time_per_sample_batch_s,
        1e3 * cost.time_per_sample_per_sample_s,
        path.display()
    );
    Ok(())
}

fn main() -> ExitCode {
    let args = match Args::try_parse() {
        Ok(a) => a,
        Err(e) => {
            let _ = e.print();
            // --help and --version are not failures.
            return if e.use_stderr() { ExitCode::from(2) } else { ExitCode::SUCCESS };
        }
    };
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("dise_image: error: {e}");
            ExitCode::FAILURE
        }
    }
}
