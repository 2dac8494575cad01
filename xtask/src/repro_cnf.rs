//! `cargo xtask reproduce cnf [--smoke|--quick]`: continuous normalizing flows
//! against planar flows (neural ODE paper, section 4 / Figure 4), FFJORD's
//! toy sets, and the cost of the exact trace against Hutchinson's estimator
//! as the dimension grows.
//!
//! xtask does not link libtorch: each configuration is a run of the
//! `cnf_2d` binary of ode-models, with checkpoints, `metrics.json` and
//! `figures.json` under `target/repro/cnf-runs/<quick|full>/<config>/`
//! (`target/repro-smoke/cnf-runs/smoke/` for `--smoke`).
//! Full runs resume where they stopped; `--quick` starts afresh.
//!
//! Writes `target/repro/cnf.{json,md}` and the PNGs `cnf_paper.png`,
//! `cnf_flow.png`, `cnf_toy.png` and `cnf_scale.png`.

use std::time::Instant;

use anyhow::{Context, Result};
use serde::Serialize;
use serde_json::Value;

use crate::profile::Profile;
use crate::training_run;

mod figures;
use figures::{flow_figure, paper_figure, scale_figure, toy_figure};

const SCALE_DIMS: [u32; 5] = [2, 8, 32, 128, 256];
/// Autograd exact trace, the hypernetwork's closed form, Hutchinson.
const TRACES: [&str; 3] = ["exact", "closed-form", "hutchinson-rademacher"];

/// One run of `cnf_2d`.
#[derive(Clone, Debug, Serialize)]
struct Spec {
    /// `paper`, `toy` or `scale`.
    group: &'static str,
    task: &'static str,
    target: &'static str,
    /// `cnf` or `planar`.
    model: &'static str,
    /// Width M (CNF) or layers K (planar).
    size: u32,
    trace: &'static str,
    dim: u32,
    /// `direct`, `adjoint` or `aca` (CNF maximum likelihood only).
    grad: &'static str,
}

impl Spec {
    fn label(&self) -> String {
        match self.model {
            "cnf" => format!("CNF M={}", self.size),
            _ => format!("NF K={}", self.size),
        }
    }

    fn slug(&self) -> String {
        let m = if self.model == "cnf" {
            format!("cnf-w{}", self.size)
        } else {
            format!("planar-k{}", self.size)
        };
        format!("{}-{}-{}-{m}-d{}-{}-{}", self.group, self.task, self.target, self.dim, self.trace, self.grad)
    }

    fn args(&self, profile: Profile) -> Vec<String> {
        let quick = profile.short();
        let size = if self.model == "cnf" { "--width" } else { "--layers" };
        let mut a = format!(
            "--task {} --target {} --model {} {size} {} --trace {} --dim {} --grad {} --device auto --threads 1",
            self.task, self.target, self.model, self.size, self.trace, self.dim, self.grad
        );
        a.push_str(match (self.group, quick, self.model) {
            ("scale", true, _) if profile == Profile::Smoke => {
                " --fixed-steps 2 --batch 8 --iters 1 --grid 0"
            }
            (_, true, _) if profile == Profile::Smoke => {
                " --iters 3 --batch 32 --lr 1e-2 --tol 1e-3 --eval-samples 64 --grid 12"
            }
            ("scale", true, _) => " --fixed-steps 4 --batch 64 --iters 6 --grid 0",
            ("scale", false, _) => " --fixed-steps 4 --batch 64 --iters 20 --grid 0",
            (_, true, _) => " --iters 300 --batch 256 --lr 1e-2 --tol 1e-3 --eval-samples 2000 --grid 60",
            // The paper: CNFs 10,000 iterations of Adam, NFs 500,000 of RMSprop. Both get the CNFs'
            // budget here: on the ring target planar K = 32 was within 0.004 nats of its 50,000-iteration
            // loss after 10,000, and the longer budget made the grid take a day on two cores.
            (_, false, "cnf") => " --iters 10000 --batch 512 --lr 1e-3 --tol 1e-5 --grid 100",
            (_, false, _) => " --iters 10000 --batch 512 --lr 1e-3 --grid 100",
        });
        a.split(' ').map(str::to_string).collect()
    }
}

/// The paper's grid (density matching on three targets, maximum likelihood
/// on two sets; CNF M = 1, 32, 64 against planar K = 1, 32, 64), FFJORD's
/// toy sets, and the trace scale check. `--quick` runs a subset.
fn specs(profile: Profile) -> Vec<Spec> {
    let quick = profile.short();
    let spec = |group, task, target, model, size, trace, dim| Spec {
        group,
        task,
        target,
        model,
        size,
        trace,
        dim,
        grad: "direct",
    };
    let paper_tasks: &[(&str, &str)] = &[
        ("density", "ring"),
        ("density", "two-circles"),
        ("density", "two-moons"),
        ("mle", "circles"),
        ("mle", "moons"),
    ];
    let sizes: &[u32] = match profile {
        Profile::Smoke => &[1],
        Profile::Quick => &[1, 32],
        Profile::Full => &[1, 32, 64],
    };
    let toys: &[&str] = if profile == Profile::Smoke {
        &["8gaussians"]
    } else if quick {
        &["8gaussians", "checkerboard", "2spirals"]
    } else {
        &["swissroll", "circles", "rings", "moons", "8gaussians", "pinwheel", "2spirals", "checkerboard"]
    };
    let toy_size = if quick { 32 } else { 64 };
    let mut v = Vec::new();
    for &(task, target) in paper_tasks {
        for model in ["cnf", "planar"] {
            for &s in sizes {
                v.push(spec("paper", task, target, model, s, "closed-form", 2));
            }
        }
    }
    for &t in toys {
        v.push(spec("toy", "mle", t, "cnf", toy_size, "closed-form", 2));
        v.push(spec("toy", "mle", t, "planar", toy_size, "closed-form", 2));
    }
    for d in SCALE_DIMS {
        for tr in TRACES {
            v.push(spec("scale", "scale", "gmm", "cnf", 32, tr, d));
        }
    }
    // Gradient modes and the Hutchinson estimator in training, on one task.
    for (grad, trace) in GRAD_MODES {
        v.push(Spec { grad, ..spec("grad", "mle", "moons", "cnf", 32, trace, 2) });
    }
    v
}

/// (gradient mode, trace) of the `grad` group.
const GRAD_MODES: [(&str, &str); 5] = [
    ("direct", "closed-form"),
    ("adjoint", "closed-form"),
    ("aca", "closed-form"),
    ("direct", "exact"),
    ("direct", "hutchinson-rademacher"),
];

#[derive(Serialize)]
struct RunResult {
    spec: Spec,
    run_dir: String,
    status: String,
    /// `summary` of the run's metrics.json.
    summary: Option<Value>,
    parameters: Option<i64>,
}

#[derive(Serialize)]
struct Output {
    profile: &'static str,
    #[serde(skip)]
    flag: &'static str,
    quick: bool,
    runs: Vec<RunResult>,
}

/// `jobs`: training runs at a time (the scale check always runs alone).
/// With `report`, nothing trains: the tables and figures are made from the
/// runs on disk, unfinished ones marked as such.
pub fn run(profile: Profile, jobs: usize, report: bool) -> Result<()> {
    let start = Instant::now();
    let quick = profile.short();
    let out_dir = profile.out_dir();
    std::fs::create_dir_all(out_dir).with_context(|| format!("creating {}", out_dir.display()))?;
    let specs = specs(profile);
    let (work, job_of) = shared_runs(&specs, profile);
    let outcomes = if report {
        training_run::collect(&work)
    } else {
        training_run::train_all("cnf", "cnf_2d", &work, quick, jobs)?
    };
    let mut runs = Vec::new();
    for (spec, j) in specs.into_iter().zip(job_of) {
        let (outcome, run_dir) = (&outcomes[j], &work[j].run_dir);
        runs.push(RunResult {
            summary: outcome.metrics.as_ref().and_then(|m| m.get("summary").cloned()),
            parameters: outcome.metrics.as_ref().and_then(|m| m.get("parameters")?.as_i64()),
            spec,
            run_dir: run_dir.display().to_string(),
            status: outcome.status.clone(),
        });
    }
    let out = Output { profile: profile.name(), flag: profile.flag(), quick, runs };
    let json_path = out_dir.join("cnf.json");
    std::fs::write(&json_path, serde_json::to_string_pretty(&out)?)
        .with_context(|| format!("writing {}", json_path.display()))?;
    let md = markdown(&out);
    let md_path = out_dir.join("cnf.md");
    std::fs::write(&md_path, &md).with_context(|| format!("writing {}", md_path.display()))?;
    for (name, result) in [
        ("cnf_paper.png", paper_figure(&out, &out_dir.join("cnf_paper.png"))),
        ("cnf_flow.png", flow_figure(&out, &out_dir.join("cnf_flow.png"))),
        ("cnf_toy.png", toy_figure(&out, &out_dir.join("cnf_toy.png"))),
        ("cnf_scale.png", scale_figure(&out, &out_dir.join("cnf_scale.png"))),
    ] {
        if let Err(e) = result {
            eprintln!("[reproduce cnf] no {name}: {e:#}");
        }
    }
    println!("{md}");
    eprintln!(
        "[reproduce cnf] done in {:.1} s; wrote {} and {}",
        start.elapsed().as_secs_f64(),
        json_path.display(),
        md_path.display()
    );
    let failed: Vec<String> =
        out.runs.iter().filter(|r| training_run::is_failure(&r.status)).map(|r| r.spec.slug()).collect();
    if !failed.is_empty() {
        anyhow::bail!("{} run(s) failed: {}", failed.len(), failed.join(", "));
    }
    Ok(())
}

/// The training runs behind `specs`, and each spec's run. Specs whose
/// `cnf_2d` arguments are the same share one run: FFJORD's circles and moons
/// at M = K = 64 are the paper's maximum-likelihood runs at 64, and the
/// gradient group's direct / closed-form run is the paper's moons at M = 32
/// (the same computation: circles gave the same NLL to the last digit
/// twice, an hour of CPU each).
fn shared_runs(specs: &[Spec], profile: Profile) -> (Vec<training_run::Job>, Vec<usize>) {
    let mut work: Vec<training_run::Job> = Vec::new();
    let mut job_of = Vec::with_capacity(specs.len());
    for spec in specs {
        let args = spec.args(profile);
        match work.iter().position(|w| w.args == args) {
            Some(j) => job_of.push(j),
            None => {
                job_of.push(work.len());
                work.push(training_run::Job {
                    tag: spec.slug(),
                    args,
                    run_dir: profile.runs_dir("cnf").join(spec.slug()),
                    alone: spec.group == "scale",
                });
            }
        }
    }
    (work, job_of)
}

fn num(r: &RunResult, key: &str) -> Option<f64> {
    r.summary.as_ref()?.get(key)?.as_f64()
}

fn cell(r: Option<&RunResult>, with_nfe: bool) -> String {
    let Some(r) = r else { return "-".into() };
    match (num(r, "eval_loss"), num(r, "eval_nfe")) {
        (Some(l), Some(n)) if with_nfe && r.spec.model == "cnf" => format!("{l:.3} ({n:.0})"),
        (Some(l), _) => format!("{l:.3}"),
        _ => r.status.clone(),
    }
}

fn markdown(out: &Output) -> String {
    let runs = |g: &'static str| out.runs.iter().filter(move |r| r.spec.group == g);
    let mut s = String::from("# cnf: continuous normalizing flows vs planar flows\n\n");
    s.push_str(&format!("Made by `cargo xtask reproduce{} cnf`.\n\n", out.flag));
    if out.profile == "smoke" {
        s.push_str(Profile::Smoke.smoke_note());
    } else if out.quick {
        s.push_str(
            "**Quick run**: 300 iterations (batch 256, Adam lr 1e-2, dopri5 at tol 1e-3), widths / layers 1 and 32 \
             (not 64), three of the eight toy sets at M = K = 32, and 6 iterations per scale-check point; the \
             numbers show the pipeline works, not the models' final quality. The full run trains CNFs for \
             10,000 Adam iterations (batch 512, lr 1e-3, tol 1e-5) as in the paper, planar flows for as many \
             (the paper: 500,000 of RMSprop), all eight toy sets at M = K = 64, and 20 iterations per \
             scale-check point.\n\n",
        );
    } else {
        s.push_str(
            "Full run: CNFs and planar flows both train for 10,000 Adam iterations (batch 512, lr 1e-3; CNFs \
             with dopri5 at tol 1e-5), as the paper trained its CNFs; the paper gave planar flows 500,000 \
             RMSprop iterations. One seed.\n\n",
        );
    }
    s.push_str(
        "## Paper tasks (Figure 4)\n\nDensity matching: final KL(q || p) estimate (minus log Z of the \
         unnormalized target) from 2000+ fresh samples of the model. Maximum likelihood: NLL (nats) of held-out \
         samples. In parentheses: the NFE of the evaluation solve. Lower is better. CNFs train and are \
         evaluated with the exact trace in closed form (`--trace closed-form`, the same value as autograd's \
         exact trace at the cost of one extra matrix-vector product).\n\n",
    );
    let mut keys: Vec<(&str, &str)> = Vec::new();
    for r in runs("paper") {
        if !keys.contains(&(r.spec.task, r.spec.target)) {
            keys.push((r.spec.task, r.spec.target));
        }
    }
    let mut cols: Vec<(&str, u32)> = runs("paper").map(|r| (r.spec.model, r.spec.size)).collect();
    cols.sort_by_key(|c| (c.0 != "cnf", c.1));
    cols.dedup();
    s.push_str("| task | target |");
    for c in &cols {
        s.push_str(&format!(
            " {} {}={} |",
            if c.0 == "cnf" { "CNF" } else { "NF" },
            if c.0 == "cnf" { "M" } else { "K" },
            c.1
        ));
    }
    s.push_str(&format!("\n|---|---|{}\n", "---:|".repeat(cols.len())));
    for (task, target) in &keys {
        s.push_str(&format!(
            "| {} | {target} |",
            if *task == "density" { "density matching" } else { "max likelihood" }
        ));
        for c in &cols {
            let r = runs("paper").find(|r| {
                r.spec.task == *task && r.spec.target == *target && (r.spec.model, r.spec.size) == *c
            });
            s.push_str(&format!(" {} |", cell(r, true)));
        }
        s.push('\n');
    }
    s.push_str(
        "\n## FFJORD's toy sets (maximum likelihood)\n\nCNF s/iter is the mean wall time of a training \
         iteration with `--jobs` runs sharing the machine: a guide to cost, not a benchmark (the scale \
         check below runs alone).\n",
    );
    s.push_str("\n| data | CNF NLL | CNF NFE | CNF s/iter | planar NLL |\n|---|---:|---:|---:|---:|\n");
    for r in runs("toy").filter(|r| r.spec.model == "cnf") {
        let planar = runs("toy").find(|p| p.spec.model == "planar" && p.spec.target == r.spec.target);
        let f = |k: &str, p: usize| num(r, k).map(|v| format!("{v:.p$}")).unwrap_or("-".into());
        s.push_str(&format!(
            "| {} ({}) | {} | {} | {} | {} |\n",
            r.spec.target,
            r.spec.label(),
            cell(Some(r), false),
            f("eval_nfe", 0),
            f("sec_per_iter", 3),
            cell(planar, false)
        ));
    }
    s.push_str(
        "\n## Scale check: time per training iteration\n\nCNF width 32 on a 4-component Gaussian mixture in D \
         dimensions, batch 64, 4 fixed RK4 steps (16 evaluations) so that both traces do the same solver work; \
         direct backprop through the solver; mean over iterations after the first; one thread.\n\n\
         | D | exact, autograd (s/iter) | exact, closed form (s/iter) | Hutchinson (s/iter) | autograd / \
         Hutchinson |\n|---:|---:|---:|---:|---:|\n",
    );
    for d in SCALE_DIMS {
        let t = |tr: &str| {
            runs("scale").find(|r| r.spec.dim == d && r.spec.trace == tr).and_then(|r| num(r, "sec_per_iter"))
        };
        let (e, c, h) = (t(TRACES[0]), t(TRACES[1]), t(TRACES[2]));
        let fmt = |v: Option<f64>| v.map(|v| format!("{v:.4}")).unwrap_or("-".into());
        let ratio = e.zip(h).map(|(e, h)| format!("{:.1}", e / h)).unwrap_or("-".into());
        s.push_str(&format!("| {d} | {} | {} | {} | {ratio} |\n", fmt(e), fmt(c), fmt(h)));
    }
    for tr in TRACES {
        let pts: Vec<(f64, f64)> = runs("scale")
            .filter(|r| r.spec.trace == tr && r.spec.dim >= 32)
            .filter_map(|r| Some(((r.spec.dim as f64).ln(), num(r, "sec_per_iter")?.ln())))
            .collect();
        if let Some(k) = slope(&pts) {
            s.push_str(&format!("\nLog-log slope of time against D for D >= 32, {tr}: {k:.2}."));
        }
    }
    s.push_str(
        "\n\nThe exact trace by autograd needs D vector-Jacobian products per evaluation (each O(D M) \
         flops), Hutchinson's one; at small D both are dominated by per-operation overheads. The closed form \
         (`sum_m (1 - h_m^2) u_m . w_m`) is exact at Hutchinson's cost, but only because this architecture's \
         Jacobian has that structure; for general dynamics the choice is between autograd and Hutchinson.\n",
    );
    s.push_str(
        "\n## Gradient modes (maximum likelihood, moons, CNF M = 32)\n\nSame training as the paper table; \
         `adjoint` and `aca` go through `OdeBlock` on the `[B, D + 1]` state. NFE: forward + backward \
         evaluations per training iteration (direct backprop has no backward evaluations), averaged over the \
         run. Held-out NLL with the exact trace (closed form).\n\n| gradient | trace in training | NLL | NFE / iter | \
         s / iter |\n|---|---|---:|---:|---:|\n",
    );
    for r in runs("grad") {
        let f = |k: &str, p: usize| num(r, k).map(|v| format!("{v:.p$}")).unwrap_or("-".into());
        s.push_str(&format!(
            "| {} | {} | {} | {} | {} |\n",
            r.spec.grad,
            r.spec.trace,
            cell(Some(r), false),
            f("train_nfe", 1),
            f("sec_per_iter", 3)
        ));
    }
    s.push_str("\nFigures: `cnf_paper.png` (target, each model's density, CNF samples), `cnf_flow.png` (the widest CNF's density and samples from t = 0 to T), `cnf_toy.png`, `cnf_scale.png`.\n");
    s
}

/// Least-squares slope of `y` against `x` (at least two distinct `x`).
fn slope(pts: &[(f64, f64)]) -> Option<f64> {
    let n = pts.len() as f64;
    let (mx, my) = (pts.iter().map(|p| p.0).sum::<f64>() / n, pts.iter().map(|p| p.1).sum::<f64>() / n);
    let sxx: f64 = pts.iter().map(|p| (p.0 - mx).powi(2)).sum();
    let sxy: f64 = pts.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    (pts.len() >= 2 && sxx > 0.0).then(|| sxy / sxx)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quick_is_a_subset_and_slugs_are_unique() {
        let (quick, full) = (specs(Profile::Quick), specs(Profile::Full));
        assert!(quick.len() < full.len());
        let mut slugs: Vec<String> = full.iter().map(Spec::slug).collect();
        slugs.sort();
        slugs.dedup();
        assert_eq!(slugs.len(), full.len());
        assert!(quick.iter().all(|q| full.iter().any(|f| f.slug() == q.slug()) || q.group == "toy"));
        assert!(full.iter().filter(|s| s.group == "paper").count() == 30);
    }

    /// Identical runs are trained once: the toy circles and moons at 64 and
    /// the gradient group's direct / closed-form run reuse the paper's.
    #[test]
    fn identical_specs_share_one_run() {
        let full = specs(Profile::Full);
        let (work, job_of) = shared_runs(&full, Profile::Full);
        assert_eq!(job_of.len(), full.len());
        assert_eq!(work.len(), full.len() - 5, "toy circles/moons x (cnf, planar) and grad direct");
        let mut args: Vec<&Vec<String>> = work.iter().map(|w| &w.args).collect();
        args.sort();
        args.dedup();
        assert_eq!(args.len(), work.len(), "no two jobs with the same arguments");
        let run_of = |slug: &str| {
            let i = full.iter().position(|s| s.slug() == slug).unwrap();
            work[job_of[i]].run_dir.file_name().unwrap().to_string_lossy().into_owned()
        };
        assert_eq!(
            run_of("toy-mle-moons-cnf-w64-d2-closed-form-direct"),
            "paper-mle-moons-cnf-w64-d2-closed-form-direct"
        );
        assert_eq!(
            run_of("grad-mle-moons-cnf-w32-d2-closed-form-direct"),
            "paper-mle-moons-cnf-w32-d2-closed-form-direct"
        );
        assert_eq!(
            run_of("toy-mle-pinwheel-cnf-w64-d2-closed-form-direct"),
            "toy-mle-pinwheel-cnf-w64-d2-closed-form-direct"
        );
        // Every spec's job has the spec's own arguments.
        for (spec, &j) in full.iter().zip(&job_of) {
            assert_eq!(work[j].args, spec.args(Profile::Full));
        }
    }

    #[test]
    fn slope_of_a_power_law() {
        let pts: Vec<(f64, f64)> = [2.0f64, 4.0, 8.0].iter().map(|&d| (d.ln(), (3.0 * d * d).ln())).collect();
        assert!((slope(&pts).unwrap() - 2.0).abs() < 1e-12);
        assert!(slope(&pts[..1]).is_none());
    }

    #[test]
    fn table_shows_failures_and_missing_runs() {
        let spec = specs(Profile::Quick).into_iter().next().unwrap();
        let out = Output {
            profile: "quick",
            flag: " --quick",
            quick: true,
            runs: vec![RunResult {
                spec,
                run_dir: "x".into(),
                status: "failed: boom".into(),
                summary: None,
                parameters: None,
            }],
        };
        let md = markdown(&out);
        assert!(md.contains("failed: boom") && md.contains("Quick run"));
    }
}
