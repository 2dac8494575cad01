//! The Adams corrector: functional (fixed-point) iteration for the
//! correction `e` in `h f(t_new, y_pred + l_0 e) = z_1^pred + e`, with
//! LSODE's convergence test through the contraction rate, which also
//! measures the stiffest eigenvalue for the automatic switching.

use ndarray::{Array1, Array2};

use super::newton::{Cause, Ctx, Fail};
use super::work;
use super::StiffRhs;

/// Corrector iterations (evaluations of f) per trial step.
const MAX_CORRECTOR_ITERS: usize = 3;
/// Corrector iterations per step at a fixed step size.
const FIXED_STEP_ITERS: usize = 50;

/// The corrector's outcome.
pub(crate) struct Corrected {
    pub converged: bool,
    pub e: Array1<f64>,
    pub y: Array1<f64>,
    pub cause: Cause,
    /// Largest contraction-rate Lipschitz estimate seen, 0 when none.
    pub lipschitz: f64,
}

/// Functional iteration for `e` in `h f(t_new, y_pred + l0 e) = zp_1 + e`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn correct<F: StiffRhs + ?Sized>(
    ctx: &mut Ctx<'_, F>,
    t_new: f64,
    zp: &Array2<f64>,
    l0: f64,
    h: f64,
    scale: &Array1<f64>,
    err_const: f64,
    q: usize,
    fixed: bool,
    measure: bool,
) -> Result<Corrected, Fail> {
    let n = ctx.n;
    let mut e = Array1::zeros(n);
    let mut y = zp.row(0).to_owned();
    let mut rate: f64 = 0.7;
    let mut del_prev = 0.0;
    let mut lipschitz: f64 = 0.0;
    // Corrections below this (in tolerance units) are round-off: their
    // ratios say nothing about the Jacobian.
    let noise = (100.0 * f64::EPSILON / ctx.tol.rtol.max(1e-300)).max(1e-6);
    // Fixed steps cannot shrink on slow convergence: iterate (much) longer,
    // to well below the error of the step.
    let (max_iters, conv_tol) = if fixed {
        (FIXED_STEP_ITERS, 1e-3 / (q as f64 + 2.0))
    } else {
        (MAX_CORRECTOR_ITERS, 0.5 / (q as f64 + 2.0))
    };
    for m in 0..max_iters {
        let f = ctx.rhs(t_new, &y)?;
        ctx.sstats.n_newton_iters += 1;
        if !f.iter().all(|v| v.is_finite()) {
            return Ok(Corrected { converged: false, e, y, cause: Cause::NonFinite(t_new), lipschitz });
        }
        let mut e_new = f * h;
        e_new -= &zp.row(1);
        let del = work::rms_diff(&e_new, &e, scale);
        if !del.is_finite() {
            return Ok(Corrected { converged: false, e, y, cause: Cause::NonFinite(t_new), lipschitz });
        }
        if m > 0 && del_prev > noise {
            let r = del / del_prev;
            rate = (0.2 * rate).max(r);
            lipschitz = lipschitz.max(r / (h.abs() * l0));
        }
        e = e_new;
        y.assign(&zp.row(0));
        y.scaled_add(l0, &e);
        // The iteration error left, bounded through the contraction rate,
        // must be a small part of the error the step is allowed.
        let measured = !measure || m > 0;
        if measured && (del * (1.5 * rate).min(1.0) * err_const <= conv_tol || del == 0.0) {
            return Ok(Corrected { converged: true, e, y, cause: Cause::Diverged, lipschitz });
        }
        if m > 0 && del > 2.0 * del_prev && !fixed {
            break;
        }
        del_prev = del;
    }
    Ok(Corrected { converged: false, e, y, cause: Cause::Diverged, lipschitz })
}
