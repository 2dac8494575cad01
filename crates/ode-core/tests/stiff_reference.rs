//! Implicit solvers against published reference end values of standard
//! stiff problems, at rtol 1e-6 and 1e-8.
//!
//! The error measured is the largest relative error over the components,
//! `max_j |y_j - ref_j| / |ref_j|`, with `atol` small enough next to every
//! reference component that it is relative control that is being tested.
//!
//! Radau5 must be within 10x rtol everywhere (it is within 0.1x), and so
//! must BDF on Robertson (to 1e5 and to 4e10) and HIRES. On the two limit
//! cycles, VdP and OREGO, neither our BDF nor scipy's, both of which
//! control the local error, gets there at the requested rtol: each cycle's
//! sharp transitions turn local errors into a phase error that grows from
//! cycle to cycle. scipy's BDF,
//! the same NDF algorithm, is 31x/36x rtol on VdP and 47x/150x on OREGO
//! (rtol 1e-6/1e-8), ours 35x/37x and 61x/101x. So there BDF is held to
//! two things that could each fail:
//! - no more than 2x scipy's error at the same rtol and atol;
//! - asked for rtol / 30, its error is within 10x the nominal rtol
//!   (measured 0.9x/1.4x on VdP, 2.5x/5.2x on OREGO): the global error
//!   falls in proportion to the tolerance, and the factor that
//!   `StiffMethod::Bdf`'s documentation gives users is enough.
#![cfg(feature = "stiff")]

use ndarray::Array1;
use ode_core::implicit::problems::{Hires, Orego, Robertson, VanDerPol};
use ode_core::implicit::{solve_stiff, StiffMethod, StiffOptions, StiffRhs};

// Reference values and where they come from: see the docs of
// `Hires::reference`, `Orego::reference` (the IVP test set),
// `Robertson::reference_1e5`/`reference_4e10` and
// `VanDerPol::reference_mu1000_t3000` (scipy at rtol 1e-13, cross-checked
// between two of its methods: no published values at these times).

/// scipy 1.17.1 `solve_ivp(method="BDF")` at the same rtol and atol as
/// these tests, against the same references: the `peer err` column of
/// `cargo xtask bench stiff` (`target/bench/stiff.json`), at rtol 1e-6
/// and 1e-8.
const SCIPY_BDF_VDP: [f64; 2] = [3.1e-5, 3.6e-7];
const SCIPY_BDF_OREGO: [f64; 2] = [4.7e-5, 1.5e-6];

/// How close to the reference BDF must come.
#[derive(Clone, Copy)]
enum BdfBound {
    /// Within 10x rtol, as Radau5.
    TenTimesRtol,
    /// A limit cycle: within 2x scipy's BDF error at rtol 1e-6 and 1e-8,
    /// and within 10x rtol when asked for rtol / 30.
    LikeScipy([f64; 2]),
}

/// How much tighter than the nominal rtol BDF is asked in `LikeScipy`.
const TIGHTEN: f64 = 30.0;

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

/// Solves and returns the relative error; fails on an error of the solver
/// or on more than `max_steps` steps.
fn solve_err<F: StiffRhs>(f: &F, case: &Case, method: StiffMethod, rtol: f64, max_steps: usize) -> f64 {
    let opts = StiffOptions::new(method).tol(rtol, rtol * case.atol_factor);
    let sol = solve_stiff(f, case.y0.clone(), &[0.0, case.t_end], &opts)
        .unwrap_or_else(|e| panic!("{} {method:?} rtol {rtol:e}: {e}", case.name));
    let err = max_rel(&sol.solution.ys[1], &case.reference);
    let st = sol.solution.stats;
    eprintln!(
        "{:12} {:7} rtol {rtol:.1e}: rel err {err:.2e}, {} steps, {} rejected, nfe {}, jac {}, lu {}",
        case.name,
        method.name(),
        st.n_accepted,
        st.n_rejected,
        st.nfe,
        sol.stiff_stats.n_jac,
        sol.stiff_stats.n_lu
    );
    assert!(st.n_accepted <= max_steps, "{} {method:?}: {} steps", case.name, st.n_accepted);
    err
}

fn all_methods(f: &impl StiffRhs, case: &Case, bdf: BdfBound) {
    for (i, rtol) in [1e-6, 1e-8].into_iter().enumerate() {
        // Step counts are bounded too: about 2x what the solvers take today,
        // so a regression that keeps the accuracy but loses efficiency fails.
        let steps = if rtol == 1e-6 { 4000 } else { 8000 };
        let name = case.name;
        let err = solve_err(f, case, StiffMethod::Radau5, rtol, steps);
        assert!(err <= 10.0 * rtol, "{name} radau5 rtol {rtol:e}: relative error {err:e} > 10 rtol");
        let err = solve_err(f, case, StiffMethod::Bdf, rtol, steps);
        match bdf {
            BdfBound::TenTimesRtol => {
                assert!(err <= 10.0 * rtol, "{name} bdf rtol {rtol:e}: relative error {err:e} > 10 rtol")
            }
            BdfBound::LikeScipy(scipy) => {
                assert!(
                    err <= 2.0 * scipy[i],
                    "{name} bdf rtol {rtol:e}: {err:e} > 2x scipy's {:e}",
                    scipy[i]
                );
                let tight = solve_err(f, case, StiffMethod::Bdf, rtol / TIGHTEN, 3 * steps);
                assert!(
                    tight <= 10.0 * rtol,
                    "{name} bdf rtol {rtol:e} / {TIGHTEN}: relative error {tight:e} > 10 rtol"
                );
            }
        }
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
    all_methods(&Robertson, &case, BdfBound::TenTimesRtol);
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
    all_methods(&Robertson, &case, BdfBound::TenTimesRtol);
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
    all_methods(&Hires, &case, BdfBound::TenTimesRtol);
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
    all_methods(&Orego, &case, BdfBound::LikeScipy(SCIPY_BDF_OREGO));
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
    all_methods(&VanDerPol { mu: 1000.0 }, &case, BdfBound::LikeScipy(SCIPY_BDF_VDP));
}
