//! Trains one classifier of irregularly sampled series on a `.ts` data set
//! (UEA archive layout: `<data>/<name>_TRAIN.ts`, `<data>/<name>_TEST.ts`)
//! with a seeded fraction of the time points dropped, and writes
//! `metrics.json` into the run directory (resumable with `--resume`).
//!
//! ```text
//! timeseries --data datasets/cache/JapaneseVowels --name JapaneseVowels \
//!     --model ode-rnn --drop 0.3 --grad aca --epochs 30 --run-dir target/ts/ode-rnn-30
//! ```

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use ode_models::data::irregular::{drop_observations, DropMode};
use ode_models::data::ts::{read_ts_split, unit_time_step};
use ode_models::data::SeriesTensors;
use ode_models::timeseries::{
    build_classifier, train_classifier, ModelKind, ModelSizes, Standardizer, TsTrainConfig,
};
use ode_models::DeviceFlag;

#[derive(Parser, Debug)]
#[command(about = "Train an ODE-RNN, Latent ODE or GRU classifier on an irregularly sampled .ts data set")]
struct Args {
    /// Directory holding <name>_TRAIN.ts and <name>_TEST.ts.
    #[arg(long)]
    data: PathBuf,
    /// Problem name (file prefix), e.g. JapaneseVowels.
    #[arg(long)]
    name: String,
    /// ode-rnn, latent-ode, gru-dt, gru-d or gru.
    #[arg(long, default_value = "ode-rnn")]
    model: String,
    /// Fraction of each series' time points dropped (train and test).
    #[arg(long, default_value_t = 0.0)]
    drop: f64,
    /// Seed of the dropping, the initialization and the shuffles.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Gradient mode of the ODE models: direct, adjoint, aca or mali.
    #[arg(long, default_value = "aca")]
    grad: String,
    #[arg(long, default_value_t = 30)]
    epochs: usize,
    #[arg(long, default_value_t = 32)]
    batch_size: usize,
    #[arg(long, default_value_t = 0.01)]
    lr: f64,
    /// ODE-RNN hidden size (the other models are matched to its parameter count).
    #[arg(long, default_value_t = 32)]
    hidden: i64,
    #[arg(long, default_value_t = 1e-3)]
    rtol: f64,
    #[arg(long, default_value_t = 1e-4)]
    atol: f64,
    /// Series per inference pass in the test evaluation (1: exact NFE per series).
    #[arg(long, default_value_t = 1)]
    eval_batch_size: usize,
    #[arg(long)]
    run_dir: PathBuf,
    /// Continue after the newest checkpoint in --run-dir.
    #[arg(long)]
    resume: bool,
    /// auto, cpu or cuda[:N].
    #[arg(long, default_value = "auto")]
    device: DeviceFlag,
    /// torch intra-op threads.
    #[arg(long, default_value_t = 1)]
    threads: i32,
    /// No per-epoch lines on stderr.
    #[arg(long)]
    quiet: bool,
}

fn run(a: Args) -> Result<(), Box<dyn std::error::Error>> {
    if a.threads < 1 {
        return Err("--threads must be at least 1".into());
    }
    tch::set_num_threads(a.threads);
    let kind: ModelKind = a.model.parse()?;
    let (train_ts, test_ts) = read_ts_split(&a.data, &a.name)?;
    let step = unit_time_step(&[&train_ts, &test_ts]);
    let train_p = drop_observations(&train_ts.padded(step), a.drop, DropMode::TimePoints, a.seed)?;
    let test_p = drop_observations(&test_ts.padded(step), a.drop, DropMode::TimePoints, a.seed ^ 0x7e57)?;
    let (train, test) = (SeriesTensors::from_padded(&train_p), SeriesTensors::from_padded(&test_p));
    let classes = train_ts.class_labels().len();
    let scale = Standardizer::fit(&train);
    let mut sizes = ModelSizes::new(train_ts.n_channels as i64, classes as i64);
    sizes.hidden = a.hidden;
    sizes.rtol = a.rtol;
    sizes.atol = a.atol;
    sizes.grad = a.grad.clone();
    let device = a.device.resolve();
    tch::manual_seed(a.seed as i64);
    let mut model = build_classifier(kind, &sizes, device)?;
    let cfg = TsTrainConfig {
        epochs: a.epochs,
        batch_size: a.batch_size,
        lr: a.lr,
        seed: a.seed,
        eval_batch_size: a.eval_batch_size,
        progress: !a.quiet,
        ..TsTrainConfig::default()
    };
    let info = serde_json::json!({
        "dataset": a.name,
        "data_dir": a.data,
        "drop": a.drop,
        "drop_mode": "time points",
        "grad": if kind.is_ode() { a.grad.as_str() } else { "-" },
        "sizes": sizes,
        "hidden": sizes.hidden_for(kind),
        "budget": sizes.budget(),
        "threads": a.threads,
        "observed_train": train_p.observed_count(),
        "observed_test": test_p.observed_count(),
    });
    let run =
        train_classifier(&mut *model, &train, &test, &scale, classes, &cfg, &a.run_dir, a.resume, info)?;
    if let Some(t) = &run.test {
        println!(
            "{} drop {}: accuracy {:.4}, macro AUC {}, {} parameters, train {:.1} s",
            run.model,
            a.drop,
            t.accuracy,
            t.macro_auc.map_or("-".into(), |x| format!("{x:.4}")),
            run.parameters,
            run.train_time_s
        );
    }
    Ok(())
}

fn main() -> ExitCode {
    match run(Args::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("timeseries: error: {e}");
            ExitCode::FAILURE
        }
    }
}
