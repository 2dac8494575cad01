//! Trains a continuous normalizing flow or a planar flow on the neural ODE
//! paper's 2-D tasks, FFJORD's toy sets, or (task `scale`) a D-dimensional
//! Gaussian mixture to time exact traces against Hutchinson's estimator.
//! `cargo xtask reproduce cnf` drives it.
//!
//! ```text
//! cnf_2d --task density --target two-moons --model cnf --width 32 --iters 1000 --run-dir target/runs/x
//! ```

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use ode_core::tableau::RK4;
use ode_models::clip::clip_grad_norm;
use ode_models::cnf::run::{load_latest_checkpoint, save_checkpoint, IterCheckpoint, IterRecord};
use ode_models::cnf::StepOutput;
use ode_models::cnf::{
    Cnf, CnfConfig, CnfDynamics, Flow, GaussianMixture, Objective, PlanarDirection, PlanarFlow, Target,
    ToySet, TraceMethod,
};
use ode_models::optim::{Adam, AdamConfig, Optimizer};
use ode_models::{DeviceFlag, GradMode};
use serde_json::json;
use tch::nn;
use tch::{Device, Tensor};

type Error = Box<dyn std::error::Error>;
type Result<T> = std::result::Result<T, Error>;

macro_rules! anyhow {
    ($($t:tt)*) => { $crate::Error::from(format!($($t)*)) };
}
macro_rules! bail {
    ($($t:tt)*) => { return Err(anyhow!($($t)*)) };
}

// The run's final evaluation and figure data, in a file of its own.
#[path = "cnf_2d/report.rs"]
mod report;

const HELP: &str = "\
cnf_2d: continuous normalizing flows vs planar flows on 2-D densities

Options:
  --task T            density (KL to a target) | mle (max likelihood on samples) | scale   [density]
  --target NAME       density: ring | two-circles | two-moons; mle: a toy set (swissroll, circles,
                      rings, moons, 8gaussians, pinwheel, 2spirals, checkerboard)     [two-moons]
  --model M           cnf | planar                                                      [cnf]
  --width M           CNF hidden units                                                  [32]
  --hidden H          CNF hypernetwork hidden size                                      [32]
  --layers K          planar layers                                                     [32]
  --grad G            direct | adjoint | aca: gradient of the CNF's NLL (mle and scale tasks;
                      not direct: through OdeBlock on a [B, D + 1] state)              [direct]
  --trace T           closed-form | exact | hutchinson-rademacher | hutchinson-gaussian (training)
                      (closed-form: the exact trace from the hypernetwork's structure;
                      exact: the same by D autograd passes)                     [closed-form]
  --dim D             data dimension (task scale only)                                  [2]
  --fixed-steps N     RK4 with N steps instead of adaptive dopri5 (0: adaptive)         [0]
  --tol X             dopri5 rtol = atol                                                [1e-5]
  --t1 T              CNF integration time                                              [1]
  --iters N           training iterations                                               [1000]
  --batch N           batch size                                                        [512]
  --lr X              Adam learning rate                                                [1e-3]
  --clip-grad-norm X  clip the gradients' joint L2 norm to X before each step           [off]
  --seed N            seed of initialisation, data and noise                            [0]
  --eval-samples N    held-out samples for the final loss / NLL                         [4000]
  --grid N            density heat-map resolution (0: no figure data)                   [80]
  --flow-times N      times of the base-to-target figure (CNF, 0: none)                 [5]
  --checkpoint-every N                                                                  [iters / 10]
  --device D          cpu | cuda | cuda:N | auto                                        [auto]
  --threads N         torch intra-op threads
  --run-dir DIR       checkpoints, metrics.json and figures.json                        [required]
  --resume            continue after the newest checkpoint in --run-dir
  --no-progress       no progress bar
";

struct Args {
    task: String,
    target: String,
    model: String,
    width: i64,
    hidden: i64,
    layers: usize,
    trace: TraceMethod,
    grad: String,
    dim: i64,
    fixed_steps: usize,
    tol: f64,
    t1: f64,
    iters: usize,
    batch: i64,
    lr: f64,
    clip_grad_norm: Option<f64>,
    seed: u64,
    eval_samples: i64,
    grid: usize,
    flow_times: usize,
    checkpoint_every: Option<usize>,
    device: DeviceFlag,
    threads: Option<i32>,
    run_dir: Option<PathBuf>,
    resume: bool,
    progress: bool,
}

fn parse_args(argv: &[String]) -> Result<Option<Args>> {
    let mut a = Args {
        task: "density".into(),
        target: "two-moons".into(),
        model: "cnf".into(),
        width: 32,
        hidden: 32,
        layers: 32,
        trace: TraceMethod::ClosedForm,
        grad: "direct".into(),
        dim: 2,
        fixed_steps: 0,
        tol: 1e-5,
        t1: 1.0,
        iters: 1000,
        batch: 512,
        lr: 1e-3,
        clip_grad_norm: None,
        seed: 0,
        eval_samples: 4000,
        grid: 80,
        flow_times: 5,
        checkpoint_every: None,
        device: DeviceFlag::Auto,
        threads: None,
        run_dir: None,
        resume: false,
        progress: true,
    };
    let mut it = argv.iter();
    while let Some(flag) = it.next() {
        let mut val = || it.next().cloned().ok_or_else(|| anyhow!("{flag} needs a value"));
        fn num<T: std::str::FromStr>(flag: &str, v: String) -> Result<T> {
            v.parse().map_err(|_| anyhow!("{flag}: cannot parse `{v}`"))
        }
        match flag.as_str() {
            "-h" | "--help" => return Ok(None),
            "--task" => a.task = val()?,
            "--target" => a.target = val()?,
            "--model" => a.model = val()?,
            "--width" => a.width = num(flag, val()?)?,
            "--hidden" => a.hidden = num(flag, val()?)?,
            "--layers" => a.layers = num(flag, val()?)?,
            "--trace" => a.trace = val()?.parse()?,
            "--grad" => a.grad = val()?,
            "--dim" => a.dim = num(flag, val()?)?,
            "--fixed-steps" => a.fixed_steps = num(flag, val()?)?,
            "--tol" => a.tol = num(flag, val()?)?,
            "--t1" => a.t1 = num(flag, val()?)?,
            "--iters" => a.iters = num(flag, val()?)?,
            "--batch" => a.batch = num(flag, val()?)?,
            "--lr" => a.lr = num(flag, val()?)?,
            "--clip-grad-norm" => a.clip_grad_norm = Some(num(flag, val()?)?),
            "--seed" => a.seed = num(flag, val()?)?,
            "--eval-samples" => a.eval_samples = num(flag, val()?)?,
            "--grid" => a.grid = num(flag, val()?)?,
            "--flow-times" => a.flow_times = num(flag, val()?)?,
            "--checkpoint-every" => a.checkpoint_every = Some(num(flag, val()?)?),
            "--device" => a.device = val()?.parse().map_err(Error::from)?,
            "--threads" => a.threads = Some(num(flag, val()?)?),
            "--run-dir" => a.run_dir = Some(PathBuf::from(val()?)),
            "--resume" => a.resume = true,
            "--no-progress" => a.progress = false,
            other => bail!("unknown option `{other}`"),
        }
    }
    if a.iters == 0 || a.batch < 1 || a.eval_samples < 1 || !(a.lr > 0.0 && a.tol > 0.0 && a.t1 > 0.0) {
        bail!("--iters, --batch, --eval-samples, --lr, --tol and --t1 must be positive");
    }
    if a.clip_grad_norm.is_some_and(|c| !(c.is_finite() && c > 0.0)) {
        bail!("--clip-grad-norm must be a positive number");
    }
    if a.grad != "direct" && (a.model != "cnf" || a.task == "density") {
        bail!("--grad {} needs --model cnf and a maximum-likelihood task (mle or scale)", a.grad);
    }
    if a.task != "scale" && a.dim != 2 {
        bail!("--dim applies to --task scale only (the 2-D tasks are 2-D)");
    }
    Ok(Some(a))
}

/// The task's objective and, for maximum likelihood, its data source.
enum Data {
    None,
    Toy(ToySet),
    Mixture(GaussianMixture),
}

impl Data {
    fn batch(&self, n: i64, seed: u64, device: Device) -> Option<Tensor> {
        match self {
            Data::None => None,
            Data::Toy(s) => Some(s.sample(n as usize, seed, device)),
            Data::Mixture(g) => Some(g.sample(n as usize, seed, device)),
        }
    }
}

fn build(a: &Args, vs: &nn::VarStore) -> Result<(Flow, Objective, Data)> {
    let (objective, data) = match a.task.as_str() {
        "density" => {
            let target: Target = a.target.parse()?;
            (Objective::DensityMatching { target, batch: a.batch }, Data::None)
        }
        "mle" => (Objective::MaxLikelihood, Data::Toy(a.target.parse()?)),
        "scale" => {
            (Objective::MaxLikelihood, Data::Mixture(GaussianMixture::new(a.dim as usize, 4, a.seed)?))
        }
        t => bail!("unknown task `{t}`; use density, mle or scale"),
    };
    let flow = match a.model.as_str() {
        "cnf" => {
            let cfg = CnfConfig { hidden: a.hidden, ..CnfConfig::new(a.dim, a.width) };
            let mut cnf = Cnf::new(CnfDynamics::new(&vs.root(), cfg)?, a.trace);
            cnf.t1 = a.t1;
            cnf.opts = if a.fixed_steps > 0 {
                cnf.opts.clone().method(&RK4).fixed_step(a.t1 / a.fixed_steps as f64)
            } else {
                cnf.opts.clone().tol(a.tol, a.tol)
            };
            Flow::Cnf(Box::new(cnf))
        }
        "planar" => {
            let dir =
                if a.task == "density" { PlanarDirection::Generative } else { PlanarDirection::Normalizing };
            Flow::Planar(PlanarFlow::new(&vs.root(), a.dim, a.layers, dir)?)
        }
        m => bail!("unknown model `{m}`; use cnf or planar"),
    };
    Ok((flow, objective, data))
}

fn model_id(a: &Args) -> String {
    let target = if a.task == "scale" { "gmm" } else { a.target.as_str() };
    match a.model.as_str() {
        "cnf" => format!(
            "{}-{target}-cnf-w{}-h{}-d{}-{}{}",
            a.task,
            a.width,
            a.hidden,
            a.dim,
            a.trace.name(),
            if a.grad == "direct" { String::new() } else { format!("-{}", a.grad) }
        ),
        _ => format!("{}-{target}-planar-k{}-d{}", a.task, a.layers, a.dim),
    }
}

fn main() -> ExitCode {
    ode_models::cli::main_with("cnf_2d", HELP, parse_args, run)
}

fn run(a: Args) -> Result<()> {
    let run_dir = a.run_dir.clone().ok_or_else(|| anyhow!("--run-dir is required"))?;
    std::fs::create_dir_all(&run_dir).map_err(|e| anyhow!("creating {}: {e}", run_dir.display()))?;
    if let Some(n) = a.threads {
        tch::set_num_threads(n);
    }
    let device = a.device.resolve();
    tch::manual_seed(a.seed as i64);
    let mut vs = nn::VarStore::new(device);
    let (mut flow, objective, data) = build(&a, &vs)?;
    let id = model_id(&a);
    let (mut start, mut history) = (0, Vec::new());
    let mut opt = Adam::new(&vs, AdamConfig { lr: a.lr, ..AdamConfig::default() })?;
    if a.resume {
        if let Some((meta, restore)) = load_latest_checkpoint(&mut vs, &mut opt, &run_dir, &id)? {
            if meta.iter > a.iters {
                bail!(
                    "{} holds a checkpoint after iteration {}, past the --iters {} asked for; ask for at least \
                     {} or use another --run-dir",
                    run_dir.display(),
                    meta.iter,
                    a.iters,
                    meta.iter
                );
            }
            eprintln!("[cnf_2d] {id}: resuming after iteration {}", meta.iter);
            restore.warn_if_absent("cnf_2d");
            (start, history) = (meta.iter, meta.history);
        }
    }
    let grad_mode = match a.grad.as_str() {
        "direct" => None,
        "adjoint" => Some(GradMode::Adjoint(Default::default())),
        "aca" => Some(GradMode::Aca),
        g => bail!("unknown --grad `{g}`; use direct, adjoint or aca"),
    };
    let every = a.checkpoint_every.unwrap_or((a.iters / 10).max(1)).max(1);
    let bar = ProgressBar::with_draw_target(
        Some(a.iters as u64),
        if a.progress { ProgressDrawTarget::stderr() } else { ProgressDrawTarget::hidden() },
    );
    if let Ok(style) = ProgressStyle::with_template("{prefix} [{bar:25}] {pos}/{len} {msg} ({elapsed}<{eta})")
    {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_prefix(id.clone());
    bar.set_position(start as u64);
    for iter in start..a.iters {
        tch::manual_seed((a.seed as i64).wrapping_mul(1_000_003).wrapping_add(iter as i64));
        let batch = data.batch(a.batch, a.seed.wrapping_mul(1_000_003).wrapping_add(iter as u64), device);
        let t0 = Instant::now();
        opt.zero_grad();
        let out = match (&flow, &grad_mode, batch.as_ref()) {
            (Flow::Cnf(c), Some(mode), Some(x)) => {
                let (loss, st) = c.nll_backward_block(x, vs.trainable_variables(), mode.clone())?;
                StepOutput { loss, nfe: st.nfe_forward + st.nfe_backward }
            }
            _ => objective.backward(&flow, batch.as_ref(), device)?,
        };
        if let Some(max_norm) = a.clip_grad_norm {
            clip_grad_norm(&vs.trainable_variables(), max_norm);
        }
        opt.step()?;
        let rec =
            IterRecord { iter: iter + 1, loss: out.loss, nfe: out.nfe, time_s: t0.elapsed().as_secs_f64() };
        bar.set_message(format!("loss {:.4} nfe {}", rec.loss, rec.nfe));
        bar.inc(1);
        history.push(rec);
        if (iter + 1) % every == 0 || iter + 1 == a.iters {
            let meta = IterCheckpoint { model: id.clone(), iter: iter + 1, history: history.clone() };
            save_checkpoint(&vs, &opt, &run_dir, &meta, 2)?;
        }
    }
    bar.finish_and_clear();
    let summary = report::evaluate(&a, &mut flow, &objective, &data, device, &history)?;
    let metrics = json!({ "model": id, "args": argv_json(&a), "parameters": param_count(&vs),
        "device": format!("{device:?}"), "summary": summary, "history": history, "finished": true });
    write_json(&run_dir.join("metrics.json"), &metrics)?;
    if a.task != "scale" && a.grid > 0 {
        let figs = report::figures(&a, &flow, &objective, &data, device)?;
        write_json(&run_dir.join("figures.json"), &figs)?;
    }
    eprintln!("[cnf_2d] {id}: {summary}");
    Ok(())
}

fn param_count(vs: &nn::VarStore) -> i64 {
    vs.trainable_variables().iter().map(|t| t.numel() as i64).sum()
}

fn argv_json(a: &Args) -> serde_json::Value {
    json!({ "task": a.task, "target": a.target, "model": a.model, "width": a.width, "hidden": a.hidden,
        "layers": a.layers, "trace": a.trace.name(), "grad": a.grad, "dim": a.dim, "fixed_steps": a.fixed_steps, "tol": a.tol,
        "t1": a.t1, "iters": a.iters, "batch": a.batch, "lr": a.lr, "clip_grad_norm": a.clip_grad_norm, "seed": a.seed })
}

fn write_json(path: &std::path::Path, v: &serde_json::Value) -> Result<()> {
    let text = serde_json::to_string_pretty(v)?;
    ode_models::train::write_atomic(path, |tmp| {
        std::fs::write(tmp, text.as_bytes())
            .map_err(|source| ode_models::train::TrainError::Io { path: tmp.to_path_buf(), source })
    })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &str) -> Result<Args> {
        let argv: Vec<String> = args.split_whitespace().map(str::to_string).collect();
        parse_args(&argv).map(|a| a.expect("not --help"))
    }

    #[test]
    fn clip_grad_norm_is_off_by_default_and_must_be_positive() {
        assert_eq!(parse("").unwrap().clip_grad_norm, None);
        assert_eq!(parse("--clip-grad-norm 10").unwrap().clip_grad_norm, Some(10.0));
        for bad in ["0", "-1", "inf", "NaN"] {
            let err = parse(&format!("--clip-grad-norm {bad}")).err().map(|e| e.to_string());
            assert!(err.is_some_and(|e| e.contains("positive")), "--clip-grad-norm {bad} was accepted");
        }
    }
}
