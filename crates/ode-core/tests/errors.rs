//! Every `SolveError` variant is reachable from bad input or a bad problem,
//! carries what it promises (t, h, the partial solution), and no input makes
//! `solve` panic.

use ndarray::{array, Array1};
use ode_core::problems;
use ode_core::tableau::{ButcherTableau, DOPRI5, DOPRI8, EULER, MIDPOINT, RK4, RK4_38, TSIT5};
use ode_core::{solve, solve_batch, solve_with_event, Controller, SolveError, SolveOptions, StepSize};
use proptest::prelude::*;

mod common;
use common::{mostly, output_times, special_f64};

type Err1 = SolveError<Array1<f64>>;

fn decay(_t: f64, y: &Array1<f64>) -> Array1<f64> {
    -y
}

fn run(ts: &[f64], opts: &SolveOptions) -> Result<(), Err1> {
    solve(&decay, array![1.0, 2.0], ts, opts).map(|_| ())
}

fn opts() -> SolveOptions {
    SolveOptions::default()
}

// ---------------------------------------------------------------------------
// InvalidTimes.
// ---------------------------------------------------------------------------

#[test]
fn invalid_times() {
    let cases: Vec<(&str, Vec<f64>)> = vec![
        ("empty", vec![]),
        ("not monotonic", vec![0.0, 2.0, 1.0]),
        ("not monotonic backwards", vec![3.0, 2.0, 2.5]),
        ("duplicate", vec![0.0, 1.0, 1.0, 2.0]),
        ("duplicate first", vec![0.0, 0.0]),
        ("NaN", vec![0.0, f64::NAN, 2.0]),
        ("NaN first", vec![f64::NAN, 1.0]),
        ("infinite end", vec![0.0, f64::INFINITY]),
        ("-infinite start", vec![f64::NEG_INFINITY, 0.0]),
    ];
    for (what, ts) in cases {
        for o in [opts(), opts().method(&RK4).fixed_step(0.1)] {
            match run(&ts, &o) {
                Err(SolveError::InvalidTimes { reason }) => assert!(!reason.is_empty()),
                other => panic!("{what} ({ts:?}): expected InvalidTimes, got {other:?}"),
            }
        }
    }
}

/// A single output time is the initial time: the solve succeeds trivially,
/// returns y0 and evaluates nothing (documented behaviour of `solve`; it is
/// not an InvalidTimes error).
#[test]
fn single_time_returns_the_initial_state() {
    let sol = solve(&decay, array![1.0, 2.0], &[3.0], &opts()).unwrap();
    assert_eq!(sol.ts, vec![3.0]);
    assert_eq!(sol.ys, vec![array![1.0, 2.0]]);
    assert_eq!(sol.stats.nfe, 0);
    assert!(sol.steps.is_empty());
}

// ---------------------------------------------------------------------------
// InvalidTolerance.
// ---------------------------------------------------------------------------

#[test]
fn invalid_tolerances() {
    let ts = [0.0, 1.0];
    let cases: Vec<(&str, SolveOptions)> = vec![
        ("negative rtol", opts().tol(-1e-6, 1e-9)),
        ("NaN rtol", opts().tol(f64::NAN, 1e-9)),
        ("infinite rtol", opts().tol(f64::INFINITY, 1e-9)),
        ("negative atol", opts().tol(1e-6, -1e-9)),
        ("NaN atol", opts().tol(1e-6, f64::NAN)),
        ("infinite atol", opts().tol(1e-6, f64::INFINITY)),
        ("both zero", opts().tol(0.0, 0.0)),
        ("rtol zero and one atol zero", opts().tol(0.0, vec![1e-9, 0.0])),
        ("per-component atol too short", opts().tol(1e-6, vec![1e-9])),
        ("per-component atol too long", opts().tol(1e-6, vec![1e-9; 3])),
        ("per-component atol empty", opts().tol(1e-6, Vec::<f64>::new())),
        ("per-component atol with NaN", opts().tol(1e-6, vec![1e-9, f64::NAN])),
        ("per-component atol negative", opts().tol(1e-6, vec![-1e-9, 1e-9])),
    ];
    for (what, o) in cases {
        match run(&ts, &o) {
            Err(SolveError::InvalidTolerance { reason }) => assert!(!reason.is_empty()),
            other => panic!("{what}: expected InvalidTolerance, got {other:?}"),
        }
    }
    // Zero rtol with a positive atol, and zero atol with a positive rtol,
    // are fine.
    run(&ts, &opts().tol(0.0, 1e-8)).unwrap();
    run(&ts, &opts().tol(1e-8, 0.0)).unwrap();
    // Tuple states count their components in flattened order.
    let g = |_t: f64, y: &(Array1<f64>, Array1<f64>)| (-&y.0, -&y.1);
    let r = solve(&g, (array![1.0, 2.0], array![3.0]), &ts, &opts().tol(1e-6, vec![1e-9; 2]));
    assert!(matches!(r, Err(SolveError::InvalidTolerance { .. })), "{r:?}");
    solve(&g, (array![1.0, 2.0], array![3.0]), &ts, &opts().tol(1e-6, vec![1e-9; 3])).unwrap();
}

// ---------------------------------------------------------------------------
// InvalidOption.
// ---------------------------------------------------------------------------

fn expect_option(what: &str, ts: &[f64], o: &SolveOptions, name: &str) {
    match run(ts, o) {
        Err(SolveError::InvalidOption { name: n, reason }) => {
            assert_eq!(n, name, "{what}: {reason}");
            assert!(!reason.is_empty());
        }
        other => panic!("{what}: expected InvalidOption({name}), got {other:?}"),
    }
}

#[test]
fn invalid_fixed_steps_and_grids() {
    let ts = [0.0, 1.0, 2.0];
    for h in [0.0, -0.1, f64::NAN, f64::INFINITY, -0.0] {
        expect_option(&format!("fixed step {h}"), &ts, &opts().method(&RK4).fixed_step(h), "step");
    }
    // More fixed steps than max_steps.
    expect_option("too many fixed steps", &ts, &opts().method(&RK4).fixed_step(1e-3).max_steps(100), "step");
    let grids: Vec<(&str, Vec<f64>)> = vec![
        ("grid ends before the last output time", vec![0.0, 0.5, 1.5]),
        ("grid starts after t0", vec![0.1, 1.0, 2.0]),
        ("grid starts before t0", vec![-0.5, 1.0, 2.0]),
        ("grid not monotonic", vec![0.0, 1.5, 1.0, 2.0]),
        ("grid with a duplicate", vec![0.0, 1.0, 1.0, 2.0]),
        ("grid with NaN", vec![0.0, f64::NAN, 2.0]),
        ("grid of one point", vec![0.0]),
        ("empty grid", vec![]),
        ("grid in the wrong direction", vec![0.0, -1.0, -2.0]),
    ];
    for (what, g) in grids {
        expect_option(what, &ts, &opts().method(&RK4).grid(g), "grid");
    }
    // Backwards: the grid must decrease and cover the outputs.
    expect_option("backwards grid too short", &[2.0, 0.0], &opts().method(&RK4).grid(vec![2.0, 1.0]), "grid");
    run(&[2.0, 0.0], &opts().method(&RK4).grid(vec![2.0, 1.0, 0.0])).unwrap();
}

#[test]
fn invalid_other_options() {
    let ts = [0.0, 1.0];
    expect_option("negative min_step", &ts, &opts().min_step(-1.0), "min_step");
    expect_option("NaN min_step", &ts, &opts().min_step(f64::NAN), "min_step");
    expect_option("zero max_step", &ts, &opts().max_step(0.0), "max_step");
    expect_option("NaN max_step", &ts, &opts().max_step(f64::NAN), "max_step");
    expect_option("max_step below min_step", &ts, &opts().min_step(0.1).max_step(0.01), "max_step");
    expect_option("zero max_steps", &ts, &opts().max_steps(0), "max_steps");
    expect_option("zero first_step", &ts, &opts().first_step(0.0), "first_step");
    expect_option("NaN first_step", &ts, &opts().first_step(f64::NAN), "first_step");
    expect_option("NaN in step_t", &ts, &opts().step_t(vec![0.5, f64::NAN]), "step_t");
    expect_option("inf in jump_t", &ts, &opts().jump_t(vec![f64::INFINITY]), "jump_t");
    let bad_controllers = [
        Controller::integral().with_safety(0.0),
        Controller::integral().with_safety(f64::NAN),
        Controller::integral().with_factors(2.0, 10.0),
        Controller::integral().with_factors(0.2, 0.5),
        Controller::pi(-1.0, 0.0),
        Controller::pid(0.0, 0.0, 0.0),
    ];
    for c in bad_controllers {
        expect_option(&format!("{c:?}"), &ts, &opts().controller(c), "controller");
    }
}

// ---------------------------------------------------------------------------
// UnsupportedMethod.
// ---------------------------------------------------------------------------

#[test]
fn adaptive_stepping_needs_an_error_estimator() {
    for tab in ButcherTableau::all().iter().filter(|t| !t.is_adaptive()) {
        match run(&[0.0, 1.0], &opts().method(tab)) {
            Err(SolveError::UnsupportedMethod { method, reason }) => {
                assert_eq!(method, tab.name);
                assert!(!reason.is_empty());
            }
            other => panic!("{}: expected UnsupportedMethod, got {other:?}", tab.name),
        }
        // The same method with fixed steps is fine.
        run(&[0.0, 1.0], &opts().method(tab).fixed_step(0.1)).unwrap();
    }
    assert!(!EULER.is_adaptive() && !MIDPOINT.is_adaptive() && !RK4.is_adaptive() && !RK4_38.is_adaptive());
    let e = run(&[0.0, 1.0], &opts().method(&EULER)).unwrap_err();
    assert!(e.to_string().contains("euler"), "{e}");
}

// ---------------------------------------------------------------------------
// ShapeMismatch.
// ---------------------------------------------------------------------------

#[test]
fn wrong_shape_from_f() {
    let wrong = |_t: f64, y: &Array1<f64>| Array1::zeros(y.len() + 1);
    for o in [opts(), opts().method(&RK4).fixed_step(0.1), opts().method(&DOPRI8), opts().first_step(0.1)] {
        match solve(&wrong, array![1.0, 2.0], &[0.0, 1.0], &o) {
            Err(SolveError::ShapeMismatch { t, expected, found }) => {
                assert_eq!(t, 0.0);
                assert!(expected.contains('2') && found.contains('3'), "{expected} / {found}");
            }
            other => panic!("{}: expected ShapeMismatch, got {other:?}", o.method.name),
        }
    }
    // Wrong shape only later in the solve: reported where it happened.
    let late = |t: f64, y: &Array1<f64>| if t < 0.5 { -y } else { Array1::zeros(1) };
    for o in [opts(), opts().method(&RK4).fixed_step(0.1)] {
        match solve(&late, array![1.0, 2.0], &[0.0, 1.0], &o) {
            Err(SolveError::ShapeMismatch { t, .. }) => assert!((0.5..=1.0).contains(&t), "t = {t}"),
            other => panic!("expected ShapeMismatch, got {other:?}"),
        }
    }
    // Tuples: a part of the wrong shape.
    let tup = |_t: f64, y: &(Array1<f64>, Array1<f64>)| (y.0.clone(), Array1::zeros(5));
    let r = solve(&tup, (array![1.0], array![1.0, 2.0]), &[0.0, 1.0], &opts());
    assert!(matches!(r, Err(SolveError::ShapeMismatch { .. })), "{r:?}");
    // Vec states: a different number of parts.
    let vecf = |_t: f64, y: &Vec<Array1<f64>>| vec![y[0].clone()];
    let r = solve(&vecf, vec![array![1.0], array![2.0]], &[0.0, 1.0], &opts());
    assert!(matches!(r, Err(SolveError::ShapeMismatch { .. })), "{r:?}");
}

// ---------------------------------------------------------------------------
// NonFiniteState, NonFiniteRhs.
// ---------------------------------------------------------------------------

#[test]
fn non_finite_initial_state() {
    for y0 in [array![f64::NAN, 1.0], array![1.0, f64::INFINITY], array![f64::NEG_INFINITY, 0.0]] {
        for o in [opts(), opts().method(&RK4).fixed_step(0.1)] {
            match solve(&decay, y0.clone(), &[2.0, 3.0], &o) {
                Err(SolveError::NonFiniteState { t }) => assert_eq!(t, 2.0),
                other => panic!("{y0}: expected NonFiniteState, got {other:?}"),
            }
        }
    }
    let r = solve(&|_t: f64, y: &Array1<f32>| -y, array![f32::NAN], &[0.0, 1.0], &opts());
    assert!(matches!(r, Err(SolveError::NonFiniteState { .. })));
}

/// The state itself overflows while f stays finite.
#[test]
fn state_overflow_is_non_finite_state() {
    let f = |_t: f64, y: &Array1<f64>| y.mapv(|_| 1.5e308);
    match solve(&f, array![1e308], &[0.0, 2.0], &opts().method(&EULER).fixed_step(1.0)) {
        Err(SolveError::NonFiniteState { t }) => assert_eq!(t, 1.0),
        other => panic!("expected NonFiniteState, got {other:?}"),
    }
}

#[test]
fn non_finite_rhs() {
    // NaN from the very first evaluation.
    let nan = |_t: f64, y: &Array1<f64>| y.mapv(|_| f64::NAN);
    for o in [opts(), opts().method(&RK4).fixed_step(0.1), opts().method(&TSIT5).first_step(0.01)] {
        match solve(&nan, array![1.0], &[0.0, 1.0], &o) {
            Err(SolveError::NonFiniteRhs { t }) => assert_eq!(t, 0.0),
            other => panic!("expected NonFiniteRhs, got {other:?}"),
        }
    }
    // Infinity from t = 0.3 on: adaptive solves shrink the step until it
    // cannot shrink any more, then report the non-finite rhs, not an
    // underflow; fixed-step solves report it at once.
    let late = |t: f64, y: &Array1<f64>| if t >= 0.3 { y.mapv(|_| f64::INFINITY) } else { -y };
    for o in [opts(), opts().method(&DOPRI8), opts().method(&RK4).fixed_step(0.1)] {
        match solve(&late, array![1.0], &[0.0, 1.0], &o) {
            Err(SolveError::NonFiniteRhs { t }) => {
                assert!((0.3..=1.0).contains(&t), "{}: t = {t}", o.method.name)
            }
            other => panic!("{}: expected NonFiniteRhs, got {other:?}", o.method.name),
        }
    }
}

// ---------------------------------------------------------------------------
// StepSizeUnderflow.
// ---------------------------------------------------------------------------

/// `y' = y^2`, `y(0) = 1` blows up at t = 1 (`y = 1 / (1 - t)`). Asked to
/// go to t = 2, the solve stops with an underflow whose partial solution
/// reached close to the blow-up, with correct outputs. The numerical
/// solution's own blow-up time differs from 1 by the global error: at
/// rtol 1e-7 dopri5 stops at 1 + 2.4e-8, so `t < 1` is asserted only up to
/// 1e-6 (1e-11 at rtol 1e-12: measured 1 + 1.0e-13), and strictly with a
/// min_step.
#[test]
fn blow_up_gives_step_size_underflow_with_partial_solution() {
    let f = |_t: f64, y: &Array1<f64>| y.mapv(|v| v * v);
    let ts = [0.0, 0.25, 0.5, 0.9, 0.99, 1.5, 2.0];
    let cases = [
        (opts(), 1.0 + 1e-6),
        (opts().method(&DOPRI8), 1.0 + 1e-6),
        (opts().method(&DOPRI8).tol(1e-12, 1e-12), 1.0 + 1e-11),
        (opts().min_step(1e-6), 1.0),
    ];
    for (o, t_max) in cases {
        match solve(&f, array![1.0], &ts, &o) {
            Err(SolveError::StepSizeUnderflow { t, h, partial }) => {
                eprintln!(
                    "{} rtol {:e}: stopped at {t} (h {h:e}), y {}",
                    o.method.name, o.tol.rtol, partial.y_reached
                );
                assert!(t < t_max && t > 0.99, "{}: stopped at {t}", o.method.name);
                assert!(h.abs() < 1e-2, "h = {h}");
                assert_eq!(partial.t_reached, t);
                assert!(partial.y_reached[0] > 100.0);
                assert_eq!(partial.ts, ts[..5].to_vec());
                for (t, y) in partial.ts.iter().zip(&partial.ys) {
                    assert!((y[0] - 1.0 / (1.0 - t)).abs() < 1e-5 / (1.0 - t), "{t}: {y}");
                }
                assert!(partial.stats.n_accepted > 0 && partial.stats.nfe > 0);
            }
            other => panic!("{}: expected StepSizeUnderflow, got {other:?}", o.method.name),
        }
    }
    // A larger min_step stops it earlier, still before the blow-up.
    match solve(&f, array![1.0], &ts, &opts().min_step(1e-3)) {
        Err(e @ SolveError::StepSizeUnderflow { .. }) => {
            let p = e.partial().unwrap();
            assert!(p.t_reached < 1.0, "{}", p.t_reached);
            assert!(e.to_string().contains("underflow"));
        }
        other => panic!("expected StepSizeUnderflow, got {other:?}"),
    }
}

/// A stiff problem with a min_step that an explicit method cannot honour.
/// A `max_step` below the spacing of t cannot move t: an underflow that
/// reports the step tried (it once reported h = 0).
#[test]
fn max_step_below_the_spacing_of_t_underflows() {
    let opts = SolveOptions::default().max_step(1e-300);
    match run(&[3.0, 4.0], &opts) {
        Err(SolveError::StepSizeUnderflow { t, h, .. }) => assert_eq!((t, h), (3.0, 1e-300)),
        other => panic!("expected StepSizeUnderflow, got {other:?}"),
    }
}

#[test]
fn stiff_problem_with_min_step_underflows() {
    let p = problems::van_der_pol(1e4);
    match solve(&p, p.y0.clone(), &[0.0, 3000.0], &opts().min_step(1e-3)) {
        Err(SolveError::StepSizeUnderflow { t, partial, .. }) => {
            assert!(t < 3000.0);
            assert_eq!(partial.t_reached, t);
            assert_eq!(partial.ts, vec![0.0]);
        }
        other => panic!("expected StepSizeUnderflow, got {other:?}"),
    }
}

// ---------------------------------------------------------------------------
// MaxStepsExceeded.
// ---------------------------------------------------------------------------

#[test]
fn max_steps_exceeded_carries_a_partial_solution() {
    let p = problems::sine();
    let ts = p.linspace(8);
    match solve(&p, p.y0.clone(), &ts, &opts().max_steps(20)) {
        Err(SolveError::MaxStepsExceeded { t, h, max_steps, partial }) => {
            assert_eq!(max_steps, 20);
            assert!(t > p.t0 && t < p.t1, "t = {t}");
            assert!(h > 0.0);
            assert_eq!(partial.t_reached, t);
            assert_eq!(partial.stats.n_steps(), 20);
            assert!(!partial.ts.is_empty() && partial.ts.len() < ts.len());
            assert_eq!(partial.ts, ts[..partial.ts.len()].to_vec());
            assert!(partial.ts.iter().all(|&s| s <= t));
            // The states reached are right.
            for (s, y) in partial.ts.iter().zip(&partial.ys) {
                let e = p.exact_at(*s).unwrap();
                assert!((y[0] - e[0]).abs() < 1e-5 * e[0].abs().max(1.0));
            }
            let e = p.exact_at(t).unwrap();
            assert!((partial.y_reached[0] - e[0]).abs() < 1e-5 * e[0].abs().max(1.0));
        }
        other => panic!("expected MaxStepsExceeded, got {other:?}"),
    }
    // Backwards too, and the partial() accessor.
    let r = problems::sine().reversed().unwrap();
    let e = solve(&r, r.y0.clone(), &r.linspace(8), &opts().max_steps(5)).unwrap_err();
    let part = e.partial().expect("MaxStepsExceeded has a partial solution");
    assert!(part.t_reached < 8.0 && part.t_reached > 1.0);
    assert!(e.to_string().contains("max_steps"));
    // Errors before the solve starts carry none.
    assert!(run(&[], &opts()).unwrap_err().partial().is_none());
}

// ---------------------------------------------------------------------------
// NonFiniteEvent.
// ---------------------------------------------------------------------------

#[test]
fn non_finite_event() {
    let ts = [0.0, 1.0, 2.0];
    // NaN at the start.
    match solve_with_event(&decay, array![1.0, 2.0], &ts, &opts(), |_t, _y| f64::NAN) {
        Err(SolveError::NonFiniteEvent { t }) => assert_eq!(t, 0.0),
        other => panic!("expected NonFiniteEvent, got {other:?}"),
    }
    // Infinite later on.
    let g = |t: f64, _y: &Array1<f64>| if t > 1.2 { f64::INFINITY } else { 1.0 };
    for o in [opts(), opts().method(&RK4).fixed_step(0.1)] {
        match solve_with_event(&decay, array![1.0, 2.0], &ts, &o, g) {
            Err(SolveError::NonFiniteEvent { t }) => assert!(t > 1.2 && t <= 2.0, "t = {t}"),
            other => panic!("expected NonFiniteEvent, got {other:?}"),
        }
    }
    // NaN only strictly inside a step, met while locating a crossing.
    let g = |t: f64, _y: &Array1<f64>| {
        if t > 0.3 && t < 0.6 {
            f64::NAN
        } else {
            0.5 - t
        }
    };
    match solve_with_event(&decay, array![1.0, 2.0], &ts, &opts().method(&RK4).fixed_step(1.0), g) {
        Err(SolveError::NonFiniteEvent { .. }) => {}
        other => panic!("expected NonFiniteEvent, got {other:?}"),
    }
}

/// Every error displays a message.
#[test]
fn errors_display() {
    let errors: Vec<Err1> = vec![
        run(&[], &opts()).unwrap_err(),
        run(&[0.0, 1.0], &opts().tol(-1.0, 0.0)).unwrap_err(),
        run(&[0.0, 1.0], &opts().max_steps(0)).unwrap_err(),
        run(&[0.0, 1.0], &opts().method(&EULER)).unwrap_err(),
        run(&[0.0, 1.0], &opts().max_steps(1)).unwrap_err(),
    ];
    for e in errors {
        assert!(e.to_string().len() > 10, "{e:?}");
    }
}

// ---------------------------------------------------------------------------
// No panics.
// ---------------------------------------------------------------------------

fn step_policy() -> impl Strategy<Value = StepSize> {
    prop_oneof![
        4 => Just(StepSize::Adaptive(Controller::integral())),
        1 => Just(StepSize::Adaptive(Controller::pid(0.1, 0.3, 0.05))),
        1 => Just(StepSize::Adaptive(Controller::hairer_pi())),
        2 => mostly(1e-3..2.0).prop_map(StepSize::Fixed),
        1 => prop::collection::vec(special_f64(), 0..6).prop_map(StepSize::Grid),
    ]
}

#[derive(Clone, Copy, Debug)]
enum Rhs {
    Decay,
    Square,
    Sine,
    Nan,
    WrongShape,
}

fn eval(which: Rhs, t: f64, y: &Array1<f64>) -> Array1<f64> {
    match which {
        Rhs::Decay => -y,
        Rhs::Square => y.mapv(|v| v * v),
        Rhs::Sine => y.mapv(|v| (t * v).sin() * 3.0),
        Rhs::Nan => y.mapv(|v| if v.abs() > 1.5 { f64::NAN } else { -v }),
        Rhs::WrongShape => Array1::zeros(y.len() + usize::from(t > 0.5)),
    }
}

fn check_result(r: &Result<ode_core::Solution<Array1<f64>>, Err1>, ts: &[f64], event: bool) {
    match r {
        Ok(sol) => {
            assert_eq!(sol.ts.len(), sol.ys.len());
            if event && sol.event.is_some() {
                assert_eq!(sol.ts, ts[..sol.ts.len()].to_vec());
            } else {
                assert_eq!(sol.ts, ts.to_vec());
            }
            assert_eq!(sol.steps.len(), sol.stats.n_accepted);
        }
        Err(e) => {
            let _ = e.to_string();
            if let Some(p) = e.partial() {
                assert_eq!(p.ts.len(), p.ys.len());
                assert_eq!(p.ts, ts[..p.ts.len()].to_vec());
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// Random (possibly NaN/infinite) output times, tolerances, initial
    /// values, step policies and options: `solve` returns a value, never
    /// panics, and what it returns is consistent.
    #[test]
    fn solve_never_panics(
        ts in output_times(),
        shuffle in prop::bool::weighted(0.1),
        rtol in mostly(1e-10..1e-2),
        atol in mostly(1e-12..1e-3),
        atol_vec in prop::option::weighted(0.2, prop::collection::vec(special_f64(), 0..4)),
        y0 in prop::collection::vec(mostly(-3.0..3.0), 1..4),
        method in prop_oneof![2 => 6usize..12, 1 => 0usize..6],
        step in step_policy(),
        first_step in prop::option::weighted(0.2, special_f64()),
        min_step in prop::option::weighted(0.2, mostly(0.0..1e-3)),
        max_step in prop::option::weighted(0.2, mostly(1e-3..1.0)),
        max_steps in 1usize..3000,
        step_t in prop::collection::vec(mostly(-5.0..5.0), 0..3),
        jump_t in prop::collection::vec(mostly(-5.0..5.0), 0..3),
        dense in any::<bool>(),
        rhs in prop_oneof![Just(Rhs::Decay), Just(Rhs::Square), Just(Rhs::Sine), Just(Rhs::Nan), Just(Rhs::WrongShape)],
        with_event in any::<bool>(),
    ) {
        let mut ts = ts;
        if shuffle && ts.len() > 2 {
            ts.swap(0, 1);
        }
        let mut o = SolveOptions::default().method(ButcherTableau::all()[method]).max_steps(max_steps).dense(dense);
        o = match atol_vec {
            Some(v) => o.tol(rtol, v),
            None => o.tol(rtol, atol),
        };
        o.step = step;
        o.first_step = first_step;
        if let Some(m) = min_step { o.min_step = m; }
        if let Some(m) = max_step { o.max_step = m; }
        o.step_t = step_t;
        o.jump_t = jump_t;
        let f = move |t: f64, y: &Array1<f64>| eval(rhs, t, y);
        let y0 = Array1::from(y0);
        let r = if with_event {
            solve_with_event(&f, y0.clone(), &ts, &o, |t, y: &Array1<f64>| y[0] - 0.5 + 0.0 * t)
        } else {
            solve(&f, y0.clone(), &ts, &o)
        };
        check_result(&r, &ts, with_event);
        if let Ok(sol) = &r {
            if let Some(d) = &sol.dense {
                for t in &ts {
                    let _ = d.eval(*t);
                }
                let _ = d.eval(f64::NAN);
            }
        }
    }

    /// Well-posed random problems always succeed (within generous limits)
    /// and batches agree with single solves.
    #[test]
    fn random_well_posed_problems_succeed(
        y0 in prop::collection::vec(-5.0f64..5.0, 1..5),
        t_end in prop_oneof![0.1f64..5.0, -5.0f64..-0.1],
        n_out in 2usize..8,
        rtol in 1e-10f64..1e-3,
        atol in 1e-12f64..1e-4,
        method in prop_oneof![Just(&DOPRI5), Just(&TSIT5), Just(&DOPRI8)],
    ) {
        let f = |t: f64, y: &Array1<f64>| y.mapv(|v| -0.5 * v + (t).cos());
        let ts = problems::linspace(0.0, t_end, n_out);
        let o = SolveOptions::default().method(method).tol(rtol, atol);
        let y0 = Array1::from(y0);
        let sol = solve(&f, y0.clone(), &ts, &o).unwrap();
        prop_assert_eq!(&sol.ts, &ts);
        let batch = solve_batch(&f, &[y0.clone(), y0], &ts, &o);
        for b in batch {
            prop_assert_eq!(&b.unwrap().ys, &sol.ys);
        }
    }
}
