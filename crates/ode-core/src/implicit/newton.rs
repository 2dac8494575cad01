//! What every implicit stepper shares: counted and checked evaluations of
//! `f` and of the Jacobian, the error norm, the step budget, and the policy
//! for repeated Newton failures.

use ndarray::{Array1, Array2};

use super::banded::{detect, BandError, BandMatrix};
use super::jacobian::{finite_difference, finite_difference_banded, Jacobian, JacobianStructure, StiffRhs};
use super::lu::RealFactor;
use super::StiffStats;
use crate::solution::Stats;
use crate::tolerance::{Atol, Tolerance};

/// No step is shorter: near `t = 0` ten ulps of `t` would allow steps of
/// 1e-322, whose reciprocals (Radau's `mu / h`) overflow and make every
/// iteration matrix look singular.
pub(crate) const H_FLOOR: f64 = 1e-300;

/// Newton failures (or singular iteration matrices) in a row, each followed
/// by halving the step, after which a solve gives up with a typed error.
pub(crate) const MAX_CONSECUTIVE_FAILURES: usize = 10;

/// The largest relative change of the scalar `c` of a Newton matrix
/// `I - c J` for which the old factorization is still used (CVODE's
/// `dgmax`; LSODA's `ccmax` is the same 0.3).
pub(crate) const LU_REUSE_MAX_CHANGE: f64 = 0.3;
/// Relative differences of `c` below this are rounding (a step `h` comes
/// back as `(t + h) - t`).
const SAME_C: f64 = 1e-10;

/// A factorized Newton matrix `I - c J` (BDF's, with `c = h / alpha_k`) and
/// the `c` it was built with. Steps whose `c` is within
/// [`LU_REUSE_MAX_CHANGE`] of it reuse it (unless the options say not to),
/// as LSODA and CVODE do, instead of refactorizing at every change of step
/// size or order.
pub(crate) struct ScaledLu {
    pub lu: RealFactor,
    pub c: f64,
}

impl ScaledLu {
    /// Whether the factorization may serve a step with scalar `c`
    /// (`max_change` 0: only the same `c`, up to the rounding of `t + h - t`).
    pub fn usable(&self, c: f64, max_change: f64) -> bool {
        (c / self.c - 1.0).abs() <= max_change.max(SAME_C)
    }

    /// The largest relative change of `c` this factorization serves:
    /// `configured` (the options' reuse policy), except for a factorization
    /// that costs about one Newton iteration, which is rebuilt for every
    /// new `c`. Reused across a change of `c`, the LU of the heat equation
    /// with 1000 points needed a second iteration on every step until the
    /// next refactorization (contraction rate 1e-3 where the fresh LU's is
    /// round-off): rebuilt, BDF there makes 141 evaluations of f and 17
    /// LUs at rtol 1e-8 instead of 193 and 11, for the same steps.
    pub fn reuse_limit(&self, configured: f64) -> f64 {
        if self.lu.rebuild_costs_an_iteration() {
            0.0
        } else {
            configured
        }
    }

    /// Whether it was built for `c` itself (up to rounding).
    pub fn is_for(&self, c: f64) -> bool {
        self.usable(c, 0.0)
    }

    /// Solves with the factorized matrix. When it was built for another
    /// `c`, the correction is used as it comes: CVODE's rescaling by
    /// `2 / (1 + c / c_lu)` (exact on the stiff components in the limit)
    /// cost more Newton iterations than it saved on every problem of the
    /// stiff benchmark (heat100 at rtol 1e-8: 395 evaluations of f against
    /// 263 without it).
    pub fn solve(&self, b: Array1<f64>) -> Array1<f64> {
        self.lu.solve(b)
    }
}

/// Why a solve stopped; turned into a `SolveError` (with the partial
/// solution) by the driver.
#[derive(Debug)]
pub(crate) enum Fail {
    Shape { t: f64, found: String },
    NonFiniteRhs { t: f64 },
    NonFiniteJacobian { t: f64 },
    NotBanded { t: f64, row: usize, col: usize, lower: usize, upper: usize },
    Singular { t: f64, h: f64 },
    Newton { t: f64, h: f64 },
    Underflow { t: f64, h: f64 },
    MaxSteps { t: f64, h: f64 },
}

/// Why the last trial step failed.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Cause {
    /// `f` returned NaN/inf at this time during the Newton iteration.
    NonFinite(f64),
    Singular,
    Diverged,
}

/// The solve-wide context a stepper works in.
pub(crate) struct Ctx<'a, F: ?Sized> {
    pub f: &'a F,
    /// The declared structure of the Jacobian (validated against `n`).
    pub structure: JacobianStructure,
    /// With a dense structure, factorize in band storage when a Jacobian
    /// turns out to be narrowly banded ([`super::StiffOptions::detect_band`]).
    pub detect_band: bool,
    /// The largest relative change of BDF's `h / alpha_k` an LU survives:
    /// [`LU_REUSE_MAX_CHANGE`], or 0 when the options switch reuse off.
    pub lu_max_change: f64,
    pub tol: &'a Tolerance,
    pub n: usize,
    pub direction: f64,
    pub min_step: f64,
    pub max_step: f64,
    pub max_steps: usize,
    pub stats: Stats,
    pub sstats: StiffStats,
    /// Failed trials since the last accepted step.
    pub failures: usize,
}

impl<'a, F: ?Sized> Ctx<'a, F> {
    /// A context with no step limits, forward in time, a dense Jacobian and
    /// no LU reuse; callers override fields with struct-update syntax.
    pub fn new(f: &'a F, tol: &'a Tolerance, n: usize) -> Self {
        Ctx {
            f,
            structure: JacobianStructure::Dense,
            detect_band: false,
            lu_max_change: 0.0,
            tol,
            n,
            direction: 1.0,
            min_step: 0.0,
            max_step: f64::INFINITY,
            max_steps: usize::MAX,
            stats: Stats::default(),
            sstats: StiffStats::default(),
            failures: 0,
        }
    }
}

impl<F: StiffRhs + ?Sized> Ctx<'_, F> {
    /// `f(t, y)`, counted; a wrong length is a hard error, non-finite values
    /// are returned for the caller to judge.
    pub fn rhs(&mut self, t: f64, y: &Array1<f64>) -> Result<Array1<f64>, Fail> {
        let v = self.f.eval(t, y);
        self.stats.nfe += 1;
        if v.len() != self.n {
            return Err(Fail::Shape { t, found: format!("{:?}", v.shape()) });
        }
        Ok(v)
    }

    /// The Jacobian at `(t, y)` in the declared structure: analytic when
    /// the right-hand side has one, else finite differences (`f0 = f(t, y)`
    /// is computed when not given).
    pub fn jacobian(&mut self, t: f64, y: &Array1<f64>, f0: Option<&Array1<f64>>) -> Result<Jacobian, Fail> {
        self.sstats.n_jac += 1;
        let jac = match self.structure {
            JacobianStructure::Dense => match self.f.jacobian(t, y) {
                Some(j) => {
                    if j.shape() != [self.n, self.n] {
                        return Err(Fail::Shape { t, found: format!("{:?} (Jacobian)", j.shape()) });
                    }
                    self.dense_or_band(j)
                }
                None => {
                    let f0 = self.checked_f0(t, y, f0)?;
                    let j = finite_difference(self.f, t, y, &f0, &mut self.stats.nfe)
                        .map_err(|found| Fail::Shape { t, found })?;
                    self.dense_or_band(j)
                }
            },
            JacobianStructure::Banded { lower, upper } => {
                Jacobian::Banded(self.banded(t, y, f0, lower, upper)?)
            }
        };
        let finite = match &jac {
            Jacobian::Dense(j) => j.iter().all(|v| v.is_finite()),
            Jacobian::Banded(b) => b.all_finite(),
        };
        if !finite {
            return Err(Fail::NonFiniteJacobian { t });
        }
        Ok(jac)
    }

    /// A dense Jacobian, moved to band storage when detection is on and
    /// its band is narrow, and always for tiny systems (the next LUs are
    /// then ours, not LAPACK's).
    fn dense_or_band(&self, j: Array2<f64>) -> Jacobian {
        match detect::band_storage(&j, self.detect_band) {
            Some((lower, upper)) => Jacobian::Banded(detect::to_band(&j, lower, upper)),
            None => Jacobian::Dense(j),
        }
    }

    /// A banded Jacobian: the right-hand side's banded one, else its dense
    /// one (checked to vanish outside the band), else grouped differences.
    fn banded(
        &mut self,
        t: f64,
        y: &Array1<f64>,
        f0: Option<&Array1<f64>>,
        lower: usize,
        upper: usize,
    ) -> Result<BandMatrix, Fail> {
        let not_banded = |(row, col): (usize, usize)| Fail::NotBanded { t, row, col, lower, upper };
        let shape = |e: BandError| Fail::Shape { t, found: format!("{e} (Jacobian)") };
        let mut band = BandMatrix::zeros(self.n, lower, upper).map_err(shape)?;
        if self.f.banded_jacobian(t, y, &mut band) {
            return match band.outside_band() {
                Some(ij) => Err(not_banded(ij)),
                None => Ok(band),
            };
        }
        if let Some(j) = self.f.jacobian(t, y) {
            if j.shape() != [self.n, self.n] {
                return Err(Fail::Shape { t, found: format!("{:?} (Jacobian)", j.shape()) });
            }
            return BandMatrix::from_dense(&j, lower, upper).map_err(|e| match e {
                BandError::OutsideBand { row, col, .. } => not_banded((row, col)),
                other => shape(other),
            });
        }
        let f0 = self.checked_f0(t, y, f0)?;
        finite_difference_banded(self.f, t, y, &f0, lower, upper, &mut self.stats.nfe)
            .map_err(|found| Fail::Shape { t, found })
    }

    /// `f(t, y)` (given or evaluated), which must be finite for differences.
    fn checked_f0(&mut self, t: f64, y: &Array1<f64>, f0: Option<&Array1<f64>>) -> Result<Array1<f64>, Fail> {
        let f0 = match f0 {
            Some(v) => v.clone(),
            None => self.rhs(t, y)?,
        };
        if !f0.iter().all(|v| v.is_finite()) {
            return Err(Fail::NonFiniteRhs { t });
        }
        Ok(f0)
    }

    /// `atol + rtol * |y|` per component.
    pub fn scale(&self, y: &Array1<f64>) -> Array1<f64> {
        let mut out = Array1::zeros(self.n);
        self.scale_into(y, &mut out);
        out
    }

    /// [`Ctx::scale`] into a buffer of length `n` (BDF's per-step scales,
    /// with no allocation). With a scalar atol, one vectorized pass (the
    /// general form reads the tolerance through a match per component).
    pub fn scale_into(&self, y: &Array1<f64>, out: &mut Array1<f64>) {
        let rtol = self.tol.rtol;
        match (&self.tol.atol, y.as_slice(), out.as_slice_mut()) {
            (Atol::Scalar(a), Some(y), Some(o)) if y.len() == o.len() => {
                o.iter_mut().zip(y).for_each(|(o, v)| *o = a + rtol * v.abs());
            }
            _ => out.indexed_iter_mut().for_each(|(j, o)| *o = self.tol.atol_at(j) + rtol * y[j].abs()),
        }
    }

    /// `atol + rtol * max(|a|, |b|)` per component.
    pub fn scale2(&self, a: &Array1<f64>, b: &Array1<f64>) -> Array1<f64> {
        let rtol = self.tol.rtol;
        match (&self.tol.atol, a.as_slice(), b.as_slice()) {
            (Atol::Scalar(atol), Some(a), Some(b)) if a.len() == self.n && b.len() == self.n => {
                Array1::from_iter(a.iter().zip(b).map(|(x, y)| atol + rtol * x.abs().max(y.abs())))
            }
            _ => Array1::from_shape_fn(self.n, |j| self.tol.atol_at(j) + rtol * a[j].abs().max(b[j].abs())),
        }
    }

    /// Fails when another trial would exceed `max_steps`, or when
    /// `max_step` is below the smallest step that registers at `t` (a user
    /// may set it that small; every trial would then leave `t` in place).
    pub fn budget(&self, t: f64, h: f64) -> Result<(), Fail> {
        if self.stats.n_steps() >= self.max_steps {
            return Err(Fail::MaxSteps { t, h });
        }
        if self.max_step < self.min_step_at(t) {
            return Err(Fail::Underflow { t, h: self.max_step * self.direction });
        }
        Ok(())
    }

    /// The smallest step allowed at `t`: `min_step`, and never below ten
    /// ulps of `t` (scipy's threshold) or [`H_FLOOR`].
    pub fn min_step_at(&self, t: f64) -> f64 {
        self.min_step.max(10.0 * (t.abs().next_up() - t.abs())).max(H_FLOOR)
    }

    /// Records a failed Newton solve (the step is about to be retried with
    /// `h_next`), or gives up with the error that explains it.
    pub fn newton_failure(&mut self, cause: Cause, t: f64, h_next: f64) -> Result<(), Fail> {
        self.stats.n_rejected += 1;
        self.sstats.n_newton_failures += 1;
        self.failures += 1;
        if self.failures >= MAX_CONSECUTIVE_FAILURES || h_next.abs() < self.min_step_at(t) {
            let h = h_next * self.direction;
            return Err(match cause {
                Cause::NonFinite(tf) => Fail::NonFiniteRhs { t: tf },
                Cause::Singular => Fail::Singular { t, h },
                Cause::Diverged if self.failures >= MAX_CONSECUTIVE_FAILURES => Fail::Newton { t, h },
                Cause::Diverged => Fail::Underflow { t, h },
            });
        }
        Ok(())
    }
}

/// Where a simplified Newton iteration stands after a correction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Progress {
    Diverging,
    Converged,
    Continue,
}

/// scipy's stopping rule for simplified Newton (BDF and Radau). `rate` is
/// the contraction measured from the last two corrections, `norm` the
/// latest one: diverging when `rate >= 1` or, with `predict`, when even
/// `iters_left` more iterations at this rate would leave more than `tol`;
/// converged when `rate / (1 - rate) norm`, the distance left to the
/// solution, is below `tol` (or the correction is exactly zero).
pub(crate) fn progress(rate: Option<f64>, norm: f64, iters_left: usize, tol: f64, predict: bool) -> Progress {
    if let Some(r) = rate {
        if r >= 1.0 || (predict && r.powi(iters_left as i32) / (1.0 - r) * norm > tol) {
            return Progress::Diverging;
        }
    }
    if norm == 0.0 || rate.is_some_and(|r| r / (1.0 - r) * norm < tol) {
        return Progress::Converged;
    }
    Progress::Continue
}

/// Root-mean-square of `x / scale`.
pub(crate) fn rms(x: &Array1<f64>, scale: &Array1<f64>) -> f64 {
    let n = x.len().max(1) as f64;
    let s: f64 = match (x.as_slice(), scale.as_slice()) {
        (Some(x), Some(s)) if x.len() == s.len() => super::work::sum_sq_ratio(x, s),
        // Strided: copied, so that the sum is the one above.
        _ => super::work::sum_sq_ratio(&x.to_vec(), &scale.to_vec()),
    };
    (s / n).sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::s;

    /// The one-pass scales (scalar atol, contiguous states) give the bits
    /// of the per-component formula, which strided states and per-component
    /// tolerances still take.
    #[test]
    fn scales_match_the_componentwise_formula() {
        let n = 9;
        let f = |_t: f64, y: &Array1<f64>| y.clone();
        let a = Array1::from_shape_fn(n, |j| ((j as f64) * 0.91).sin() * 10f64.powi(j as i32 - 4));
        let b = Array1::from_shape_fn(n, |j| ((j as f64) * 0.37).cos() - 0.5);
        let mut long = Array1::<f64>::zeros(2 * n);
        long.slice_mut(s![..;2]).assign(&a);
        let a_strided = long.slice_move(s![..;2]);
        assert!(a_strided.as_slice().is_none());
        let atols = [Atol::Scalar(1e-9), Atol::PerComponent((0..n).map(|j| 1e-9 * (j + 1) as f64).collect())];
        for atol in atols {
            let tol = Tolerance::new(1e-6, atol);
            let ctx = Ctx::new(&f, &tol, n);
            let one = Array1::from_shape_fn(n, |j| tol.atol_at(j) + 1e-6 * a[j].abs());
            let two = Array1::from_shape_fn(n, |j| tol.atol_at(j) + 1e-6 * a[j].abs().max(b[j].abs()));
            assert_eq!(ctx.scale(&a), one);
            let mut into = Array1::from_elem(n, f64::NAN);
            ctx.scale_into(&a, &mut into);
            assert_eq!(into, one);
            ctx.scale_into(&a_strided, &mut into);
            assert_eq!(into, one);
            assert_eq!(ctx.scale(&a_strided), one);
            assert_eq!(ctx.scale2(&a, &b), two);
            assert_eq!(ctx.scale2(&a_strided, &b), two);
        }
    }

    /// Detection puts narrowly banded dense Jacobians (analytic or finite
    /// differences) in band storage, leaves wide ones dense, and does
    /// nothing when off.
    #[test]
    fn dense_jacobians_move_to_band_storage_when_narrow() {
        use crate::implicit::problems::{Heat1d, Robertson};
        let tol = Tolerance::new(1e-6, 1e-9);
        let heat = Heat1d { n: 50 };
        let fd = |t: f64, y: &Array1<f64>| heat.eval(t, y);
        let y = heat.y0();
        for detect_band in [true, false] {
            let mut analytic = Ctx { detect_band, ..Ctx::new(&heat, &tol, 50) };
            let mut differences = Ctx { detect_band, ..Ctx::new(&fd, &tol, 50) };
            for jac in
                [analytic.jacobian(0.0, &y, None).unwrap(), differences.jacobian(0.0, &y, None).unwrap()]
            {
                match (detect_band, jac) {
                    (true, Jacobian::Banded(b)) => assert_eq!((b.lower(), b.upper()), (1, 1)),
                    (false, Jacobian::Dense(_)) => {}
                    (_, other) => panic!("detect {detect_band}: {other:?}"),
                }
            }
        }
        // A tiny system goes to band storage whatever the option says.
        let rober = Robertson;
        let mut ctx = Ctx { detect_band: false, ..Ctx::new(&rober, &tol, 3) };
        let jac = ctx.jacobian(0.0, &Robertson::y0(), None).unwrap();
        assert!(matches!(jac, Jacobian::Banded(_)), "{jac:?}");
        // A wide one stays dense.
        let n = 20;
        let full = |_t: f64, y: &Array1<f64>| Array1::from_elem(y.len(), y.sum());
        let mut ctx = Ctx { detect_band: true, ..Ctx::new(&full, &tol, n) };
        let jac = ctx.jacobian(0.0, &Array1::ones(n), None).unwrap();
        assert!(matches!(jac, Jacobian::Dense(_)), "{jac:?}");
    }
}
