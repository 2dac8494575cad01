//! What the training experiments (`mnist`, `latent`, `cnf`) share: running
//! one ode-models training binary into its run directory and reading back
//! its `metrics.json`.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use anyhow::{Context, Result};
use serde_json::Value;

use crate::util;

/// The outcome of one training run.
pub struct Outcome {
    /// `ok`, or `failed: <why>` (a failed run is a result, not the end of
    /// the experiment).
    pub status: String,
    /// The run's `metrics.json`, when it wrote one.
    pub metrics: Option<Value>,
}

/// Runs `cargo run --release -p ode-models --bin <bin> -- <args> --resume
/// --run-dir <run_dir>`. With `fresh` (quick runs) an existing run
/// directory is removed first, so a quick run never resumes an old one;
/// otherwise the run resumes where it stopped. `tag` names the run in the
/// progress lines of `experiment`.
pub fn train(
    experiment: &str,
    tag: &str,
    bin: &str,
    args: &[String],
    run_dir: &Path,
    fresh: bool,
) -> Result<Outcome> {
    if fresh && run_dir.exists() {
        std::fs::remove_dir_all(run_dir).with_context(|| format!("removing {}", run_dir.display()))?;
    }
    let mut cmd = util::cargo();
    cmd.args(["run", "--quiet", "--release", "-p", "ode-models", "--bin", bin, "--"])
        .args(args)
        .arg("--resume")
        .arg("--run-dir")
        .arg(run_dir);
    eprintln!("[reproduce {experiment}] {tag}");
    let status = match util::run(&mut cmd) {
        Ok(()) => "ok".to_string(),
        Err(e) => {
            eprintln!("[reproduce {experiment}] {tag} failed: {e:#}");
            format!("failed: {e:#}")
        }
    };
    Ok(Outcome { status, metrics: read_json(&run_dir.join("metrics.json")) })
}

/// One run of an experiment for [`train_all`].
pub struct Job {
    pub tag: String,
    pub args: Vec<String>,
    pub run_dir: PathBuf,
    /// Timing is part of the result: run it alone, after the others.
    pub alone: bool,
}

/// Runs every job of `bin` with [`train`], up to `parallel` at a time (each
/// child is single-threaded, so `parallel` = cores keeps them all busy);
/// outcomes come back in the jobs' order. With more than one at a time
/// the binary is built once first (so the children do not queue on
/// cargo's build lock), progress bars are off (they would overwrite each
/// other), and the `alone` jobs run one by one after the rest.
pub fn train_all(
    experiment: &str,
    bin: &str,
    jobs: &[Job],
    fresh: bool,
    parallel: usize,
) -> Result<Vec<Outcome>> {
    if parallel <= 1 {
        return jobs.iter().map(|j| train(experiment, &j.tag, bin, &j.args, &j.run_dir, fresh)).collect();
    }
    util::run(util::cargo().args(["build", "--quiet", "--release", "-p", "ode-models", "--bin", bin]))
        .with_context(|| format!("building {bin}"))?;
    let quiet =
        |j: &Job| -> Vec<String> { j.args.iter().cloned().chain(["--no-progress".to_string()]).collect() };
    let results: Mutex<Vec<Option<Result<Outcome>>>> = Mutex::new(jobs.iter().map(|_| None).collect());
    let shared: Vec<usize> = (0..jobs.len()).filter(|&i| !jobs[i].alone).collect();
    let next = AtomicUsize::new(0);
    std::thread::scope(|scope| {
        for _ in 0..parallel.min(shared.len()) {
            scope.spawn(|| {
                while let Some(&i) = shared.get(next.fetch_add(1, Ordering::Relaxed)) {
                    let j = &jobs[i];
                    let out = train(experiment, &j.tag, bin, &quiet(j), &j.run_dir, fresh);
                    results.lock().unwrap_or_else(|e| e.into_inner())[i] = Some(out);
                }
            });
        }
    });
    let mut results = results.into_inner().unwrap_or_else(|e| e.into_inner());
    for (i, j) in jobs.iter().enumerate().filter(|(_, j)| j.alone) {
        results[i] = Some(train(experiment, &j.tag, bin, &quiet(j), &j.run_dir, fresh));
    }
    results.into_iter().map(|r| r.unwrap_or_else(|| Err(anyhow::anyhow!("a job was never run")))).collect()
}

/// A JSON file, or `None` when it is missing or does not parse.
pub fn read_json(path: &Path) -> Option<Value> {
    serde_json::from_str(&std::fs::read_to_string(path).ok()?).ok()
}
