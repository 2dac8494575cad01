//! BDF's corrector: simplified Newton on `y - c f(t_new, y) - psi = 0`
//! with scipy's convergence test, and its tolerance.

use super::super::bdf_work::{self, BdfWork};
use super::super::newton::{progress, Cause, Ctx, Fail, Progress, ScaledLu};
use super::super::StiffRhs;

/// Newton iterations per attempt before the step counts as not converged.
pub(super) const NEWTON_MAXITER: usize = 4;

/// How much larger than the carried rate this step's is taken to be. On
/// the stiff test problems a rate measured with a stale Jacobian was up to
/// 10x below the next step's (a few of 5000 steps, far more often with a
/// fresh Jacobian, whose convergence is quadratic: those rates are not
/// carried at all); the heat equation's rates stay at round-off, 1e-10.
/// So in effect only (nearly) linear problems skip the second iteration.
const PRIOR_RATE_MARGIN: f64 = 100.0;

/// Steps a carried rate may let converge on their first iteration before
/// a step measures the rate again. The rate bounds the Jacobian's error,
/// and that error grows as the solution moves away from where the
/// Jacobian was evaluated; a step that converges on its first iteration
/// measures nothing. Without a limit, Robertson to 4e10 with an LU rebuilt
/// at every change of `c` carried one rate from step to step while its
/// Jacobian went stale: the one-iteration corrections were off by more
/// than the error estimate allowed, BDF stayed at order 1 with steps of
/// 4e-4 and ran out of steps at t = 32. (With LUs reused across changes
/// of `c`, each change re-measured the rate.) There the trouble starts
/// after about 160 uses (at 400, 1128 steps instead of 876). On the heat
/// equation with 1000 points at rtol 1e-9 the limit costs 23 of BDF's
/// 207 evaluations of f: the re-measured rate is round-off, whose noise
/// can fail the margin above for a few steps.
const RATE_MAX_USES: usize = 20;

/// A Newton contraction rate measured with a stale Jacobian, for the
/// iteration matrix built with `c`, and how many steps converged on their
/// first iteration by it since it was measured.
#[derive(Clone, Copy, Debug)]
pub(super) struct CarriedRate {
    c: f64,
    rate: f64,
    uses: usize,
}

impl CarriedRate {
    pub fn measured(c: f64, rate: f64) -> Self {
        CarriedRate { c, rate, uses: 0 }
    }

    /// The rate a step with the iteration matrix built for `c` may take as
    /// its prior: only the matrix the rate is for, and only while the rate
    /// is fresh ([`RATE_MAX_USES`]).
    pub fn prior_for(&self, c: f64) -> Option<f64> {
        (self.c == c && self.uses < RATE_MAX_USES).then_some(self.rate)
    }

    /// A step converged on its first iteration by this rate.
    pub fn used(&mut self) {
        self.uses += 1;
    }

    /// The rate a new LU, built for `c` from the same Jacobian as the LU
    /// that measured this rate, is taken to have.
    ///
    /// The contraction rate of simplified Newton is the size of
    /// `(I - c J_lu)^-1 c (J - J_lu)` on the correction: the Jacobian's
    /// error, which a new factorization of the same Jacobian leaves as it
    /// was, times `c` on the components where `c J` is small, and bounded
    /// where it is large. So a rate measured before a refactorization
    /// bounds the new one when scaled by the growth of `c`. Without it,
    /// each of the heat equation's refactorizations cost a second iteration
    /// just to measure round-off again (9 of its 55 evaluations of f at
    /// rtol 1e-4).
    ///
    /// The callers drop the rate when the Jacobian is evaluated again and
    /// when an attempt's iterations fail.
    pub fn refactorized(self, c: f64) -> Self {
        CarriedRate { c, rate: self.rate * (c / self.c).abs().max(1.0), uses: self.uses }
    }
}

/// Newton tolerance of scipy's BDF and Radau (relative to the error scale).
pub(crate) fn newton_tol(rtol: f64) -> f64 {
    (10.0 * f64::EPSILON / rtol.max(1e-300)).max(0.03f64.min(rtol.sqrt()))
}

/// The outcome of a Newton solve of one BDF step; the iterate and the
/// correction are left in the work vectors.
pub(super) struct NewtonOut {
    pub converged: bool,
    pub n_iter: usize,
    pub cause: Cause,
    /// The last contraction rate measured, if two iterations were made.
    pub rate: Option<f64>,
}

/// Simplified Newton for `y - c f(t_new, y) - psi = 0` starting from the
/// predictor `w.y_pred` (with `w.psi` and the scale `w.scale`); `w.d`
/// accumulates `y - y_pred`, `w.y` is the iterate.
///
/// `prior_rate` is a contraction rate measured on an earlier step with the
/// same matrix and the same `c`. scipy's test needs a rate, so without one
/// every step costs at least two iterations; with one (times
/// [`PRIOR_RATE_MARGIN`]), the first correction may already pass the same
/// test, as LSODA and CVODE let theirs pass with the rate `crate` they
/// carry from step to step. On a linear problem with an exact LU the rate
/// is round-off and the first iteration is the solution: the heat equation
/// with 1000 points at rtol 1e-6 takes 104 evaluations of f, not 134. A
/// carried rate never declares divergence: only this step's rates do.
#[allow(clippy::too_many_arguments)]
pub(super) fn solve_bdf_system<F: StiffRhs + ?Sized>(
    ctx: &mut Ctx<'_, F>,
    t_new: f64,
    c: f64,
    lu: &ScaledLu,
    tol: f64,
    prior_rate: Option<f64>,
    w: &mut BdfWork,
) -> Result<NewtonOut, Fail> {
    w.d.fill(0.0);
    w.y.assign(&w.y_pred);
    let prior = prior_rate.map(|r| r * PRIOR_RATE_MARGIN);
    let mut dy_norm_old: Option<f64> = None;
    let mut last_rate = None;
    let mut converged = false;
    let mut cause = Cause::Diverged;
    let mut k = 0;
    while k < NEWTON_MAXITER {
        let mut rhs = ctx.rhs(t_new, &w.y)?;
        ctx.sstats.n_newton_iters += 1;
        if !bdf_work::newton_rhs(&mut rhs, c, w) {
            cause = Cause::NonFinite(t_new);
            break;
        }
        let dy = lu.solve(rhs);
        // `w.y` and `w.d` take the correction at once; when this iteration
        // is the one that stops without converging they are not used.
        let dy_norm = bdf_work::newton_update(&dy, w);
        if !dy_norm.is_finite() {
            break;
        }
        let rate = dy_norm_old.map(|old| dy_norm / old);
        last_rate = rate.or(last_rate);
        match progress(rate, dy_norm, NEWTON_MAXITER - k, tol, true) {
            Progress::Diverging => break,
            Progress::Converged => {
                converged = true;
                break;
            }
            Progress::Continue => {}
        }
        if k == 0 && prior.is_some_and(|r| r < 1.0 && r / (1.0 - r) * dy_norm < tol) {
            converged = true;
            break;
        }
        dy_norm_old = Some(dy_norm);
        k += 1;
    }
    Ok(NewtonOut { converged, n_iter: (k + 1).min(NEWTON_MAXITER), cause, rate: last_rate })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_carried_rate_serves_its_own_c_and_expires_after_its_uses() {
        let mut r = CarriedRate::measured(0.5, 1e-6);
        assert_eq!(r.prior_for(0.5), Some(1e-6));
        assert_eq!(r.prior_for(0.25), None);
        for _ in 0..RATE_MAX_USES - 1 {
            r.used();
        }
        assert_eq!(r.prior_for(0.5), Some(1e-6));
        // A refactorization scales the rate by the growth of `c` (never
        // down) and keeps the count: the Jacobian is as old as before.
        let grown = r.refactorized(1.0);
        assert_eq!(grown.prior_for(1.0), Some(2e-6));
        assert_eq!(r.refactorized(0.25).prior_for(0.25), Some(1e-6));
        let mut grown = grown;
        grown.used();
        assert_eq!(grown.prior_for(1.0), None);
        assert_eq!(CarriedRate::measured(1.0, 3e-6).prior_for(1.0), Some(3e-6));
    }
}
