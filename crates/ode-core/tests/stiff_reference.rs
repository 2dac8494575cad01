//! Implicit solvers against published reference end values of standard
//! stiff problems, at rtol 1e-6 and 1e-8.
//!
//! The error measured is the largest relative error over the components,
//! `max_j |y_j - ref_j| / |ref_j|`, with `atol` small enough next to every
//! reference component that it is relative control that is being tested.
//! Radau5 must be within 10x rtol everywhere (it is within 0.1x). BDF is
//! within 10x on Robertson to 1e5 and HIRES; elsewhere its *global* error
//! exceeds 10x rtol because BDF controls the local error only and the
//! limit cycles (VdP, OREGO) or the long horizon (Robertson to 4e10)
//! accumulate it. scipy's BDF, the same NDF algorithm, does the same: on
//! OREGO with rtol = atol = 1e-6 it has 6.7e-5 relative error, 1.7e-6 at
//! 1e-8 (ours: 7.5e-5 and 1.6e-6). Those cases are held to the bounds in
//! `bdf_bound` below (about 2x what is measured today: 12x on Robertson to
//! 4e10, 33x on VdP, 68x/125x on OREGO at rtol 1e-6/1e-8).
#![cfg(feature = "stiff")]

use ndarray::Array1;
use ode_core::implicit::problems::{Hires, Orego, Robertson, VanDerPol};
use ode_core::implicit::{solve_stiff, StiffMethod, StiffOptions, StiffRhs};

// Reference values and where they come from: see the docs of
// `Hires::reference`, `Orego::reference` (the IVP test set),
// `Robertson::reference_1e5`/`reference_4e10` and
// `VanDerPol::reference_mu1000_t3000` (scipy at rtol 1e-13, cross-checked
// between two of its methods: no published values at these times).

struct Case {
    name: &'static str,
    y0: Array1<f64>,
    t_end: f64,
    reference: Array1<f64>,
    /// atol as a multiple of rtol.
    atol_factor: f64,
}

fn max_rel(y: &Array1<f64>, r: &Array1<f64>) -> f64 {
    y.iter().zip(r).map(|(a, b)| ((a - b) / b).abs()).fold(0.0, f64::max)
}

fn check<F: StiffRhs>(f: &F, case: &Case, method: StiffMethod, rtol: f64, bound: f64, max_steps: usize) {
    let opts = StiffOptions::new(method).tol(rtol, rtol * case.atol_factor);
    let sol = solve_stiff(f, case.y0.clone(), &[0.0, case.t_end], &opts)
        .unwrap_or_else(|e| panic!("{} {method:?} rtol {rtol:e}: {e}", case.name));
    let y = &sol.solution.ys[1];
    let err = max_rel(y, &case.reference);
    let st = sol.solution.stats;
    eprintln!(
        "{:12} {:7} rtol {rtol:.0e}: rel err {err:.2e} ({:.1}x tol), {} steps, {} rejected, nfe {}, jac {}, lu {}",
        case.name,
        method.name(),
        err / rtol,
        st.n_accepted,
        st.n_rejected,
        st.nfe,
        sol.stiff_stats.n_jac,
        sol.stiff_stats.n_lu
    );
    assert!(
        err <= bound * rtol,
        "{} {method:?} rtol {rtol:e}: relative error {err:e} > {bound} rtol",
        case.name
    );
    assert!(st.n_accepted <= max_steps, "{} {method:?}: {} steps", case.name, st.n_accepted);
}

fn all_methods(f: &impl StiffRhs, case: &Case, bdf_bound: f64) {
    for rtol in [1e-6, 1e-8] {
        // Step counts are bounded too: about 2x what the solvers take today,
        // so a regression that keeps the accuracy but loses efficiency fails.
        let steps = if rtol == 1e-6 { 4000 } else { 8000 };
        check(f, case, StiffMethod::Bdf, rtol, bdf_bound, steps);
        check(f, case, StiffMethod::Radau5, rtol, 10.0, steps);
    }
}

#[test]
fn robertson_to_1e5() {
    let case = Case {
        name: "robertson1e5",
        y0: Robertson::y0(),
        t_end: 1e5,
        reference: Robertson::reference_1e5(),
        atol_factor: 1e-10,
    };
    all_methods(&Robertson, &case, 10.0);
}

#[test]
fn robertson_to_4e10() {
    let case = Case {
        name: "robertson4e10",
        y0: Robertson::y0(),
        t_end: 4e10,
        reference: Robertson::reference_4e10(),
        atol_factor: 1e-16,
    };
    all_methods(&Robertson, &case, 25.0);
}

/// With the LU rebuilt at every change of the step size, BDF carries its
/// Newton rate across the rebuilds; the rate must still be measured again
/// from time to time, or it outlives the Jacobian's accuracy: BDF stalled
/// at order 1 with steps of 4e-4 and ran out of steps at t = 32. Measured
/// now: 876 and 1753 steps at rtol 1e-6 and 1e-8, 4.1x and 9.0x rtol.
#[test]
fn robertson_to_4e10_with_an_lu_for_every_step_size() {
    let reference = Robertson::reference_4e10();
    for rtol in [1e-6, 1e-8] {
        let opts =
            StiffOptions::new(StiffMethod::Bdf).tol(rtol, rtol * 1e-16).lu_reuse(false).max_steps(8000);
        let sol = solve_stiff(&Robertson, Robertson::y0(), &[0.0, 4e10], &opts)
            .unwrap_or_else(|e| panic!("rtol {rtol:e}: {e}"));
        let steps = sol.solution.stats.n_accepted;
        assert!(steps <= if rtol == 1e-6 { 2000 } else { 4000 }, "rtol {rtol:e}: {steps} steps");
        let err = max_rel(&sol.solution.ys[1], &reference);
        assert!(err <= 25.0 * rtol, "rtol {rtol:e}: relative error {err:e}");
    }
}

#[test]
fn hires() {
    let case = Case {
        name: "hires",
        y0: Hires::y0(),
        t_end: Hires::T_END,
        reference: Hires::reference(),
        atol_factor: 1e-4,
    };
    all_methods(&Hires, &case, 10.0);
}

#[test]
fn orego() {
    let case = Case {
        name: "orego",
        y0: Orego::y0(),
        t_end: Orego::T_END,
        reference: Orego::reference(),
        atol_factor: 1e-3,
    };
    all_methods(&Orego, &case, 250.0);
}

#[test]
fn van_der_pol_mu_1000() {
    let case = Case {
        name: "vdp1000",
        y0: VanDerPol::y0(),
        t_end: 3000.0,
        reference: VanDerPol::reference_mu1000_t3000(),
        atol_factor: 1e-4,
    };
    all_methods(&VanDerPol { mu: 1000.0 }, &case, 70.0);
}
