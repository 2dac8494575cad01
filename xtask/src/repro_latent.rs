//! `cargo xtask reproduce latent [--quick]`: the latent ODE against an RNN
//! and an RNN with the time gap as input on irregularly sampled spirals
//! (neural ODE paper, section 5.1, Table 2 and Figure 8).
//!
//! xtask does not link libtorch: each (model, n) pair is a run of the
//! `latent_spirals` binary of ode-models, with checkpoints and
//! `metrics.json` under `target/repro/latent-runs/<quick|full>/<model>-n<n>/`.
//! Full runs resume where they stopped; `--quick` starts afresh with fewer
//! spirals and iterations.
//!
//! Writes `target/repro/latent.{json,md}`, `latent_spirals_n<n>.png`
//! (test spirals: truth, observations, latent ODE and RNN predictions) and
//! `latent_z.png` (latent trajectories projected on their first two
//! principal components).

use std::path::Path;
use std::time::Instant;

use anyhow::{Context, Result};
use serde::Serialize;
use serde_json::Value;

use crate::plot::{self, Chart, Legend, Series};
use crate::profile::Profile;
use crate::training_run;

const N_OBS: [usize; 3] = [30, 50, 100];
/// Every model: label, slug (run directory and table key) and its
/// arguments of `latent_spirals`, in table order. The RNNs are sized to the
/// latent ODE's parameter count (33 hidden units); the 128-unit RNN (13x the
/// parameters) checks whether their gap to the paper's RNN is capacity.
const MODELS: &[(&str, &str, &[&str])] = &[
    ("RNN", "rnn", &["--model", "rnn"]),
    ("RNN + time gap", "rnn-dt", &["--model", "rnn-dt"]),
    ("Latent ODE", "latent", &["--model", "latent"]),
    ("RNN, 128 hidden", "rnn-h128", &["--model", "rnn", "--rnn-hidden", "128"]),
];
/// The paper's Table 2 (predictive RMSE): n, RNN, latent ODE.
const PAPER: [(usize, f64, f64); 3] = [(30, 0.3937, 0.1642), (50, 0.3202, 0.1502), (100, 0.1813, 0.1346)];

#[derive(Serialize)]
struct RunResult {
    label: String,
    model: String,
    n_obs: usize,
    run_dir: String,
    status: String,
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

/// Arguments shared by every run.
fn common_args(profile: Profile) -> Vec<String> {
    let args = match profile {
        Profile::Smoke => "--iters 3 --spirals 20 --checkpoint-every 2 --seed 0 --clip-grad-norm 100",
        Profile::Quick => "--iters 500 --spirals 400 --checkpoint-every 100 --seed 0 --clip-grad-norm 100",
        // torchdiffeq's latent_ode.py: 2000 full-batch iterations, Adam lr 0.01.
        Profile::Full => "--iters 2000 --spirals 1000 --checkpoint-every 100 --seed 0 --clip-grad-norm 100",
    };
    args.split(' ').map(str::to_string).collect()
}

/// `jobs`: training runs at a time.
/// With `report`, nothing trains: the table and figures are made from the
/// runs on disk, unfinished ones marked as such.
pub fn run(profile: Profile, jobs: usize, report: bool) -> Result<()> {
    let quick = profile.short();
    let out_dir = profile.out_dir();
    let start = Instant::now();
    std::fs::create_dir_all(out_dir).with_context(|| format!("creating {}", out_dir.display()))?;
    let common = common_args(profile);
    let mut work = Vec::new();
    let mut meta = Vec::new();
    for n in N_OBS {
        for &(label, model, model_args) in MODELS {
            let run_dir = profile.runs_dir("latent").join(format!("{model}-n{n}"));
            let args: Vec<String> = model_args
                .iter()
                .copied()
                .chain(["--n-obs", &n.to_string(), "--device", "auto", "--threads", "1"])
                .map(str::to_string)
                .chain(common.iter().cloned())
                .collect();
            work.push(training_run::Job { tag: format!("{label}, n = {n}"), args, run_dir, alone: false });
            meta.push((label, model, n));
        }
    }
    let outcomes = if report {
        training_run::collect(&work)
    } else {
        training_run::train_all("latent", "latent_spirals", &work, quick, jobs)?
    };
    let runs = meta
        .into_iter()
        .zip(work)
        .zip(outcomes)
        .map(|(((label, model, n), job), training_run::Outcome { status, metrics })| RunResult {
            label: label.into(),
            model: model.into(),
            n_obs: n,
            run_dir: job.run_dir.display().to_string(),
            status,
            metrics,
        })
        .collect();
    let out = Output { profile: profile.name(), flag: profile.flag(), quick, args: common, runs };
    let json_path = out_dir.join("latent.json");
    std::fs::write(&json_path, serde_json::to_string_pretty(&out)?)
        .with_context(|| format!("writing {}", json_path.display()))?;
    let md = markdown(&out);
    let md_path = out_dir.join("latent.md");
    std::fs::write(&md_path, &md).with_context(|| format!("writing {}", md_path.display()))?;
    for n in N_OBS {
        let png = out_dir.join(format!("latent_spirals_n{n}.png"));
        if let Err(e) = spiral_figure(&out, n, &png) {
            eprintln!("[reproduce latent] no figure {}: {e:#}", png.display());
        }
    }
    let png = out_dir.join("latent_z.png");
    if let Err(e) = latent_figure(&out, &png) {
        eprintln!("[reproduce latent] no figure {}: {e:#}", png.display());
    }
    println!("{md}");
    eprintln!(
        "[reproduce latent] done in {:.1} s; wrote {}, {} and the figures in {}",
        start.elapsed().as_secs_f64(),
        json_path.display(),
        md_path.display(),
        out_dir.display()
    );
    let failed: Vec<String> = out
        .runs
        .iter()
        .filter(|r| training_run::is_failure(&r.status))
        .map(|r| format!("{} n={}", r.label, r.n_obs))
        .collect();
    if !failed.is_empty() {
        anyhow::bail!("{} run(s) failed: {}", failed.len(), failed.join(", "));
    }
    Ok(())
}

fn f(v: &Value, path: &[&str]) -> Option<f64> {
    path.iter().try_fold(v, |v, k| v.get(k))?.as_f64()
}

fn find<'a>(out: &'a Output, model: &str, n: usize) -> Option<&'a Value> {
    out.runs.iter().find(|r| r.model == model && r.n_obs == n)?.metrics.as_ref()
}

fn cell(out: &Output, model: &str, n: usize, metric: &str) -> String {
    find(out, model, n)
        .and_then(|m| f(m, &["test", metric]))
        .map(|v| format!("{v:.4}"))
        .unwrap_or_else(|| "-".into())
}

fn markdown(out: &Output) -> String {
    let mut s = String::from("# latent: latent ODE vs RNNs on irregular spirals\n\n");
    s.push_str(&format!(
        "Made by `cargo xtask reproduce{} latent` (arguments: `{}`; Adam lr 0.01, full batch, gradient norm \
         clipped at 100 for every model (the paper does not clip; without it the n = 50 latent ODE run \
         met a 20x gradient spike at iteration ~700 and never recovered); latent ODE: dopri5 at rtol 1e-3, atol 1e-4, direct backprop). Data: bi-directional spirals (half \
         clockwise), noise std 0.3, 20% held out; each spiral is observed at n of the 100 points of its \
         window, drawn without replacement. The paper's Table 2 (\"predictive RMSE on test set\", columns \
         \"30/100, 50/100, 100/100 observations\") does not pin the protocol down; we give both readings, \
         each against the noise-free spiral. Window: the model sees the n noisy observations of a test \
         spiral and predicts all 100 window times (the latent ODE decodes its trajectory; the RNNs \
         predict each time from the observations before it, one step ahead with the gap to that time). \
         Extrapolation: the 100 grid times after the window (the paper's \"time points extending beyond \
         those used for training\"). The RNNs have as many parameters as the latent ODE (33 hidden units; \
         the paper gives no RNN size); the last column is a plain RNN with 128 hidden units (13x the \
         parameters), to tell whether a gap to the paper's RNN is capacity.\n\n",
        out.flag,
        out.args.join(" ")
    ));
    if out.profile == "smoke" {
        s.push_str(Profile::Smoke.smoke_note());
    } else if out.quick {
        s.push_str(
            "**Quick run**: 400 spirals (320 for training) and 500 iterations instead of 1000 spirals \
             and 2000 iterations; the models are far from converged and the numbers are not \
             comparable with the paper's.\n\n",
        );
    }
    for (title, metric) in [
        ("Predictive RMSE over the window (n of 100 observed)", "rmse_window"),
        ("Extrapolation RMSE (100 times after the window)", "rmse_extrap"),
    ] {
        s.push_str(&format!(
            "## {title}\n\n| n | RNN | RNN + time gap | Latent ODE | paper RNN | paper Latent ODE | RNN, 128 hidden |\n\
             |---:|---:|---:|---:|---:|---:|---:|\n"
        ));
        for (n, p_rnn, p_lat) in PAPER {
            s.push_str(&format!(
                "| {n} | {} | {} | {} | {p_rnn:.4} | {p_lat:.4} | {} |\n",
                cell(out, "rnn", n, metric),
                cell(out, "rnn-dt", n, metric),
                cell(out, "latent", n, metric),
                cell(out, "rnn-h128", n, metric)
            ));
        }
        s.push('\n');
    }
    s.push_str(
        "## Runs\n\nRMSE at observed times: latent ODE reconstruction, RNNs one step ahead, against the \
         noise-free points. RMSE on the whole window and predictive (extrapolation) RMSE as in the \
         two tables above. NFE: forward evaluations of the latent dynamics per training iteration \
         (last logged).\n\n| model | n | params | iterations | final train loss | test loss | RMSE at \
         observed times | RMSE on the whole window | predictive RMSE | NFE | s / iteration | status |\n\
         |---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|\n",
    );
    for r in &out.runs {
        let m = r.metrics.as_ref();
        let g = |p: &[&str], prec: usize| {
            m.and_then(|m| f(m, p)).map(|v| format!("{v:.prec$}")).unwrap_or_else(|| "-".into())
        };
        let last = m.and_then(|m| m.get("history")?.as_array()?.last().cloned());
        let lf = |k: &str, prec: usize| {
            last.as_ref()
                .and_then(|l| l.get(k)?.as_f64())
                .map(|v| format!("{v:.prec$}"))
                .unwrap_or("-".into())
        };
        s.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |\n",
            r.label,
            r.n_obs,
            g(&["parameters"], 0),
            g(&["iterations_done"], 0),
            lf("loss", 2),
            g(&["test", "loss"], 2),
            g(&["test", "rmse_obs"], 4),
            g(&["test", "rmse_window"], 4),
            g(&["test", "rmse_extrap"], 4),
            if r.model == "latent" { lf("nfe_forward", 0) } else { "-".into() },
            g(&["time_per_iter_s"], 3),
            r.status
        ));
    }
    s.push_str(
        "\nFigures: `latent_spirals_n<n>.png` (test spirals: noise-free truth over the window and the \
         extrapolation span, the observations, and each model's curve; the RNN's curve joins its \
         one-step-ahead predictions at the observed times, the first one left out) and `latent_z.png` (the latent \
         ODE's trajectories of the same spirals, projected on their first two principal components; \
         solid: the observation window, dashed: extrapolation).\n",
    );
    s
}

fn points(v: &Value, key: &str) -> Vec<(f64, f64)> {
    v.get(key)
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(|p| Some((p.get(0)?.as_f64()?, p.get(1)?.as_f64()?))).collect())
        .unwrap_or_default()
}

fn examples(m: &Value) -> &[Value] {
    m.get("examples").and_then(Value::as_array).map(Vec::as_slice).unwrap_or(&[])
}

type Curve = Vec<(f64, f64)>;

/// Splits a curve at the window's end time.
fn split_at_time(times: &[f64], pts: &[(f64, f64)], t_split: f64) -> (Curve, Curve) {
    let k = times.iter().position(|&t| t > t_split).unwrap_or(times.len()).min(pts.len());
    // The dashed part starts at the last solid point so the curve is unbroken.
    (pts[..k].to_vec(), pts[k.saturating_sub(1)..].to_vec())
}

fn times(v: &Value, key: &str) -> Vec<f64> {
    v.get(key)
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_f64).collect())
        .unwrap_or_default()
}

fn window_end(m: &Value) -> f64 {
    let w = m.get("spirals").and_then(|s| s.get("n_window")).and_then(Value::as_u64).unwrap_or(100) as usize;
    examples(m)
        .first()
        .map(|e| times(e, "times"))
        .and_then(|t| t.get(w - 1).copied())
        .unwrap_or(f64::INFINITY)
}

fn spiral_figure(out: &Output, n: usize, path: &Path) -> Result<()> {
    let latent = find(out, "latent", n).context("no latent ODE run")?;
    let rnn = find(out, "rnn", n);
    let t_end = window_end(latent);
    let mut charts = Vec::new();
    for (k, ex) in examples(latent).iter().enumerate().take(3) {
        let truth = points(ex, "truth");
        let (tw, te) = split_at_time(&times(ex, "times"), &truth, t_end);
        let mut series =
            vec![Series::line("truth", tw, 7), Series::line("truth (extrapolation span)", te, 7).dashed()];
        let fit = points(ex, "fit");
        let (fw, fe) = split_at_time(&times(ex, "fit_times"), &fit, t_end);
        series.push(Series::line("latent ODE", fw, 0));
        series.push(Series::line("", fe, 0).dashed());
        if let Some(r) = rnn.and_then(|m| examples(m).get(k)) {
            // Without its first point: the prediction made before any input.
            let fit: Vec<(f64, f64)> = points(r, "fit").into_iter().skip(1).collect();
            let ft: Vec<f64> = times(r, "fit_times").into_iter().skip(1).collect();
            let (rw, re) = split_at_time(&ft, &fit, t_end);
            series.push(Series::line("RNN", rw, 1));
            series.push(Series::line("", re, 1).dashed());
        }
        // One marker-only series per observation (plot.rs draws lines through
        // a series' points; a single point is just its marker).
        for (i, p) in points(ex, "obs").into_iter().enumerate() {
            let label = if i == 0 { "observations" } else { "" };
            series.push(Series::line(label, vec![p], 2).markers());
        }
        let cw = ex.get("clockwise").and_then(Value::as_bool).unwrap_or(false);
        charts.push(Chart {
            title: format!(
                "n = {n}, test spiral {} ({})",
                k + 1,
                if cw { "clockwise" } else { "counter-clockwise" }
            ),
            x_label: "x".into(),
            y_label: "y".into(),
            equal_aspect: true,
            legend: Legend::UpperRight,
            series,
            ..Default::default()
        });
    }
    plot::draw(path, &charts, (560, 560))
}

/// The top two principal directions of the rows of `x` (power iteration
/// with deflation on the covariance; the latent dimension is small).
fn principal_axes(x: &[Vec<f64>]) -> Option<(Vec<f64>, Vec<Vec<f64>>)> {
    let d = x.first()?.len();
    let n = x.len() as f64;
    let mean: Vec<f64> = (0..d).map(|j| x.iter().map(|r| r[j]).sum::<f64>() / n).collect();
    let mut cov = vec![vec![0.0; d]; d];
    for r in x {
        for i in 0..d {
            for j in 0..d {
                cov[i][j] += (r[i] - mean[i]) * (r[j] - mean[j]) / n;
            }
        }
    }
    let mut axes = Vec::new();
    for a in 0..2.min(d) {
        let mut v: Vec<f64> = (0..d).map(|j| if j == a { 1.0 } else { 0.5 }).collect();
        let mut lambda = 0.0;
        for _ in 0..500 {
            let w: Vec<f64> = (0..d).map(|i| (0..d).map(|j| cov[i][j] * v[j]).sum()).collect();
            let norm = w.iter().map(|x| x * x).sum::<f64>().sqrt();
            if norm == 0.0 {
                break;
            }
            lambda = norm;
            v = w.iter().map(|x| x / norm).collect();
        }
        for i in 0..d {
            for j in 0..d {
                cov[i][j] -= lambda * v[i] * v[j];
            }
        }
        axes.push(v);
    }
    Some((mean, axes))
}

fn latent_figure(out: &Output, path: &Path) -> Result<()> {
    let mut charts = Vec::new();
    for n in N_OBS {
        let Some(m) = find(out, "latent", n) else { continue };
        let t_end = window_end(m);
        let zs: Vec<(bool, Vec<f64>, Vec<Vec<f64>>)> = examples(m)
            .iter()
            .filter_map(|e| {
                let z: Vec<Vec<f64>> = e
                    .get("latent")?
                    .as_array()?
                    .iter()
                    .filter_map(|r| r.as_array().map(|r| r.iter().filter_map(Value::as_f64).collect()))
                    .collect();
                Some((e.get("clockwise")?.as_bool()?, times(e, "fit_times"), z))
            })
            .collect();
        let all: Vec<Vec<f64>> = zs.iter().flat_map(|(_, _, z)| z.iter().cloned()).collect();
        let Some((mean, axes)) = principal_axes(&all) else { continue };
        if axes.len() < 2 {
            continue;
        }
        let project = |r: &Vec<f64>| -> (f64, f64) {
            let c: Vec<f64> = r.iter().zip(&mean).map(|(a, b)| a - b).collect();
            let dot = |v: &Vec<f64>| c.iter().zip(v).map(|(a, b)| a * b).sum::<f64>();
            (dot(&axes[0]), dot(&axes[1]))
        };
        let mut series = Vec::new();
        let (mut cw_done, mut ccw_done) = (false, false);
        for (cw, ts, z) in &zs {
            let pts: Vec<(f64, f64)> = z.iter().map(project).collect();
            let (a, b) = split_at_time(ts, &pts, t_end);
            let (color, label) = match (*cw, cw_done, ccw_done) {
                (true, false, _) => (0, "clockwise"),
                (false, _, false) => (1, "counter-clockwise"),
                (true, ..) => (0, ""),
                (false, ..) => (1, ""),
            };
            cw_done |= *cw;
            ccw_done |= !*cw;
            series.push(Series::line(label, a, color));
            series.push(Series::line("", b, color).dashed());
        }
        charts.push(Chart {
            title: format!("latent trajectories, n = {n}"),
            x_label: "PC 1".into(),
            y_label: "PC 2".into(),
            legend: Legend::UpperRight,
            series,
            ..Default::default()
        });
    }
    if charts.is_empty() {
        anyhow::bail!("no latent ODE run with latent trajectories");
    }
    plot::draw(path, &charts, (520, 480))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn principal_axes_of_a_line_and_a_missing_run() {
        let x: Vec<Vec<f64>> = (0..50).map(|i| vec![i as f64, 2.0 * i as f64, 0.0]).collect();
        let (mean, axes) = principal_axes(&x).unwrap();
        assert!((mean[0] - 24.5).abs() < 1e-12);
        let v = &axes[0];
        let expect = [1.0 / 5f64.sqrt(), 2.0 / 5f64.sqrt(), 0.0];
        let dot: f64 = v.iter().zip(expect).map(|(a, b)| a * b).sum();
        assert!((dot.abs() - 1.0).abs() < 1e-9, "{v:?}");

        let out = Output {
            profile: "quick",
            flag: " --quick",
            quick: true,
            args: vec![],
            runs: vec![RunResult {
                label: "Latent ODE".into(),
                model: "latent".into(),
                n_obs: 30,
                run_dir: "x".into(),
                status: "failed: boom".into(),
                metrics: None,
            }],
        };
        let md = markdown(&out);
        assert!(md.contains("failed: boom") && md.contains("0.1642") && md.contains("Quick run"));
    }
}
