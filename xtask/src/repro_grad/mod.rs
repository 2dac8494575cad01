//! Gradient experiments of `cargo xtask reproduce <name> [--quick]`:
//!
//! - `gradient-accuracy`: relative error of the adjoint, ACA and MALI
//!   gradients against a tight reference over a sweep of tolerances, on the
//!   ACA paper's three-body system and on a small MLP neural ODE.
//! - `three-body`: the ACA paper's mass-fitting experiment (learn the three
//!   masses from 1000 observed positions) with each gradient method.
//! - `memory`: peak heap bytes of one gradient against the number of steps,
//!   measured with the counting global allocator of [`crate::alloc_count`].
//!
//! Each writes `<name>.json` and `<name>.md` (plus PNG figures) under the
//! output directory, prints the table and reports progress on stderr.

use std::path::Path;
use std::time::Instant;

use anyhow::{anyhow, bail, Context, Result};
use ndarray::Array1;
use ode_autodiff::problems::{Mlp, ThreeBody};
use ode_autodiff::{solve_with_grad, AdjointOptions, BackwardStats, GradientMethod, MaliOptions, VjpRhs};
use ode_core::tableau::{DOPRI8, RK4};
use ode_core::{solve, OdeState, SolveOptions, Stats};
use rand::{rngs::StdRng, Rng, SeedableRng};
use serde::Serialize;

use crate::alloc_count;
use crate::plot::{self, Chart, Legend, Series};

mod accuracy;
mod memory;
mod three_body;

use accuracy::gradient_accuracy;
use memory::memory;
use three_body::three_body;

/// The experiments this module runs.
pub const NAMES: &[&str] = &["gradient-accuracy", "three-body", "memory"];

/// Runs experiment `name`, writing its results under `out_dir`.
pub fn run(name: &str, quick: bool, out_dir: &Path) -> Result<()> {
    std::fs::create_dir_all(out_dir).with_context(|| format!("creating {}", out_dir.display()))?;
    let start = Instant::now();
    let md = match name {
        "gradient-accuracy" => gradient_accuracy(quick, out_dir)?,
        "three-body" => three_body(quick, out_dir)?,
        "memory" => memory(quick, out_dir)?,
        other => bail!("unknown experiment `{other}`; known: {}", NAMES.join(", ")),
    };
    let path = out_dir.join(format!("{name}.md"));
    std::fs::write(&path, &md).with_context(|| format!("writing {}", path.display()))?;
    println!("{md}");
    eprintln!("[{name}] done in {:.1} s; results in {}", start.elapsed().as_secs_f64(), out_dir.display());
    Ok(())
}

type State = Array1<f64>;

/// A loss of the outputs: its value and `dL/dy_i` for every output.
type Loss<'a> = &'a dyn Fn(&[State]) -> (f64, Vec<State>);

/// One gradient: loss, dL/dy0, dL/dtheta and the work counters.
struct Grad<P> {
    loss: f64,
    dy0: State,
    dtheta: P,
    fwd: Stats,
    bwd: BackwardStats,
}

/// Forward solve plus backward pass of `loss`.
fn gradient<F: VjpRhs<State>>(
    f: &F,
    y0: &State,
    ts: &[f64],
    opts: &SolveOptions,
    method: &GradientMethod,
    loss: Loss<'_>,
) -> Result<Grad<F::Params>> {
    let name = method.name();
    let fwd = solve_with_grad(f, y0.clone(), ts, opts, method).with_context(|| format!("{name} forward"))?;
    let (value, dl_dys) = loss(&fwd.solution.ys);
    let g = fwd.backward(f, &dl_dys).with_context(|| format!("{name} backward"))?;
    Ok(Grad { loss: value, dy0: g.dy0, dtheta: g.dtheta, fwd: fwd.solution.stats, bwd: g.stats })
}

/// Runs `f` `repeats` times; returns the result of the fastest run and its
/// wall time in seconds.
fn best_of<T>(repeats: usize, mut f: impl FnMut() -> Result<T>) -> Result<(T, f64)> {
    let mut best: Option<(T, f64)> = None;
    for _ in 0..repeats.max(1) {
        let start = Instant::now();
        let out = f()?;
        let secs = start.elapsed().as_secs_f64();
        if best.as_ref().is_none_or(|(_, b)| secs < *b) {
            best = Some((out, secs));
        }
    }
    best.ok_or_else(|| anyhow!("no run"))
}

/// `||(a_y, a_p) - (b_y, b_p)|| / ||(b_y, b_p)||` over both parts.
fn rel_err<P: OdeState>(a: &Grad<P>, b: &Grad<P>) -> f64 {
    let dy = a.dy0.lincomb(&[(-1.0, &b.dy0)]);
    let dp = a.dtheta.lincomb(&[(-1.0, &b.dtheta)]);
    let num = dy.dot(&dy) + dp.dot(&dp);
    let den = b.dy0.dot(&b.dy0) + b.dtheta.dot(&b.dtheta);
    (num / den).sqrt()
}

fn linspace(a: f64, b: f64, n: usize) -> Vec<f64> {
    let last = (n.max(2) - 1) as f64;
    (0..n).map(|i| if i + 1 == n { b } else { a + (b - a) * i as f64 / last }).collect()
}

/// A markdown table.
fn md_table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut s = format!("| {} |\n|{}\n", headers.join(" | "), "---|".repeat(headers.len()));
    for r in rows {
        s.push_str(&format!("| {} |\n", r.join(" | ")));
    }
    s
}

fn write_json<T: Serialize>(out_dir: &Path, name: &str, value: &T) -> Result<()> {
    let path = out_dir.join(format!("{name}.json"));
    let text = serde_json::to_string_pretty(value)?;
    std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))
}

/// The three gradient methods at tolerance `tol`: ACA and the adjoint on
/// dopri5 (the adjoint's backward solve at the same tolerance), MALI on its
/// own adaptive leapfrog.
fn methods_at(tol: f64) -> Vec<(GradientMethod, SolveOptions)> {
    let opts = SolveOptions::default().tol(tol, tol);
    vec![
        (GradientMethod::Adjoint(AdjointOptions::default().tol(tol, tol)), opts.clone()),
        (GradientMethod::Aca, opts.clone()),
        (GradientMethod::Mali(MaliOptions::default()), opts.max_steps(10_000_000)),
    ]
}

/// Positions (the first `n_pos` components) of a tight dopri8 solve.
fn tight_positions(f: &ThreeBody, y0: &State, ts: &[f64]) -> Result<Vec<State>> {
    let opts = SolveOptions::default().method(&DOPRI8).tol(1e-11, 1e-13).max_steps(1_000_000);
    let sol = solve(f, y0.clone(), ts, &opts).context("reference three-body solve")?;
    let np = f.n_positions();
    Ok(sol.ys.iter().map(|y| y.slice(ndarray::s![..np]).to_owned()).collect())
}

/// Mean squared error of the positions against `targets`, and its gradient
/// (zero on the velocities).
fn position_mse(ys: &[State], targets: &[State]) -> (f64, Vec<State>) {
    let np = targets.first().map_or(0, |t| t.len());
    let scale = 1.0 / (ys.len() * np).max(1) as f64;
    let mut value = 0.0;
    let grads = ys
        .iter()
        .zip(targets)
        .map(|(y, target)| {
            let mut g = Array1::zeros(y.len());
            for k in 0..np {
                let d = y[k] - target[k];
                value += d * d * scale;
                g[k] = 2.0 * d * scale;
            }
            g
        })
        .collect();
    (value, grads)
}

fn sci(x: f64) -> String {
    format!("{x:.2e}")
}

#[cfg(test)]
mod tests {
    use super::three_body::Adam;
    use super::*;

    #[test]
    fn adam_moves_against_the_gradient() {
        let mut p = Array1::from(vec![1.0, -1.0]);
        let mut adam = Adam::new(2, 0.1, 0.5, 0.5);
        adam.step(&mut p, &Array1::from(vec![2.0, -3.0]));
        assert!((p[0] - 0.9).abs() < 1e-6 && (p[1] + 0.9).abs() < 1e-6, "{p}");
    }

    #[test]
    fn position_mse_gradient_matches_finite_differences() {
        let ys = vec![Array1::from(vec![1.0, 2.0, 5.0]), Array1::from(vec![0.5, -1.0, 7.0])];
        let targets = vec![Array1::from(vec![0.0, 1.0]), Array1::from(vec![1.0, 1.0])];
        let (value, grads) = position_mse(&ys, &targets);
        assert!((value - (1.0 + 1.0 + 0.25 + 4.0) / 4.0).abs() < 1e-12);
        assert_eq!(grads[1][2], 0.0);
        assert!((grads[1][1] - 2.0 * -2.0 / 4.0).abs() < 1e-12);
    }

    /// The quick versions of all experiments, in sequence (the memory
    /// numbers need a quiet allocator, hence one test):
    /// `cargo test -p xtask --release -- --ignored`. `REPRO_GRAD_ONLY=<name>`
    /// runs one experiment, `REPRO_GRAD_FULL=1` the full versions.
    #[test]
    #[ignore = "runs the experiments; minutes"]
    fn quick_experiments() {
        let out = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/repro");
        let only = std::env::var("REPRO_GRAD_ONLY").ok();
        let quick = std::env::var_os("REPRO_GRAD_FULL").is_none();
        for name in NAMES.iter().filter(|n| only.as_deref().is_none_or(|o| o == **n)) {
            run(name, quick, &out).unwrap();
        }
    }
}
