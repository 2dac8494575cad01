//! Dense output: every method's continuous extension written as stage
//! weights, `y(t0 + theta h) = y0 + h * sum_j w_j(theta) K_j`, over the
//! extended stage list `K = [k_1 .. k_s, f(t1, y1), extra stages]`.
//!
//! Output times inside a step then cost one linear combination and no
//! evaluation of `f` (DOP853's three extra stages are the exception; they
//! are evaluated once per step that needs interpolation).

use crate::rhs::Rhs;
use crate::rk::{eval_checked, ShapeFailure};
use crate::state::OdeState;
use crate::tableau::{ButcherTableau, DenseOutput};

/// Fills `out` with the interpolation weights at `theta` in `[0, 1]`.
pub fn stage_weights(tab: &ButcherTableau, theta: f64, out: &mut Vec<f64>) {
    let s = tab.stages();
    let n_extra = match tab.dense {
        DenseOutput::Dop853 { extra, .. } => extra.len(),
        _ => 0,
    };
    out.clear();
    out.resize(s + 1 + n_extra, 0.0);
    let th = theta;
    let (t2, t3, t4) = (th * th, th * th * th, th * th * th * th);
    match tab.dense {
        DenseOutput::Hermite => {
            // Cubic Hermite through y0, y1 = y0 + h sum b k, f0 = k_1 and f1.
            for (w, b) in out.iter_mut().zip(tab.b) {
                *w = b * (3.0 * t2 - 2.0 * t3);
            }
            out[0] += th - 2.0 * t2 + t3;
            out[s] = t3 - t2;
        }
        DenseOutput::QuarticMidpoint { c_mid } => {
            // The quartic through y0, y1, f0, f1 and the midpoint value,
            // expanded into stage weights (derivation in docs/architecture.md).
            for i in 0..s {
                out[i] = tab.b[i] * (-5.0 * t2 + 14.0 * t3 - 8.0 * t4)
                    + c_mid[i] * (16.0 * t2 - 32.0 * t3 + 16.0 * t4);
            }
            out[0] += th - 4.0 * t2 + 5.0 * t3 - 2.0 * t4;
            out[s] = t2 - 3.0 * t3 + 2.0 * t4;
        }
        DenseOutput::StagePolynomial { coeffs } => {
            for (w, row) in out.iter_mut().zip(coeffs) {
                let mut p = th;
                let mut acc = 0.0;
                for c in row.iter() {
                    acc += c * p;
                    p *= th;
                }
                *w = acc;
            }
        }
        DenseOutput::Dop853 { d, .. } => {
            // y0 + th F0 + th u F1 + th^2 u F2 + th^2 u^2 F3 + th^3 u^2 F4
            //    + th^3 u^3 F5 + th^4 u^3 F6, with u = 1 - th,
            // F0 = h sum b k, F1 = h k1 - F0, F2 = 2 F0 - h (f1 + k1),
            // F3.. = h sum d_r K.
            let u = 1.0 - th;
            let wb = th - th * u + 2.0 * t2 * u;
            for (w, b) in out.iter_mut().zip(tab.b) {
                *w = b * wb;
            }
            out[0] += th * u - t2 * u;
            out[s] -= t2 * u;
            let p = [t2 * u * u, t3 * u * u, t3 * u * u * u, t4 * u * u * u];
            for (row, pr) in d.iter().zip(p) {
                for (w, dj) in out.iter_mut().zip(row.iter()) {
                    *w += dj * pr;
                }
            }
        }
    }
}

/// The continuous solution over one accepted step.
#[derive(Debug)]
pub struct StepInterpolant<S> {
    pub t0: f64,
    pub h: f64,
    pub y0: S,
    /// `[k_1 .. k_s, f1, extra stages]`; `f1` is absent (`None`) for
    /// interpolants that do not use it.
    stages: Vec<Option<S>>,
    tab: &'static ButcherTableau,
}

impl<S: OdeState> StepInterpolant<S> {
    /// Builds the interpolant of a step. `f1` must be `f(t1, y1)` for
    /// Hermite and DOP853 extensions of non-FSAL methods; for FSAL methods it
    /// is taken from the last stage. Evaluates DOP853's extra stages.
    #[allow(clippy::too_many_arguments)]
    pub fn new<F: Rhs<S> + ?Sized>(
        tab: &'static ButcherTableau,
        f: &F,
        t0: f64,
        h: f64,
        y0: S,
        ks: Vec<S>,
        f1: Option<S>,
        nfe: &mut usize,
    ) -> Result<Self, ShapeFailure> {
        let s = tab.stages();
        let mut stages: Vec<Option<S>> = ks.into_iter().map(Some).collect();
        let f1 = match f1 {
            Some(v) => Some(v),
            None if tab.fsal => stages[s - 1].as_ref().map(OdeState::dup),
            None => None,
        };
        stages.push(f1);
        if let DenseOutput::Dop853 { extra, .. } = tab.dense {
            for e in extra {
                let terms: Vec<(f64, &S)> =
                    e.a.iter()
                        .zip(stages.iter())
                        .filter(|(a, _)| **a != 0.0)
                        .filter_map(|(a, k)| k.as_ref().map(|k| (h * a, k)))
                        .collect();
                let ye = y0.lincomb(&terms);
                let ke = eval_checked(f, t0 + e.c * h, &ye, &y0, nfe)?;
                stages.push(Some(ke));
            }
        }
        Ok(StepInterpolant { t0, h, y0, stages, tab })
    }

    /// The state at `t` (meant for `t` within the step; extrapolates outside).
    pub fn eval(&self, t: f64) -> S {
        let theta = if self.h == 0.0 { 0.0 } else { (t - self.t0) / self.h };
        let mut w = Vec::with_capacity(self.stages.len());
        stage_weights(self.tab, theta, &mut w);
        let terms: Vec<(f64, &S)> = w
            .iter()
            .zip(self.stages.iter())
            .filter(|(w, _)| **w != 0.0)
            .filter_map(|(w, k)| k.as_ref().map(|k| (self.h * w, k)))
            .collect();
        self.y0.lincomb(&terms)
    }

    /// Whether this interpolant needs `f(t1, y1)` supplied for a non-FSAL
    /// method.
    pub fn needs_f1(tab: &ButcherTableau) -> bool {
        !tab.fsal
            && matches!(
                tab.dense,
                DenseOutput::Hermite | DenseOutput::QuarticMidpoint { .. } | DenseOutput::Dop853 { .. }
            )
    }
}

/// A continuous solution over the whole integrated interval: one
/// interpolant per accepted step.
#[derive(Debug)]
pub struct DenseSolution<S> {
    pub(crate) segments: Vec<StepInterpolant<S>>,
    pub(crate) direction: f64,
    /// Where a terminal event ended the solve inside the last segment.
    pub(crate) t_stop: Option<f64>,
}

impl<S: OdeState> DenseSolution<S> {
    /// The interval covered, `(t0, t_end)` in integration order.
    pub fn t_span(&self) -> Option<(f64, f64)> {
        let first = self.segments.first()?;
        let last = self.segments.last()?;
        Some((first.t0, self.t_stop.unwrap_or(last.t0 + last.h)))
    }

    /// The state at `t`, or `None` outside the covered interval.
    pub fn eval(&self, t: f64) -> Option<S> {
        let (a, b) = self.t_span()?;
        let d = self.direction;
        if !t.is_finite() || (t - a) * d < 0.0 || (t - b) * d > 0.0 {
            return None;
        }
        // Segments are ordered along the direction of integration.
        let idx = self.segments.partition_point(|s| (s.t0 + s.h - t) * d < 0.0);
        let seg = self.segments.get(idx).or(self.segments.last())?;
        Some(seg.eval(t))
    }

    /// Number of steps (segments).
    pub fn len(&self) -> usize {
        self.segments.len()
    }

    pub fn is_empty(&self) -> bool {
        self.segments.is_empty()
    }
}
