//! What the training experiments (`mnist`, `latent`, `cnf`) share: running
//! one ode-models training binary into its run directory and reading back
//! its `metrics.json`.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};

use anyhow::{anyhow, Context, Result};
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

/// The crate whose binary `bin` is: ode-dise's experiments are named
/// `dise_*`, the rest are ode-models'.
fn package_of(bin: &str) -> &'static str {
    if bin.starts_with("dise_") {
        "ode-dise"
    } else {
        "ode-models"
    }
}

/// What a training binary needs before cargo can build it: libtorch from
/// the virtualenv's torch wheel and the system packages (`cargo xtask
/// setup`, a second or so when already done). Once per process: the
/// outcome, failure included, is kept for every later run.
pub fn ensure_libtorch() -> Result<()> {
    static SETUP: OnceLock<Result<(), String>> = OnceLock::new();
    SETUP
        .get_or_init(|| crate::venv::setup().map_err(|e| format!("{e:#}")))
        .clone()
        .map_err(|e| anyhow!("setting up libtorch (`cargo xtask setup`) failed: {e}"))
}

/// Runs `cargo run --release -p <ode-models|ode-dise> --bin <bin> -- <args> --resume
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
    ensure_libtorch()?;
    if fresh && run_dir.exists() {
        std::fs::remove_dir_all(run_dir).with_context(|| format!("removing {}", run_dir.display()))?;
    }
    let mut cmd = util::cargo();
    cmd.args(["run", "--quiet", "--release", "-p", package_of(bin), "--bin", bin, "--"])
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
    ensure_libtorch()?;
    if parallel <= 1 {
        return jobs.iter().map(|j| train(experiment, &j.tag, bin, &j.args, &j.run_dir, fresh)).collect();
    }
    util::run(util::cargo().args(["build", "--quiet", "--release", "-p", package_of(bin), "--bin", bin]))
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

/// The outcomes of `jobs` as their run directories stand, training
/// nothing (`reproduce --report`): `ok` for a finished run, `in progress
/// (iteration N)` with the last checkpoint's iteration, `not started`.
pub fn collect(jobs: &[Job]) -> Vec<Outcome> {
    jobs.iter().map(|j| outcome_on_disk(&j.run_dir)).collect()
}

fn outcome_on_disk(run_dir: &Path) -> Outcome {
    let metrics = read_json(&run_dir.join("metrics.json"));
    let finished = metrics.as_ref().and_then(|m| m.get("finished")?.as_bool()).unwrap_or(false);
    let status = if finished {
        "ok".to_string()
    } else {
        match last_checkpoint(&run_dir.join("checkpoints")) {
            Some(iter) => format!("in progress (iteration {iter})"),
            None if metrics.is_some() => "in progress".to_string(),
            None => "not started".to_string(),
        }
    };
    // An unfinished run's metrics are not results.
    Outcome { status, metrics: metrics.filter(|_| finished) }
}

/// The largest `N` of the `iter-N.safetensors` files in `dir`.
fn last_checkpoint(dir: &Path) -> Option<u64> {
    std::fs::read_dir(dir)
        .ok()?
        .filter_map(|e| {
            let name = e.ok()?.file_name().into_string().ok()?;
            name.strip_prefix("iter-")?.strip_suffix(".safetensors")?.parse().ok()
        })
        .max()
}

/// Whether a run status means the run failed (not merely unfinished).
pub fn is_failure(status: &str) -> bool {
    status.starts_with("failed")
}

/// A JSON file, or `None` when it is missing or does not parse.
pub fn read_json(path: &Path) -> Option<Value> {
    serde_json::from_str(&std::fs::read_to_string(path).ok()?).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("xtask-collect-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    /// `--report` reads each run's state from its directory: finished runs
    /// with their metrics, unfinished ones with the last checkpoint's
    /// iteration and no metrics (a partial run's numbers are not results).
    #[test]
    fn collect_reads_finished_unfinished_and_missing_runs() {
        let root = scratch("states");
        let done = root.join("done");
        std::fs::create_dir_all(&done).unwrap();
        std::fs::write(done.join("metrics.json"), r#"{"finished": true, "summary": {"eval_loss": 2.5}}"#)
            .unwrap();
        let partial = root.join("partial");
        std::fs::create_dir_all(partial.join("checkpoints")).unwrap();
        for it in ["iter-00002000.safetensors", "iter-00004000.safetensors", "notes.txt"] {
            std::fs::write(partial.join("checkpoints").join(it), b"").unwrap();
        }
        std::fs::write(partial.join("metrics.json"), r#"{"finished": false, "summary": {"eval_loss": 9.9}}"#)
            .unwrap();
        let corrupt = root.join("corrupt");
        std::fs::create_dir_all(&corrupt).unwrap();
        std::fs::write(corrupt.join("metrics.json"), b"{ not json").unwrap();
        let job = |d: &Path| Job { tag: String::new(), args: vec![], run_dir: d.to_path_buf(), alone: false };
        let out = collect(&[job(&done), job(&partial), job(&root.join("missing")), job(&corrupt)]);
        let status: Vec<&str> = out.iter().map(|o| o.status.as_str()).collect();
        assert_eq!(status, ["ok", "in progress (iteration 4000)", "not started", "not started"]);
        assert_eq!(out[0].metrics.as_ref().unwrap()["summary"]["eval_loss"], 2.5);
        assert!(out[1].metrics.is_none());
        assert!(!out.iter().any(|o| is_failure(&o.status)));
        assert!(is_failure("failed: exit status 1"));
        std::fs::remove_dir_all(&root).unwrap();
    }
}
