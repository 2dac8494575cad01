//! Latent ODE and RNN baselines on the irregularly sampled bi-directional
//! spirals (neural ODE paper, section 5.1). `cargo xtask reproduce latent`
//! drives it.
//!
//! ```text
//! latent_spirals --model latent --n-obs 30 --iters 2000 --run-dir target/runs/latent-30
//! ```

use std::path::PathBuf;
use std::process::ExitCode;

use ode_models::latent::{
    train_spirals, LatentOde, LatentOdeConfig, LatentTrainConfig, RnnBaseline, RnnKind, SequenceModel,
    SpiralConfig, Spirals,
};
use ode_models::DeviceFlag;

const HELP: &str = "\
latent_spirals: train a latent ODE or an RNN baseline on irregular spirals

Options:
  --model M             latent | rnn | rnn-dt                                      [latent]
  --n-obs N             observations per spiral, drawn from the 100-point window   [100]
  --iters N             Adam iterations                                           [2000]
  --batch N             spirals per iteration; 0: the whole training set          [0]
  --lr X                Adam learning rate                                        [0.01]
  --clip-grad-norm X    clip the gradients' joint L2 norm to X before each step   [off]
  --spirals N           spirals generated (20% held out for testing)              [1000]
  --grad G              latent ODE gradient: direct | adjoint | aca | mali        [direct]
  --rtol X / --atol X   latent ODE solver tolerances                              [1e-3 / 1e-4]
  --poisson             add the Poisson-process likelihood of the observation times
  --rnn-hidden N        RNN baselines' hidden units [as many as match the latent
                        ODE's parameter count]
  --seed N              seed of the data, the subsampling and the initialisation  [0]
  --device D            cpu | cuda | cuda:N | auto                                [auto]
  --threads N           torch intra-op threads                                    [1]
  --run-dir DIR         checkpoints and metrics.json go here                      [required]
  --resume              continue after the newest checkpoint in --run-dir
  --checkpoint-every N  iterations between checkpoints                            [100]
  --examples N          test spirals whose predictions go into metrics.json       [4]
  --no-progress         no progress bar
  --print-params        print the parameter counts of the three models and exit
";

struct Args {
    model: String,
    n_obs: usize,
    spirals: SpiralConfig,
    latent: LatentOdeConfig,
    train: LatentTrainConfig,
    device: DeviceFlag,
    threads: i32,
    run_dir: Option<PathBuf>,
    resume: bool,
    print_params: bool,
    /// `None`: the size that matches the latent ODE's parameter count.
    rnn_hidden: Option<i64>,
}

fn parse_args(argv: &[String]) -> Result<Option<Args>, String> {
    let mut a = Args {
        model: "latent".into(),
        n_obs: 100,
        spirals: SpiralConfig::default(),
        latent: LatentOdeConfig::default(),
        train: LatentTrainConfig::default(),
        device: DeviceFlag::Auto,
        threads: 1,
        run_dir: None,
        resume: false,
        print_params: false,
        rnn_hidden: None,
    };
    let mut it = argv.iter();
    while let Some(flag) = it.next() {
        let mut value = || it.next().cloned().ok_or_else(|| format!("`{flag}` needs a value"));
        fn num<T: std::str::FromStr>(flag: &str, v: String) -> Result<T, String> {
            v.parse().map_err(|_| format!("`{flag}`: cannot parse `{v}`"))
        }
        match flag.as_str() {
            "-h" | "--help" => return Ok(None),
            "--model" => a.model = value()?,
            "--n-obs" => a.n_obs = num(flag, value()?)?,
            "--iters" => a.train.iterations = num(flag, value()?)?,
            "--batch" => a.train.batch_size = num(flag, value()?)?,
            "--lr" => a.train.lr = num(flag, value()?)?,
            "--clip-grad-norm" => a.train.clip_grad_norm = Some(num(flag, value()?)?),
            "--spirals" => a.spirals.n_spirals = num(flag, value()?)?,
            "--grad" => a.latent.grad = value()?,
            "--rtol" => a.latent.rtol = num(flag, value()?)?,
            "--atol" => a.latent.atol = num(flag, value()?)?,
            "--poisson" => a.latent.poisson = true,
            "--rnn-hidden" => a.rnn_hidden = Some(num(flag, value()?)?),
            "--seed" => a.train.seed = num(flag, value()?)?,
            "--device" => a.device = value()?.parse()?,
            "--threads" => a.threads = num(flag, value()?)?,
            "--run-dir" => a.run_dir = Some(value()?.into()),
            "--resume" => a.resume = true,
            "--checkpoint-every" => a.train.checkpoint_every = num(flag, value()?)?,
            "--examples" => a.train.n_examples = num(flag, value()?)?,
            "--no-progress" => a.train.progress = false,
            "--print-params" => a.print_params = true,
            other => return Err(format!("unknown option `{other}`; see --help")),
        }
    }
    if !["latent", "rnn", "rnn-dt"].contains(&a.model.as_str()) {
        return Err(format!("unknown model `{}`; use latent, rnn or rnn-dt", a.model));
    }
    if a.threads < 1 {
        return Err("--threads must be at least 1".into());
    }
    if a.rnn_hidden.is_some_and(|h| h < 1) {
        return Err("--rnn-hidden must be at least 1".into());
    }
    if a.rnn_hidden.is_some() && a.model == "latent" && !a.print_params {
        return Err("--rnn-hidden sizes the RNN baselines; it does not apply to --model latent".into());
    }
    a.spirals.seed = a.train.seed;
    Ok(Some(a))
}

/// The RNN baseline's hidden size: `--rnn-hidden`, else the one whose
/// parameter count is closest to the latent ODE's.
fn rnn_hidden(a: &Args, kind: RnnKind) -> Result<i64, String> {
    if let Some(h) = a.rnn_hidden {
        return Ok(h);
    }
    let latent = LatentOde::new(a.latent.clone(), tch::Device::Cpu).map_err(|e| e.to_string())?;
    Ok(RnnBaseline::hidden_for_budget(kind, a.latent.obs_dim, latent.parameter_count()))
}

fn build(a: &Args, device: tch::Device) -> Result<Box<dyn SequenceModel>, String> {
    let rnn = |kind| -> Result<Box<dyn SequenceModel>, String> {
        let hidden = rnn_hidden(a, kind)?;
        let m = RnnBaseline::new(kind, a.latent.obs_dim, hidden, a.latent.obs_std, false, device)
            .map_err(|e| e.to_string())?;
        Ok(Box::new(m))
    };
    match a.model.as_str() {
        "rnn" => rnn(RnnKind::Plain),
        "rnn-dt" => rnn(RnnKind::TimeGap),
        _ => Ok(Box::new(LatentOde::new(a.latent.clone(), device).map_err(|e| e.to_string())?)),
    }
}

fn run(a: Args) -> Result<(), String> {
    tch::set_num_threads(a.threads);
    let device = a.device.resolve();
    tch::manual_seed(a.train.seed as i64);
    if a.print_params {
        let latent = LatentOde::new(a.latent.clone(), tch::Device::Cpu).map_err(|e| e.to_string())?;
        let budget = latent.parameter_count();
        println!("latent-ode: {budget} parameters");
        for (name, kind) in [("rnn", RnnKind::Plain), ("rnn-dt", RnnKind::TimeGap)] {
            let h = rnn_hidden(&a, kind)?;
            let n = RnnBaseline::parameter_count_for(kind, a.latent.obs_dim, h);
            println!("{name}: {n} parameters ({h} hidden units)");
        }
        return Ok(());
    }
    let run_dir = a.run_dir.clone().ok_or("--run-dir DIR is required")?;
    let mut model = build(&a, device)?;
    println!("{}: {} parameters on {device:?}", model.name(), model.parameter_count());
    let data = Spirals::generate(&a.spirals).map_err(|e| e.to_string())?;
    let obs = data.subsample(a.n_obs, a.train.seed).map_err(|e| e.to_string())?;
    let info = serde_json::json!({
        "latent": a.latent,
        "threads": tch::get_num_threads(),
        "hidden": if a.model == "latent" { a.latent.rec_hidden } else {
            rnn_hidden(&a, if a.model == "rnn" { RnnKind::Plain } else { RnnKind::TimeGap })?
        },
    });
    let run = train_spirals(model.as_mut(), &data, &obs, &a.train, &run_dir, a.resume, info)
        .map_err(|e| e.to_string())?;
    if let Some(t) = &run.test {
        println!(
            "{} n={}: predictive RMSE {:.4} on {} test spirals after {} iterations ({:.3} s/iteration); {}",
            run.model,
            run.n_obs,
            t.rmse_extrap,
            t.n_test,
            run.iterations_done,
            run.time_per_iter_s,
            run_dir.join("metrics.json").display()
        );
    }
    Ok(())
}

fn main() -> ExitCode {
    ode_models::cli::main_with("latent_spirals", HELP, parse_args, run)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &str) -> Result<Args, String> {
        let argv: Vec<String> = args.split_whitespace().map(str::to_string).collect();
        parse_args(&argv).map(|a| a.expect("not --help"))
    }

    fn parse_err(args: &str) -> String {
        parse(args).err().unwrap_or_else(|| panic!("`{args}` was accepted"))
    }

    #[test]
    fn rnn_hidden_defaults_to_the_latent_odes_budget_and_can_be_set() {
        let a = parse("--model rnn").unwrap();
        let matched = rnn_hidden(&a, RnnKind::Plain).unwrap();
        let latent = LatentOde::new(a.latent.clone(), tch::Device::Cpu).unwrap().parameter_count();
        let count = RnnBaseline::parameter_count_for(RnnKind::Plain, a.latent.obs_dim, matched);
        assert!((count - latent).abs() * 20 < latent, "{count} parameters vs the latent ODE's {latent}");
        let a = parse("--model rnn-dt --rnn-hidden 128").unwrap();
        assert_eq!(rnn_hidden(&a, RnnKind::TimeGap).unwrap(), 128);
        assert_eq!(
            build(&a, tch::Device::Cpu).unwrap().parameter_count(),
            RnnBaseline::parameter_count_for(RnnKind::TimeGap, 2, 128)
        );
    }

    #[test]
    fn bad_rnn_hidden_is_a_clear_error() {
        assert!(parse_err("--model rnn --rnn-hidden 0").contains("at least 1"));
        assert!(parse_err("--model rnn --rnn-hidden x").contains("cannot parse"));
        assert!(parse_err("--rnn-hidden 64").contains("does not apply"));
    }
}
