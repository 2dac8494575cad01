//! Terminal events of the implicit methods (`solve_stiff_with_event`): the
//! crossing is located on the accepted step's polynomial, outputs after it
//! are not reported, the dense output ends there, and a non-finite event
//! value is a typed error.
#![cfg(feature = "stiff")]

use ndarray::{array, Array1};
use ode_core::implicit::problems::VanDerPol;
use ode_core::implicit::{solve_stiff, solve_stiff_with_event, StiffMethod, StiffOptions};
use ode_core::SolveError;

const METHODS: [StiffMethod; 4] =
    [StiffMethod::Bdf, StiffMethod::Radau5, StiffMethod::Adams, StiffMethod::Auto];

/// `y1' = -1000 y1 + y2`, `y2' = -y2 / 2`: y2 = exp(-t / 2) reaches 0.5 at
/// t = 2 ln 2.
fn stiff_linear(_t: f64, y: &Array1<f64>) -> Array1<f64> {
    array![-1000.0 * y[0] + y[1], -0.5 * y[1]]
}

#[test]
fn the_crossing_is_located_and_the_solution_stops_there() {
    let t_event = 2.0 * 2f64.ln();
    let ts = [0.0, 0.5, 1.0, 1.5, 2.0, 3.0];
    for method in METHODS {
        let opts = StiffOptions::new(method).tol(1e-9, 1e-12).dense(true);
        let sol =
            solve_stiff_with_event(&stiff_linear, array![1.0, 1.0], &ts, &opts, |_t, y: &Array1<f64>| {
                y[1] - 0.5
            })
            .unwrap();
        let hit = sol.solution.event.as_ref().unwrap_or_else(|| panic!("{method:?}: no event"));
        assert!((hit.t - t_event).abs() < 1e-7, "{method:?}: event at {} (exact {t_event})", hit.t);
        assert!((hit.y[1] - 0.5).abs() < 1e-8, "{method:?}: y2 = {} at the event", hit.y[1]);
        // Outputs up to the event only.
        assert_eq!(sol.solution.ts, vec![0.0, 0.5, 1.0], "{method:?}");
        assert_eq!(sol.solution.ys.len(), 3);
        // The dense output ends at the event and agrees with it there.
        let dense = sol.dense.as_ref().unwrap();
        assert_eq!(dense.t_span().unwrap().1, hit.t, "{method:?}");
        assert!(dense.eval(hit.t + 1e-3).is_none(), "{method:?}");
        let at = dense.eval(hit.t).unwrap();
        assert!((at[1] - hit.y[1]).abs() < 1e-12, "{method:?}");
        // No step was taken past the one containing the event.
        let last = sol.solution.steps.last().unwrap();
        assert!(last.t < hit.t && hit.t <= last.t + last.h, "{method:?}");
    }
}

#[test]
fn without_a_crossing_the_solve_is_the_plain_one() {
    for method in METHODS {
        let opts = StiffOptions::new(method).tol(1e-6, 1e-9);
        let plain = solve_stiff(&stiff_linear, array![1.0, 1.0], &[0.0, 1.0, 2.0], &opts).unwrap();
        let watched = solve_stiff_with_event(
            &stiff_linear,
            array![1.0, 1.0],
            &[0.0, 1.0, 2.0],
            &opts,
            |_t, y: &Array1<f64>| y[1] + 1.0,
        )
        .unwrap();
        assert!(watched.solution.event.is_none(), "{method:?}");
        assert_eq!(watched.solution.ys, plain.solution.ys, "{method:?}");
        assert_eq!(watched.solution.stats, plain.solution.stats, "{method:?}");
    }
}

/// Backwards in time, and an event that is already zero at t0 (it must
/// change from non-zero to count).
#[test]
fn backwards_and_zero_at_the_start() {
    for method in METHODS {
        let opts = StiffOptions::new(method).tol(1e-9, 1e-12);
        // From t = 2 back to 0 (y' = -y / 2: growing backwards, so not the
        // stiff system, which explodes in that direction): y passes 0.5 at
        // t = 2 ln 2.
        let decay = |_t: f64, y: &Array1<f64>| -0.5 * y;
        let sol = solve_stiff_with_event(
            &decay,
            array![(-1.0f64).exp()],
            &[2.0, 0.0],
            &opts,
            |_t, y: &Array1<f64>| y[0] - 0.5,
        )
        .unwrap();
        let hit = sol.solution.event.unwrap_or_else(|| panic!("{method:?}: no event"));
        assert!((hit.t - 2.0 * 2f64.ln()).abs() < 1e-6, "{method:?}: {}", hit.t);
        let sol = solve_stiff_with_event(
            &stiff_linear,
            array![1.0, 1.0],
            &[0.0, 1.0],
            &opts,
            |t, _y: &Array1<f64>| t,
        )
        .unwrap();
        assert!(sol.solution.event.is_none(), "{method:?}: zero at t0 is not a crossing");
    }
}

/// The first zero of y1 of Van der Pol at mu = 1000 (after the slow phase,
/// in a fast transition): the methods agree with each other.
#[test]
fn van_der_pol_zero_crossing_agrees_across_methods() {
    let vdp = VanDerPol { mu: 1000.0 };
    let times: Vec<f64> = [StiffMethod::Bdf, StiffMethod::Radau5, StiffMethod::Auto]
        .into_iter()
        .map(|method| {
            let opts = StiffOptions::new(method).tol(1e-8, 1e-12);
            let sol = solve_stiff_with_event(
                &vdp,
                VanDerPol::y0(),
                &[0.0, 3000.0],
                &opts,
                |_t, y: &Array1<f64>| y[0],
            )
            .unwrap();
            sol.solution.event.unwrap_or_else(|| panic!("{method:?}: no zero of y1")).t
        })
        .collect();
    // About 0.807 mu for the slow branch from y1 = 2.
    assert!(times[0] > 700.0 && times[0] < 900.0, "{times:?}");
    for t in &times {
        assert!((t - times[1]).abs() < 1e-5 * times[1], "{times:?}");
    }
}

#[test]
fn a_non_finite_event_value_is_a_typed_error() {
    for method in METHODS {
        let opts = StiffOptions::new(method);
        let r = solve_stiff_with_event(
            &stiff_linear,
            array![1.0, 1.0],
            &[0.0, 1.0],
            &opts,
            |_t, _y: &Array1<f64>| f64::NAN,
        );
        assert!(matches!(r, Err(SolveError::NonFiniteEvent { t }) if t == 0.0), "{method:?}: {r:?}");
        let r = solve_stiff_with_event(
            &stiff_linear,
            array![1.0, 1.0],
            &[0.0, 1.0],
            &opts,
            |t, _y: &Array1<f64>| {
                if t > 0.3 {
                    f64::INFINITY
                } else {
                    1.0
                }
            },
        );
        assert!(matches!(r, Err(SolveError::NonFiniteEvent { t }) if t > 0.3), "{method:?}: {r:?}");
    }
}
