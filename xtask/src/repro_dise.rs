//! `cargo xtask reproduce dise [--smoke|--quick]`: the regularizer rows of
//! the DISE paper's Table 1. An ODE-Net (dopri5 at rtol = atol = 1e-3, ACA
//! gradients) is trained with no regularizer, kinetic energy, L1, L2 and
//! the error-estimate sum, one run each (`dise_image`, ode-dise's binary),
//! then its test-time cost is measured twice: the whole test batch stepped
//! together (the paper's NFE) and each sample on its own (per-sample NFE
//! and inference time). Runs live under `<out>/dise-runs/<profile>/`; full
//! runs resume where they stopped.
//!
//! Writes `dise.{json,md}` and `dise_nfe.png` (the per-sample NFE
//! distribution of every row).

use std::path::Path;
use std::time::Instant;

use anyhow::{Context, Result};
use serde::Serialize;
use serde_json::Value;

use crate::plot::{self, Chart, Legend, Series};
use crate::profile::Profile;
use crate::training_run;

/// (regularizer, its coefficient): the paper's MNIST values (section 4.1).
/// The error sum is summed over the batch, as Eq. 2 writes it; the others
/// are batch means (ode-dise's `RegularizerChoice::build`).
const ROWS: &[(&str, &str)] =
    &[("none", "0"), ("kinetic", "0.01"), ("l1", "1e-4"), ("l2", "1e-4"), ("error-sum", "0.005")];

/// The paper's Table 1 (MNIST): accuracy and NFE per regularizer.
fn paper(reg: &str) -> (&'static str, &'static str) {
    match reg {
        "none" => ("0.9960", "26"),
        "kinetic" => ("0.9965", "20"),
        "l1" => ("0.9956", "20"),
        "l2" => ("0.9961", "20"),
        "error-sum" => ("0.9964", "14"),
        _ => ("-", "-"),
    }
}

/// (data set, directory) per profile: MNIST-10k always, Fashion-MNIST in
/// the full run.
fn datasets(profile: Profile) -> &'static [(&'static str, &'static str)] {
    match profile {
        Profile::Full => {
            &[("mnist10k", "datasets/cache/mnist10k"), ("fashion-mnist", "datasets/cache/fashion-mnist")]
        }
        _ => &[("mnist10k", "datasets/cache/mnist10k")],
    }
}

/// Training arguments shared by every run. The paper's 160 epochs on 60k
/// images do not fit two CPU cores; the full run trains 30 epochs on
/// MNIST-10k's 8000 training images (and on the first 10,000 of
/// Fashion-MNIST's), with the paper's lr drops scaled to 30 epochs.
fn common_args(profile: Profile, dataset: &str) -> Vec<String> {
    let args = match profile {
        Profile::Smoke => {
            "--epochs 1 --schedule-epochs 160 --batch 16 --train-subset 32 --test-subset 32 --eval-batch 32"
        }
        Profile::Quick => {
            "--epochs 3 --schedule-epochs 160 --batch 32 --train-subset 1000 --test-subset 500 --eval-batch 250"
        }
        Profile::Full if dataset == "fashion-mnist" => "--epochs 30 --batch 128 --train-subset 10000",
        Profile::Full => "--epochs 30 --batch 128",
    };
    args.split(' ').map(str::to_string).chain(["--grad", "aca", "--threads", "1"].map(String::from)).collect()
}

#[derive(Serialize)]
struct RunResult {
    dataset: String,
    regularizer: String,
    lambda: String,
    run_dir: String,
    status: String,
    metrics: Option<Value>,
    test_cost: Option<Value>,
}

#[derive(Serialize)]
struct Output {
    profile: &'static str,
    #[serde(skip)]
    flag: &'static str,
    runs: Vec<RunResult>,
}

pub fn run(profile: Profile, jobs: usize) -> Result<()> {
    let start = Instant::now();
    crate::data::run(&[]).context("fetching the data sets (`cargo xtask data`)")?;
    let out_dir = profile.out_dir();
    std::fs::create_dir_all(out_dir).with_context(|| format!("creating {}", out_dir.display()))?;
    let mut work = Vec::new();
    let mut meta = Vec::new();
    for &(dataset, dir) in datasets(profile) {
        for &(reg, lambda) in ROWS {
            let run_dir = profile.runs_dir("dise").join(dataset).join(reg);
            let args: Vec<String> = ["--data", dir, "--name", dataset, "--reg", reg, "--lambda", lambda]
                .iter()
                .map(|a| a.to_string())
                .chain(common_args(profile, dataset))
                .collect();
            work.push(training_run::Job { tag: format!("{dataset}: {reg}"), args, run_dir, alone: false });
            meta.push((dataset, reg, lambda));
        }
    }
    let outcomes = training_run::train_all("dise", "dise_image", &work, profile.short(), jobs)?;
    let runs: Vec<RunResult> = meta
        .into_iter()
        .zip(&work)
        .zip(outcomes)
        .map(|(((dataset, reg, lambda), job), o)| RunResult {
            dataset: dataset.into(),
            regularizer: reg.into(),
            lambda: lambda.into(),
            run_dir: job.run_dir.display().to_string(),
            test_cost: training_run::read_json(&job.run_dir.join("test_cost.json")),
            status: o.status,
            metrics: o.metrics,
        })
        .collect();
    let out = Output { profile: profile.name(), flag: profile.flag(), runs };
    let json_path = out_dir.join("dise.json");
    std::fs::write(&json_path, serde_json::to_string_pretty(&out)?)
        .with_context(|| format!("writing {}", json_path.display()))?;
    let md = markdown(&out);
    let md_path = out_dir.join("dise.md");
    std::fs::write(&md_path, &md).with_context(|| format!("writing {}", md_path.display()))?;
    let png = out_dir.join("dise_nfe.png");
    if let Err(e) = nfe_figure(&out, &png) {
        eprintln!("[reproduce dise] no figure: {e:#}");
    }
    println!("{md}");
    eprintln!(
        "[reproduce dise] done in {:.1} s; wrote {}, {} and {}",
        start.elapsed().as_secs_f64(),
        json_path.display(),
        md_path.display(),
        png.display()
    );
    let failed: Vec<String> = out
        .runs
        .iter()
        .filter(|r| training_run::is_failure(&r.status))
        .map(|r| format!("{} {}", r.dataset, r.regularizer))
        .collect();
    if !failed.is_empty() {
        anyhow::bail!("{} run(s) failed: {}", failed.len(), failed.join(", "));
    }
    Ok(())
}

fn num(v: Option<&Value>, path: &[&str]) -> Option<f64> {
    path.iter().try_fold(v?, |v, k| v.get(k))?.as_f64()
}

fn markdown(out: &Output) -> String {
    let mut s = String::from("# dise: solver-aware regularizers on ODE-Net (DISE Table 1)\n\n");
    s.push_str(&format!(
        "Made by `cargo xtask reproduce{} dise`. ODE-Net (conv downsampling, dopri5 at rtol = atol = 1e-3, \
         ACA gradients) trained with each regularizer at the paper's coefficient (kinetic 0.01, L1 and L2 \
         1e-4 on the dynamics' weights, error sum 0.005; the error sum is each sample's sum over accepted \
         steps of the step controller's scaled error norm, summed over the batch as the paper's Eq. 2; the \
         others are batch means). Test cost after the last epoch: *NFE batch* is the paper's count (the \
         test batch stepped as one state, averaged over batches); *per sample* steps each test image on \
         its own (mean / median / 90th percentile of its NFE); times are wall-clock inference per image \
         on one thread. The paper trains 160 epochs on the full MNIST (60k images) on a GPU.\n\n",
        out.flag
    ));
    if out.profile == "smoke" {
        s.push_str(Profile::Smoke.smoke_note());
    } else if out.profile == "quick" {
        s.push_str(
            "**Quick run**: 3 epochs on 1000 training images, 500 test images; the models are far from \
             converged and the regularizers have had little time to act.\n\n",
        );
    }
    s.push_str(
        "| data set | regularizer | lambda | epochs | test accuracy | NFE batch | NFE per sample (mean / median / p90) \
         | ms / image, batch | ms / image, per sample | train s / epoch | paper accuracy | paper NFE |\n\
         |---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    for r in &out.runs {
        let (p_acc, p_nfe) = if r.dataset.starts_with("mnist") { paper(&r.regularizer) } else { ("-", "-") };
        let c = r.test_cost.as_ref();
        let epochs =
            r.metrics.as_ref().and_then(|m| m.get("epochs")?.as_array().cloned()).unwrap_or_default();
        let train_s = if epochs.is_empty() {
            None
        } else {
            Some(
                epochs.iter().filter_map(|e| e.get("epoch_time_s")?.as_f64()).sum::<f64>()
                    / epochs.len() as f64,
            )
        };
        let fmt = |v: Option<f64>, d: usize| v.map(|x| format!("{x:.d$}")).unwrap_or_else(|| "-".into());
        let acc = num(c, &["error_batch"]).map(|e| 1.0 - e);
        let per = match (
            num(c, &["nfe_summary", "mean"]),
            num(c, &["nfe_summary", "median"]),
            num(c, &["nfe_summary", "p90"]),
        ) {
            (Some(a), Some(b), Some(p)) => format!("{a:.1} / {b:.0} / {p:.0}"),
            _ => r.status.clone(),
        };
        s.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {per} | {} | {} | {} | {p_acc} | {p_nfe} |\n",
            r.dataset,
            r.regularizer,
            r.lambda,
            epochs.len(),
            fmt(acc, 4),
            fmt(num(c, &["nfe_batch"]), 1),
            fmt(num(c, &["time_per_sample_batch_s"]).map(|t| t * 1e3), 2),
            fmt(num(c, &["time_per_sample_per_sample_s"]).map(|t| t * 1e3), 2),
            fmt(train_s, 1),
        ));
    }
    s.push_str("\nFigure: `dise_nfe.png`, the distribution of per-sample test NFE for each regularizer.\n");
    s
}

/// Per data set, the fraction of test images at each per-sample NFE value
/// (dopri5's counts are 2 + 6k, so a line through the values is the
/// histogram) for every regularizer.
fn nfe_figure(out: &Output, path: &Path) -> Result<()> {
    let mut charts = Vec::new();
    for &(dataset, _) in datasets(Profile::Full) {
        let mut series = Vec::new();
        for (i, r) in out.runs.iter().filter(|r| r.dataset == dataset).enumerate() {
            let Some(counts) =
                r.test_cost.as_ref().and_then(|c| c.get("nfe_per_sample")?.as_array().cloned())
            else {
                continue;
            };
            let counts: Vec<u64> = counts.iter().filter_map(Value::as_u64).collect();
            series.push(Series::line(r.regularizer.clone(), histogram(&counts), i).markers());
        }
        if !series.is_empty() {
            charts.push(Chart {
                title: format!("{dataset}: per-sample test NFE"),
                x_label: "NFE (dopri5, each image stepped alone)".into(),
                y_label: "fraction of test images".into(),
                legend: Legend::UpperRight,
                series,
                ..Default::default()
            });
        }
    }
    if charts.is_empty() {
        anyhow::bail!("no run has per-sample counts yet");
    }
    plot::draw(path, &charts, (640, 460))
}

/// `(value, fraction of counts equal to it)` for every value present, in
/// increasing order.
fn histogram(counts: &[u64]) -> Vec<(f64, f64)> {
    let mut sorted = counts.to_vec();
    sorted.sort_unstable();
    let n = sorted.len() as f64;
    let mut out: Vec<(f64, f64)> = Vec::new();
    for v in sorted {
        match out.last_mut() {
            Some((x, c)) if *x == v as f64 => *c += 1.0 / n,
            _ => out.push((v as f64, 1.0 / n)),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_fractions_add_up() {
        let h = histogram(&[26, 14, 14, 20, 14]);
        assert_eq!(h.iter().map(|p| p.0).collect::<Vec<_>>(), [14.0, 20.0, 26.0]);
        assert!((h[0].1 - 0.6).abs() < 1e-12 && (h.iter().map(|p| p.1).sum::<f64>() - 1.0).abs() < 1e-12);
        assert!(histogram(&[]).is_empty());
    }

    #[test]
    fn table_marks_missing_runs() {
        let out = Output {
            profile: "quick",
            flag: " --quick",
            runs: vec![RunResult {
                dataset: "mnist10k".into(),
                regularizer: "error-sum".into(),
                lambda: "0.005".into(),
                run_dir: "x".into(),
                status: "failed: boom".into(),
                metrics: None,
                test_cost: None,
            }],
        };
        let md = markdown(&out);
        assert!(md.contains("| mnist10k | error-sum | 0.005 | 0 | - | - | failed: boom |"), "{md}");
        assert!(md.contains("| 0.9964 | 14 |"));
    }
}
