//! `cargo xtask reproduce [--smoke|--quick] [--jobs N] [--report] [name]`:
//! the project's experiments. A failed experiment does not stop the
//! others: all run, a summary says which failed and why, and the exit code
//! is non-zero. `--jobs N` runs N training runs of `latent` and `cnf` at a
//! time (each is single-threaded; N = number of cores).
//! `--report` writes their tables and figures from the runs on disk without
//! training (the full `cnf` grid takes several days of CPU, run in pieces).
//!
//! `core` lives here: measured convergence orders of every method at fixed
//! steps and the work (NFE) / accuracy of the adaptive methods over a
//! tolerance sweep; the others have their own modules.

use std::time::Instant;

use anyhow::{anyhow, bail, Result};
use ndarray::Array1;
use ode_core::tableau::{ButcherTableau, DOPRI8};
use ode_core::{solve, SolveOptions};
use serde::Serialize;

use crate::problems::{self, max_abs_diff};
use crate::profile::Profile;

/// Every experiment, in the order `reproduce` without a name runs them.
fn experiments() -> Vec<&'static str> {
    let mut all = vec!["core"];
    all.extend_from_slice(crate::repro_grad::NAMES);
    all.push("mnist");
    all.push("latent");
    all.push("cnf");
    all.push("dise");
    all
}

/// The parsed command line of `reproduce`.
struct Request<'a> {
    profile: Profile,
    report: bool,
    jobs: usize,
    names: Vec<&'a str>,
}

fn parse<'a>(args: &[&'a str]) -> Result<Request<'a>> {
    let mut profile = None;
    let mut report = false;
    let mut jobs = 1;
    let mut names = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let chosen = match *a {
            "--quick" => Some(Profile::Quick),
            "--smoke" => Some(Profile::Smoke),
            "--report" => {
                report = true;
                None
            }
            "--jobs" => {
                let v = it.next().ok_or_else(|| anyhow!("`--jobs` needs a number"))?;
                jobs = v.parse().ok().filter(|&j: &usize| j >= 1).ok_or_else(|| {
                    anyhow!("`--jobs {v}`: give the number of training runs at a time (at least 1)")
                })?;
                None
            }
            s if s.starts_with('-') => bail!("unknown option `{s}` for `reproduce`"),
            s => {
                names.push(s);
                None
            }
        };
        if let Some(p) = chosen {
            if profile.is_some_and(|old| old != p) {
                bail!("`--quick` and `--smoke` are two sizes of run: give one");
            }
            profile = Some(p);
        }
    }
    let known = experiments();
    for n in &names {
        if !known.contains(n) {
            bail!("unknown experiment `{n}`; known experiments: {}", known.join(", "));
        }
    }
    if names.is_empty() {
        names = if report { vec!["latent", "cnf"] } else { known };
    }
    if let Some(n) = names.iter().find(|n| report && !matches!(**n, "latent" | "cnf")) {
        bail!("`--report` makes the tables of the long training experiments (latent, cnf) from their runs on disk; `{n}` has none: run it without `--report`");
    }
    Ok(Request { profile: profile.unwrap_or(Profile::Full), report, jobs, names })
}

pub fn run(args: &[&str]) -> Result<()> {
    let Request { profile, report, jobs, names } = parse(args)?;
    let out_dir = profile.out_dir();
    std::fs::create_dir_all(out_dir)?;
    let t_all = Instant::now();
    // One experiment's failure is a result to report, not the end of the
    // others: run them all, then say what failed and why.
    let mut outcomes: Vec<(&str, f64, Result<()>)> = Vec::new();
    for n in names {
        let t0 = Instant::now();
        let result = match n {
            "core" => core(profile),
            "mnist" => crate::repro_mnist::run(profile),
            "latent" => crate::repro_latent::run(profile, jobs, report),
            "cnf" => crate::repro_cnf::run(profile, jobs, report),
            "dise" => crate::repro_dise::run(profile, jobs),
            other => crate::repro_grad::run(other, profile.short(), out_dir),
        };
        let secs = t0.elapsed().as_secs_f64();
        match &result {
            Ok(()) => eprintln!("[reproduce] {n} done in {secs:.1} s"),
            Err(e) => eprintln!("[reproduce] {n} FAILED after {secs:.1} s: {e:#}"),
        }
        outcomes.push((n, secs, result));
    }
    eprintln!("\n[reproduce] summary ({} profile, results in {}):", profile.name(), out_dir.display());
    for (n, secs, result) in &outcomes {
        match result {
            Ok(()) => eprintln!("  ok      {n:<18} {secs:>8.1} s"),
            Err(e) => eprintln!("  FAILED  {n:<18} {secs:>8.1} s  {e:#}"),
        }
    }
    let failed: Vec<&str> = outcomes.iter().filter(|o| o.2.is_err()).map(|o| o.0).collect();
    eprintln!(
        "[reproduce] {} of {} experiment(s) ok in {:.1} s",
        outcomes.len() - failed.len(),
        outcomes.len(),
        t_all.elapsed().as_secs_f64()
    );
    if !failed.is_empty() {
        bail!("{} experiment(s) failed: {}", failed.len(), failed.join(", "));
    }
    Ok(())
}

#[derive(Serialize)]
struct Convergence {
    method: &'static str,
    order: u32,
    hs: Vec<f64>,
    /// Max-abs error of y(4) divided by max-abs of the reference y(4).
    errors: Vec<f64>,
    /// Least-squares slope of log(error) against log(h) over the points
    /// in `[FIT_MIN, FIT_MAX]` with the smallest step sizes.
    measured_order: Option<f64>,
    fit_points: usize,
    ok: bool,
}

#[derive(Serialize)]
struct Work {
    problem: &'static str,
    method: &'static str,
    rtol: f64,
    atol: f64,
    /// `None` when the solve failed; `status` says why.
    nfe: Option<usize>,
    n_accepted: Option<usize>,
    n_rejected: Option<usize>,
    /// Max-abs error of the final state, relative to the reference's max-abs.
    error: Option<f64>,
    status: String,
}

#[derive(Serialize)]
struct CoreOut {
    profile: &'static str,
    #[serde(skip)]
    flag: &'static str,
    problem: String,
    reference: String,
    convergence: Vec<Convergence>,
    work: Vec<Work>,
}

/// Errors below this (relative) are treated as round-off / reference noise.
const FIT_MIN: f64 = 1e-11;
/// Errors above this mean the step is far from the asymptotic regime.
const FIT_MAX: f64 = 0.5;
/// The slope is fitted over at most this many of the smallest step sizes
/// whose errors lie in `[FIT_MIN, FIT_MAX]`.
const FIT_POINTS: usize = 3;
const REF_RTOL: f64 = 1e-13;
const REF_ATOL: f64 = 1e-15;

fn rel_err(y: &Array1<f64>, r: &Array1<f64>) -> f64 {
    let scale = r.iter().fold(0.0f64, |m, x| m.max(x.abs())).max(f64::MIN_POSITIVE);
    max_abs_diff(y, r) / scale
}

fn fit_slope(hs: &[f64], errs: &[f64]) -> (Option<f64>, usize) {
    let mut pts: Vec<(f64, f64)> = hs
        .iter()
        .zip(errs)
        .filter(|(_, &e)| e.is_finite() && (FIT_MIN..=FIT_MAX).contains(&e))
        .map(|(&h, &e)| (h.ln(), e.ln()))
        .collect();
    // Smallest step sizes first: they are the closest to the asymptotic regime.
    pts.sort_by(|a, b| a.0.total_cmp(&b.0));
    pts.truncate(FIT_POINTS);
    let n = pts.len();
    if n < 2 {
        return (None, n);
    }
    let mx = pts.iter().map(|p| p.0).sum::<f64>() / n as f64;
    let my = pts.iter().map(|p| p.1).sum::<f64>() / n as f64;
    let sxy: f64 = pts.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    let sxx: f64 = pts.iter().map(|p| (p.0 - mx).powi(2)).sum();
    (Some(sxy / sxx), n)
}

fn core(profile: Profile) -> Result<()> {
    let quick = profile.short();
    let out_dir = profile.out_dir();
    let progress = |m: &str| eprintln!("[reproduce core] {m}");
    let ref_opts = SolveOptions::default().method(&DOPRI8).tol(REF_RTOL, REF_ATOL).max_steps(10_000_000);

    // Convergence orders on y' = A y, A = 0.5 N(0,1) 10x10, t in [0, 4].
    let a = problems::normal_matrix(10, 10, 0.5, 42);
    let y0 = problems::normal_vector(10, 43);
    let f = problems::linear(a);
    let ts = [0.0, 4.0];
    let exact =
        solve(&f, y0.clone(), &ts, &ref_opts).map_err(|e| anyhow!("reference solve: {e}"))?.ys[1].clone();
    let ks: Vec<i32> = if quick { (1..=5).map(|k| -k).collect() } else { (0..=8).map(|k| -k).collect() };
    let hs: Vec<f64> = ks.iter().map(|&k| 2f64.powi(k)).collect();
    let mut convergence = Vec::new();
    for tab in ButcherTableau::all() {
        let mut errors = Vec::new();
        for &h in &hs {
            let opts = SolveOptions::default().method(tab).fixed_step(h).max_steps(10_000_000);
            let e = match solve(&f, y0.clone(), &ts, &opts) {
                Ok(s) => rel_err(&s.ys[1], &exact),
                Err(_) => f64::NAN,
            };
            errors.push(e);
        }
        let (measured, fit_points) = fit_slope(&hs, &errors);
        let ok = measured.is_some_and(|p| (p - tab.order as f64).abs() <= 0.35);
        progress(&format!(
            "{:>14}: order {} measured {}",
            tab.name,
            tab.order,
            measured.map(|p| format!("{p:.2}")).unwrap_or_else(|| "n/a".into())
        ));
        convergence.push(Convergence {
            method: tab.name,
            order: tab.order,
            hs: hs.clone(),
            errors,
            measured_order: measured,
            fit_points,
            ok,
        });
    }

    // Work of the adaptive methods over a tolerance sweep.
    let rtols: Vec<f64> =
        if quick { vec![1e-4, 1e-7, 1e-10] } else { (3..=10).map(|k| 10f64.powi(-k)).collect() };
    let mut work = Vec::new();
    let arenstorf = problems::arenstorf(problems::ARENSTORF_MU);
    let aren_y0 = Array1::from(problems::ARENSTORF_Y0.to_vec());
    let aren_ts = [0.0, problems::ARENSTORF_PERIOD];
    let aren_ref = solve(&arenstorf, aren_y0.clone(), &aren_ts, &ref_opts)
        .map_err(|e| anyhow!("Arenstorf reference solve: {e}"))?
        .ys[1]
        .clone();
    for tab in ButcherTableau::all().iter().copied().filter(|t| t.is_adaptive()) {
        for &rtol in &rtols {
            let atol = rtol * 1e-3;
            work.push(adaptive_work("linear10", tab, rtol, atol, &f, &y0, &ts, &exact));
            work.push(adaptive_work("arenstorf", tab, rtol, atol, &arenstorf, &aren_y0, &aren_ts, &aren_ref));
        }
        progress(&format!("{:>14}: tolerance sweep done", tab.name));
    }

    let out = CoreOut {
        profile: profile.name(),
        flag: profile.flag(),
        problem:
            "convergence: y' = A y, A = 0.5 N(0,1) 10x10 (seed 42), y0 ~ N(0,1) (seed 43), t in [0, 4], \
                  fixed steps h = 2^k; work: the same linear problem and one period of the Arenstorf orbit"
                .into(),
        reference: format!("dopri8 at rtol {REF_RTOL:e}, atol {REF_ATOL:e}"),
        convergence,
        work,
    };
    let md = core_markdown(&out, &rtols);
    std::fs::write(out_dir.join("core.json"), serde_json::to_string_pretty(&out)?)?;
    std::fs::write(out_dir.join("core.md"), &md)?;
    println!("{md}");
    progress(&format!("wrote {0}/core.json and {0}/core.md", out_dir.display()));
    let bad: Vec<&str> = out.convergence.iter().filter(|c| !c.ok).map(|c| c.method).collect();
    if !bad.is_empty() {
        eprintln!("[reproduce core] warning: measured order off the nominal one for: {}", bad.join(", "));
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn adaptive_work<F: Fn(f64, &Array1<f64>) -> Array1<f64>>(
    problem: &'static str,
    tab: &'static ButcherTableau,
    rtol: f64,
    atol: f64,
    f: &F,
    y0: &Array1<f64>,
    ts: &[f64],
    reference: &Array1<f64>,
) -> Work {
    let opts = SolveOptions::default().method(tab).tol(rtol, atol).max_steps(1_000_000);
    match solve(f, y0.clone(), ts, &opts) {
        Ok(s) => Work {
            problem,
            method: tab.name,
            rtol,
            atol,
            nfe: Some(s.stats.nfe),
            n_accepted: Some(s.stats.n_accepted),
            n_rejected: Some(s.stats.n_rejected),
            error: Some(rel_err(s.ys.last().expect("output"), reference)),
            status: "ok".into(),
        },
        Err(e) => Work {
            problem,
            method: tab.name,
            rtol,
            atol,
            nfe: None,
            n_accepted: None,
            n_rejected: None,
            error: None,
            status: e.to_string(),
        },
    }
}

fn core_markdown(out: &CoreOut, rtols: &[f64]) -> String {
    let mut s = String::from("# core: convergence orders and work of the explicit methods\n\n");
    s.push_str(&format!(
        "Made by `cargo xtask reproduce{} core`. Reference: {}.\n\n",
        out.flag, out.reference
    ));
    s.push_str(&format!("## Convergence at fixed steps\n\n{}.\n\n", out.problem));
    s.push_str(&format!(
        "Relative max-abs error of y(4) per step size h; measured order = least-squares slope of \
         log(error) vs log(h) over the (at most) {FIT_POINTS} smallest step sizes whose errors lie in \
         [{FIT_MIN:.0e}, {FIT_MAX}]; (!) marks a deviation of more than 0.35 from the nominal order.\n\n"
    ));
    let hs = &out.convergence[0].hs;
    s.push_str("| method | order | measured |");
    for h in hs {
        s.push_str(&format!(" h = 2^{} |", h.log2().round() as i32));
    }
    s.push_str("\n|---|---:|---:|");
    s.push_str(&"---:|".repeat(hs.len()));
    s.push('\n');
    for c in &out.convergence {
        s.push_str(&format!(
            "| {} | {} | {}{} |",
            c.method,
            c.order,
            c.measured_order.map(|p| format!("{p:.2}")).unwrap_or_else(|| "n/a".into()),
            if c.ok { "" } else { " (!)" }
        ));
        for e in &c.errors {
            s.push_str(&format!(" {e:.1e} |"));
        }
        s.push('\n');
    }
    s.push_str("\n## Work of the adaptive methods\n\nEach cell: NFE / relative max-abs error of the final state; atol = 1e-3 rtol.\n");
    for problem in ["linear10", "arenstorf"] {
        s.push_str(&format!("\n### {problem}\n\n| method |"));
        for r in rtols {
            s.push_str(&format!(" rtol {r:.0e} |"));
        }
        s.push_str("\n|---|");
        s.push_str(&"---:|".repeat(rtols.len()));
        s.push('\n');
        let mut methods: Vec<&str> = Vec::new();
        for w in out.work.iter().filter(|w| w.problem == problem) {
            if !methods.contains(&w.method) {
                methods.push(w.method);
            }
        }
        for m in methods {
            s.push_str(&format!("| {m} |"));
            for w in out.work.iter().filter(|w| w.problem == problem && w.method == m) {
                match (w.nfe, w.error) {
                    (Some(n), Some(e)) => s.push_str(&format!(" {n} / {e:.1e} |")),
                    _ if w.status.contains("max_steps") => s.push_str(" over 1e6 steps |"),
                    _ => s.push_str(" failed |"),
                }
            }
            s.push('\n');
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slope_of_exact_power_law() {
        let hs = [1.0, 0.5, 0.25, 0.125];
        let errs: Vec<f64> = hs.iter().map(|h: &f64| 1e-3 * h.powi(4)).collect();
        let (p, n) = fit_slope(&hs, &errs);
        assert_eq!(n, FIT_POINTS);
        assert!((p.unwrap() - 4.0).abs() < 1e-12);
    }
}

#[cfg(test)]
mod parse_tests {
    use super::{parse, Profile};

    #[test]
    fn profiles_and_names_parse() {
        let r = parse(&["--smoke"]).unwrap();
        assert_eq!(r.profile, Profile::Smoke);
        assert_eq!(r.names.len(), super::experiments().len());
        let r = parse(&["--quick", "mnist", "cnf"]).unwrap();
        assert_eq!((r.profile, r.names), (Profile::Quick, vec!["mnist", "cnf"]));
        assert_eq!(parse(&[]).unwrap().profile, Profile::Full);
        // Repeating the same size is harmless; two sizes are a mistake.
        assert_eq!(parse(&["--quick", "--quick"]).unwrap().profile, Profile::Quick);
        for bad in [&["--quick", "--smoke"][..], &["nope"], &["--jobs", "0"], &["--report", "core"], &["-x"]]
        {
            assert!(parse(bad).is_err(), "{bad:?} should be refused");
        }
    }
}
