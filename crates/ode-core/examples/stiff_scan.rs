//! Work statistics of a stiff method averaged over many tolerances, with
//! LU reuse off and on: `points` tolerances spaced evenly in log scale over
//! [1e-6, 2e-6) and over [1e-8, 2e-8) on Robertson, Van der Pol (mu 1000),
//! HIRES, OREGO and the banded heat equation on 100 points.
//!
//! ```text
//! cargo run --release -p ode-core --example stiff_scan -- [--method auto|bdf|radau|adams]
//!     [--points 20] [--problem orego]
//! ```
//!
//! `stiff_stats` prints one solve per tolerance, and `Auto`'s counts there
//! depend on where its switches happen to land: on OREGO at tolerances a
//! few percent apart it took 1300 or 3000 steps before the switch after
//! stability-limited Adams steps. Means and maxima over a range show such
//! outliers and compare versions more fairly than any single tolerance.

use ndarray::Array1;
use ode_core::implicit::problems::{Heat1d, Hires, Orego, Robertson, VanDerPol};
use ode_core::implicit::{solve_stiff, StiffMethod, StiffOptions, StiffRhs};

/// One test problem: its right-hand side, interval and reference.
struct Case<'a> {
    name: &'a str,
    f: &'a dyn StiffRhs,
    y0: Array1<f64>,
    t_end: f64,
    reference: Array1<f64>,
    /// atol = rtol * atol_factor.
    atol_factor: f64,
    banded: bool,
}

fn max_rel(y: &Array1<f64>, r: &Array1<f64>) -> f64 {
    y.iter().zip(r).map(|(a, b)| ((a - b) / b).abs()).fold(0.0, f64::max)
}

/// Solves at `points` tolerances from `base` up to twice it and prints the
/// means (and maxima of steps and error) with reuse off, then on.
fn scan(case: &Case, method: StiffMethod, base: f64, points: usize) {
    for reuse in [false, true] {
        let mut sum = [0.0f64; 6];
        let (mut max_steps, mut max_err) = (0usize, 0.0f64);
        let mut failed = 0;
        for i in 0..points {
            let rtol = base * 2f64.powf(i as f64 / points as f64);
            let mut opts = StiffOptions::new(method)
                .tol(rtol, rtol * case.atol_factor)
                .lu_reuse(reuse)
                .max_steps(1_000_000);
            if case.banded {
                opts = opts.banded(1, 1);
            }
            let Ok(sol) = solve_stiff(case.f, case.y0.clone(), &[0.0, case.t_end], &opts) else {
                failed += 1;
                continue;
            };
            let (st, ss) = (sol.solution.stats, sol.stiff_stats);
            let err = max_rel(&sol.solution.ys[1], &case.reference) / rtol;
            let row = [st.n_accepted, st.nfe, ss.n_jac, ss.n_lu, ss.n_switches].map(|v| v as f64);
            for (s, v) in sum.iter_mut().zip(row.iter().chain([err].iter())) {
                *s += v;
            }
            max_steps = max_steps.max(st.n_accepted);
            max_err = max_err.max(err);
        }
        let k = (points - failed).max(1) as f64;
        let [steps, nfe, jac, lu, sw, err] = sum.map(|s| s / k);
        println!(
            "{:10} {:5} {base:7.0e} {:>5} {steps:8.1} {max_steps:6} {nfe:8.1} {jac:6.1} {lu:6.1} {sw:5.1} {err:8.1} {max_err:8.1} {failed:4}",
            case.name,
            method.name(),
            if reuse { "on" } else { "off" },
        );
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let arg = |flag: &str| args.iter().position(|a| a == flag).and_then(|i| args.get(i + 1)).cloned();
    let points: usize = arg("--points").and_then(|s| s.parse().ok()).unwrap_or(20).max(1);
    let method = match arg("--method").as_deref().unwrap_or("auto") {
        "bdf" => StiffMethod::Bdf,
        "radau" => StiffMethod::Radau5,
        "adams" => StiffMethod::Adams,
        _ => StiffMethod::Auto,
    };
    let only = arg("--problem");
    let (vdp, heat) = (VanDerPol { mu: 1000.0 }, Heat1d { n: 100 });
    let case = |name, f, y0, t_end, reference, atol_factor, banded| Case {
        name,
        f,
        y0,
        t_end,
        reference,
        atol_factor,
        banded,
    };
    let cases = [
        case(
            "robertson",
            &Robertson as &dyn StiffRhs,
            Robertson::y0(),
            1e5,
            Robertson::reference_1e5(),
            1e-10,
            false,
        ),
        case("vdp1000", &vdp, VanDerPol::y0(), 3000.0, VanDerPol::reference_mu1000_t3000(), 1e-4, false),
        case("hires", &Hires, Hires::y0(), Hires::T_END, Hires::reference(), 1e-4, false),
        case("orego", &Orego, Orego::y0(), Orego::T_END, Orego::reference(), 1e-3, false),
        case("heat100b", &heat, heat.y0(), 0.1, heat.exact(0.1), 1e-3, true),
    ];
    println!(
        "{:10} {:5} {:>7} {:>5} {:>8} {:>6} {:>8} {:>6} {:>6} {:>5} {:>8} {:>8} {:>4}",
        "problem",
        "meth",
        "rtol",
        "reuse",
        "steps",
        "max",
        "nfe",
        "jac",
        "lu",
        "sw",
        "err/tol",
        "max",
        "fail"
    );
    for base in [1e-6, 1e-8] {
        for c in cases.iter().filter(|c| only.as_deref().is_none_or(|p| p == c.name)) {
            scan(c, method, base, points);
        }
    }
}
