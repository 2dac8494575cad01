//! Implicit Adams (variable order 1-12, Nordsieck form, functional
//! iteration) and the automatic Adams/BDF switching of `StiffMethod::Auto`.

use ndarray::{array, Array1};
use ode_core::implicit::problems::{Hires, Robertson, VanDerPol};
use ode_core::implicit::{solve_stiff, StiffMethod, StiffOptions, StiffRhs};
use ode_core::problems::{self, detest, Problem};

/// Least-squares slope of log(err) against log(h).
fn slope(hs: &[f64], errs: &[f64]) -> f64 {
    let xs: Vec<f64> = hs.iter().map(|h| h.ln()).collect();
    let ys: Vec<f64> = errs.iter().map(|e| e.ln()).collect();
    let n = xs.len() as f64;
    let (mx, my) = (xs.iter().sum::<f64>() / n, ys.iter().sum::<f64>() / n);
    let cov: f64 = xs.iter().zip(&ys).map(|(x, y)| (x - mx) * (y - my)).sum();
    let var: f64 = xs.iter().map(|x| (x - mx) * (x - mx)).sum();
    cov / var
}

fn max_abs(a: &Array1<f64>, b: &Array1<f64>) -> f64 {
    (a - b).iter().fold(0.0, |m, v| m.max(v.abs()))
}

#[test]
fn fixed_order_convergence() {
    // The harmonic oscillator y0' = y1, y1' = -y0 on [0, 10] at constant
    // step and order, against cos/sin (largest error of both components).
    let f = |_t: f64, y: &Array1<f64>| array![y[1], -y[0]];
    let exact = array![10f64.cos(), -10f64.sin()];
    for q in [1usize, 2, 4, 6] {
        let ns: Vec<usize> = match q {
            // Backward Euler's damping is far from asymptotic at coarse steps.
            1 => vec![640, 1280, 2560, 5120],
            6 => vec![40, 80, 160, 320],
            _ => vec![80, 160, 320, 640],
        };
        let mut hs = Vec::new();
        let mut errs = Vec::new();
        for &n in &ns {
            let h = 10.0 / n as f64;
            let opts = StiffOptions::new(StiffMethod::Adams).fixed_step(h).max_order(q);
            let sol = solve_stiff(&f, array![1.0, 0.0], &[0.0, 10.0], &opts).unwrap();
            assert_eq!(sol.solution.stats.n_accepted, n, "q = {q}");
            hs.push(h);
            errs.push(max_abs(&sol.solution.ys[1], &exact));
        }
        let p = slope(&hs, &errs);
        eprintln!("Adams order {q}: errors {errs:?}, slope {p:.2}");
        assert!((p - q as f64).abs() < 0.3, "Adams order {q}: observed order {p:.2}");
    }
}

fn run(
    p: &Problem,
    method: StiffMethod,
    rtol: f64,
    atol: f64,
) -> (f64, usize, usize, ode_core::implicit::StiffStats) {
    let rhs = |t: f64, y: &Array1<f64>| p.f(t, y);
    let opts = StiffOptions::new(method).tol(rtol, atol);
    let sol = solve_stiff(&rhs, p.y0.clone(), &[p.t0, p.t1], &opts)
        .unwrap_or_else(|e| panic!("{} {method:?}: {e}", p.name));
    let exact = p.exact_at(p.t1).unwrap();
    let y = &sol.solution.ys[1];
    let err = (y - &exact)
        .iter()
        .zip(exact.iter())
        .map(|(d, e)| d.abs() / (atol + rtol * e.abs()))
        .fold(0.0, f64::max);
    (err, sol.solution.stats.n_accepted, sol.solution.stats.nfe, sol.stiff_stats)
}

#[test]
fn adams_non_stiff_accuracy() {
    let cases =
        vec![problems::arenstorf(), detest::a3(), detest::a4(), detest::b4(), detest::b5(), detest::b2()];

    for p in cases {
        for rtol in [1e-6, 1e-9] {
            for method in [StiffMethod::Adams, StiffMethod::Auto, StiffMethod::Bdf] {
                let (err, steps, nfe, st) = run(&p, method, rtol, rtol * 1e-3);
                eprintln!(
                    "{:10} {:6} rtol {rtol:.0e}: err {err:.2} tol, {steps} steps, nfe {nfe}, switches {}",
                    p.name,
                    method.name(),
                    st.n_switches
                );
            }
        }
    }
}

#[test]
fn debug_one() {
    let Ok(name) = std::env::var("ADAMS_CASE") else { return };
    let p = detest::by_name(&name).unwrap_or_else(problems::arenstorf);
    let rtol: f64 = std::env::var("ADAMS_TOL").map(|s| s.parse().unwrap()).unwrap_or(1e-9);
    let (err, steps, nfe, st) = run(&p, StiffMethod::Auto, rtol, rtol * 1e-3);
    eprintln!("{} err {err:.2} steps {steps} nfe {nfe} {st:?}", p.name);
}

#[test]
fn debug_fixed() {
    let Ok(q) = std::env::var("ADAMS_Q") else { return };
    let q: usize = q.parse().unwrap();
    let t1: f64 = std::env::var("ADAMS_T").map(|s| s.parse().unwrap()).unwrap_or(2.0);
    let f = |_t: f64, y: &Array1<f64>| array![y[1], -y[0]];
    let exact = t1.cos();
    for n in [10usize, 15, 20, 30, 40, 60, 80, 120, 160, 240, 320] {
        let h = t1 / n as f64;
        let opts = StiffOptions::new(StiffMethod::Adams).fixed_step(h).max_order(q).tol(1e-12, 1e-12);
        let sol = solve_stiff(&f, array![1.0, 0.0], &[0.0, t1], &opts).unwrap();
        let y = &sol.solution.ys[1];
        eprintln!("n {n} err {:.3e}", (y[0] - exact).abs().max((y[1] + t1.sin()).abs()));
    }
}

struct StiffCase {
    name: &'static str,
    y0: Array1<f64>,
    t_end: f64,
    reference: Array1<f64>,
    atol_factor: f64,
}

fn max_rel(y: &Array1<f64>, r: &Array1<f64>) -> f64 {
    y.iter().zip(r).map(|(a, b)| ((a - b) / b).abs()).fold(0.0, f64::max)
}

fn stiff_run<F: StiffRhs>(
    f: &F,
    case: &StiffCase,
    method: StiffMethod,
    rtol: f64,
) -> (f64, ode_core::Stats, ode_core::implicit::StiffStats) {
    let opts = StiffOptions::new(method).tol(rtol, rtol * case.atol_factor);
    let sol = solve_stiff(f, case.y0.clone(), &[0.0, case.t_end], &opts)
        .unwrap_or_else(|e| panic!("{} {method:?}: {e}", case.name));
    let err = max_rel(&sol.solution.ys[1], &case.reference);
    let (st, ss) = (sol.solution.stats, sol.stiff_stats);
    eprintln!(
        "{:12} {:5} rtol {rtol:.0e}: rel err {err:.2e} ({:.1}x), {} steps ({} adams, {} bdf), {} rejected, nfe {}, jac {}, lu {}, switches {}",
        case.name, method.name(), err / rtol, st.n_accepted, ss.n_adams_steps, ss.n_bdf_steps, st.n_rejected, st.nfe, ss.n_jac, ss.n_lu, ss.n_switches
    );
    (err, st, ss)
}

#[test]
fn auto_on_stiff_problems() {
    let cases = [
        (
            StiffCase {
                name: "robertson",
                y0: Robertson::y0(),
                t_end: 1e5,
                reference: Robertson::reference_1e5(),
                atol_factor: 1e-10,
            },
            0,
        ),
        (
            StiffCase {
                name: "vdp1000",
                y0: VanDerPol::y0(),
                t_end: 3000.0,
                reference: VanDerPol::reference_mu1000_t3000(),
                atol_factor: 1e-4,
            },
            1,
        ),
        (
            StiffCase {
                name: "hires",
                y0: Hires::y0(),
                t_end: Hires::T_END,
                reference: Hires::reference(),
                atol_factor: 1e-4,
            },
            2,
        ),
    ];
    for (case, which) in cases {
        let rtol = 1e-6;
        for method in [StiffMethod::Auto, StiffMethod::Bdf] {
            match which {
                0 => stiff_run(&Robertson, &case, method, rtol),
                1 => stiff_run(&VanDerPol { mu: 1000.0 }, &case, method, rtol),
                _ => stiff_run(&Hires, &case, method, rtol),
            };
        }
    }
}
