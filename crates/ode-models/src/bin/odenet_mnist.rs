//! ODE-Net / ResNet / RK-Net on MNIST-like IDX data (torchdiffeq's
//! `odenet_mnist.py`). `cargo xtask reproduce mnist` drives it.
//!
//! ```text
//! odenet_mnist --data datasets/cache/mnist10k --model odenet --grad aca --run-dir target/runs/x
//! ```

use std::path::PathBuf;
use std::process::ExitCode;

use ode_autodiff::AdjointOptions;
use ode_models::data::load_idx_dir;
use ode_models::image::{self, Downsampling, ModelKind, DEFAULT_RK_STEPS, DEFAULT_TOL};
use ode_models::train::{self, TrainConfig};
use ode_models::{DeviceFlag, GradMode};

const HELP: &str = "\
odenet_mnist: train ODE-Net, ResNet or RK-Net on MNIST-like IDX data

Options:
  --data DIR            directory with the four MNIST IDX files (plain or .gz)   [required]
  --name NAME           data set name recorded in the metrics (default: the directory name)
  --model M             odenet | resnet | rknet                                   [odenet]
  --grad G              direct | adjoint | aca (ODE-Net only)                     [aca]
  --downsampling D      conv | res                                                [conv]
  --tol T               solver rtol = atol (ODE-Net only)                         [1e-3]
  --rk-steps N          RK4 steps over [0, 1] (RK-Net only)                       [4]
  --epochs N            epochs; the lr schedule scales to N                       [160]
  --batch N             batch size; lr = 0.1 * batch / 128                        [128]
  --schedule-epochs N   scale the lr drops (60/100/140 of 160) to N epochs instead [--epochs]
  --lr X                learning rate at batch 128                               [0.1]
  --train-subset N      use the first N training images
  --test-subset N       use the first N test images
  --eval-batch N        evaluation batch size                                     [1000]
  --no-augment          no random crop
  --seed N              seed of initialisation, shuffling and crops                [0]
  --device D            cpu | cuda | cuda:N | auto                                [auto]
  --threads N           torch intra-op threads (default: torch's choice)
  --run-dir DIR         checkpoints and metrics.json go here                      [required]
  --resume              continue after the newest checkpoint in --run-dir
  --no-progress         no progress bars
  --print-params        print the parameter count and exit
";

struct Args {
    data: Option<PathBuf>,
    name: Option<String>,
    model: ModelKind,
    grad: String,
    downsampling: Downsampling,
    tol: f64,
    rk_steps: usize,
    train_subset: Option<usize>,
    test_subset: Option<usize>,
    device: DeviceFlag,
    threads: Option<i32>,
    run_dir: Option<PathBuf>,
    resume: bool,
    print_params: bool,
    cfg: TrainConfig,
}

fn parse_args(argv: &[String]) -> Result<Option<Args>, String> {
    let mut a = Args {
        data: None,
        name: None,
        model: ModelKind::OdeNet,
        grad: "aca".into(),
        downsampling: Downsampling::Conv,
        tol: DEFAULT_TOL,
        rk_steps: DEFAULT_RK_STEPS,
        train_subset: None,
        test_subset: None,
        device: DeviceFlag::Auto,
        threads: None,
        run_dir: None,
        resume: false,
        print_params: false,
        cfg: TrainConfig::default(),
    };
    let mut it = argv.iter();
    while let Some(flag) = it.next() {
        let mut value = || it.next().cloned().ok_or_else(|| format!("`{flag}` needs a value"));
        fn num<T: std::str::FromStr>(flag: &str, v: String) -> Result<T, String> {
            v.parse().map_err(|_| format!("`{flag}`: cannot parse `{v}`"))
        }
        match flag.as_str() {
            "-h" | "--help" => return Ok(None),
            "--data" => a.data = Some(value()?.into()),
            "--name" => a.name = Some(value()?),
            "--model" => a.model = value()?.parse()?,
            "--grad" => a.grad = value()?,
            "--downsampling" => a.downsampling = value()?.parse()?,
            "--tol" => a.tol = num(flag, value()?)?,
            "--rk-steps" => a.rk_steps = num(flag, value()?)?,
            "--epochs" => a.cfg.epochs = num(flag, value()?)?,
            "--batch" => a.cfg.batch_size = num(flag, value()?)?,
            "--schedule-epochs" => a.cfg.schedule_epochs = Some(num(flag, value()?)?),
            "--lr" => a.cfg.lr = num(flag, value()?)?,
            "--train-subset" => a.train_subset = Some(num(flag, value()?)?),
            "--test-subset" => a.test_subset = Some(num(flag, value()?)?),
            "--eval-batch" => a.cfg.eval_batch_size = num(flag, value()?)?,
            "--no-augment" => a.cfg.crop_padding = 0,
            "--seed" => a.cfg.seed = num(flag, value()?)?,
            "--device" => a.device = value()?.parse()?,
            "--threads" => a.threads = Some(num(flag, value()?)?),
            "--run-dir" => a.run_dir = Some(value()?.into()),
            "--resume" => a.resume = true,
            "--no-progress" => a.cfg.progress = false,
            "--print-params" => a.print_params = true,
            other => return Err(format!("unknown option `{other}`; see --help")),
        }
    }
    if !(a.tol.is_finite() && a.tol > 0.0) {
        return Err("--tol must be positive".into());
    }
    if a.rk_steps == 0 {
        return Err("--rk-steps must be at least 1".into());
    }
    if matches!(a.train_subset, Some(0)) || matches!(a.test_subset, Some(0)) {
        return Err("subsets must hold at least one image".into());
    }
    Ok(Some(a))
}

fn grad_mode(name: &str) -> Result<GradMode, String> {
    match name {
        "direct" => Ok(GradMode::Direct),
        "adjoint" => Ok(GradMode::Adjoint(AdjointOptions::default())),
        "aca" => Ok(GradMode::Aca),
        _ => Err(format!("unknown gradient mode `{name}`; use direct, adjoint or aca")),
    }
}

fn run(a: Args) -> Result<(), String> {
    let mode = grad_mode(&a.grad)?;
    if let Some(n) = a.threads {
        tch::set_num_threads(n);
    }
    let device = a.device.resolve();
    tch::manual_seed(a.cfg.seed as i64);
    let mut model = image::build(a.model, device, a.downsampling, mode.clone(), a.tol, a.rk_steps);
    println!("{}: {} parameters on {device:?}", model.name(), model.parameter_count());
    if a.print_params {
        return Ok(());
    }
    let data = a.data.ok_or("--data DIR is required (run `cargo xtask data` to fetch MNIST-10k)")?;
    let run_dir = a.run_dir.ok_or("--run-dir DIR is required")?;
    let name = a.name.unwrap_or_else(|| {
        data.file_name().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "data".into())
    });
    let split = load_idx_dir(&data, &name).map_err(|e| e.to_string())?;
    let mut tr = split.train;
    let mut te = split.test;
    if let Some(n) = a.train_subset {
        tr = tr.subset(n);
    }
    if let Some(n) = a.test_subset {
        te = te.subset(n);
    }
    let (tr, te) = (tr.to_device(device), te.to_device(device));
    let info = serde_json::json!({
        "dataset": name,
        "data_dir": data.display().to_string(),
        "model_kind": a.model.to_string(),
        "grad": if a.model == ModelKind::OdeNet { mode.name() } else if a.model == ModelKind::RkNet { "direct" } else { "backprop" },
        "downsampling": a.downsampling.to_string(),
        "tol": if a.model == ModelKind::OdeNet { Some(a.tol) } else { None },
        "rk_steps": if a.model == ModelKind::RkNet { Some(a.rk_steps) } else { None },
        "threads": tch::get_num_threads(),
    });
    let m = train::train(
        model.as_mut(),
        (&tr.images, &tr.labels),
        (&te.images, &te.labels),
        &a.cfg,
        &run_dir,
        a.resume,
        info,
    )
    .map_err(|e| e.to_string())?;
    if let Some(last) = m.epochs.last() {
        println!(
            "{}: test error {:.2}% after {} epochs; metrics in {}",
            m.model,
            100.0 * last.test_error,
            last.epoch,
            run_dir.join("metrics.json").display()
        );
    }
    Ok(())
}

fn main() -> ExitCode {
    ode_models::cli::main_with("odenet_mnist", HELP, parse_args, run)
}
