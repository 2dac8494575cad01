//! Implicit Adams (Adams-Bashforth predictor, Adams-Moulton corrector) of
//! variable order 1-12 and variable step in Nordsieck form, with the
//! corrector solved by functional iteration: the non-stiff method of
//! LSODE/LSODA. The coefficients and error estimates are derived in
//! [`super::nordsieck`].
//!
//! Steps and orders change only after `q + 1` steps at the current ones
//! (except after a failure), by the largest of the factors the error
//! estimates at orders `q - 1`, `q`, `q + 1` allow, and not at all when
//! that factor is below 1.1: each change rescales the history, which costs
//! accuracy, so small ones are not worth it.

use ndarray::{s, Array1, Array2, ArrayView2, Zip};

use super::clock::Clock;
use super::corrector::correct;
use super::dense::Segment;
use super::newton::{rms, Ctx, Fail};
use super::nordsieck::{self, AdamsCoeffs, MAX_ORDER};
use super::work;
use super::{StepInfo, Stepper, StiffRhs};

/// Step factor after a corrector that did not converge.
const CONVERGENCE_FAILURE_FACTOR: f64 = 0.25;
const MAX_FACTOR: f64 = 10.0;
/// Error-test failures in a row after which the method restarts at order 1.
const RESTART_AFTER: usize = 3;

/// What the last accepted step measured, for the automatic switching.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Measured {
    /// `|h^(q+1) y^(q+1)|` in the error norm (the correction `e`).
    pub derivative: f64,
    /// The order and signed step size of that step.
    pub order: usize,
    pub h: f64,
}

/// How an Adams step attempt ended.
pub(crate) enum Attempt {
    Accepted(StepInfo),
    /// The corrector failed at a step far beyond Adams's stable step
    /// (only with [`Adams::exit_below`] set); the state is that of the
    /// start of the attempt, scaled to the failed step.
    Stiff,
}

/// The Adams stepper's state between steps.
pub(crate) struct Adams {
    clock: Clock,
    y: Array1<f64>,
    /// Rows `0..=q` hold the Nordsieck array at `t` for the step `h`.
    z: Array2<f64>,
    q: usize,
    max_order: usize,
    /// `|h|` of the next step (the one `z` is scaled to).
    h: f64,
    c: AdamsCoeffs,
    /// Accepted steps to go before the step size or order may change.
    wait: usize,
    /// The correction of the previous accepted step, while it was taken
    /// with the same order and step as the current one.
    e_prev: Option<Array1<f64>>,
    fixed: bool,
    fixed_h: Option<f64>,
    error_failures: usize,
    /// A bound on the Jacobian's norm (the stiff eigenvalues) from the
    /// corrector's contraction rates; 0 when unknown.
    pub(crate) lipschitz: f64,
    /// Cap steps at [`AdamsCoeffs::stability_bound`]` / lipschitz` (LSODA's
    /// rule in automatic mode; plain Adams leaves it to the error test).
    pub(crate) cap_by_stability: bool,
    /// Set by the automatic switching: a stable step below which a
    /// corrector failure ends the attempt with [`Attempt::Stiff`] instead of
    /// a retry at a quarter of the step. The failure's contraction rate
    /// measures the stiff eigenvalue before Adams has retreated to its
    /// stability cap, and the history is still that of steps accuracy chose.
    pub(crate) exit_below: Option<f64>,
    pub(crate) measured: Measured,
    last: Option<(f64, f64, Array2<f64>)>,
}

impl Adams {
    /// Starts at `(t0, y0)` with `f0 = f(t0, y0)`, order 1 and step `h_abs`.
    pub fn new(t0: f64, y0: Array1<f64>, f0: &Array1<f64>, h_abs: f64, dir: f64, max_order: usize) -> Self {
        let mut z = Array2::zeros((MAX_ORDER + 2, y0.len()));
        z.row_mut(0).assign(&y0);
        z.row_mut(1).assign(&(f0 * (h_abs * dir)));
        Self::from_nordsieck(t0, z, 1, h_abs, max_order)
    }

    /// Starts from a Nordsieck array `z` (at least `MAX_ORDER + 2` rows) of
    /// order `q` scaled to the step `h_abs`.
    pub fn from_nordsieck(t0: f64, z: Array2<f64>, q: usize, h_abs: f64, max_order: usize) -> Self {
        let max_order = max_order.clamp(1, MAX_ORDER);
        let q = q.clamp(1, max_order);
        Adams {
            clock: Clock::at(t0),
            y: z.row(0).to_owned(),
            z,
            q,
            max_order,
            h: h_abs,
            c: AdamsCoeffs::shared(),
            wait: q + 1,
            e_prev: None,
            fixed: false,
            fixed_h: None,
            error_failures: 0,
            lipschitz: 0.0,
            cap_by_stability: false,
            exit_below: None,
            measured: Measured::default(),
            last: None,
        }
    }

    /// Constant step `h_abs` and constant order `q`: the Nordsieck array is
    /// built from `f` at `t0, t0 + h, .., t0 + (q-1) h`, whose states come
    /// from the explicit DOPRI8 at tolerance 1e-13 (so the start-up adds
    /// errors far below the method's own), and neither the step nor the
    /// order ever changes.
    pub fn new_fixed<F: StiffRhs + ?Sized>(
        ctx: &mut Ctx<'_, F>,
        t0: f64,
        y0: Array1<f64>,
        f0: Array1<f64>,
        h_abs: f64,
        q: usize,
    ) -> Result<Self, Fail> {
        let dir = ctx.direction;
        let q = q.clamp(1, MAX_ORDER);
        let mut fs = vec![f0];
        if q > 1 {
            let ts: Vec<f64> = (0..q).map(|j| t0 + dir * h_abs * j as f64).collect();
            let g = |t: f64, y: &Array1<f64>| ctx.f.eval(t, y);
            let opts = crate::SolveOptions::default().method(&crate::tableau::DOPRI8).tol(1e-13, 1e-15);
            let sol = crate::solve(&g, y0.clone(), &ts, &opts).map_err(|e| match e {
                crate::SolveError::ShapeMismatch { t, found, .. } => Fail::Shape { t, found },
                e => Fail::NonFiniteRhs { t: e.partial().map_or(t0, |p| p.t_reached) },
            })?;
            ctx.stats.nfe += sol.stats.nfe;
            for (t, y) in ts.iter().zip(&sol.ys).skip(1) {
                let f = ctx.rhs(*t, y)?;
                if !f.iter().all(|v| v.is_finite()) {
                    return Err(Fail::NonFiniteRhs { t: *t });
                }
                fs.push(f);
            }
        }
        let z = nordsieck::from_derivatives(&y0, &fs, h_abs * dir, MAX_ORDER + 2);
        let mut s = Self::from_nordsieck(t0, z, q, h_abs, q);
        s.fixed = true;
        s.fixed_h = Some(h_abs);
        Ok(s)
    }

    pub fn order(&self) -> usize {
        self.q
    }

    /// `|h|` of the next step.
    pub fn h_abs(&self) -> f64 {
        self.h
    }

    /// The Nordsieck array (all rows; those above `q` are stale) scaled to
    /// the next step, with the order `q`.
    pub fn nordsieck(&self) -> (ArrayView2<'_, f64>, usize) {
        (self.z.view(), self.q)
    }

    /// Changes the step of the history to `h_new` (and forgets `e_prev`).
    fn set_h(&mut self, h_new: f64) {
        if h_new != self.h {
            nordsieck::rescale(&mut self.z, self.q, h_new / self.h);
            self.h = h_new;
            self.e_prev = None;
        }
    }

    fn lower_order(&mut self) {
        let q = self.q;
        let zq = self.z.row(q).to_owned();
        for j in 2..q {
            self.z.row_mut(j).scaled_add(-self.c.d[q][j], &zq);
        }
        self.z.row_mut(q).fill(0.0);
        self.q -= 1;
    }

    fn raise_order(&mut self, e: &Array1<f64>) {
        let q = self.q;
        self.z.row_mut(q + 1).assign(&(e / self.c.fact[q + 1]));
        self.q += 1;
    }

    /// The step factor allowed by an error estimate `err` at order `k`
    /// (LSODE's biases: lower orders are preferred a little).
    fn factor(err: f64, k: usize, bias: f64) -> f64 {
        1.0 / (bias * err.powf(1.0 / (k as f64 + 1.0)) + 1e-6)
    }

    /// The step this method's stability allows for the current Lipschitz
    /// estimate (infinite when unknown or not capped).
    pub fn stability_step(&self, q: usize) -> f64 {
        if self.cap_by_stability && self.lipschitz > 0.0 {
            self.c.stability_bound(q) / self.lipschitz
        } else {
            f64::INFINITY
        }
    }
}

impl Stepper for Adams {
    fn t(&self) -> f64 {
        self.clock.t()
    }

    fn y(&self) -> &Array1<f64> {
        &self.y
    }

    fn step<F: StiffRhs + ?Sized>(&mut self, ctx: &mut Ctx<'_, F>, t_bound: f64) -> Result<StepInfo, Fail> {
        match self.attempt(ctx, t_bound)? {
            Attempt::Accepted(info) => Ok(info),
            // Not without `exit_below`, which only the switching sets.
            Attempt::Stiff => Err(Fail::Newton { t: self.t(), h: self.h * ctx.direction }),
        }
    }

    fn segment(&self) -> Option<Segment> {
        self.last.as_ref().map(|(t, h, z)| Segment::Adams { t: *t, h: *h, z: z.clone() })
    }

    fn eval_last(&self, t: f64) -> Option<Array1<f64>> {
        let (tn, h, z) = self.last.as_ref()?;
        Some(nordsieck::eval(z.view(), (t - tn) / h))
    }
}

impl Adams {
    /// One step attempt: accepted, or given up as stiff (see
    /// [`Adams::exit_below`]).
    pub(crate) fn attempt<F: StiffRhs + ?Sized>(
        &mut self,
        ctx: &mut Ctx<'_, F>,
        t_bound: f64,
    ) -> Result<Attempt, Fail> {
        let t = self.clock.t();
        let dir = ctx.direction;
        match self.fixed_h {
            // Back to the fixed step after a shortened one.
            Some(hf) => self.set_h(hf),
            None => {
                // Not `clamp`: it panics when `max_step` is below the floor
                // at `t`, which `budget` reports as an underflow just below.
                let min_step = ctx.min_step_at(t);
                self.set_h(self.h.max(min_step).min(ctx.max_step));
            }
        }
        loop {
            ctx.budget(t, self.h * dir)?;
            let min_step = ctx.min_step_at(t);
            let mut clock = self.clock.after(self.h * dir);
            // Fixed steps that add up to the interval up to round-off end on it.
            let snap = if self.fixed { 1e-9 * self.h } else { min_step };
            if (clock.t() - t_bound) * dir >= -snap || (t_bound - t).abs() <= min_step {
                self.set_h(self.clock.step_to(t_bound).abs());
                clock = Clock::at(t_bound);
            }
            let t_new = clock.t();
            // The step the Nordsieck array is scaled to, exactly: `t_new - t`
            // differs from it by rounding (see the BDF stepper).
            let h = self.h * dir;
            let q = self.q;
            let mut zp = self.z.slice(s![..=q, ..]).to_owned();
            work::pascal_in_place(&mut zp, q);
            let scale = ctx.scale(&self.y);
            let err_const = self.c.gstar[q];
            // A step held at the stability cap iterates at least twice, so
            // that the contraction rate keeps the cap's estimate current.
            let measure = self.h >= 0.99 * self.stability_step(q);
            let out = correct(ctx, t_new, &zp, self.c.l[q][0], h, &scale, err_const, q, self.fixed, measure)?;
            if out.lipschitz > 0.0 {
                self.lipschitz = out.lipschitz;
            }
            if !out.converged {
                let lipschitz = out.lipschitz;
                let stable_below = |h: f64| lipschitz > 0.0 && self.c.stability_bound(q) / lipschitz < h;
                if self.exit_below.is_some_and(stable_below) {
                    ctx.stats.n_rejected += 1;
                    ctx.sstats.n_newton_failures += 1;
                    return Ok(Attempt::Stiff);
                }
                ctx.newton_failure(out.cause, t, self.h * CONVERGENCE_FAILURE_FACTOR)?;
                if self.fixed {
                    return Err(Fail::Newton { t, h });
                }
                self.set_h(self.h * CONVERGENCE_FAILURE_FACTOR);
                self.wait = self.q + 1;
                continue;
            }
            let err = err_const * rms(&out.e, &ctx.scale2(&self.y, &out.y));
            // NaN fails the test too.
            let passed = err <= 1.0;
            if !self.fixed && !passed {
                ctx.stats.n_rejected += 1;
                self.error_failures += 1;
                self.e_prev = None;
                self.wait = self.q + 1;
                if self.error_failures >= RESTART_AFTER && self.q > 1 {
                    // The history is not to be trusted: order 1, a tenth of the step.
                    while self.q > 1 {
                        self.lower_order();
                    }
                    let h_new = self.h * 0.1;
                    if h_new < min_step {
                        return Err(Fail::Underflow { t, h: h_new * dir });
                    }
                    self.set_h(h_new);
                    continue;
                }
                let mut factor = if err.is_finite() { Self::factor(err, q, 1.2).min(0.9) } else { 0.2 };
                if q > 1 && err.is_finite() {
                    let err_dn = self.c.gstar[q - 1] * self.c.fact[q] * work::rms_view(self.z.row(q), &scale);
                    let f_dn = Self::factor(err_dn, q - 1, 1.3).min(0.9);
                    if f_dn > factor {
                        self.lower_order();
                        factor = f_dn;
                    }
                }
                let h_new = self.h * factor.max(0.2);
                if h_new < min_step {
                    return Err(Fail::Underflow { t, h: h_new * dir });
                }
                self.set_h(h_new);
                continue;
            }
            if !out.y.iter().all(|v| v.is_finite()) {
                return Err(Fail::NonFiniteRhs { t: t_new });
            }

            // Accepted: z = zp + e l.
            ctx.stats.n_accepted += 1;
            ctx.failures = 0;
            self.error_failures = 0;
            let l = self.c.l[q];
            for (j, lj) in l.iter().enumerate().take(q + 1) {
                let mut row = zp.row_mut(j);
                Zip::from(&mut row).and(&out.e).for_each(|zj, &ej| *zj += lj * ej);
            }
            self.z.slice_mut(s![..=q, ..]).assign(&zp);
            self.clock = clock;
            self.y = zp.row(0).to_owned();
            // Dense output over the step's own span (see the BDF stepper).
            self.last = Some((t_new, t_new - t, zp));
            self.measured = Measured { derivative: rms(&out.e, &scale), order: q, h };
            let info = StepInfo { t_old: t, h, error_ratio: err };
            if self.fixed {
                return Ok(Attempt::Accepted(info));
            }
            self.wait = self.wait.saturating_sub(1);
            if self.wait > 0 {
                self.e_prev = Some(out.e);
                return Ok(Attempt::Accepted(info));
            }
            self.select(ctx, err, out.e, &scale);
            return Ok(Attempt::Accepted(info));
        }
    }
}

impl Adams {
    /// Chooses the order and step for the next steps after an accepted
    /// step with error `err` and correction `e`.
    fn select<F: StiffRhs + ?Sized>(
        &mut self,
        ctx: &Ctx<'_, F>,
        err: f64,
        e: Array1<f64>,
        scale: &Array1<f64>,
    ) {
        let q = self.q;
        let c = &self.c;
        let f_same = Self::factor(err, q, 1.2);
        let f_dn = if q > 1 {
            let err_dn = c.gstar[q - 1] * c.fact[q] * work::rms_view(self.z.row(q), scale);
            Self::factor(err_dn, q - 1, 1.3)
        } else {
            0.0
        };
        let f_up = match &self.e_prev {
            Some(ep) if q < self.max_order => {
                let err_up = c.gstar[q + 1] * work::rms_diff(&e, ep, scale);
                Self::factor(err_up, q + 1, 1.4)
            }
            _ => 0.0,
        };
        let (mut factor, new_q) = if f_up > f_same && f_up >= f_dn {
            (f_up, q + 1)
        } else if f_dn > f_same {
            (f_dn, q - 1)
        } else {
            (f_same, q)
        };
        factor = factor.min(MAX_FACTOR);
        let h_cap = self.stability_step(new_q).min(ctx.max_step);
        factor = factor.min(h_cap / self.h);
        if (1.0..1.1).contains(&factor) {
            // Not worth a rescale: try again in a few steps.
            self.wait = 3;
            self.e_prev = Some(e);
            return;
        }
        if new_q > q {
            self.raise_order(&e);
        } else if new_q < q {
            self.lower_order();
        }
        self.set_h(self.h * factor);
        self.wait = self.q + 1;
        self.e_prev = None;
    }
}
