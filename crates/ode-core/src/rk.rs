//! One generic explicit Runge-Kutta step and its error estimate.
//!
//! Everything method-specific comes from the [`ButcherTableau`]; this file
//! knows nothing about any particular method.

use crate::rhs::Rhs;
use crate::state::OdeState;
use crate::tableau::{ButcherTableau, ErrorEstimator};
use crate::tolerance::Tolerance;

/// A failed evaluation inside a step: `f` returned a value of the wrong shape.
#[derive(Debug, Clone)]
pub struct ShapeFailure {
    pub t: f64,
    pub found: String,
}

/// Evaluates `f` and checks that the result has `like`'s shape (mismatched
/// shapes would make ndarray's arithmetic panic later).
pub fn eval_checked<S: OdeState, F: Rhs<S> + ?Sized>(
    f: &F,
    t: f64,
    y: &S,
    like: &S,
    nfe: &mut usize,
) -> Result<S, ShapeFailure> {
    let k = f.eval(t, y);
    *nfe += 1;
    if k.same_shape(like) {
        Ok(k)
    } else {
        Err(ShapeFailure { t, found: k.shape_desc() })
    }
}

/// The result of one step: the new state and every stage derivative
/// `k_1 .. k_s` (for FSAL methods `k_s = f(t1, y1)`).
#[derive(Debug)]
pub struct RkStep<S> {
    pub y1: S,
    pub ks: Vec<S>,
}

/// Takes one step of size `h` from `(t, y)` given `k1 = f(t, y)`.
///
/// Stages with node `c = 1` are evaluated at `t_end` rather than `t + h`,
/// so that a step landing on a discontinuity can evaluate its last stages
/// just before it (the caller passes a nudged `t_end`).
#[allow(clippy::too_many_arguments)]
pub fn rk_step<S: OdeState, F: Rhs<S> + ?Sized>(
    tab: &ButcherTableau,
    f: &F,
    t: f64,
    y: &S,
    h: f64,
    t_end: f64,
    k1: S,
    nfe: &mut usize,
) -> Result<RkStep<S>, ShapeFailure> {
    let s = tab.stages();
    // The stage times, announced to `f` before the first evaluation (on the
    // stack for every built-in tableau).
    let (mut small, mut large) = ([0.0; 16], Vec::new());
    let times: &mut [f64] = if s <= small.len() {
        &mut small[..s]
    } else {
        large.resize(s, 0.0);
        &mut large
    };
    for (ti, &c) in times.iter_mut().zip(tab.c.iter()) {
        *ti = if c == 1.0 { t_end } else { t + c * h };
    }
    if s > 1 {
        f.stage_times(&times[1..]);
    }
    let mut ks: Vec<S> = Vec::with_capacity(s + 1);
    ks.push(k1);
    let mut last_state: Option<S> = None;
    for (i, &ti) in times.iter().enumerate().skip(1) {
        let terms: Vec<(f64, &S)> =
            tab.a[i].iter().zip(ks.iter()).filter(|(a, _)| **a != 0.0).map(|(a, k)| (h * a, k)).collect();
        let yi = y.lincomb(&terms);
        let ki = eval_checked(f, ti, &yi, y, nfe)?;
        ks.push(ki);
        if i == s - 1 {
            last_state = Some(yi);
        }
    }
    let y1 = match last_state {
        // FSAL: the last stage was evaluated at y1 itself.
        Some(yl) if tab.fsal => yl,
        _ => {
            let terms: Vec<(f64, &S)> =
                tab.b.iter().zip(ks.iter()).filter(|(b, _)| **b != 0.0).map(|(b, k)| (h * b, k)).collect();
            y.lincomb(&terms)
        }
    };
    Ok(RkStep { y1, ks })
}

/// `h * sum_i w_i k_i` as a fresh state.
pub fn weighted_stages<S: OdeState>(like: &S, h: f64, w: &[f64], ks: &[S]) -> S {
    let terms: Vec<(f64, &S)> =
        w.iter().zip(ks.iter()).filter(|(w, _)| **w != 0.0).map(|(w, k)| (h * w, k)).collect();
    like.zeros_like().lincomb(&terms)
}

/// The error ratio of a step (RMS of the scaled local error estimate); 0 for
/// methods without an estimator.
pub fn error_ratio<S: OdeState>(
    tab: &ButcherTableau,
    h: f64,
    ks: &[S],
    y0: &S,
    y1: &S,
    tol: &Tolerance,
) -> f64 {
    match tab.error {
        ErrorEstimator::None => 0.0,
        ErrorEstimator::Embedded(e) => {
            let err = weighted_stages(y0, h, e, ks);
            S::error_ratio(&err, y0, y1, tol)
        }
        ErrorEstimator::Dop853 { e5, e3 } => {
            let err5 = weighted_stages(y0, h, e5, ks);
            let err3 = weighted_stages(y0, h, e3, ks);
            let s5 = S::weighted_sq_sum(&err5, y0, y1, tol, 0);
            let s3 = S::weighted_sq_sum(&err3, y0, y1, tol, 0);
            if s5 == 0.0 {
                return 0.0;
            }
            let n = y0.numel().max(1) as f64;
            s5 / ((s5 + 0.01 * s3) * n).sqrt()
        }
    }
}
