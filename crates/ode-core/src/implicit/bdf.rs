//! Variable-order (1-5) BDF/NDF with quasi-constant step size, after
//! Shampine and Reichelt's NDF (the MATLAB ode15s paper) as laid out in
//! scipy's `BDF`: the history is kept as backward differences `D^j y` of
//! the current step size, a step-size change interpolates the history onto
//! the new grid (`change_d`), the corrector is a simplified Newton iteration
//! with the LU of `I - h/alpha_k J` reused across steps, and the Jacobian is
//! re-evaluated only when Newton fails to converge with a stale one.

use ndarray::{s, Array1, Array2};

use super::bdf_work::{self, change_d, BdfWork};
use super::clock::Clock;
use super::dense::{bdf_eval, Segment};
use super::jacobian::Jacobian;
use super::newton::{Cause, Ctx, Fail, ScaledLu};
use super::{StepInfo, Stepper, StiffRhs};

mod coeffs;
mod newton;

pub(crate) use coeffs::Coeffs;
pub(crate) use newton::newton_tol;
use newton::{solve_bdf_system, CarriedRate, NewtonOut, NEWTON_MAXITER};

pub(crate) const MAX_ORDER: usize = 5;
const MIN_FACTOR: f64 = 0.2;
const MAX_FACTOR: f64 = 10.0;
/// Smaller step increases are not made (LSODA keeps its step when the
/// factor is below 1.1, CVODE when an increase is below 1.5; scipy's BDF
/// always changes). While the step is held the factor is computed again
/// after every step. Each change rescales the
/// history (`change_d`, 10% of a step's time on the heat equation with 1000
/// points) and moves `c` away from the LU's, so the next steps need a
/// second Newton iteration (see [`solve_bdf_system`]). On heat1000 at rtol
/// 1e-8: 226 evaluations of f and 13 LUs become 198 and 11, for 129 steps
/// instead of 125; the four stiff test problems' counts move by a few
/// percent either way.
const MIN_GROWTH: f64 = 1.2;

/// The last accepted step: its end, its step and order, and whether its
/// differences were copied to `Bdf::last_d` (else they are `Bdf::d`'s
/// first rows, unchanged since the step).
struct LastStep {
    t: f64,
    h: f64,
    order: usize,
    saved: bool,
}

/// The BDF stepper's state between steps.
pub(crate) struct Bdf {
    clock: Clock,
    y: Array1<f64>,
    /// Rows `D^0 y .. D^(MAX_ORDER+2) y` scaled to the current step.
    d: Array2<f64>,
    order: usize,
    max_order: usize,
    h_abs: f64,
    n_equal_steps: usize,
    jac: Jacobian,
    current_jac: bool,
    lu: Option<ScaledLu>,
    /// A Newton contraction rate measured with `lu`'s Jacobian: a later
    /// step with the `c` it is tagged with may converge on its first
    /// iteration (see [`solve_bdf_system`]).
    rate: Option<CarriedRate>,
    coeffs: Coeffs,
    newton_tol: f64,
    /// The last accepted step, for outputs inside it and dense output.
    last: Option<LastStep>,
    /// `D^0..D^k` of the last step, copied here only when the differences
    /// are rescaled before the next step (the other steps use `d` as it
    /// stands: no copy).
    last_d: Array2<f64>,
    last_error: f64,
    work: BdfWork,
}

impl Bdf {
    /// Starts at `(t0, y0)` with `f0 = f(t0, y0)`, order 1 and step `h_abs`.
    pub fn new<F: StiffRhs + ?Sized>(
        ctx: &mut Ctx<'_, F>,
        t0: f64,
        y0: Array1<f64>,
        f0: &Array1<f64>,
        h_abs: f64,
        max_order: usize,
        ndf: bool,
    ) -> Result<Self, Fail> {
        let n = ctx.n;
        let mut d = Array2::zeros((MAX_ORDER + 3, n));
        d.row_mut(0).assign(&y0);
        d.row_mut(1).assign(&(f0 * (h_abs * ctx.direction)));
        let jac = ctx.jacobian(t0, &y0, Some(f0))?;
        Ok(Self::with_history(ctx, t0, d, 1, h_abs, max_order, ndf, jac))
    }

    /// Starts at order `order` from a history handed over by another
    /// method: `d` (BDF's full height) holds `D^0 y .. D^(order+1) y` at
    /// the step `h_abs`, `D^0 y` being the current state. The Jacobian is
    /// evaluated afresh at `(t0, D^0 y)`.
    pub fn from_differences<F: StiffRhs + ?Sized>(
        ctx: &mut Ctx<'_, F>,
        t0: f64,
        d: Array2<f64>,
        order: usize,
        h_abs: f64,
        max_order: usize,
        ndf: bool,
    ) -> Result<Self, Fail> {
        debug_assert_eq!(d.nrows(), MAX_ORDER + 3);
        let jac = ctx.jacobian(t0, &d.row(0).to_owned(), None)?;
        Ok(Self::with_history(ctx, t0, d, order, h_abs, max_order, ndf, jac))
    }

    /// The solver state around a difference array whose row 0 is the
    /// current state, with the Jacobian already evaluated there.
    #[allow(clippy::too_many_arguments)]
    fn with_history<F: StiffRhs + ?Sized>(
        ctx: &Ctx<'_, F>,
        t0: f64,
        d: Array2<f64>,
        order: usize,
        h_abs: f64,
        max_order: usize,
        ndf: bool,
        jac: Jacobian,
    ) -> Self {
        let max_order = max_order.clamp(1, MAX_ORDER);
        // The per-step passes work on the rows as plain slices.
        let d = if d.is_standard_layout() { d } else { d.as_standard_layout().into_owned() };
        Bdf {
            clock: Clock::at(t0),
            y: d.row(0).to_owned(),
            d,
            order: order.clamp(1, max_order),
            max_order,
            h_abs,
            n_equal_steps: 0,
            jac,
            current_jac: true,
            lu: None,
            rate: None,
            coeffs: Coeffs::new(ndf),
            newton_tol: newton_tol(ctx.tol.rtol),
            last: None,
            last_d: Array2::zeros((MAX_ORDER + 1, ctx.n)),
            last_error: 0.0,
            work: BdfWork::new(ctx.n),
        }
    }

    /// Starts from `order + 1` past values on a uniform grid,
    /// `past[j] = y(t0 - j h)`, at a fixed order: used to measure the
    /// convergence order at constant step.
    pub fn from_history<F: StiffRhs + ?Sized>(
        ctx: &mut Ctx<'_, F>,
        t0: f64,
        past: &[Array1<f64>],
        h_abs: f64,
        ndf: bool,
    ) -> Result<Self, Fail> {
        let order = past.len() - 1;
        let n = ctx.n;
        let mut d = Array2::zeros((MAX_ORDER + 3, n));
        // Backward differences D^j y_0 from the table of values.
        let mut table: Vec<Array1<f64>> = past.to_vec();
        for j in 0..=order {
            d.row_mut(j).assign(&table[0]);
            table = table.windows(2).map(|w| &w[0] - &w[1]).collect();
        }
        let jac = ctx.jacobian(t0, &past[0], None)?;
        Ok(Self::with_history(ctx, t0, d, order, h_abs, order, ndf, jac))
    }

    /// One step of exactly `h_abs` at the current order, no error control:
    /// the constant-step method whose order the tests measure.
    pub fn constant_step<F: StiffRhs + ?Sized>(&mut self, ctx: &mut Ctx<'_, F>) -> Result<(), Fail> {
        let (order, h) = (self.order, self.h_abs * ctx.direction);
        let clock = self.clock.after(h);
        let t_new = clock.t();
        self.predict(ctx, order);
        let c = h / self.coeffs.alpha[order];
        let lu = match self.lu.take() {
            Some(lu) => lu,
            None => {
                ctx.sstats.n_lu += 1;
                let lu =
                    self.jac.factor_real(1.0, -c).map_err(|_| Fail::Singular { t: self.clock.t(), h })?;
                ScaledLu { lu, c }
            }
        };
        let out = solve_bdf_system(ctx, t_new, c, &lu, self.newton_tol * 1e-3, None, &mut self.work)?;
        if !out.converged {
            return Err(Fail::Newton { t: self.clock.t(), h });
        }
        self.lu = Some(lu);
        ctx.stats.n_accepted += 1;
        self.accept(clock, (false, false));
        Ok(())
    }

    /// The predictor, its error scale and `psi` for a step at `order`,
    /// into the work vectors.
    fn predict<F: StiffRhs + ?Sized>(&mut self, ctx: &Ctx<'_, F>, order: usize) {
        bdf_work::predict(&self.d, order, &self.coeffs.gamma, self.coeffs.alpha[order], &mut self.work);
        ctx.scale_into(&self.work.y_pred, &mut self.work.scale);
    }

    /// Updates the differences after an accepted step to `clock` with
    /// Newton's correction (`work.d`); the new state is Newton's iterate
    /// (`work.y`). Returns the sums of squares over the scale of the updated
    /// differences `k` and `k + 2` that `want` asks for (the order
    /// estimates), zeros for the others.
    fn accept(&mut self, clock: Clock, want: (bool, bool)) -> (f64, f64) {
        let t_new = clock.t();
        let order = self.order;
        let sums =
            bdf_work::update_differences_and_sums(&mut self.d, order, &self.work.d, &self.work.scale, want);
        // Dense output maps the step's own span onto the history's grid
        // (they differ by rounding), so that a segment starts exactly where
        // the last one ended.
        let span = t_new - self.clock.t();
        self.clock = clock;
        std::mem::swap(&mut self.y, &mut self.work.y);
        self.last = Some(LastStep { t: t_new, h: span, order, saved: false });
        sums
    }

    /// Evaluates the Jacobian at the predictor (`fp` is `f` there). The LU
    /// and the carried Newton rate belonged to the old one and go with it.
    fn refresh_jacobian<F: StiffRhs + ?Sized>(
        &mut self,
        ctx: &mut Ctx<'_, F>,
        t_new: f64,
        fp: &Array1<f64>,
    ) -> Result<(), Fail> {
        self.jac = ctx.jacobian(t_new, &self.work.y_pred, Some(fp))?;
        self.current_jac = true;
        self.lu = None;
        self.rate = None;
        Ok(())
    }

    /// Copies the last step's differences aside before `d` is rescaled.
    fn save_last(&mut self) {
        let Some(last) = self.last.as_mut().filter(|l| !l.saved) else {
            return;
        };
        let len = (last.order + 1) * self.d.ncols();
        let (from, to) = (self.d.as_slice(), self.last_d.as_slice_mut());
        let (from, to) = (from.expect("standard layout"), to.expect("standard layout"));
        to[..len].copy_from_slice(&from[..len]);
        last.saved = true;
    }

    /// The last step: `(t_new, h, D^0..D^k)`.
    fn last_history(&self) -> Option<(f64, f64, ndarray::ArrayView2<'_, f64>)> {
        let last = self.last.as_ref()?;
        let d = if last.saved { &self.last_d } else { &self.d };
        Some((last.t, last.h, d.slice(s![..=last.order, ..])))
    }

    /// `|h|` of the next step.
    pub fn h_abs(&self) -> f64 {
        self.h_abs
    }

    pub fn order(&self) -> usize {
        self.order
    }

    /// The Jacobian in use (possibly from an earlier step).
    pub(crate) fn jac(&self) -> &Jacobian {
        &self.jac
    }

    /// The error estimate of the last accepted step, in tolerance units,
    /// and the constant it carries at `order`: their ratio is
    /// `|h^(k+1) y^(k+1)|`.
    pub fn last_error(&self) -> f64 {
        self.last_error
    }

    pub fn error_const(&self, order: usize) -> f64 {
        self.coeffs.error_const(order)
    }

    /// The differences `D^0 .. D^order`, scaled to the next step.
    pub fn differences(&self) -> ndarray::ArrayView2<'_, f64> {
        self.d.slice(s![..=self.order, ..])
    }

    /// The predictor of the next step: the history extrapolated one step.
    #[cfg(test)]
    pub fn predicted(&self) -> Array1<f64> {
        self.d.slice(s![..=self.order, ..]).sum_axis(ndarray::Axis(0))
    }

    fn rescale(&mut self, factor: f64) {
        change_d(&mut self.d, self.order, factor);
        self.n_equal_steps = 0;
    }
}

impl Stepper for Bdf {
    fn t(&self) -> f64 {
        self.clock.t()
    }

    fn y(&self) -> &Array1<f64> {
        &self.y
    }

    fn step<F: StiffRhs + ?Sized>(&mut self, ctx: &mut Ctx<'_, F>, t_bound: f64) -> Result<StepInfo, Fail> {
        let t = self.clock.t();
        let dir = ctx.direction;
        let min_step = ctx.min_step_at(t);
        let mut h_abs = self.h_abs;
        if h_abs > ctx.max_step {
            self.rescale(ctx.max_step / h_abs);
            h_abs = ctx.max_step;
        } else if h_abs < min_step {
            self.rescale(min_step / h_abs);
            h_abs = min_step;
        }
        loop {
            let mut h = h_abs * dir;
            ctx.budget(t, h)?;
            let mut clock = self.clock.after(h);
            if (clock.t() - t_bound) * dir >= 0.0 || (t_bound - t).abs() <= min_step {
                h = self.clock.step_to(t_bound);
                clock = Clock::at(t_bound);
                self.rescale(h.abs() / h_abs);
                h_abs = h.abs();
            }
            let t_new = clock.t();
            // Otherwise the step stays `h` exactly, the step the history is
            // scaled to, and `t_new` is its end rounded (the clock keeps the
            // rest). `t_new - t` differs from `h` by up to half an ulp of t;
            // used as the step (as scipy does) that jitter enters the
            // formula as an error of about |f| ulp(t) per step, which the
            // error test sees and no smaller step removes: on Van der Pol at
            // rtol 1e-9 it ended in a step size underflow. CVODE and LSODA
            // also step by `h`.
            let order = self.order;
            self.predict(ctx, order);
            let c = h / self.coeffs.alpha[order];

            let mut out: Option<NewtonOut> = None;
            let mut cause = Cause::Diverged;
            if self.lu.as_ref().is_some_and(|lu| !lu.usable(c, lu.reuse_limit(ctx.lu_max_change))) {
                self.lu = None;
            }
            loop {
                if self.lu.is_none() {
                    ctx.sstats.n_lu += 1;
                    match self.jac.factor_real(1.0, -c) {
                        Ok(lu) => {
                            self.lu = Some(ScaledLu { lu, c });
                            self.rate = self.rate.map(|r| r.refactorized(c));
                        }
                        Err(_) => {
                            cause = Cause::Singular;
                            if self.current_jac {
                                break;
                            }
                            let fp = ctx.rhs(t_new, &self.work.y_pred)?;
                            self.refresh_jacobian(ctx, t_new, &fp)?;
                            continue;
                        }
                    }
                }
                let lu = self.lu.as_ref().expect("factorized above");
                let prior = self.rate.and_then(|r| r.prior_for(c));
                let o = solve_bdf_system(ctx, t_new, c, lu, self.newton_tol, prior, &mut self.work)?;
                if o.converged {
                    // A rate measured with a Jacobian evaluated for this
                    // very step shows Newton's quadratic convergence, which
                    // the next step with the same, older Jacobian lacks
                    // (on HIRES 1e-8 then 1e-2): only rates measured with a
                    // stale Jacobian carry over.
                    match (o.rate, self.rate.as_mut()) {
                        (Some(r), _) => {
                            self.rate = (!self.current_jac).then_some(CarriedRate::measured(c, r))
                        }
                        (None, Some(carried)) if prior.is_some() => carried.used(),
                        _ => {}
                    }
                    out = Some(o);
                    break;
                }
                cause = o.cause;
                if matches!(cause, Cause::NonFinite(_)) {
                    break;
                }
                if !lu.is_for(c) {
                    // Built for another step size: refactorize before
                    // blaming the Jacobian.
                    self.lu = None;
                    continue;
                }
                if self.current_jac {
                    break;
                }
                let fp = ctx.rhs(t_new, &self.work.y_pred)?;
                if !fp.iter().all(|v| v.is_finite()) {
                    cause = Cause::NonFinite(t_new);
                    break;
                }
                self.refresh_jacobian(ctx, t_new, &fp)?;
            }
            let Some(out) = out else {
                ctx.newton_failure(cause, t, h_abs * 0.5)?;
                h_abs *= 0.5;
                self.rescale(0.5);
                self.lu = None;
                // This step's iterations did not contract as the carried
                // rate promised.
                self.rate = None;
                // The Jacobian is current for this attempt's predictor, not
                // for the next, smaller step's: after a long step it may
                // have been evaluated far from where the solution is (on
                // OREGO at rtol 1e-3, a step of 11.6 left it there and every
                // halving down to 5e-3 failed with it). As CVODE does after
                // such a failure, the next attempt may evaluate it again.
                self.current_jac = false;
                continue;
            };

            // scipy's safety factor, from the iterations scipy's test needs
            // (two at least): a step that converged on its first iteration
            // through a carried rate was no easier a step, and counted as
            // one it raised the next step by 11%, which the error test then
            // rejected (Van der Pol at rtol 1e-6: 115 rejections, not 77).
            let iters = out.n_iter.max(2);
            let safety = 0.9 * (2 * NEWTON_MAXITER + 1) as f64 / (2 * NEWTON_MAXITER + iters) as f64;
            let (norm, finite) = bdf_work::error_norm(ctx.tol, &mut self.work);
            let error_norm = self.coeffs.error_const[order] * norm;
            if error_norm.is_nan() || error_norm > 1.0 || !finite {
                ctx.stats.n_rejected += 1;
                let factor = if error_norm.is_finite() {
                    MIN_FACTOR.max(safety * error_norm.powf(-1.0 / (order as f64 + 1.0)))
                } else {
                    MIN_FACTOR
                };
                h_abs *= factor;
                if h_abs < ctx.min_step_at(t) {
                    return Err(Fail::Underflow { t, h: h_abs * dir });
                }
                self.rescale(factor);
                continue;
            }

            // Accepted.
            ctx.stats.n_accepted += 1;
            ctx.failures = 0;
            self.n_equal_steps += 1;
            self.h_abs = h_abs;
            // The Jacobian may be stale from the next step on.
            self.current_jac = false;
            // The order estimates read the updated differences `order` and
            // `order + 2`: summed while the update has them at hand.
            let estimate = self.n_equal_steps > order;
            let (m, p) = (estimate && order > 1, estimate && order < self.max_order);
            let (sum_m, sum_p) = self.accept(clock, (m, p));
            self.last_error = error_norm;
            let info = StepInfo { t_old: t, h, error_ratio: error_norm };
            if !estimate {
                return Ok(info);
            }
            let rms = |sum: f64| (sum / self.y.len().max(1) as f64).sqrt();
            let err_m = if m { self.coeffs.error_const[order - 1] * rms(sum_m) } else { f64::INFINITY };
            let err_p = if p { self.coeffs.error_const[order + 1] * rms(sum_p) } else { f64::INFINITY };
            let factors = [
                err_m.powf(-1.0 / order as f64),
                error_norm.powf(-1.0 / (order as f64 + 1.0)),
                err_p.powf(-1.0 / (order as f64 + 2.0)),
            ];
            let (best, fmax) =
                factors
                    .iter()
                    .enumerate()
                    .fold((1, factors[1]), |acc, (i, &v)| if v > acc.1 { (i, v) } else { acc });
            let factor = MAX_FACTOR.min(safety * fmax);
            if (1.0..MIN_GROWTH).contains(&factor) {
                // Not worth a rescaling: keep step and order, and look again
                // after the next step.
                return Ok(info);
            }
            self.order = order + best - 1;
            self.h_abs *= factor;
            self.save_last();
            change_d(&mut self.d, self.order, factor);
            self.n_equal_steps = 0;
            return Ok(info);
        }
    }

    fn segment(&self) -> Option<Segment> {
        self.last_history().map(|(t, h, d)| Segment::Bdf { t, h, d: d.to_owned() })
    }

    fn eval_last(&self, t: f64) -> Option<Array1<f64>> {
        let (tn, h, d) = self.last_history()?;
        Some(bdf_eval(tn, h, &d.to_owned(), t))
    }
}
