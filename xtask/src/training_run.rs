//! What the training experiments (`mnist`, `latent`, `cnf`) share: running
//! one ode-models training binary into its run directory and reading back
//! its `metrics.json`.

use std::path::Path;

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

/// A JSON file, or `None` when it is missing or does not parse.
pub fn read_json(path: &Path) -> Option<Value> {
    serde_json::from_str(&std::fs::read_to_string(path).ok()?).ok()
}
