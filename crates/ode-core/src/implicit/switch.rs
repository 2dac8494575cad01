//! Automatic switching between implicit Adams (non-stiff) and BDF (stiff),
//! after Petzold's LSODA: each method's next step is compared with the
//! step the other one would be allowed, and the method switches when the
//! other would go much further.
//!
//! - In Adams, the corrector's contraction rate `|delta e_{m+1}| / |delta e_m|
//!   ~ h l_0 L` measures `L`, the size of the stiffest eigenvalue, and
//!   Adams's steps are capped at `S_q / L` (half its stability bound, see
//!   [`AdamsCoeffs::stability_bound`]), so that a stiff problem shows up as
//!   a step limited by stability while the error estimate is small. The
//!   same error estimate (`e ~ h^(q+1) y^(q+1)`) with BDF's error constant at
//!   order `min(q, 5)` gives the step BDF would take. When that is
//!   [`TO_BDF_RATIO`] times Adams's step, BDF restarts at order 1 from the
//!   current state (Jacobian and LU evaluated afresh).
//! - In BDF, `L` is the weighted max-row-sum norm of the Jacobian it holds
//!   and BDF's error estimate gives `|h^(k+1) y^(k+1)|`; Adams's step at the
//!   same order is the smaller of what that error and `S_k / L` allow.
//!   When it reaches BDF's next step, Adams restarts at BDF's order from
//!   BDF's interpolating polynomial (converted to a Nordsieck array).
//!
//! A switch waits [`MIN_STEPS`] accepted steps after the previous one, and
//! happens at the start of the next step so that the drive still sees the
//! last step's own polynomial for outputs and dense output.

use ndarray::Array1;

use super::adams::Adams;
use super::bdf::{self, Bdf};
use super::dense::Segment;
use super::newton::{rms, Ctx, Fail};
use super::nordsieck::{self, AdamsCoeffs, MAX_ORDER};
use super::{StepInfo, Stepper, StiffRhs};

/// BDF must promise steps this many times larger than Adams's before the
/// solve switches to it (LSODA's ratio): BDF steps cost LU factorizations.
pub(crate) const TO_BDF_RATIO: f64 = 5.0;
/// Accepted steps with one method before switching is considered.
const MIN_STEPS: usize = 10;
/// Power iterations for the Jacobian's spectral radius.
const POWER_ITERS: usize = 12;

enum Mode {
    Adams(Box<Adams>),
    Bdf(Box<Bdf>),
}

/// The switching stepper.
pub(crate) struct Auto {
    mode: Mode,
    max_order: usize,
    ndf: bool,
    since_switch: usize,
    coeffs: AdamsCoeffs,
    bdf_coeffs: bdf::Coeffs,
    /// Decided after the last step, done before the next one.
    pending: Option<Pending>,
}

enum Pending {
    /// To BDF with this first step.
    ToBdf(f64),
    /// To Adams with this first step and Lipschitz estimate.
    ToAdams { h: f64, lipschitz: f64 },
}

impl Auto {
    pub fn new(
        t0: f64,
        y0: Array1<f64>,
        f0: &Array1<f64>,
        h_abs: f64,
        dir: f64,
        max_order: usize,
        ndf: bool,
    ) -> Self {
        let mut a = Adams::new(t0, y0, f0, h_abs, dir, max_order);
        a.cap_by_stability = true;
        Auto {
            mode: Mode::Adams(Box::new(a)),
            max_order,
            ndf,
            since_switch: 0,
            coeffs: AdamsCoeffs::new(),
            bdf_coeffs: bdf::Coeffs::new(ndf),
            pending: None,
        }
    }

    fn switch<F: StiffRhs + ?Sized>(&mut self, ctx: &mut Ctx<'_, F>, p: Pending) -> Result<(), Fail> {
        let (t, y) = (self.t(), self.y().clone());
        match p {
            Pending::ToBdf(h) => {
                let f0 = ctx.rhs(t, &y)?;
                if !f0.iter().all(|v| v.is_finite()) {
                    return Err(Fail::NonFiniteRhs { t });
                }
                let max_order = self.max_order.min(bdf::MAX_ORDER);
                self.mode = Mode::Bdf(Box::new(Bdf::new(ctx, t, y, &f0, h, max_order, self.ndf)?));
            }
            Pending::ToAdams { h, lipschitz } => {
                let Mode::Bdf(b) = &self.mode else { return Ok(()) };
                let k = b.order().min(self.max_order);
                let mut z = nordsieck::from_backward_differences(b.differences(), MAX_ORDER + 2);
                nordsieck::rescale(&mut z, k, h / b.h_abs());
                for j in k + 1..z.nrows() {
                    z.row_mut(j).fill(0.0);
                }
                let mut a = Adams::from_nordsieck(t, z, k, h, self.max_order);
                a.cap_by_stability = true;
                a.lipschitz = lipschitz;
                self.mode = Mode::Adams(Box::new(a));
            }
        }
        ctx.sstats.n_switches += 1;
        self.since_switch = 0;
        Ok(())
    }

    /// Adams's view after an accepted step: switch to BDF when it would
    /// take much larger steps.
    fn adams_verdict(&self, a: &Adams, ctx: &Ctx<'_, impl StiffRhs + ?Sized>) -> Option<Pending> {
        let m = a.measured;
        let (q, h) = (m.order, m.h.abs());
        let c = &self.coeffs;
        let err = c.gstar[q] * m.derivative;
        // Neither step is capped by the growth limit per step: with a tiny
        // error both would be, and the comparison would say nothing.
        let h_adams = (h * factor(err, q, 1.2)).min(a.stability_step(q)).min(ctx.max_step);
        let k = q.min(bdf::MAX_ORDER);
        let bdf_const = self.bdf_coeffs.error_const(k);
        let h_bdf = if q <= bdf::MAX_ORDER {
            h * factor(bdf_const * m.derivative, k, 1.2)
        } else if a.order() > bdf::MAX_ORDER {
            // |h^6 y^(6)| from the Nordsieck row 6 (scaled to Adams's next step).
            let (z, _) = a.nordsieck();
            let d6 = c.fact[6] * rms(&z.row(6).to_owned(), &ctx.scale(a.y()));
            a.h_abs() * factor(bdf_const * d6, k, 1.2)
        } else {
            // The order just dropped and row 6 is gone: decide next time.
            return None;
        }
        .min(ctx.max_step);
        if h_bdf >= TO_BDF_RATIO * h_adams {
            // BDF starts at order 1: its first step from y'' = 2 z_2 / h^2.
            let (z, _) = a.nordsieck();
            let d2 = if a.order() >= 2 { 2.0 * rms(&z.row(2).to_owned(), &ctx.scale(a.y())) } else { 0.0 };
            let c1 = self.bdf_coeffs.error_const(1);
            let h1 = if d2 > 0.0 { a.h_abs() * (0.5 / (c1 * d2)).sqrt() } else { h_bdf };
            return Some(Pending::ToBdf(h1.min(h_bdf).max(h)));
        }
        None
    }

    /// BDF's view after an accepted step taken at order `k` with size `h`:
    /// switch to Adams when it could go as far.
    fn bdf_verdict(
        &self,
        b: &Bdf,
        k: usize,
        h: f64,
        ctx: &Ctx<'_, impl StiffRhs + ?Sized>,
    ) -> Option<Pending> {
        let k = k.min(self.max_order);
        let lipschitz = spectral_radius(b.jac());
        let derivative = b.last_error() / b.error_const(k);
        let c = &self.coeffs;
        let h_acc = h * factor(c.gstar[k] * derivative, k, 1.2);
        let h_stab = if lipschitz > 0.0 { c.stability_bound(k) / lipschitz } else { f64::INFINITY };
        let h_adams = h_acc.min(h_stab).min(ctx.max_step);
        if h_adams >= b.h_abs() {
            return Some(Pending::ToAdams { h: h_adams, lipschitz });
        }
        None
    }
}

/// LSODE's step factor for an error estimate `err` at order `k`.
fn factor(err: f64, k: usize, bias: f64) -> f64 {
    1.0 / (bias * err.powf(1.0 / (k as f64 + 1.0)) + 1e-6)
}

/// An estimate of the largest eigenvalue modulus of `J` by power
/// iteration: what limits Adams's stable step. (A weighted norm of `J`, as
/// LSODA uses, bounds it too, but components near zero with a tiny `atol`
/// inflate that bound by orders of magnitude.)
fn spectral_radius(jac: &super::jacobian::Jacobian) -> f64 {
    let n = jac.nrows();
    if n == 0 {
        return 0.0;
    }
    let norm = |v: &Array1<f64>| v.iter().map(|x| x * x).sum::<f64>().sqrt();
    // A start with components along every direction in general position.
    let mut v = Array1::from_shape_fn(n, |i| 1.0 + 0.37 * (i as f64 + 1.0).sin());
    v /= norm(&v);
    let mut est = 0.0;
    for _ in 0..POWER_ITERS {
        let w = jac.dot(&v);
        let nw = norm(&w);
        if !(nw > 0.0 && nw.is_finite()) {
            break;
        }
        est = nw;
        v = w / nw;
    }
    est
}

impl Stepper for Auto {
    fn t(&self) -> f64 {
        match &self.mode {
            Mode::Adams(a) => a.t(),
            Mode::Bdf(b) => b.t(),
        }
    }

    fn y(&self) -> &Array1<f64> {
        match &self.mode {
            Mode::Adams(a) => a.y(),
            Mode::Bdf(b) => b.y(),
        }
    }

    fn step<F: StiffRhs + ?Sized>(&mut self, ctx: &mut Ctx<'_, F>, t_bound: f64) -> Result<StepInfo, Fail> {
        if let Some(p) = self.pending.take() {
            self.switch(ctx, p)?;
        }
        let bdf_order = match &self.mode {
            Mode::Bdf(b) => b.order(),
            Mode::Adams(_) => 0,
        };
        let info = match &mut self.mode {
            Mode::Adams(a) => {
                let info = a.step(ctx, t_bound)?;
                ctx.sstats.n_adams_steps += 1;
                info
            }
            Mode::Bdf(b) => {
                let info = b.step(ctx, t_bound)?;
                ctx.sstats.n_bdf_steps += 1;
                info
            }
        };
        self.since_switch += 1;
        if self.since_switch >= MIN_STEPS {
            self.pending = match &self.mode {
                Mode::Adams(a) => self.adams_verdict(a, ctx),
                Mode::Bdf(b) => self.bdf_verdict(b, bdf_order, info.h.abs(), ctx),
            };
        }
        Ok(info)
    }

    fn segment(&self) -> Option<Segment> {
        match &self.mode {
            Mode::Adams(a) => a.segment(),
            Mode::Bdf(b) => b.segment(),
        }
    }

    fn eval_last(&self, t: f64) -> Option<Array1<f64>> {
        match &self.mode {
            Mode::Adams(a) => a.eval_last(t),
            Mode::Bdf(b) => b.eval_last(t),
        }
    }
}
