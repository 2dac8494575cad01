//! `cargo xtask reproduce mnist [--quick]`: ODE-Net (Direct, Adjoint, ACA),
//! ResNet and RK-Net on MNIST-10k and Fashion-MNIST, side by side with the
//! neural ODE paper's MNIST table.
//!
//! xtask does not link libtorch: each configuration is a run of the
//! `odenet_mnist` binary of ode-models (`cargo run --release -p ode-models
//! --bin odenet_mnist`), with checkpoints and `metrics.json` under
//! `target/repro/mnist-runs/<dataset>/<config>/`. Full runs are resumable:
//! running the command again continues every unfinished run from its newest
//! checkpoint. `--quick` starts afresh on small subsets.
//!
//! Writes `target/repro/mnist.{json,md}` and the NFE-per-epoch figure
//! `target/repro/mnist_nfe.png`.

use std::path::Path;
use std::time::Instant;

use anyhow::{Context, Result};
use serde::Serialize;
use serde_json::Value;

use crate::plot::{self, Chart, Legend, Series};
use crate::profile::Profile;
use crate::training_run;

/// A data set: name and the directory `cargo xtask data` fills.
const DATASETS: &[(&str, &str)] =
    &[("mnist10k", "datasets/cache/mnist10k"), ("fashion-mnist", "datasets/cache/fashion-mnist")];

/// One configuration: label, `--model`, `--grad`.
const CONFIGS: &[(&str, &str, &str)] = &[
    ("ODE-Net (direct)", "odenet", "direct"),
    ("ODE-Net (adjoint)", "odenet", "adjoint"),
    ("ODE-Net (ACA)", "odenet", "aca"),
    ("ResNet", "resnet", "aca"),
    ("RK-Net", "rknet", "direct"),
];

/// The paper's MNIST table (Chen et al. 2018, Table 1): test error and
/// parameters; memory: the paper's entries (ODE-Net trained with the
/// adjoint, O(1)) and, for the other gradient modes, their asymptotic cost.
fn paper_row(model: &str, grad: &str) -> (&'static str, &'static str, &'static str) {
    match (model, grad) {
        ("resnet", _) => ("0.41%", "0.60 M", "O(L)"),
        ("rknet", _) => ("0.47%", "0.22 M", "O(L~)"),
        (_, "direct") => ("0.42%", "0.22 M", "O(L~) (direct)"),
        (_, "aca") => ("0.42%", "0.22 M", "O(N_t) (ACA)"),
        _ => ("0.42%", "0.22 M", "O(1)"),
    }
}

#[derive(Serialize)]
struct RunResult {
    dataset: String,
    label: String,
    model: String,
    grad: String,
    run_dir: String,
    status: String,
    /// The run's metrics.json (config and per-epoch metrics).
    metrics: Option<Value>,
}

#[derive(Serialize)]
struct Output {
    profile: &'static str,
    #[serde(skip)]
    flag: &'static str,
    quick: bool,
    args: Vec<String>,
    runs: Vec<RunResult>,
}

/// Training arguments shared by every run.
fn common_args(profile: Profile) -> Vec<String> {
    let args = match profile {
        Profile::Smoke => {
            "--epochs 1 --schedule-epochs 160 --batch 16 --train-subset 32 --test-subset 32 --eval-batch 32"
        }
        // Constant lr (the schedule of a 160-epoch run) so that 2 short epochs still learn.
        Profile::Quick => {
            "--epochs 2 --schedule-epochs 160 --batch 32 --train-subset 1000 --test-subset 1000 --eval-batch 500"
        }
        Profile::Full => "--epochs 160 --batch 128",
    };
    args.split(' ').map(str::to_string).collect()
}

pub fn run(profile: Profile) -> Result<()> {
    let quick = profile.short();
    let out_dir = profile.out_dir();
    let start = Instant::now();
    // The data sets (fetched and verified, or just verified when cached).
    crate::data::run(&[]).context("fetching the data sets (`cargo xtask data`)")?;
    std::fs::create_dir_all(out_dir).with_context(|| format!("creating {}", out_dir.display()))?;
    let common = common_args(profile);
    let mut runs = Vec::new();
    for &(dataset, dir) in DATASETS {
        for &(label, model, grad) in CONFIGS {
            let slug = if model == "odenet" { format!("{model}-{grad}") } else { model.to_string() };
            let run_dir = profile.runs_dir("mnist").join(dataset).join(&slug);
            let args: Vec<String> = [
                "--data",
                dir,
                "--name",
                dataset,
                "--model",
                model,
                "--grad",
                grad,
                "--downsampling",
                "conv",
                "--device",
                "auto",
            ]
            .iter()
            .map(|a| a.to_string())
            .chain(common.iter().cloned())
            .collect();
            let tag = format!("{dataset}: {label}");
            let training_run::Outcome { status, metrics } =
                training_run::train("mnist", &tag, "odenet_mnist", &args, &run_dir, quick)?;
            runs.push(RunResult {
                dataset: dataset.into(),
                label: label.into(),
                model: model.into(),
                grad: grad.into(),
                run_dir: run_dir.display().to_string(),
                status,
                metrics,
            });
        }
    }
    let out = Output { profile: profile.name(), flag: profile.flag(), quick, args: common, runs };
    let json_path = out_dir.join("mnist.json");
    std::fs::write(&json_path, serde_json::to_string_pretty(&out)?)
        .with_context(|| format!("writing {}", json_path.display()))?;
    let md = markdown(&out);
    let md_path = out_dir.join("mnist.md");
    std::fs::write(&md_path, &md).with_context(|| format!("writing {}", md_path.display()))?;
    let png = out_dir.join("mnist_nfe.png");
    if let Err(e) = nfe_plot(&out, &png) {
        eprintln!("[reproduce mnist] no figure: {e:#}");
    }
    println!("{md}");
    eprintln!(
        "[reproduce mnist] done in {:.1} s; wrote {}, {} and {}",
        start.elapsed().as_secs_f64(),
        json_path.display(),
        md_path.display(),
        png.display()
    );
    let failed: Vec<String> =
        out.runs.iter().filter(|r| r.status != "ok").map(|r| format!("{} {}", r.dataset, r.label)).collect();
    if !failed.is_empty() {
        anyhow::bail!("{} run(s) failed: {}", failed.len(), failed.join(", "));
    }
    Ok(())
}

fn epochs(m: &Value) -> &[Value] {
    m.get("epochs").and_then(Value::as_array).map(Vec::as_slice).unwrap_or(&[])
}

fn f(v: &Value, key: &str) -> Option<f64> {
    v.get(key).and_then(Value::as_f64)
}

fn markdown(out: &Output) -> String {
    let mut s = String::from("# mnist: ODE-Net vs ResNet vs RK-Net\n\n");
    s.push_str(&format!(
        "Made by `cargo xtask reproduce{} mnist` (training arguments: `{}`; conv downsampling; \
         ODE-Net: dopri5 at rtol = atol = 1e-3; RK-Net: 4 classic RK4 steps, backprop through them). \
         Test error after the last epoch; NFE: forward / backward evaluations of the ODE function \
         per training batch, averaged over the last epoch (direct backprop through the solver has \
         no backward evaluations); peak memory: the process's VmHWM (resident set, includes \
         libtorch and the data). The paper's numbers are for the full MNIST (60k training images, \
         160 epochs).\n\n",
        out.flag,
        out.args.join(" ")
    ));
    if out.profile == "smoke" {
        s.push_str(Profile::Smoke.smoke_note());
    } else if out.quick {
        s.push_str(
            "**Quick run**: a smoke test on small subsets for 2 epochs; its test errors say nothing \
             about the models' accuracy.\n\n",
        );
    }
    s.push_str(
        "| data set | model | epochs | test error | paper test error | params | paper params | \
         peak memory | paper memory (theory) | NFE-F | NFE-B | train time / epoch |\n\
         |---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    for r in &out.runs {
        let (p_err, p_params, p_mem) = paper_row(&r.model, &r.grad);
        let p_err = if r.dataset.starts_with("mnist") { p_err } else { "-" };
        let Some(m) = &r.metrics else {
            s.push_str(&format!(
                "| {} | {} | - | {} | {p_err} | - | {p_params} | - | {p_mem} | - | - | - |\n",
                r.dataset, r.label, r.status
            ));
            continue;
        };
        let eps = epochs(m);
        let last = eps.last();
        let params = m.get("parameters").and_then(Value::as_i64).map(fmt_int).unwrap_or_else(|| "-".into());
        let err =
            last.and_then(|e| f(e, "test_error")).map(|e| format!("{:.2}%", 100.0 * e)).unwrap_or("-".into());
        let peak = eps
            .iter()
            .filter_map(|e| f(e, "peak_rss_bytes"))
            .fold(None, |a: Option<f64>, b| Some(a.map_or(b, |a| a.max(b))))
            .map(|b| format!("{:.0} MiB", b / (1024.0 * 1024.0)))
            .unwrap_or("-".into());
        let is_ode = r.model != "resnet";
        let nfe = |k: &str| {
            if is_ode {
                last.and_then(|e| f(e, k)).map(|v| format!("{v:.1}")).unwrap_or("-".into())
            } else {
                "-".into()
            }
        };
        let time = if eps.is_empty() {
            "-".into()
        } else {
            format!(
                "{:.1} s",
                eps.iter().filter_map(|e| f(e, "epoch_time_s")).sum::<f64>() / eps.len() as f64
            )
        };
        let status = if r.status == "ok" { String::new() } else { " (failed)".into() };
        s.push_str(&format!(
            "| {} | {}{status} | {} | {err} | {p_err} | {params} | {p_params} | {peak} | {p_mem} | {} | {} | {time} |\n",
            r.dataset,
            r.label,
            eps.len(),
            nfe("nfe_forward"),
            nfe("nfe_backward"),
        ));
    }
    s.push_str(
        "\nThe figure `mnist_nfe.png` shows the forward NFE per training batch against the epoch \
         for every ODE model (the paper's observation: NFE grows as training proceeds).\n",
    );
    s
}

fn fmt_int(n: i64) -> String {
    let mut rev = Vec::new();
    for (i, c) in n.unsigned_abs().to_string().chars().rev().enumerate() {
        if i > 0 && i / 3 * 3 == i {
            rev.push(',');
        }
        rev.push(c);
    }
    let digits: String = rev.into_iter().rev().collect();
    if n < 0 {
        format!("-{digits}")
    } else {
        digits
    }
}

fn nfe_plot(out: &Output, path: &Path) -> Result<()> {
    let mut charts = Vec::new();
    for &(dataset, _) in DATASETS {
        let mut series = Vec::new();
        for (i, r) in out.runs.iter().filter(|r| r.dataset == dataset && r.model != "resnet").enumerate() {
            let Some(m) = &r.metrics else { continue };
            let pts = |k: &str| -> Vec<(f64, f64)> {
                epochs(m).iter().filter_map(|e| Some((f(e, "epoch")?, f(e, k)?))).collect()
            };
            series.push(Series::line(format!("{} forward", r.label), pts("nfe_forward"), i).markers());
            let back = pts("nfe_backward");
            if back.iter().any(|p| p.1 > 0.0) {
                series.push(Series::line(format!("{} backward", r.label), back, i).dashed());
            }
        }
        if !series.is_empty() {
            charts.push(Chart {
                title: format!("{dataset}: NFE per training batch"),
                x_label: "epoch".into(),
                y_label: "NFE".into(),
                legend: Legend::UpperLeft,
                series,
                ..Default::default()
            });
        }
    }
    plot::draw(path, &charts, (640, 460))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_separators() {
        assert_eq!(fmt_int(208266), "208,266");
        assert_eq!(fmt_int(999), "999");
        assert_eq!(fmt_int(1000), "1,000");
    }

    #[test]
    fn table_handles_missing_metrics() {
        let out = Output {
            profile: "quick",
            flag: " --quick",
            quick: true,
            args: vec![],
            runs: vec![RunResult {
                dataset: "mnist10k".into(),
                label: "ResNet".into(),
                model: "resnet".into(),
                grad: "aca".into(),
                run_dir: "x".into(),
                status: "failed: boom".into(),
                metrics: None,
            }],
        };
        let md = markdown(&out);
        assert!(md.contains("failed: boom") && md.contains("0.41%"));
    }
}
