//! The step estimates `Auto` compares: what an accepted Adams step says
//! about Adams's and BDF's next steps, LSODE's step factor, and the
//! spectral radius that bounds Adams's stable step in the BDF phase.

use ndarray::Array1;

use super::super::adams::Adams;
use super::super::bdf;
use super::super::jacobian::Jacobian;
use super::super::newton::Ctx;
use super::super::nordsieck::AdamsCoeffs;
use super::super::{work, Stepper, StiffRhs};

/// Power iterations for the Jacobian's spectral radius.
const POWER_ITERS: usize = 12;

/// [`adams_view`]'s result.
pub(super) struct AdamsView {
    /// `|h|` of the step just taken.
    pub h: f64,
    /// Adams's next step by accuracy and stability.
    pub h_adams: f64,
    /// Whether stability, not accuracy, limited it.
    pub limited: bool,
    /// BDF's next step, when the history measures it.
    pub h_bdf: Option<f64>,
}

/// LSODE's step factor for an error estimate `err` at order `k`.
pub(super) fn factor(err: f64, k: usize, bias: f64) -> f64 {
    1.0 / (bias * err.powf(1.0 / (k as f64 + 1.0)) + 1e-6)
}

/// What Adams's last accepted step says about both methods' next steps
/// (one `powf` each: on small non-stiff problems these estimates were a
/// third of Auto's time when each use computed its own).
pub(super) fn adams_view(
    a: &Adams,
    ctx: &Ctx<'_, impl StiffRhs + ?Sized>,
    coeffs: &AdamsCoeffs,
    bdf_coeffs: &bdf::Coeffs,
    scale: &mut Array1<f64>,
) -> AdamsView {
    let m = a.measured;
    let (q, h) = (m.order, m.h.abs());
    // Neither step is capped by the growth limit per step: with a tiny
    // error both would be, and the comparison would say nothing.
    let h_acc = h * factor(coeffs.gstar[q] * m.derivative, q, 1.2);
    let h_stab = a.stability_step(q);
    // BDF's step from the same error estimate with BDF's error constant at
    // order min(q, 5); none when the order just dropped from above 5 (row
    // 6, which would measure the sixth derivative, is gone).
    let k = q.min(bdf::MAX_ORDER);
    let bdf_const = bdf_coeffs.error_const(k);
    let h_bdf = if q <= bdf::MAX_ORDER {
        Some(h * factor(bdf_const * m.derivative, k, 1.2))
    } else if a.order() > bdf::MAX_ORDER {
        // |h^6 y^(6)| from the Nordsieck row 6 (scaled to Adams's next step).
        let (z, _) = a.nordsieck();
        if scale.len() != a.y().len() {
            *scale = Array1::zeros(a.y().len());
        }
        ctx.scale_into(a.y(), scale);
        let d6 = coeffs.fact[6] * work::rms_view(z.row(6), scale);
        Some(a.h_abs() * factor(bdf_const * d6, k, 1.2))
    } else {
        None
    };
    AdamsView {
        h,
        h_adams: h_acc.min(h_stab).min(ctx.max_step),
        limited: h_acc >= h_stab,
        h_bdf: h_bdf.map(|hb| hb.min(ctx.max_step)),
    }
}

/// An estimate of the largest eigenvalue modulus of `J` by power
/// iteration: what limits Adams's stable step. (A weighted norm of `J`, as
/// LSODA uses, bounds it too, but components near zero with a tiny `atol`
/// inflate that bound by orders of magnitude.)
pub(super) fn spectral_radius(jac: &Jacobian) -> f64 {
    let n = jac.nrows();
    if n == 0 {
        return 0.0;
    }
    let norm = |v: &Array1<f64>| v.iter().map(|x| x * x).sum::<f64>().sqrt();
    // A start with components along every direction in general position
    // (the fractional parts of multiples of the golden ratio: no period, and
    // no `sin` per component, which was half the cost at n = 1000).
    let mut v = Array1::from_shape_fn(n, |i| 1.0 + 0.37 * ((i as f64 + 1.0) * 0.618_033_988_749_895).fract());
    v /= norm(&v);
    let mut est = 0.0;
    // One product vector for all iterations: at n = 1000 a fresh one per
    // product cost more than the product.
    let mut w = Array1::zeros(n);
    for _ in 0..POWER_ITERS {
        jac.dot_into(&v, &mut w);
        let nw = norm(&w);
        if !(nw > 0.0 && nw.is_finite()) {
            break;
        }
        est = nw;
        v.zip_mut_with(&w, |a, &b| *a = b / nw);
    }
    est
}
