//! The non-stiff DETEST classes A-E (Hull, Enright, Fellen, Sedgwick 1972),
//! t in [0, 20].
//!
//! A reference end value comes from our own dopri8 at rtol 1e-13,
//! atol 1e-15; where DETEST has a closed form (or a first integral) the
//! reference is checked against it first. dopri5 and tsit5 at
//! rtol = atol = 1e-6, 1e-7, 1e-8 must then land within a stated multiple
//! of the tolerance of the reference.

use ndarray::Array1;
use ode_core::problems::{detest, Problem};
use ode_core::tableau::{ButcherTableau, DOPRI5, DOPRI8, TSIT5};
use ode_core::{solve, SolveOptions};

fn max_abs(x: &Array1<f64>) -> f64 {
    x.iter().fold(0.0f64, |m, v| m.max(v.abs()))
}

/// Mixed absolute/relative error of `y` against `r`: `max |y - r| /
/// max(1, max |r|)` (DETEST's problems have states of size 1-30).
fn mixed_error(y: &Array1<f64>, r: &Array1<f64>) -> f64 {
    max_abs(&(y - r)) / max_abs(r).max(1.0)
}

fn end_value(p: &Problem, tab: &'static ButcherTableau, rtol: f64, atol: f64) -> (Array1<f64>, usize) {
    let opts = SolveOptions::default().method(tab).tol(rtol, atol).max_steps(2_000_000);
    let sol = solve(p, p.y0.clone(), &[p.t0, p.t1], &opts)
        .unwrap_or_else(|e| panic!("{} with {} at rtol {rtol:e}: {e}", p.name, tab.name));
    (sol.ys[1].clone(), sol.stats.nfe)
}

fn reference(p: &Problem) -> Array1<f64> {
    end_value(p, &DOPRI8, 1e-13, 1e-15).0
}

/// The dopri8 reference agrees with every closed form to 1e-10 (mixed
/// error) and keeps every first integral to 1e-10.
#[test]
fn dopri8_reference_matches_closed_forms_and_invariants() {
    let mut n_exact = 0;
    let mut worst = 0.0f64;
    for p in detest::all() {
        let r = reference(&p);
        if let Some(exact) = p.exact_at(p.t1).filter(|_| p.has_exact()) {
            let e = mixed_error(&r, &exact);
            eprintln!("{}: dopri8 reference vs closed form {e:.2e}", p.name);
            assert!(e < 1e-10, "{}: reference off the closed form by {e:e}", p.name);
            worst = worst.max(e);
            n_exact += 1;
        }
        if let Some(inv) = &p.invariant {
            let d = (inv(&r) - inv(&p.y0)).abs() / inv(&p.y0).abs().max(1.0);
            assert!(d < 1e-10, "{}: invariant drift {d:e}", p.name);
        }
    }
    eprintln!("closed forms checked: {n_exact}, worst {worst:.2e}");
    assert_eq!(n_exact, 20);
}

/// C5 has no closed form: check the physics instead. Over 20 time units
/// (2000 days) the outer planets' heliocentric distances change by less
/// than 10% (near-circular orbits), Jupiter sweeps roughly 2000 / 4333 of
/// its orbit (its period in days), and the result does not depend on the
/// method (dopri5 at 1e-10 agrees with the dopri8 reference to 1e-7).
#[test]
fn c5_outer_planets_move_plausibly() {
    let p = detest::c5();
    let r = reference(&p);
    let radius = |y: &Array1<f64>, i: usize| (0..3).map(|j| y[3 * i + j].powi(2)).sum::<f64>().sqrt();
    for i in 0..5 {
        let (r0, r1) = (radius(&p.y0, i), radius(&r, i));
        assert!((r1 / r0 - 1.0).abs() < 0.1, "planet {i}: radius {r0} -> {r1}");
    }
    let angle = |y: &Array1<f64>| y[1].atan2(y[0]);
    let mut swept = angle(&r) - angle(&p.y0);
    if swept < 0.0 {
        swept += 2.0 * std::f64::consts::PI;
    }
    let expected = 2.0 * std::f64::consts::PI * 2000.0 / 4332.6;
    assert!((swept - expected).abs() < 0.15, "Jupiter swept {swept} rad, expected about {expected}");
    let (y5, _) = end_value(&p, &DOPRI5, 1e-10, 1e-10);
    assert!(mixed_error(&y5, &r) < 1e-7);
}

/// B3's first component is `e^-t` although the system has no closed form.
#[test]
fn b3_first_component() {
    let p = detest::b3();
    let r = reference(&p);
    assert!((r[0] - (-20f64).exp()).abs() < 1e-15, "{}", r[0]);
}

/// The multiple of the tolerance each method may be off the reference at
/// t = 20: the global error accumulated over 20 time units. Measured worst
/// cases (dopri5 / tsit5, rtol = atol = 1e-6..1e-8): class A 14 / 14,
/// B 41 / 38, C 9 / 4, E 46 / 22 times tol. Class D (Kepler orbits, up to
/// 3 revolutions) is ill-conditioned in phase: dopri5 reaches 970 x tol on
/// D1 at 1e-6 and 540 x on D5, tsit5 540 x on D5, and even dopri8 and
/// bosh3 end 50-600 x tol off on D1-D5 at these tolerances, so the bound
/// there is 2000 x tol.
fn allowed_multiple(class: char) -> f64 {
    if class == 'D' {
        2000.0
    } else {
        100.0
    }
}

fn check_class(class: char, tab: &'static ButcherTableau) {
    for p in detest::class(class) {
        let r = reference(&p);
        for tol in [1e-6, 1e-7, 1e-8] {
            let (y, nfe) = end_value(&p, tab, tol, tol);
            let e = mixed_error(&y, &r);
            eprintln!(
                "{:6} {}: tol {tol:.0e} error {e:.2e} ({:.2} x tol), nfe {nfe}",
                tab.name,
                p.name,
                e / tol
            );
            assert!(
                e <= allowed_multiple(class) * tol,
                "{} on {} at tol {tol:e}: error {e:e} = {:.1} x tol",
                tab.name,
                p.name,
                e / tol
            );
        }
    }
}

#[test]
fn class_a_dopri5() {
    check_class('A', &DOPRI5);
}
#[test]
fn class_a_tsit5() {
    check_class('A', &TSIT5);
}
#[test]
fn class_b_dopri5() {
    check_class('B', &DOPRI5);
}
#[test]
fn class_b_tsit5() {
    check_class('B', &TSIT5);
}
#[test]
fn class_c_dopri5() {
    check_class('C', &DOPRI5);
}
#[test]
fn class_c_tsit5() {
    check_class('C', &TSIT5);
}
#[test]
fn class_d_dopri5() {
    check_class('D', &DOPRI5);
}
#[test]
fn class_d_tsit5() {
    check_class('D', &TSIT5);
}
#[test]
fn class_e_dopri5() {
    check_class('E', &DOPRI5);
}
#[test]
fn class_e_tsit5() {
    check_class('E', &TSIT5);
}

/// Tighter tolerance, smaller error, more work: monotone in tol for every
/// problem with dopri5 (a coarse sanity check of the controller).
#[test]
fn tighter_tolerance_costs_more_and_is_more_accurate() {
    for p in detest::all() {
        let r = reference(&p);
        let (y6, n6) = end_value(&p, &DOPRI5, 1e-5, 1e-5);
        let (y9, n9) = end_value(&p, &DOPRI5, 1e-9, 1e-9);
        assert!(n9 > n6, "{}: nfe {n9} at 1e-9 vs {n6} at 1e-5", p.name);
        let (e6, e9) = (mixed_error(&y6, &r), mixed_error(&y9, &r));
        assert!(e9 < e6 || e9 < 1e-12, "{}: error {e9:e} at 1e-9 vs {e6:e} at 1e-5", p.name);
    }
}
