//! Typed errors of the implicit solvers, and why stiff problems need them.
#![cfg(feature = "stiff")]

use ndarray::{array, Array1, Array2};
use ode_core::implicit::problems::Robertson;
use ode_core::implicit::{solve_stiff, StiffMethod, StiffOptions, StiffRhs, WithJacobian};
use ode_core::{solve, SolveError, SolveOptions, StepSize};

const METHODS: [StiffMethod; 2] = [StiffMethod::Bdf, StiffMethod::Radau5];

#[test]
fn explicit_dopri5_struggles_on_robertson_where_implicit_methods_do_not() {
    // dopri5's stability region limits its step to about 3e-4 once the
    // transient is over, so its 100 000-step budget ends near t = 30 of
    // the 1e5 asked for.
    let f = |t: f64, y: &Array1<f64>| Robertson.eval(t, y);
    let opts = SolveOptions::default().tol(1e-6, 1e-12);
    let r = solve(&f, Robertson::y0(), &[0.0, 1e5], &opts);
    let reached = match &r {
        Err(SolveError::MaxStepsExceeded { partial, .. }) => partial.t_reached,
        other => panic!("dopri5 on Robertson: expected MaxStepsExceeded, got {other:?}"),
    };
    eprintln!("dopri5 stopped at t = {reached:.3e} after 100000 steps");
    assert!(reached < 1e3, "dopri5 reached t = {reached}");
    for method in METHODS {
        let opts = StiffOptions::new(method).tol(1e-6, 1e-12);
        let sol = solve_stiff(&Robertson, Robertson::y0(), &[0.0, 1e5], &opts).unwrap();
        let st = sol.solution.stats;
        eprintln!("{method:?}: {} steps, {} rejected, nfe {}", st.n_accepted, st.n_rejected, st.nfe);
        assert!(st.n_steps() < 600, "{method:?}: {} steps", st.n_steps());
    }
}

/// `f = J y` with `J = -1e200 [[1, 1], [1, 1]]`: `I - c J` rounds to a
/// singular matrix for every step size a solver would try.
#[test]
fn singular_iteration_matrix_is_a_typed_error() {
    let a = -1e200;
    let rhs = WithJacobian {
        f: move |_t: f64, y: &Array1<f64>| array![a * (y[0] + y[1]), a * (y[0] + y[1])],
        jac: move |_t: f64, _y: &Array1<f64>| array![[a, a], [a, a]],
    };
    for method in METHODS {
        let opts = StiffOptions::new(method).first_step(1e-3);
        match solve_stiff(&rhs, array![1.0, -1.0], &[0.0, 1.0], &opts) {
            Err(SolveError::SingularJacobian { t, h, partial }) => {
                assert_eq!(t, 0.0);
                assert!(h > 0.0 && h < 1e-3, "h = {h}");
                assert_eq!(partial.t_reached, 0.0);
            }
            other => panic!("{method:?}: expected SingularJacobian, got {other:?}"),
        }
    }
}

/// A Jacobian with the wrong sign on `y' = -1e6 y`: the simplified Newton
/// iteration diverges at any step the solver can try from `first_step`.
#[test]
fn newton_divergence_is_a_typed_error() {
    let rhs = WithJacobian {
        f: |_t: f64, y: &Array1<f64>| y * -1e6,
        jac: |_t: f64, _y: &Array1<f64>| array![[1e6]],
    };
    for method in METHODS {
        let opts = StiffOptions::new(method).first_step(0.1);
        match solve_stiff(&rhs, array![1.0], &[0.0, 1.0], &opts) {
            Err(e @ SolveError::NewtonFailed { .. }) => {
                let p = e.partial().unwrap();
                assert_eq!(p.ts, vec![0.0]);
                assert!(p.stats.n_rejected >= 10);
            }
            other => panic!("{method:?}: expected NewtonFailed, got {other:?}"),
        }
    }
}

#[test]
fn nan_from_f_is_a_typed_error() {
    // f is NaN past t = 1: the solver closes in on t = 1 and then reports
    // where f failed.
    let f = |t: f64, y: &Array1<f64>| if t > 1.0 { y.mapv(|_| f64::NAN) } else { -y };
    for method in METHODS {
        let r = solve_stiff(&f, array![1.0], &[0.0, 2.0], &StiffOptions::new(method));
        match r {
            Err(SolveError::NonFiniteRhs { t }) => assert!(t > 1.0 && t < 1.5, "{method:?}: t = {t}"),
            other => panic!("{method:?}: expected NonFiniteRhs, got {other:?}"),
        }
        // NaN at the very first evaluation.
        let g = |_t: f64, y: &Array1<f64>| y.mapv(|_| f64::NAN);
        let r = solve_stiff(&g, array![1.0], &[0.0, 1.0], &StiffOptions::new(method));
        assert!(matches!(r, Err(SolveError::NonFiniteRhs { t }) if t == 0.0), "{method:?}: {r:?}");
        // A NaN initial state.
        let r = solve_stiff(&f, array![f64::NAN], &[0.0, 1.0], &StiffOptions::new(method));
        assert!(matches!(r, Err(SolveError::NonFiniteState { t }) if t == 0.0), "{method:?}: {r:?}");
        // A Jacobian with NaN.
        let rhs = WithJacobian {
            f: |_t: f64, y: &Array1<f64>| -y,
            jac: |_t: f64, _y: &Array1<f64>| array![[f64::NAN]],
        };
        let r = solve_stiff(&rhs, array![1.0], &[0.0, 1.0], &StiffOptions::new(method));
        assert!(matches!(r, Err(SolveError::NonFiniteJacobian { .. })), "{method:?}: {r:?}");
    }
}

#[test]
fn bad_shapes_are_typed_errors() {
    let f = |_t: f64, _y: &Array1<f64>| array![1.0, 2.0, 3.0];
    let bad_jac = WithJacobian {
        f: |_t: f64, y: &Array1<f64>| -y,
        jac: |_t: f64, _y: &Array1<f64>| Array2::<f64>::zeros((2, 3)),
    };
    for method in METHODS {
        let r = solve_stiff(&f, array![1.0, 1.0], &[0.0, 1.0], &StiffOptions::new(method));
        assert!(matches!(&r, Err(SolveError::ShapeMismatch { found, .. }) if found == "[3]"), "{r:?}");
        let r = solve_stiff(&bad_jac, array![1.0, 1.0], &[0.0, 1.0], &StiffOptions::new(method));
        assert!(matches!(&r, Err(SolveError::ShapeMismatch { .. })), "{r:?}");
        // Empty state: nothing to solve, but no panic either.
        let g = |_t: f64, y: &Array1<f64>| y.clone();
        let r = solve_stiff(&g, Array1::zeros(0), &[0.0, 1.0], &StiffOptions::new(method));
        assert!(r.is_ok(), "{r:?}");
    }
}

#[test]
fn bad_options_are_typed_errors() {
    let f = |_t: f64, y: &Array1<f64>| -y;
    let y0 = array![1.0];
    let run = |opts: StiffOptions, ts: &[f64]| solve_stiff(&f, y0.clone(), ts, &opts);
    let base = StiffOptions::new(StiffMethod::Bdf);
    assert!(matches!(run(base.clone(), &[]), Err(SolveError::InvalidTimes { .. })));
    assert!(matches!(run(base.clone(), &[0.0, f64::NAN]), Err(SolveError::InvalidTimes { .. })));
    assert!(matches!(run(base.clone(), &[0.0, 1.0, 0.5]), Err(SolveError::InvalidTimes { .. })));
    assert!(matches!(
        run(base.clone().tol(f64::NAN, 1e-9), &[0.0, 1.0]),
        Err(SolveError::InvalidTolerance { .. })
    ));
    assert!(matches!(run(base.clone().tol(0.0, 0.0), &[0.0, 1.0]), Err(SolveError::InvalidTolerance { .. })));
    assert!(matches!(
        run(base.clone().tol(1e-6, vec![1e-9, 1e-9]), &[0.0, 1.0]),
        Err(SolveError::InvalidTolerance { .. })
    ));
    assert!(matches!(
        run(base.clone().max_order(6), &[0.0, 1.0]),
        Err(SolveError::InvalidOption { name: "max_order", .. })
    ));
    assert!(matches!(
        run(base.clone().max_order(0), &[0.0, 1.0]),
        Err(SolveError::InvalidOption { name: "max_order", .. })
    ));
    assert!(matches!(
        run(base.clone().first_step(f64::INFINITY), &[0.0, 1.0]),
        Err(SolveError::InvalidOption { .. })
    ));
    assert!(matches!(run(base.clone().max_step(-1.0), &[0.0, 1.0]), Err(SolveError::InvalidOption { .. })));
    assert!(matches!(run(base.clone().max_steps(0), &[0.0, 1.0]), Err(SolveError::InvalidOption { .. })));
    assert!(matches!(
        run(base.clone().fixed_step(0.1), &[0.0, 1.0]),
        Err(SolveError::UnsupportedMethod { .. })
    ));
    let mut grid = StiffOptions::new(StiffMethod::Radau5);
    grid.common.step = StepSize::Grid(vec![0.5, 1.0]);
    assert!(matches!(run(grid, &[0.0, 1.0]), Err(SolveError::InvalidOption { name: "grid", .. })));
    assert!(matches!(
        run(StiffOptions::new(StiffMethod::Radau5).fixed_step(f64::NAN), &[0.0, 1.0]),
        Err(SolveError::InvalidOption { .. })
    ));
    // A single output time returns y0 without work.
    let sol = run(base.clone(), &[3.0]).unwrap();
    assert_eq!(sol.solution.ys, vec![array![1.0]]);
    assert_eq!(sol.solution.stats.nfe, 0);
}

#[test]
fn max_steps_and_min_step_carry_the_partial_solution() {
    for method in METHODS {
        let opts = StiffOptions::new(method).tol(1e-8, 1e-14).max_steps(20);
        match solve_stiff(&Robertson, Robertson::y0(), &[0.0, 1e-3, 1e5], &opts) {
            Err(SolveError::MaxStepsExceeded { max_steps, partial, .. }) => {
                assert_eq!(max_steps, 20);
                assert_eq!(partial.stats.n_steps(), 20);
                assert!(partial.t_reached > 0.0 && partial.t_reached < 1e5);
            }
            other => panic!("{method:?}: {other:?}"),
        }
        let opts = StiffOptions::new(method).tol(1e-8, 1e-14).min_step(1.0);
        let r = solve_stiff(&Robertson, Robertson::y0(), &[0.0, 1e5], &opts);
        assert!(matches!(r, Err(SolveError::StepSizeUnderflow { .. })), "{method:?}: {r:?}");
    }
}

/// A `max_step` below the smallest step that changes `t` (ten ulps of `t`)
/// can never make progress: every method reports a step size underflow at
/// once, instead of spending `max_steps` on steps that leave `t` in place
/// (or, as implicit Adams once did, panicking on an inverted clamp).
#[test]
fn max_step_below_the_spacing_of_t_is_an_underflow() {
    let f = |_t: f64, y: &Array1<f64>| -y;
    for method in [StiffMethod::Bdf, StiffMethod::Radau5, StiffMethod::Adams, StiffMethod::Auto] {
        let opts = StiffOptions::new(method).max_step(1e-300);
        let r = solve_stiff(&f, array![1.0], &[3.0, 4.0], &opts);
        match r {
            Err(SolveError::StepSizeUnderflow { t, partial, .. }) => {
                assert_eq!(t, 3.0, "{method:?}");
                assert_eq!(partial.ts, vec![3.0], "{method:?}");
            }
            other => panic!("{method:?}: expected StepSizeUnderflow, got {other:?}"),
        }
        // Near t = 0 such a step still registers, and the solver crawls
        // until its step budget is spent.
        let r = solve_stiff(&f, array![1.0], &[0.0, 1.0], &opts.clone().max_steps(50));
        assert!(matches!(r, Err(SolveError::MaxStepsExceeded { .. })), "{method:?}: {r:?}");
    }
}

/// A first step of 1e-310 is legal input; Radau5 used to fail on it with a
/// "singular iteration matrix" (its `mu / h` overflowed). Steps now start
/// at 1e-300 at the least, and every method grows them and finishes.
#[test]
fn a_tiny_first_step_still_solves() {
    let f = |_t: f64, y: &Array1<f64>| -y;
    for method in [StiffMethod::Bdf, StiffMethod::Radau5, StiffMethod::Adams, StiffMethod::Auto] {
        let opts = StiffOptions::new(method).first_step(1e-310);
        let sol =
            solve_stiff(&f, array![1.0], &[0.0, 1.0], &opts).unwrap_or_else(|e| panic!("{method:?}: {e}"));
        assert!((sol.solution.ys[1][0] - (-1.0f64).exp()).abs() < 1e-4, "{method:?}");
    }
}
