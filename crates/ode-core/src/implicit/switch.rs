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
//!   [`TO_BDF_RATIO`] times Adams's step, BDF takes over at order
//!   `min(q, 5)` with Adams's polynomial converted to backward differences
//!   at BDF's step ([`super::handover`]; Jacobian and LU afresh).
//! - That ratio test cannot fire while Adams's step sits at its stability
//!   cap: there the correction `e` no longer measures `h^(q+1) y^(q+1)` but
//!   the stiff components the corrector leaves unconverged (it stops at
//!   `0.5/(q+2)` of the error allowed; a tenth of that lowered the
//!   estimate tenfold), so the estimate has a floor of about the tolerance
//!   and predicts a BDF step no larger than Adams's.
//!   On OREGO Adams then crawled at or near the cap for up to 1800 steps,
//!   and left only when a noisy Lipschitz estimate let a step overshoot it
//!   (with steps held exactly at the cap, Van der Pol took 34 000 steps).
//!   So [`STIFF_STEPS`] accepted Adams steps in a row whose size stability
//!   and not accuracy limited also switch to BDF (a step limited by
//!   stability is the working definition of stiffness; DOPRI5's stiffness
//!   detection counts such steps too).
//! - In BDF, `L` is the spectral radius of the Jacobian it holds (power
//!   iteration; not needed when the floor `|tr J| / n` already keeps
//!   Adams's stable step short) and BDF's error estimate gives
//!   `|h^(k+1) y^(k+1)|`; Adams's step at the same order is the smaller of
//!   what that error and `S_k / L` allow.
//!   When it reaches BDF's next step, Adams takes over at BDF's order with
//!   BDF's interpolating polynomial converted to a Nordsieck array.
//!
//! - Once stability limits Adams's steps, BDF's step is predicted from
//!   the last Adams step that it did not limit (when larger), since the
//!   capped steps' estimates have the floor described above. On the heat
//!   equation with 1000 points BDF otherwise restarted at 7.5e-7 where the
//!   solution allowed 1e-5.
//!
//! - A corrector that fails to converge in Adams measures `L` too: when
//!   Adams's stable step under it is below a [`TO_BDF_RATIO`]th of the
//!   step BDF's last trusted estimate allows, BDF takes over at once from
//!   the start of the failed step ([`super::adams::Attempt::Stiff`]),
//!   instead of Adams retreating to its cap first. The retreat cost the
//!   heat equation with 1000 points a rejected trial, a switch after a
//!   capped step whose history BDF's first step extrapolated sixty-fold
//!   (rejected too), and 13% more evaluations of f than BDF alone.
//!
//! A switch waits [`MIN_STEPS`] accepted steps after the previous one,
//! except the first one out of Adams at a stability-limited step: with
//! nothing to thrash between yet, a problem stiff from the start leaves
//! Adams after a handful of steps. A switch happens at the start of the
//! next step so that the drive still sees the last step's own polynomial
//! for outputs and dense output.

use std::cell::Cell;

use ndarray::Array1;

use super::adams::{Adams, Attempt};
use super::bdf::{self, Bdf};
use super::dense::Segment;
use super::handover;
use super::newton::{Ctx, Fail};
use super::nordsieck::{AdamsCoeffs, MAX_ORDER};
use super::{StepInfo, Stepper, StiffRhs};

mod estimates;

use estimates::{adams_view, factor, spectral_radius, AdamsView};

/// BDF must promise steps this many times larger than Adams's before the
/// solve switches to it (LSODA's ratio): BDF steps cost LU factorizations.
pub(crate) const TO_BDF_RATIO: f64 = 5.0;
/// Accepted steps with one method before switching is considered.
const MIN_STEPS: usize = 10;
/// Accepted Adams steps in a row limited by stability rather than accuracy
/// after which the solve switches to BDF whatever the error estimates say
/// (module docs). Scanned over 20 tolerances in [1e-6, 2e-6) and [1e-8,
/// 2e-8) on Robertson, Van der Pol, HIRES, OREGO and heat100: 10 took the
/// fewest steps (20 and 40 fell between it and no such rule), with no
/// switch on the non-stiff problems of `stiff_adams.rs`.
const STIFF_STEPS: usize = 10;
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
    /// What bounds Adams's stable step under BDF's Jacobian, computed once
    /// per Jacobian: BDF keeps one for many steps, and the power iteration
    /// was a fifth of Auto's time on Robertson.
    jac_bounds: Cell<Option<JacBounds>>,
    /// Accepted Adams steps in a row whose size stability, not accuracy,
    /// limited.
    stiff_run: usize,
    /// The step BDF would take by the error estimate of the last Adams step
    /// that stability did not limit: once stability limits the steps, their
    /// estimates no longer measure the solution (module docs).
    h_bdf_free: Option<f64>,
    /// Scratch for error weights.
    scale: Array1<f64>,
}

/// The bounds on BDF's Jacobian's spectral radius, for the Jacobian
/// evaluation `n_jac`: the floor `|tr J| / n` (the eigenvalues sum to the
/// trace), and the power iteration's estimate once it was needed.
#[derive(Clone, Copy)]
struct JacBounds {
    n_jac: usize,
    floor: f64,
    radius: Option<f64>,
}

enum Pending {
    /// To BDF with this first step.
    ToBdf { h: f64 },
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
            coeffs: AdamsCoeffs::shared(),
            bdf_coeffs: bdf::Coeffs::new(ndf),
            pending: None,
            jac_bounds: Cell::new(None),
            stiff_run: 0,
            h_bdf_free: None,
            scale: Array1::zeros(0),
        }
    }

    fn switch<F: StiffRhs + ?Sized>(&mut self, ctx: &mut Ctx<'_, F>, p: Pending) -> Result<(), Fail> {
        let t = self.t();
        match p {
            Pending::ToBdf { h } => {
                let Mode::Adams(a) = &self.mode else { return Ok(()) };
                let max_order = self.max_order.min(bdf::MAX_ORDER);
                let (z, q) = a.nordsieck();
                let k = q.min(max_order);
                let d = handover::nordsieck_to_differences(z.slice(ndarray::s![..=q, ..]), h / a.h_abs(), k);
                self.mode = Mode::Bdf(Box::new(Bdf::from_differences(ctx, t, d, k, h, max_order, self.ndf)?));
            }
            Pending::ToAdams { h, lipschitz } => {
                let Mode::Bdf(b) = &self.mode else { return Ok(()) };
                let k = b.order().min(self.max_order);
                let z = handover::differences_to_nordsieck(b.differences(), b.h_abs() / h, MAX_ORDER + 2);
                let mut a = Adams::from_nordsieck(t, z, k, h, self.max_order);
                a.cap_by_stability = true;
                a.lipschitz = lipschitz;
                self.mode = Mode::Adams(Box::new(a));
            }
        }
        ctx.sstats.n_switches += 1;
        self.since_switch = 0;
        self.stiff_run = 0;
        self.h_bdf_free = None;
        Ok(())
    }

    /// Adams's verdict on its last accepted step: switch to BDF when BDF
    /// would take much larger steps, or when stability has limited Adams's
    /// steps for [`STIFF_STEPS`] steps in a row.
    fn adams_verdict(&self, v: &AdamsView) -> Option<Pending> {
        let stiff = self.stiff_run >= STIFF_STEPS;
        let h = v.h;
        let h_bdf = match v.h_bdf {
            Some(hb) => hb,
            // The order just dropped and row 6 is gone: start at Adams's step.
            None if stiff => h,
            // Same, and nothing forces the switch: decide next time.
            None => return None,
        };
        // Under a stability-limited step h_bdf is a floor (module docs); the
        // estimate from before stability took over measures the solution.
        let h_bdf = if v.limited { h_bdf.max(self.h_bdf_free.unwrap_or(0.0)) } else { h_bdf };
        if stiff || h_bdf >= TO_BDF_RATIO * v.h_adams {
            // BDF's own error estimates correct h_bdf within a few steps.
            return Some(Pending::ToBdf { h: h_bdf.max(h) });
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
        let derivative = b.last_error() / b.error_const(k);
        let c = &self.coeffs;
        let h_acc = h * factor(c.gstar[k] * derivative, k, 1.2);
        if h_acc.min(ctx.max_step) < b.h_abs() {
            // Accuracy alone keeps Adams behind: no need for the spectral
            // radius, whose power iteration was 6% of Auto's time on the
            // heat equation with 1000 points.
            return None;
        }
        // The eigenvalues sum to the trace, so the largest modulus is at
        // least `|tr J| / n`: when even that bound keeps Adams's stable step
        // below BDF's, the power iteration (12 products) is not needed.
        let n_jac = ctx.sstats.n_jac;
        let mut bounds = match self.jac_bounds.get() {
            Some(j) if j.n_jac == n_jac => j,
            _ => JacBounds {
                n_jac,
                floor: b.jac().trace().abs() / b.jac().nrows().max(1) as f64,
                radius: None,
            },
        };
        let floor = bounds.floor;
        if floor > 0.0 && c.stability_bound(k) / floor < b.h_abs() {
            self.jac_bounds.set(Some(bounds));
            return None;
        }
        let lipschitz = *bounds.radius.get_or_insert_with(|| spectral_radius(b.jac()));
        self.jac_bounds.set(Some(bounds));
        let h_stab = if lipschitz > 0.0 { c.stability_bound(k) / lipschitz } else { f64::INFINITY };
        let h_adams = h_acc.min(h_stab).min(ctx.max_step);
        if h_adams >= b.h_abs() {
            return Some(Pending::ToAdams { h: h_adams, lipschitz });
        }
        None
    }
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
        let may_switch = ctx.sstats.n_switches == 0 || self.since_switch >= MIN_STEPS;
        // A corrector failure far past Adams's stable step hands over to BDF
        // at once, at the step BDF's last trusted estimate allows (module
        // docs).
        let h_exit = self.h_bdf_free.filter(|_| may_switch);
        let (info, bdf_order) = loop {
            match &mut self.mode {
                Mode::Adams(a) => {
                    a.exit_below = h_exit.map(|h| h / TO_BDF_RATIO);
                    match a.attempt(ctx, t_bound)? {
                        Attempt::Accepted(info) => {
                            ctx.sstats.n_adams_steps += 1;
                            break (info, 0);
                        }
                        // Only with an exit step set; else at the failed step.
                        Attempt::Stiff => {
                            let h = h_exit.unwrap_or(a.h_abs());
                            self.switch(ctx, Pending::ToBdf { h })?;
                        }
                    }
                }
                Mode::Bdf(b) => {
                    let k = b.order();
                    let info = b.step(ctx, t_bound)?;
                    ctx.sstats.n_bdf_steps += 1;
                    break (info, k);
                }
            }
        };
        self.since_switch += 1;
        let Auto { mode, coeffs, bdf_coeffs, scale, .. } = self;
        let view = match mode {
            Mode::Adams(a) => Some(adams_view(a, ctx, coeffs, bdf_coeffs, scale)),
            Mode::Bdf(_) => None,
        };
        let mut early = false;
        match &view {
            Some(v) if v.limited => {
                self.stiff_run += 1;
                // Stiff from the start: nothing to thrash between yet.
                early = ctx.sstats.n_switches == 0;
            }
            Some(v) => {
                self.stiff_run = 0;
                self.h_bdf_free = v.h_bdf;
            }
            None => self.stiff_run = 0,
        }
        if early || self.since_switch >= MIN_STEPS {
            self.pending = match (&self.mode, view) {
                (Mode::Adams(_), Some(v)) => self.adams_verdict(&v),
                (Mode::Bdf(b), _) => self.bdf_verdict(b, bdf_order, info.h.abs(), ctx),
                (Mode::Adams(_), None) => None,
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::implicit::nordsieck;
    use crate::implicit::problems::{Robertson, VanDerPol};
    use crate::tolerance::Tolerance;

    fn ctx<'a, F: StiffRhs>(f: &'a F, tol: &'a Tolerance, n: usize) -> Ctx<'a, F> {
        // `solve_stiff`'s default: LU reuse on.
        Ctx { lu_max_change: crate::implicit::newton::LU_REUSE_MAX_CHANGE, ..Ctx::new(f, tol, n) }
    }

    fn auto<F: StiffRhs>(ctx: &mut Ctx<'_, F>, y0: Array1<f64>, max_order: usize) -> Auto {
        let f0 = ctx.rhs(0.0, &y0).unwrap();
        Auto::new(0.0, y0, &f0, 1e-6, 1.0, max_order, true)
    }

    fn rel_close(a: &Array1<f64>, b: &Array1<f64>, tol: f64) -> bool {
        a.iter().zip(b).all(|(x, y)| (x - y).abs() <= tol * x.abs().max(y.abs()).max(1e-300))
    }

    /// After Adams hands over to BDF, BDF's first predictor is Adams's
    /// polynomial at the end of BDF's first step, and BDF runs at Adams's
    /// order (at most 5).
    #[test]
    fn bdf_predictor_after_switch_is_the_adams_interpolant() {
        let tol = Tolerance::new(1e-6, 1e-12);
        let mut ctx = ctx(&Robertson, &tol, 3);
        let mut s = auto(&mut ctx, Robertson::y0(), 5);
        for _ in 0..5000 {
            if let (Some(Pending::ToBdf { h }), Mode::Adams(a)) = (&s.pending, &s.mode) {
                let (z, q) = a.nordsieck();
                let expected = nordsieck::eval(z.slice(ndarray::s![..=q, ..]), h / a.h_abs());
                let p = s.pending.take().unwrap();
                s.switch(&mut ctx, p).unwrap();
                let Mode::Bdf(b) = &s.mode else { panic!("no switch") };
                assert!(q > 1, "Adams order {q} at the switch");
                assert_eq!(b.order(), q);
                let pred = b.predicted();
                assert!(rel_close(&pred, &expected, 1e-10), "{pred} vs {expected}");
                return;
            }
            s.step(&mut ctx, 1e5).unwrap();
        }
        panic!("no switch to BDF in 5000 steps");
    }

    /// After BDF hands over to Adams, Adams's polynomial passes through
    /// BDF's past values `y_(n-i)`, `i = 0..=k`, recovered from the
    /// differences (`y_(n-i) = sum_j (-1)^j C(i, j) D^j`).
    #[test]
    fn adams_polynomial_after_switch_passes_through_the_bdf_values() {
        let tol = Tolerance::new(1e-6, 1e-10);
        let vdp = VanDerPol { mu: 1000.0 };
        let mut ctx = ctx(&vdp, &tol, 2);
        let mut s = auto(&mut ctx, VanDerPol::y0(), 12);
        for _ in 0..20_000 {
            if let (Some(Pending::ToAdams { h, .. }), Mode::Bdf(b)) = (&s.pending, &s.mode) {
                let (h, hb, k) = (*h, b.h_abs(), b.order());
                let d = b.differences().to_owned();
                let p = s.pending.take().unwrap();
                s.switch(&mut ctx, p).unwrap();
                let Mode::Adams(a) = &s.mode else { panic!("no switch") };
                assert_eq!(a.order(), k);
                let (z, _) = a.nordsieck();
                for i in 0..=k {
                    let mut value = Array1::zeros(2);
                    let mut binom = 1.0;
                    for j in 0..=i {
                        value.scaled_add(if j % 2 == 0 { binom } else { -binom }, &d.row(j));
                        binom = binom * (i - j) as f64 / (j + 1) as f64;
                    }
                    let at = nordsieck::eval(z.view(), -(i as f64) * hb / h);
                    assert!(rel_close(&at, &value, 1e-9), "i = {i}: {at} vs {value}");
                }
                return;
            }
            s.step(&mut ctx, 3000.0).unwrap();
        }
        panic!("no switch back to Adams in 20000 steps");
    }
}
