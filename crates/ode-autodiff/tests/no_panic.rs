//! Every gradient method on random, often malformed, input: forward options
//! (methods, fixed steps, grids, tolerances, step limits), output times,
//! initial states, backward options and cotangents (wrong count, wrong
//! shape, NaN). `solve_with_grad` and the backward calls return a value (a
//! gradient or a typed error) and never panic; a gradient has the shapes
//! of the problem.

use ndarray::Array1;
use ode_autodiff::problems::Mlp;
use ode_autodiff::{solve_with_grad, AdjointOptions, GradientMethod, MaliOptions};
use ode_core::tableau::ButcherTableau;
use ode_core::SolveOptions;
use proptest::prelude::*;

fn special_f64() -> impl Strategy<Value = f64> {
    prop_oneof![
        4 => -10.0f64..10.0,
        1 => Just(0.0),
        1 => Just(f64::NAN),
        1 => Just(f64::INFINITY),
        1 => Just(f64::NEG_INFINITY),
        1 => Just(1e300),
        1 => Just(f64::MIN_POSITIVE),
    ]
}

fn mostly(range: std::ops::Range<f64>) -> impl Strategy<Value = f64> {
    prop_oneof![5 => range, 1 => special_f64()]
}

/// Usually a valid monotone sequence (either direction), sometimes anything.
fn output_times() -> impl Strategy<Value = Vec<f64>> {
    let valid = (-2.0f64..2.0, prop::collection::vec(0.05f64..1.0, 0..4), any::<bool>()).prop_map(
        |(start, incs, backwards)| {
            let mut t = start;
            let mut v = vec![t];
            for d in incs {
                t += if backwards { -d } else { d };
                v.push(t);
            }
            v
        },
    );
    prop_oneof![6 => valid, 1 => prop::collection::vec(special_f64(), 0..4)]
}

#[derive(Clone, Debug)]
enum Step {
    Adaptive,
    Fixed(f64),
    Grid(Vec<f64>),
}

fn gradient_method() -> impl Strategy<Value = GradientMethod> {
    let adjoint = (
        prop::option::weighted(0.3, (mostly(1e-9..1e-3), mostly(1e-10..1e-4))),
        any::<bool>(),
        prop::option::weighted(0.3, 0usize..12),
        prop::option::weighted(0.2, 1usize..500),
    )
        .prop_map(|(tol, seminorm, method, max_steps)| {
            let mut a = AdjointOptions::default().seminorm(seminorm);
            if let Some((r, t)) = tol {
                a = a.tol(r, t);
            }
            if let Some(m) = method {
                a = a.method(ButcherTableau::all()[m]);
            }
            a.max_steps = max_steps;
            GradientMethod::Adjoint(a)
        });
    prop_oneof![
        Just(GradientMethod::Aca),
        adjoint,
        mostly(0.5..1.0).prop_map(|eta| GradientMethod::Mali(MaliOptions::default().damping(eta))),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1500))]

    #[test]
    fn gradients_never_panic(
        grad in gradient_method(),
        ts in output_times(),
        y0 in prop::collection::vec(mostly(-2.0..2.0), 1..4),
        seed in 0u64..1000,
        method in 0usize..12,
        step in prop_oneof![
            4 => Just(Step::Adaptive),
            1 => mostly(0.01..0.5).prop_map(Step::Fixed),
            1 => prop::collection::vec(mostly(-2.0..2.0), 0..5).prop_map(Step::Grid),
        ],
        rtol in mostly(1e-9..1e-2),
        atol in mostly(1e-10..1e-3),
        max_steps in 1usize..2000,
        max_step in prop::option::weighted(0.15, mostly(1e-3..1.0)),
        // Cotangents: how many more or fewer than needed, a wrong length at
        // one index, and special values.
        count_delta in prop_oneof![8 => Just(0i32), 1 => -2i32..3],
        wrong_len in prop::option::weighted(0.1, 0usize..4),
        cot in prop::collection::vec(mostly(-1.0..1.0), 1..8),
    ) {
        let n = y0.len();
        let f = Mlp::seeded(n, 4, seed);
        let mut o = SolveOptions::default()
            .method(ButcherTableau::all()[method])
            .tol(rtol, atol)
            .max_steps(max_steps);
        o = match step {
            Step::Adaptive => o,
            Step::Fixed(h) => o.fixed_step(h),
            Step::Grid(g) => o.grid(g),
        };
        if let Some(h) = max_step {
            o = o.max_step(h);
        }
        let y0 = Array1::from(y0);
        let fwd = match solve_with_grad(&f, y0, &ts, &o, &grad) {
            Ok(fwd) => fwd,
            Err(e) => {
                prop_assert!(!e.to_string().is_empty());
                return Ok(());
            }
        };
        let outputs = fwd.solution.ys.len();
        prop_assert_eq!(outputs, ts.len());
        let count = (outputs as i32 + count_delta).max(0) as usize;
        let value = |i: usize, j: usize| cot[(i * 3 + j) % cot.len()];
        let make = |i: usize| {
            let len = if wrong_len == Some(i) { n + 1 } else { n };
            Array1::from_shape_fn(len, |j| value(i, j))
        };
        let dys: Vec<Array1<f64>> = (0..count).map(make).collect();
        match fwd.backward(&f, &dys) {
            Ok(g) => {
                prop_assert_eq!(g.dy0.len(), n);
                prop_assert_eq!(g.dts.len(), outputs);
                prop_assert_eq!(g.dtheta.0.dim(), f.w1.dim());
            }
            Err(e) => prop_assert!(!e.to_string().is_empty()),
        }
        let n_steps = fwd.steps().len();
        let derrs: Vec<Array1<f64>> = (0..n_steps).map(make).collect();
        match fwd.backward_with_errors(&f, &dys, &derrs) {
            Ok(g) => prop_assert_eq!(g.dy0.len(), n),
            Err(e) => prop_assert!(!e.to_string().is_empty()),
        }
        match fwd.error_estimates(&f) {
            Ok(errs) => prop_assert_eq!(errs.len(), n_steps),
            Err(e) => prop_assert!(!e.to_string().is_empty()),
        }
    }
}
