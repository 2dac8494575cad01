//! The implicit solvers on random, often malformed, input: every method
//! returns a value (a solution or a typed error) and never panics, whatever
//! the output times, tolerances, options, Jacobian structure, or the
//! right-hand side and Jacobian a user supplies (wrong shapes, NaN, entries
//! outside the declared band, a problem that blows up).
//!
//! The explicit solvers have the same test in `errors.rs`.
#![cfg(feature = "stiff")]

use ndarray::{Array1, Array2};
use ode_core::implicit::banded::BandMatrix;
use ode_core::implicit::{
    solve_stiff, solve_stiff_with_event, JacobianStructure, StiffMethod, StiffOptions, StiffRhs,
    StiffSolution,
};
use ode_core::SolveError;
use proptest::prelude::*;

mod common;
use common::{mostly, output_times, special_f64};

/// The right-hand side's behaviour.
#[derive(Clone, Copy, Debug)]
enum F {
    /// `y_i' = -y_i + y_{i-1}`: lower bandwidth 1.
    Chain,
    /// Stiff and coupled: `y_i' = -1000 (y_i - y_{i+1}) - y_i`.
    Stiff,
    /// `y' = y^2`: blows up in finite time from positive values.
    Square,
    /// NaN once any component is large.
    NanAbove,
    /// The wrong length after `t = 0.5`.
    WrongShape,
}

/// The Jacobian the right-hand side offers.
#[derive(Clone, Copy, Debug)]
enum J {
    /// None: finite differences.
    None,
    /// The correct dense matrix.
    Dense,
    /// A dense matrix of the wrong shape.
    DenseWrongShape,
    /// A dense matrix with NaN.
    DenseNan,
    /// The correct band.
    Banded,
    /// The band with an entry written far outside it.
    BandedOutside,
}

#[derive(Debug)]
struct Problem {
    f: F,
    j: J,
}

fn eval(f: F, t: f64, y: &Array1<f64>) -> Array1<f64> {
    let n = y.len();
    match f {
        F::Chain => Array1::from_shape_fn(n, |i| -y[i] + if i > 0 { y[i - 1] } else { 0.0 }),
        F::Stiff => Array1::from_shape_fn(n, |i| {
            let next = if i + 1 < n { y[i + 1] } else { 0.0 };
            -1000.0 * (y[i] - next) - y[i]
        }),
        F::Square => y.mapv(|v| v * v),
        F::NanAbove => y.mapv(|v| if v.abs() > 1.5 { f64::NAN } else { -50.0 * v }),
        F::WrongShape => Array1::zeros(n + usize::from(t > 0.5)),
    }
}

/// The exact Jacobian of `f` where it has a simple one (finite differences
/// of `eval` otherwise would do, but the point is the plumbing).
fn dense_jacobian(f: F, y: &Array1<f64>) -> Array2<f64> {
    let n = y.len();
    let mut a = Array2::zeros((n, n));
    for i in 0..n {
        match f {
            F::Chain => {
                a[[i, i]] = -1.0;
                if i > 0 {
                    a[[i, i - 1]] = 1.0;
                }
            }
            F::Stiff => {
                a[[i, i]] = -1001.0;
                if i + 1 < n {
                    a[[i, i + 1]] = 1000.0;
                }
            }
            F::Square => a[[i, i]] = 2.0 * y[i],
            F::NanAbove | F::WrongShape => a[[i, i]] = -50.0,
        }
    }
    a
}

impl StiffRhs for Problem {
    fn eval(&self, t: f64, y: &Array1<f64>) -> Array1<f64> {
        eval(self.f, t, y)
    }

    fn jacobian(&self, _t: f64, y: &Array1<f64>) -> Option<Array2<f64>> {
        match self.j {
            J::Dense => Some(dense_jacobian(self.f, y)),
            J::DenseWrongShape => Some(Array2::zeros((y.len() + 1, y.len()))),
            J::DenseNan => Some(dense_jacobian(self.f, y).mapv(|v| if v != 0.0 { f64::NAN } else { v })),
            J::None | J::Banded | J::BandedOutside => None,
        }
    }

    fn banded_jacobian(&self, _t: f64, y: &Array1<f64>, jac: &mut BandMatrix) -> bool {
        match self.j {
            J::Banded | J::BandedOutside => {
                let a = dense_jacobian(self.f, y);
                for ((i, j), &v) in a.indexed_iter() {
                    jac.set(i, j, v);
                }
                if matches!(self.j, J::BandedOutside) && y.len() > 2 {
                    jac.set(0, y.len() - 1, 1.0);
                }
                true
            }
            _ => false,
        }
    }
}

fn check(r: &Result<StiffSolution, SolveError<Array1<f64>>>, ts: &[f64], n: usize) {
    match r {
        Ok(sol) => {
            let s = &sol.solution;
            match &s.event {
                // Outputs stop at the event.
                Some(hit) => {
                    assert_eq!(s.ts, ts[..s.ts.len()].to_vec());
                    assert!(hit.t.is_finite() && hit.y.len() == n);
                }
                None => assert_eq!(s.ts, ts.to_vec()),
            }
            assert_eq!(s.ts.len(), s.ys.len());
            assert!(s.ys.iter().all(|y| y.len() == n));
            if let Some(d) = &sol.dense {
                for &t in ts {
                    if let Some(y) = d.eval(t) {
                        assert_eq!(y.len(), n);
                    }
                }
                let _ = d.eval(f64::NAN);
                let _ = d.eval(f64::INFINITY);
            }
        }
        Err(e) => {
            assert!(!e.to_string().is_empty());
            if let Some(p) = e.partial() {
                assert_eq!(p.ts.len(), p.ys.len());
                assert_eq!(p.ts, ts[..p.ts.len()].to_vec());
            }
        }
    }
}

const METHODS: [StiffMethod; 4] =
    [StiffMethod::Bdf, StiffMethod::Radau5, StiffMethod::Adams, StiffMethod::Auto];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]

    #[test]
    fn solve_stiff_never_panics(
        method in 0usize..4,
        ts in output_times(),
        rtol in mostly(1e-10..1e-2),
        atol in mostly(1e-12..1e-3),
        atol_vec in prop::option::weighted(0.15, prop::collection::vec(special_f64(), 0..5)),
        // Small states, or one large enough for the band detection and the
        // tridiagonal solvers to come into play.
        y0 in prop_oneof![
            3 => prop::collection::vec(mostly(-2.0..2.0), 0..6),
            1 => prop::collection::vec(-1.0f64..1.0, 20..80),
        ],
        f in prop_oneof![
            3 => Just(F::Chain), 3 => Just(F::Stiff), 1 => Just(F::Square),
            1 => Just(F::NanAbove), 1 => Just(F::WrongShape),
        ],
        j in prop_oneof![
            3 => Just(J::None), 2 => Just(J::Dense), 1 => Just(J::DenseWrongShape),
            1 => Just(J::DenseNan), 2 => Just(J::Banded), 1 => Just(J::BandedOutside),
        ],
        band in prop::option::weighted(0.4, prop_oneof![3 => (0usize..3, 0usize..3), 1 => (0usize..90, 0usize..90)]),
        detect_band in any::<bool>(),
        max_order in prop::option::weighted(0.2, 0usize..8),
        ndf in any::<bool>(),
        lu_reuse in any::<bool>(),
        first_step in prop::option::weighted(0.15, special_f64()),
        min_step in prop::option::weighted(0.15, mostly(0.0..1e-3)),
        max_step in prop::option::weighted(0.15, mostly(1e-3..1.0)),
        max_steps in 1usize..1500,
        dense in any::<bool>(),
        with_event in any::<bool>(),
    ) {
        let mut o = StiffOptions::new(METHODS[method])
            .max_steps(max_steps)
            .dense(dense)
            .ndf(ndf)
            .lu_reuse(lu_reuse)
            .detect_band(detect_band);
        o = match atol_vec {
            Some(v) => o.tol(rtol, v),
            None => o.tol(rtol, atol),
        };
        if let Some((lower, upper)) = band {
            o = o.jacobian_structure(JacobianStructure::Banded { lower, upper });
        }
        if let Some(k) = max_order {
            o = o.max_order(k);
        }
        if let Some(h) = first_step {
            o = o.first_step(h);
        }
        if let Some(h) = min_step {
            o = o.min_step(h);
        }
        if let Some(h) = max_step {
            o = o.max_step(h);
        }
        let n = y0.len();
        let problem = Problem { f, j };
        let r = if with_event {
            // Crosses zero when the first component passes 0.3 (or is NaN).
            let g = |t: f64, y: &Array1<f64>| y.get(0).map_or(t, |v| v - 0.3);
            solve_stiff_with_event(&problem, Array1::from(y0), &ts, &o, g)
        } else {
            solve_stiff(&problem, Array1::from(y0), &ts, &o)
        };
        check(&r, &ts, n);
    }
}
