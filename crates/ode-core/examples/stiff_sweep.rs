//! Robustness sweep of the stiff solvers: every standard stiff problem with
//! BDF, Radau5 and Auto, at tolerances from 1e-1 to 1e-12, once from its
//! own t0 and once with the time origin moved to 1e5 (the problems are
//! autonomous: only the rounding of t changes). Prints each solve that
//! fails, or at rtol <= 1e-3 lands more than 1000 rtol from the
//! reference, then a count.
//!
//! ```text
//! cargo run --release -p ode-core --example stiff_sweep -- [--shift 1e5]
//! ```
//!
//! It found the step size underflows at tight tolerances far from t = 0,
//! the drift of t over many steps, and BDF's Newton failures on OREGO at
//! loose tolerances (tests/stiff_robustness.rs keeps each).

use ndarray::Array1;
use ode_core::implicit::problems::{Heat1d, Hires, Orego, Robertson, Shifted, VanDerPol};
use ode_core::implicit::{solve_stiff, StiffMethod, StiffOptions, StiffRhs};

const RTOLS: [f64; 14] =
    [1e-1, 3e-2, 1e-2, 3e-3, 1e-3, 3e-4, 1e-4, 3e-5, 1e-5, 1e-7, 1e-9, 1e-10, 1e-11, 1e-12];

struct Case<'a> {
    name: &'static str,
    f: &'a dyn StiffRhs,
    y0: Array1<f64>,
    t1: f64,
    reference: Array1<f64>,
    /// atol = rtol * atol_factor.
    atol_factor: f64,
}

/// Counts of solves, failures and inaccurate results.
#[derive(Default)]
struct Tally {
    solves: usize,
    failed: usize,
    inaccurate: usize,
}

fn sweep(case: &Case, shift: f64, tally: &mut Tally) {
    let f = Shifted(case.f, shift);
    let (t0, t1) = (shift, shift + case.t1);
    for method in [StiffMethod::Bdf, StiffMethod::Radau5, StiffMethod::Auto] {
        for rtol in RTOLS {
            tally.solves += 1;
            let opts = StiffOptions::new(method).tol(rtol, rtol * case.atol_factor).max_steps(2_000_000);
            let label = format!("{:10} t0 {shift:<6e} {:6} rtol {rtol:<6e}", case.name, method.name());
            match solve_stiff(&f, case.y0.clone(), &[t0, t1], &opts) {
                Ok(sol) => {
                    let y = &sol.solution.ys[1];
                    let err =
                        y.iter().zip(&case.reference).map(|(a, b)| ((a - b) / b).abs()).fold(0.0, f64::max);
                    // Global errors of BDF reach about 100x rtol (tests/
                    // stiff_reference.rs); 1000x means something went
                    // wrong. Above 1e-3 an oscillation's phase is loose
                    // enough for any relative error: only failures count.
                    if err.is_nan() || (rtol <= 1e-3 && err > (1000.0 * rtol).max(1e-9)) {
                        tally.inaccurate += 1;
                        println!(
                            "{label}: relative error {err:.1e} ({} steps)",
                            sol.solution.stats.n_accepted
                        );
                    }
                }
                Err(e) => {
                    tally.failed += 1;
                    println!("{label}: FAILED: {e}");
                }
            }
        }
    }
}

fn main() {
    let shift: f64 =
        std::env::args().skip_while(|a| a != "--shift").nth(1).and_then(|s| s.parse().ok()).unwrap_or(1e5);
    let (vdp, heat) = (VanDerPol { mu: 1000.0 }, Heat1d { n: 100 });
    let cases = [
        Case {
            name: "robertson",
            f: &Robertson,
            y0: Robertson::y0(),
            t1: 1e5,
            reference: Robertson::reference_1e5(),
            atol_factor: 1e-10,
        },
        Case {
            name: "vdp1000",
            f: &vdp,
            y0: VanDerPol::y0(),
            t1: 3000.0,
            reference: VanDerPol::reference_mu1000_t3000(),
            atol_factor: 1e-4,
        },
        Case {
            name: "hires",
            f: &Hires,
            y0: Hires::y0(),
            t1: Hires::T_END,
            reference: Hires::reference(),
            atol_factor: 1e-4,
        },
        Case {
            name: "orego",
            f: &Orego,
            y0: Orego::y0(),
            t1: Orego::T_END,
            reference: Orego::reference(),
            atol_factor: 1e-3,
        },
        Case {
            name: "heat100",
            f: &heat,
            y0: heat.y0(),
            t1: 0.1,
            reference: heat.exact(0.1),
            atol_factor: 1e-3,
        },
    ];
    let mut tally = Tally::default();
    for case in &cases {
        for s in [0.0, shift] {
            // From a shifted origin the interval itself is rounded: the
            // reference is the exact solution at its length.
            let reference =
                if case.name == "heat100" { heat.exact((s + case.t1) - s) } else { case.reference.clone() };
            sweep(&Case { reference, y0: case.y0.clone(), ..*case }, s, &mut tally);
        }
    }
    println!("{} solves: {} failed, {} inaccurate", tally.solves, tally.failed, tally.inaccurate);
}
