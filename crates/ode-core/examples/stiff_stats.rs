//! Work statistics of the stiff solvers on the standard stiff problems and
//! on a few non-stiff ones: steps, evaluations of `f`, LU factorizations,
//! switches, the error against the reference and the best of `--repeats`
//! solve times (one thread; ours alone, no peer).
//!
//! ```text
//! cargo run --release -p ode-core --example stiff_stats -- [--repeats N] [--methods auto,bdf,adams]
//!     [--problem robertson] [--stiff-only] [--no-lu-reuse] [--tighten K]
//! ```
//!
//! `--tighten K` solves at `rtol / K` and `atol / K` but labels each row,
//! and divides its error, by the nominal `rtol`: it shows how much tighter
//! a method must be asked to keep its *global* error within a multiple of
//! the nominal tolerance (BDF on the limit cycles needs about K = 30 for
//! 10x; see `StiffMethod::Bdf`).
//!
//! Used to compare versions of the solvers: with the arithmetic unchanged
//! every count must stay the same to the last step.

use std::time::Instant;

use ndarray::Array1;
use ode_core::implicit::problems::{Hires, Orego, Robertson, VanDerPol};
use ode_core::implicit::{solve_stiff, StiffMethod, StiffOptions, StiffRhs};
use ode_core::problems::{self, detest, Problem};
use ode_core::tableau::DOPRI8;
use ode_core::{solve, SolveOptions};

fn max_rel(y: &Array1<f64>, r: &Array1<f64>) -> f64 {
    y.iter().zip(r).map(|(a, b)| ((a - b) / b).abs()).fold(0.0, f64::max)
}

fn mixed(y: &Array1<f64>, r: &Array1<f64>) -> f64 {
    let m = (y - r).iter().fold(0.0f64, |m, v| m.max(v.abs()));
    m / r.iter().fold(1.0f64, |m, v| m.max(v.abs()))
}

/// Solves `repeats` times; prints one row with the best time.
#[allow(clippy::too_many_arguments)]
fn row<F: StiffRhs + ?Sized>(
    name: &str,
    f: &F,
    y0: &Array1<f64>,
    t: [f64; 2],
    m: StiffMethod,
    rtol: f64,
    atol: f64,
    err: &dyn Fn(&Array1<f64>) -> f64,
    repeats: usize,
) {
    let only = std::env::args().skip_while(|a| a != "--problem").nth(1);
    if only.is_some_and(|p| p != name) {
        return;
    }
    let reuse = !std::env::args().any(|a| a == "--no-lu-reuse");
    let tighten: f64 =
        std::env::args().skip_while(|a| a != "--tighten").nth(1).and_then(|k| k.parse().ok()).unwrap_or(1.0);
    let opts = StiffOptions::new(m).tol(rtol / tighten, atol / tighten).max_steps(1_000_000).lu_reuse(reuse);
    let mut best = f64::INFINITY;
    let mut last = None;
    for _ in 0..repeats.max(1) {
        let start = Instant::now();
        let r = solve_stiff(f, y0.clone(), &t, &opts);
        best = best.min(start.elapsed().as_secs_f64());
        last = Some(r);
    }
    match last.expect("at least one solve") {
        Ok(sol) => {
            let (st, ss) = (sol.solution.stats, sol.stiff_stats);
            let e = err(&sol.solution.ys[1]);
            println!(
                "{name:10} {:5} {rtol:7.0e} {:7} {:5} {:7} {:5} {:5} {:4} {:6}/{:<6} {:9.2e} {:8.1} {:10.1}",
                m.name(),
                st.n_accepted,
                st.n_rejected,
                st.nfe,
                ss.n_jac,
                ss.n_lu,
                ss.n_switches,
                ss.n_adams_steps,
                ss.n_bdf_steps,
                e,
                e / rtol,
                best * 1e6
            );
        }
        Err(e) => println!("{name:10} {:5} {rtol:7.0e} failed: {e}", m.name()),
    }
}

fn reference(p: &Problem) -> Array1<f64> {
    p.exact_at(p.t1).unwrap_or_else(|| {
        let opts = SolveOptions::default().method(&DOPRI8).tol(1e-13, 1e-15).max_steps(1_000_000);
        solve(p, p.y0.clone(), &[p.t0, p.t1], &opts).expect("reference solve").ys[1].clone()
    })
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let arg = |flag: &str| args.iter().position(|a| a == flag).and_then(|i| args.get(i + 1)).cloned();
    let repeats: usize = arg("--repeats").and_then(|s| s.parse().ok()).unwrap_or(5);
    let methods: Vec<StiffMethod> = arg("--methods")
        .unwrap_or_else(|| "auto,bdf".into())
        .split(',')
        .filter_map(|m| match m {
            "auto" => Some(StiffMethod::Auto),
            "bdf" => Some(StiffMethod::Bdf),
            "adams" => Some(StiffMethod::Adams),
            "radau" => Some(StiffMethod::Radau5),
            _ => None,
        })
        .collect();
    let nonstiff = !args.iter().any(|a| a == "--stiff-only");
    println!(
        "{:10} {:5} {:>7} {:>7} {:>5} {:>7} {:>5} {:>5} {:>4} {:>13} {:>9} {:>8} {:>10}",
        "problem",
        "meth",
        "rtol",
        "steps",
        "rej",
        "nfe",
        "jac",
        "lu",
        "sw",
        "adams/bdf",
        "err",
        "err/tol",
        "best_us"
    );
    for &rtol in &[1e-6, 1e-8] {
        for &m in &methods {
            let rob = Robertson::reference_1e5();
            let e = |y: &Array1<f64>| max_rel(y, &rob);
            row("robertson", &Robertson, &Robertson::y0(), [0.0, 1e5], m, rtol, rtol * 1e-10, &e, repeats);
            let vdp_ref = VanDerPol::reference_mu1000_t3000();
            let e = |y: &Array1<f64>| max_rel(y, &vdp_ref);
            let vdp = VanDerPol { mu: 1000.0 };
            row("vdp1000", &vdp, &VanDerPol::y0(), [0.0, 3000.0], m, rtol, rtol * 1e-4, &e, repeats);
            let hr = Hires::reference();
            let e = |y: &Array1<f64>| max_rel(y, &hr);
            row("hires", &Hires, &Hires::y0(), [0.0, Hires::T_END], m, rtol, rtol * 1e-4, &e, repeats);
            let or = Orego::reference();
            let e = |y: &Array1<f64>| max_rel(y, &or);
            row("orego", &Orego, &Orego::y0(), [0.0, Orego::T_END], m, rtol, rtol * 1e-3, &e, repeats);
        }
    }
    if !nonstiff {
        return;
    }
    let mut lorenz = problems::lorenz();
    lorenz.t1 = 2.0;
    let cases = [
        problems::arenstorf(),
        lorenz,
        detest::a3(),
        detest::b2(),
        detest::b4(),
        detest::b5(),
        detest::c1(),
        detest::e2(),
    ];
    for p in &cases {
        let r = reference(p);
        let e = |y: &Array1<f64>| mixed(y, &r);
        let rhs = |t: f64, y: &Array1<f64>| p.f(t, y);
        for &tol in &[1e-6, 1e-9] {
            for m in [StiffMethod::Auto, StiffMethod::Adams] {
                row(&p.name, &rhs, &p.y0, [p.t0, p.t1], m, tol, tol, &e, repeats);
            }
        }
    }
}
