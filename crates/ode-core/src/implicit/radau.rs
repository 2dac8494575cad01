//! Radau IIA of order 5 (three stages), after Hairer and Wanner's RADAU5
//! (Solving ODEs II, IV.8) in the form of scipy's `Radau`: the stage system
//! is decoupled by the eigenvectors of the inverse coefficient matrix into
//! one real and one complex `n x n` system, solved by simplified Newton;
//! the embedded error estimate is filtered through the real LU (and
//! refined with one more evaluation after a rejection); the step size
//! follows Gustafsson's predictive controller; the Jacobian is refreshed
//! only when Newton converged slowly.

use ndarray::{Array1, Array2, Zip};
use ndarray_linalg::c64;

use super::dense::{radau_eval, Segment};
use super::jacobian::Jacobian;
use super::lu::{ComplexFactor, RealFactor};
use super::newton::{rms, Cause, Ctx, Fail};
use super::{StepInfo, Stepper, StiffRhs};

mod newton;
mod residual;

use newton::{solve_collocation, NewtonOut, RadauWork};

const S6: f64 = 2.449_489_742_783_178;
/// Collocation nodes.
const C: [f64; 3] = [(4.0 - S6) / 10.0, (4.0 + S6) / 10.0, 1.0];
/// Error estimator weights (divided by h).
const E: [f64; 3] = [(-13.0 - 7.0 * S6) / 3.0, (-13.0 + 7.0 * S6) / 3.0, -1.0 / 3.0];
/// The real eigenvalue of the inverse Butcher matrix, `3 + 3^(2/3) - 3^(1/3)`.
const MU_REAL: f64 = 3.637_834_252_744_496;
/// The complex eigenvalue.
const MU_COMPLEX: (f64, f64) = (2.681_082_873_627_752_3, -3.050_430_199_247_411);
/// Eigenvectors `T` and their inverse `TI` (values from scipy's radau.py,
/// kept digit for digit).
#[allow(clippy::excessive_precision)]
const T: [[f64; 3]; 3] = [
    [0.094_438_762_488_975_24, -0.141_255_295_020_954_21, 0.030_029_194_105_147_42],
    [0.250_213_122_965_333_32, 0.204_129_352_293_799_94, -0.382_942_112_757_261_92],
    [1.0, 1.0, 0.0],
];
#[allow(clippy::excessive_precision)]
const TI: [[f64; 3]; 3] = [
    [4.178_718_591_551_904, 0.327_682_820_761_062_37, 0.523_376_445_499_449_5],
    [-4.178_718_591_551_904, -0.327_682_820_761_062_37, 0.476_623_554_500_550_44],
    [0.502_872_634_945_786_8, -2.571_926_949_855_605, 0.596_039_204_828_224_9],
];
/// Dense output: `Q = Z^T P` gives the collocation polynomial.
const P: [[f64; 3]; 3] = [
    [13.0 / 3.0 + 7.0 * S6 / 3.0, -23.0 / 3.0 - 22.0 * S6 / 3.0, 10.0 / 3.0 + 5.0 * S6],
    [13.0 / 3.0 - 7.0 * S6 / 3.0, -23.0 / 3.0 + 22.0 * S6 / 3.0, 10.0 / 3.0 - 5.0 * S6],
    [1.0 / 3.0, -8.0 / 3.0, 10.0 / 3.0],
];
const NEWTON_MAXITER: usize = 6;
const FIXED_STEP_MAXITER: usize = 50;
const MIN_FACTOR: f64 = 0.2;
const MAX_FACTOR: f64 = 10.0;

/// Whether the LUs built for step `h_lu` serve step `h`. A kept step comes
/// back as `(t + h) - t`, a few ulps off; refactorizing for that (as an
/// exact comparison did) cost 3 of 13 factorization pairs on heat1000.
fn same_step(h_lu: f64, h: f64) -> bool {
    (h / h_lu - 1.0).abs() <= 1e-10
}

struct Lus {
    real: RealFactor,
    complex: ComplexFactor,
    h: f64,
}

/// Gustafsson's predictive step-size factor (Hairer's RADAU5, scipy).
fn predict_factor(h_abs: f64, h_abs_old: Option<f64>, err: f64, err_old: Option<f64>) -> f64 {
    let multiplier = match (h_abs_old, err_old) {
        (Some(ho), Some(eo)) if err != 0.0 => h_abs / ho * (eo / err).powf(0.25),
        _ => 1.0,
    };
    if err == 0.0 {
        return MAX_FACTOR;
    }
    multiplier.min(1.0) * err.powf(-0.25)
}

/// The Radau IIA stepper's state between steps.
pub(crate) struct Radau5 {
    t: f64,
    y: Array1<f64>,
    f: Array1<f64>,
    h_abs: f64,
    h_abs_old: Option<f64>,
    err_old: Option<f64>,
    jac: Jacobian,
    current_jac: bool,
    lus: Option<Lus>,
    newton_tol: f64,
    /// Constant step (no error control) when set.
    fixed: Option<f64>,
    /// The last step's collocation polynomial: `(t_old, h, y_old, Q)`.
    last: Option<(f64, f64, Array1<f64>, Array2<f64>)>,
    first: bool,
    /// Newton's vectors.
    work: RadauWork,
    /// The stage guesses of the step being tried.
    guess: [Array1<f64>; 3],
    /// The error estimate's `sum_i e_i z_i / h` and right-hand side (then
    /// the estimate).
    ze: Array1<f64>,
    err: Array1<f64>,
}

impl Radau5 {
    pub fn new<F: StiffRhs + ?Sized>(
        ctx: &mut Ctx<'_, F>,
        t0: f64,
        y0: Array1<f64>,
        f0: Array1<f64>,
        h_abs: f64,
        fixed: Option<f64>,
    ) -> Result<Self, Fail> {
        let jac = ctx.jacobian(t0, &y0, Some(&f0))?;
        let newton_tol = super::bdf::newton_tol(ctx.tol.rtol);
        Ok(Radau5 {
            t: t0,
            y: y0,
            f: f0,
            h_abs: fixed.unwrap_or(h_abs),
            h_abs_old: None,
            err_old: None,
            jac,
            current_jac: true,
            lus: None,
            newton_tol,
            fixed,
            last: None,
            first: true,
            work: RadauWork::new(ctx.n),
            guess: std::array::from_fn(|_| Array1::zeros(ctx.n)),
            ze: Array1::zeros(ctx.n),
            err: Array1::zeros(ctx.n),
        })
    }

    /// The LUs of `mu_real/h I - J` and `mu_complex/h I - J`.
    fn factorize(&self, ctx: &mut Ctx<'_, impl StiffRhs + ?Sized>, h: f64) -> Option<Lus> {
        ctx.sstats.n_lu += 2;
        let mu_c = c64::new(MU_COMPLEX.0, MU_COMPLEX.1) / h;
        let real = self.jac.factor_real(MU_REAL / h, -1.0).ok()?;
        let complex = self.jac.factor_complex(mu_c, -1.0).ok()?;
        Some(Lus { real, complex, h })
    }

    /// The stage guess from the previous step's collocation polynomial,
    /// into `self.guess`.
    fn predict(&mut self, h: f64) {
        match &self.last {
            Some((t_old, h_old, y_old, q)) => {
                // The powers `radau_eval` forms (`1 x` is `x` exactly), at each
                // stage time.
                let powers = C.map(|c| {
                    let t = self.t + c * h;
                    let x = if *h_old == 0.0 { 0.0 } else { (t - t_old) / h_old };
                    [x, x * x, x * x * x]
                });
                residual::predict_into(y_old, q, &powers, &self.y, &mut self.guess);
            }
            None => self.guess.iter_mut().for_each(|g| g.fill(0.0)),
        }
    }
}

impl Stepper for Radau5 {
    fn t(&self) -> f64 {
        self.t
    }

    fn y(&self) -> &Array1<f64> {
        &self.y
    }

    fn step<F: StiffRhs + ?Sized>(&mut self, ctx: &mut Ctx<'_, F>, t_bound: f64) -> Result<StepInfo, Fail> {
        let t = self.t;
        let dir = ctx.direction;
        let min_step = ctx.min_step_at(t);
        let mut h_abs = self.h_abs;
        let (mut h_abs_old, mut err_old) = (self.h_abs_old, self.err_old);
        if h_abs > ctx.max_step {
            h_abs = ctx.max_step;
            (h_abs_old, err_old) = (None, None);
        } else if h_abs < min_step {
            h_abs = min_step;
            (h_abs_old, err_old) = (None, None);
        }
        let mut rejected = false;
        loop {
            let mut h = h_abs * dir;
            ctx.budget(t, h)?;
            let mut t_new = t + h;
            if (t_new - t_bound) * dir >= 0.0 || (t_bound - t).abs() <= min_step {
                t_new = t_bound;
            }
            h = t_new - t;
            h_abs = h.abs();
            self.predict(h);
            let scale = ctx.scale(&self.y);

            let mut out: Option<NewtonOut> = None;
            let mut cause = Cause::Diverged;
            loop {
                if self.lus.as_ref().is_none_or(|l| !same_step(l.h, h)) {
                    self.lus = self.factorize(ctx, h);
                    if self.lus.is_none() {
                        cause = Cause::Singular;
                        if self.current_jac {
                            break;
                        }
                        self.jac = ctx.jacobian(t, &self.y, Some(&self.f))?;
                        self.current_jac = true;
                        continue;
                    }
                }
                let lus = self.lus.as_ref().expect("factorized above");
                let maxiter = if self.fixed.is_some() { FIXED_STEP_MAXITER } else { NEWTON_MAXITER };
                let o = solve_collocation(
                    ctx,
                    t,
                    &self.y,
                    h,
                    &self.guess,
                    &scale,
                    self.newton_tol,
                    lus,
                    maxiter,
                    &mut self.work,
                )?;
                if o.converged {
                    out = Some(o);
                    break;
                }
                cause = o.cause;
                if self.current_jac || matches!(cause, Cause::NonFinite(_)) {
                    break;
                }
                self.jac = ctx.jacobian(t, &self.y, Some(&self.f))?;
                self.current_jac = true;
                self.lus = None;
            }
            let Some(out) = out else {
                if self.fixed.is_some() {
                    ctx.stats.n_rejected += 1;
                    return Err(match cause {
                        Cause::NonFinite(tf) => Fail::NonFiniteRhs { t: tf },
                        Cause::Singular => Fail::Singular { t, h },
                        Cause::Diverged => Fail::Newton { t, h },
                    });
                }
                ctx.newton_failure(cause, t, h_abs * 0.5)?;
                h_abs *= 0.5;
                self.lus = None;
                continue;
            };

            let [z0, z1, z2] = &self.work.z;
            let y_new = &self.y + z2;
            if !residual::all_finite(&y_new) {
                ctx.newton_failure(Cause::Diverged, t, h_abs * 0.5)?;
                h_abs *= 0.5;
                self.lus = None;
                continue;
            }
            let n_iter = out.n_iter.min(NEWTON_MAXITER);
            let safety = 0.9 * (2 * NEWTON_MAXITER + 1) as f64 / (2 * NEWTON_MAXITER + n_iter) as f64;
            let mut error_norm = 0.0;
            if self.fixed.is_none() {
                let e = [E[0] / h, E[1] / h, E[2] / h];
                residual::error_rhs_into(&self.work.z, &e, &self.f, &mut self.ze, &mut self.err);
                let ze = &self.ze;
                let lus = self.lus.as_ref().expect("factorized");
                let mut err = lus.real.solve(std::mem::take(&mut self.err));
                let scale = ctx.scale2(&self.y, &y_new);
                error_norm = rms(&err, &scale);
                if error_norm > 1.0 && (rejected || self.first) {
                    // Hairer's refinement, which filters the stiff components.
                    let fe = ctx.rhs(t, &(&self.y + &err))?;
                    err = lus.real.solve(fe + ze);
                    error_norm = rms(&err, &scale);
                }
                // The buffer for the next step's estimate.
                self.err = err;
                if error_norm.is_nan() || error_norm > 1.0 {
                    ctx.stats.n_rejected += 1;
                    let factor = if error_norm.is_finite() {
                        predict_factor(h_abs, h_abs_old, error_norm, err_old)
                    } else {
                        MIN_FACTOR
                    };
                    h_abs *= MIN_FACTOR.max(safety * factor);
                    if h_abs < ctx.min_step_at(t) {
                        return Err(Fail::Underflow { t, h: h_abs * dir });
                    }
                    rejected = true;
                    continue;
                }
            }

            // Accepted.
            ctx.stats.n_accepted += 1;
            ctx.failures = 0;
            let recompute_jac = out.n_iter > 2 && out.rate.is_some_and(|r| r > 1e-3);
            let mut factor = 1.0;
            if self.fixed.is_none() {
                factor = MAX_FACTOR.min(safety * predict_factor(h_abs, h_abs_old, error_norm, err_old));
                if !recompute_jac && factor < 1.2 {
                    factor = 1.0;
                }
            }
            let f_new = ctx.rhs(t_new, &y_new)?;
            if !residual::all_finite(&f_new) {
                return Err(Fail::NonFiniteRhs { t: t_new });
            }
            if recompute_jac {
                self.jac = ctx.jacobian(t_new, &y_new, Some(&f_new))?;
                self.current_jac = true;
                self.lus = None;
            } else {
                self.current_jac = false;
            }
            let mut q = Array2::zeros((3, ctx.n));
            for (k, mut row) in q.rows_mut().into_iter().enumerate() {
                Zip::from(&mut row).and(z0).and(z1).and(z2).for_each(|r, &a, &b, &c| {
                    *r = P[0][k] * a + P[1][k] * b + P[2][k] * c;
                });
            }
            let y_old = std::mem::replace(&mut self.y, y_new);
            self.last = Some((t, h, y_old, q));
            self.t = t_new;
            self.f = f_new;
            self.h_abs_old = Some(h_abs);
            self.err_old = Some(error_norm);
            self.h_abs = match self.fixed {
                Some(hf) => hf,
                None => h_abs * factor,
            };
            self.first = false;
            return Ok(StepInfo { t_old: t, h, error_ratio: error_norm });
        }
    }

    fn segment(&self) -> Option<Segment> {
        self.last.as_ref().map(|(t_old, h, y_old, q)| Segment::Radau {
            t_old: *t_old,
            h: *h,
            y_old: y_old.clone(),
            q: q.clone(),
        })
    }

    fn eval_last(&self, t: f64) -> Option<Array1<f64>> {
        let (t_old, h, y_old, q) = self.last.as_ref()?;
        Some(radau_eval(*t_old, *h, y_old, q, t))
    }
}
