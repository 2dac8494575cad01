//! Malformed cotangents, unsupported combinations and failing forwards give
//! typed errors, never panics.

use ndarray::{array, Array1};
use ode_autodiff::problems::LotkaVolterra;
use ode_autodiff::{solve_with_grad, AdjointOptions, GradError, GradientMethod, MaliOptions};
use ode_core::{SolveError, SolveOptions};

fn methods() -> Vec<GradientMethod> {
    vec![
        GradientMethod::Aca,
        GradientMethod::Adjoint(AdjointOptions::default()),
        GradientMethod::Mali(MaliOptions::default()),
    ]
}

const TS: [f64; 3] = [0.0, 0.5, 1.0];

#[test]
fn wrong_cotangent_count_and_shape() {
    let f = LotkaVolterra::default();
    for m in methods() {
        let fwd = solve_with_grad(&f, array![1.0, 1.0], &TS, &SolveOptions::default(), &m).unwrap();
        let good: Vec<Array1<f64>> = vec![array![1.0, 0.0]; 3];

        let short = &good[..2];
        match fwd.backward(&f, short) {
            Err(GradError::CotangentCount { expected: 3, found: 2, .. }) => {}
            other => panic!("{}: expected CotangentCount, got {:?}", m.name(), other.map(|_| ())),
        }
        let long = vec![array![1.0, 0.0]; 4];
        assert!(matches!(
            fwd.backward(&f, &long),
            Err(GradError::CotangentCount { expected: 3, found: 4, .. })
        ));
        assert!(matches!(
            fwd.backward(&f, &[]),
            Err(GradError::CotangentCount { expected: 3, found: 0, .. })
        ));

        let mut bad = good.clone();
        bad[1] = array![1.0, 0.0, 0.0];
        match fwd.backward(&f, &bad) {
            Err(GradError::CotangentShape { index: 1, .. }) => {}
            other => panic!("{}: expected CotangentShape, got {:?}", m.name(), other.map(|_| ())),
        }
        // The valid cotangents still work after the failures.
        assert!(fwd.backward(&f, &good).is_ok());
    }
}

#[test]
fn error_cotangent_checks_for_aca() {
    let f = LotkaVolterra::default();
    let fwd =
        solve_with_grad(&f, array![1.0, 1.0], &TS, &SolveOptions::default(), &GradientMethod::Aca).unwrap();
    let n = fwd.solution.steps.len();
    let dys: Vec<Array1<f64>> = vec![array![1.0, 0.0]; 3];
    let derrs: Vec<Array1<f64>> = vec![array![0.0, 1.0]; n];
    assert!(fwd.backward_with_errors(&f, &dys, &derrs).is_ok());
    assert!(matches!(
        fwd.backward_with_errors(&f, &dys, &derrs[..n - 1]),
        Err(GradError::CotangentCount { found, expected, .. }) if found == n - 1 && expected == n
    ));
    let mut bad = derrs.clone();
    bad[n - 1] = array![0.0];
    assert!(matches!(
        fwd.backward_with_errors(&f, &dys, &bad),
        Err(GradError::CotangentShape { index, .. }) if index == n - 1
    ));
    // Output cotangents are checked too.
    assert!(matches!(
        fwd.backward_with_errors(&f, &dys[..1], &derrs),
        Err(GradError::CotangentCount { expected: 3, found: 1, .. })
    ));
}

#[test]
fn error_cotangents_unsupported_for_adjoint_and_mali() {
    let f = LotkaVolterra::default();
    for m in methods().into_iter().skip(1) {
        let fwd = solve_with_grad(&f, array![1.0, 1.0], &TS, &SolveOptions::default(), &m).unwrap();
        let n = fwd.solution.steps.len();
        let dys: Vec<Array1<f64>> = vec![array![1.0, 0.0]; 3];
        let derrs: Vec<Array1<f64>> = vec![array![0.0, 1.0]; n];
        match fwd.backward_with_errors(&f, &dys, &derrs) {
            Err(GradError::Unsupported { method, .. }) => assert_eq!(method, m.name()),
            other => panic!("{}: expected Unsupported, got {:?}", m.name(), other.map(|_| ())),
        }
        assert!(matches!(fwd.error_estimates(&f), Err(GradError::Unsupported { .. })));
    }
}

#[test]
fn nan_initial_state_is_a_solve_error() {
    let f = LotkaVolterra::default();
    for m in methods() {
        match solve_with_grad(&f, array![f64::NAN, 1.0], &TS, &SolveOptions::default(), &m) {
            Err(GradError::Solve { stage: "forward", cause: SolveError::NonFiniteState { .. } }) => {}
            Err(e) => panic!("{}: expected Solve(NonFiniteState), got {e}", m.name()),
            Ok(_) => panic!("{}: NaN y0 accepted", m.name()),
        }
    }
}

#[test]
fn non_monotonic_times_are_a_solve_error() {
    let f = LotkaVolterra::default();
    for m in methods() {
        let r = solve_with_grad(&f, array![1.0, 1.0], &[0.0, 1.0, 0.5], &SolveOptions::default(), &m);
        assert!(
            matches!(r, Err(GradError::Solve { cause: SolveError::InvalidTimes { .. }, .. })),
            "{}",
            m.name()
        );
    }
}

/// BUG (adjoint.rs `backward`): the backward solve copies the forward's
/// `step` policy, so a forward on a `StepSize::Grid` makes every backward
/// interval fail validation ("grid must be strictly monotonic in the
/// direction of ts"): the grid runs forwards while the interval runs
/// backwards. Expected: the adjoint works (e.g. adaptive, or the grid
/// reversed and clipped to the interval).
#[test]
fn adjoint_after_grid_forward() {
    let f = LotkaVolterra::default();
    let opts = SolveOptions::default().method(&ode_core::tableau::RK4).grid(vec![0.0, 0.25, 0.5, 0.75, 1.0]);
    let m = GradientMethod::Adjoint(AdjointOptions::default());
    let fwd = solve_with_grad(&f, array![1.0, 1.0], &TS, &opts, &m).unwrap();
    let r = fwd.backward(&f, &vec![array![1.0, 0.0]; 3]);
    assert!(r.is_ok(), "{:?}", r.map(|_| ()));
}

/// Regression: with a fixed-step forward the backward used to be dopri5
/// with the same fixed step, silently ignoring `AdjointOptions::tol` (1e-3
/// and 1e-10 gave bitwise the same gradient). Explicit backward tolerances
/// now select an adaptive backward solve.
#[test]
fn adjoint_tolerance_honoured_after_fixed_step_forward() {
    let f = LotkaVolterra::default();
    let opts = SolveOptions::default().method(&ode_core::tableau::RK4).fixed_step(0.25);
    let run = |tol: f64| {
        let m = GradientMethod::Adjoint(AdjointOptions::default().tol(tol, tol));
        let fwd = solve_with_grad(&f, array![1.0, 1.0], &TS, &opts, &m).unwrap();
        fwd.backward(&f, &vec![array![1.0, 0.0]; 3]).unwrap()
    };
    let (loose, tight) = (run(1e-3), run(1e-10));
    assert!(tight.stats.n_steps > loose.stats.n_steps, "{:?} vs {:?}", tight.stats, loose.stats);
}

/// MALI runs its own integrator on `SolveOptions`; it rejects the step
/// limits and controllers `solve` rejects (it once panicked on a negative
/// `max_step`, in a clamp).
#[test]
fn mali_validates_step_limits_and_controller() {
    let f = LotkaVolterra::default();
    let m = GradientMethod::Mali(MaliOptions::default());
    let bad = [
        ("max_step", SolveOptions::default().max_step(-1.0)),
        ("min_step", SolveOptions::default().min_step(f64::NAN)),
        ("max_steps", SolveOptions::default().max_steps(0)),
        ("first_step", SolveOptions::default().first_step(f64::INFINITY)),
        (
            "controller",
            SolveOptions::default().controller(ode_core::Controller::integral().with_factors(2.0, 0.5)),
        ),
    ];
    for (name, opts) in bad {
        match solve_with_grad(&f, array![1.0, 1.0], &TS, &opts, &m) {
            Err(GradError::Solve { cause: SolveError::InvalidOption { name: found, .. }, .. }) => {
                assert_eq!(found, name)
            }
            Err(e) => panic!("{name}: expected InvalidOption, got {e}"),
            Ok(_) => panic!("{name}: accepted"),
        }
    }
}
