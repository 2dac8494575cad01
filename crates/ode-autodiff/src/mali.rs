//! MALI: the asynchronous leapfrog (ALF) integrator, whose steps can be
//! inverted exactly, so the backward pass reconstructs every state from the
//! end state instead of storing it (Zhuang et al. 2021).
//!
//! State `(z, v)` with `v0 = f(t0, z0)`; one step of size h:
//! `z_half = z + h/2 v`, `u = f(t + h/2, z_half)`, `v' = 2u - v`,
//! `z' = z_half + h/2 v'`. Inverse: `z_half = z' - h/2 v'`,
//! `u = f(t + h/2, z_half)`, `v = 2u - v'`, `z = z_half - h/2 v`.
//!
//! Adaptive steps use the embedded first-order estimate
//! `err = z' - (z + h v) = h/2 (v' - v)` (controller exponent 1/2). Steps
//! land exactly on the output times, so outputs need no interpolation.

use std::fmt::Debug;

use ode_core::control::{initial_step, ControllerState};
use ode_core::{OdeState, Partial, Solution, SolveError, SolveOptions, Stats, StepRecord, StepSize};

use crate::error::GradError;
use crate::grad::{time_gradients, BackwardStats, Gradients};
use crate::rhs::VjpRhs;

/// Options specific to MALI (the tolerances and limits come from the
/// forward `SolveOptions`).
///
/// `damping` is the eta of damped ALF: `v' = v + 2 eta (u - v)`. With
/// `eta = 1` (the default) this is plain ALF, `v' = 2u - v`, which is
/// unstable on strongly contracting dynamics (one root of the step map has
/// modulus above 1 for every negative real eigenvalue). `eta` in `(0.5, 1)`
/// damps that parasitic mode at the price of amplifying round-off by
/// `1 / |1 - 2 eta|` per step in the inverse; `eta = 0.5` is not invertible.
#[derive(Clone, Debug)]
pub struct MaliOptions {
    pub damping: f64,
}

impl Default for MaliOptions {
    fn default() -> Self {
        MaliOptions { damping: 1.0 }
    }
}

impl MaliOptions {
    pub fn damping(mut self, eta: f64) -> Self {
        self.damping = eta;
        self
    }
}

/// What MALI keeps for the backward pass: the end state `(z_N, v_N)` and the
/// accepted step sizes (scalars), never the intermediate states.
pub struct MaliTape<S> {
    z_end: S,
    v_end: S,
    eta: f64,
}

struct Alf<S> {
    z: S,
    v: S,
    /// `h/2 (v' - v)`.
    err: S,
}

#[allow(clippy::too_many_arguments)]
fn alf_step<S: OdeState, F: VjpRhs<S> + ?Sized>(
    f: &F,
    t: f64,
    h: f64,
    z: &S,
    v: &S,
    eta: f64,
    nfe: &mut usize,
) -> Alf<S> {
    let z_half = z.lincomb(&[(0.5 * h, v)]);
    let u = f.eval(t + 0.5 * h, &z_half);
    *nfe += 1;
    // v' = v + 2 eta (u - v)
    let v1 = v.lincomb(&[(2.0 * eta, &u), (-2.0 * eta, v)]);
    let z1 = z_half.lincomb(&[(0.5 * h, &v1)]);
    let err = v1.zeros_like().lincomb(&[(0.5 * h, &v1), (-0.5 * h, v)]);
    Alf { z: z1, v: v1, err }
}

pub(crate) fn forward<S, F>(
    f: &F,
    y0: S,
    ts: &[f64],
    opts: &SolveOptions,
    m: &crate::MaliOptions,
) -> Result<(Solution<S>, MaliTape<S>), GradError<S>>
where
    S: OdeState + Debug,
    F: VjpRhs<S> + ?Sized,
{
    let fail = |e: SolveError<S>| GradError::forward(e);
    if ts.len() < 2 || ts.iter().any(|t| !t.is_finite()) {
        return Err(fail(SolveError::InvalidTimes { reason: "need at least 2 finite output times".into() }));
    }
    let d = if ts[1] < ts[0] { -1.0 } else { 1.0 };
    if ts.windows(2).any(|w| (w[1] - w[0]) * d <= 0.0) {
        return Err(fail(SolveError::InvalidTimes {
            reason: "output times must be strictly monotonic".into(),
        }));
    }
    if !y0.all_finite() {
        return Err(fail(SolveError::NonFiniteState { t: ts[0] }));
    }
    let (ctrl, fixed_h) = match &opts.step {
        StepSize::Adaptive(c) => (Some(*c), None),
        StepSize::Fixed(h) if h.is_finite() && *h > 0.0 => (None, Some(*h)),
        _ => {
            return Err(GradError::Unsupported {
                method: "mali",
                what: "this step-size policy (use Adaptive or a positive Fixed step)".into(),
            })
        }
    };
    let option = |name: &'static str, reason: String| fail(SolveError::InvalidOption { name, reason });
    if let Some(c) = ctrl {
        c.validate().map_err(|r| option("controller", r))?;
        opts.tol.validate(y0.numel()).map_err(|reason| fail(SolveError::InvalidTolerance { reason }))?;
    }
    opts.validate_step_limits().map_err(|(name, reason)| option(name, reason))?;
    let eta = m.damping;
    if !(eta.is_finite() && eta > 0.0 && eta <= 1.0 && (1.0 - 2.0 * eta).abs() > 1e-3) {
        return Err(GradError::Unsupported {
            method: "mali",
            what: format!("damping {eta}: it must lie in (0, 1] and away from 0.5 (not invertible there)"),
        });
    }
    let mut stats = Stats::default();
    let mut t = ts[0];
    let mut z = y0;
    let mut v = f.eval(t, &z);
    stats.nfe += 1;
    if !v.same_shape(&z) {
        return Err(fail(SolveError::ShapeMismatch { t, expected: z.shape_desc(), found: v.shape_desc() }));
    }
    let mut h_abs = match (fixed_h, opts.first_step) {
        (Some(h), _) => h,
        (None, Some(h)) => h.abs(),
        (None, None) => initial_step(f, t, &z, &v, d, 2, &opts.tol, &mut stats.nfe).abs(),
    }
    .clamp(opts.min_step, opts.max_step);
    let mut ctrl_state = ControllerState::default();
    let mut out_ts = vec![t];
    let mut out_ys = vec![z.dup()];
    let mut steps = Vec::new();
    for &target in &ts[1..] {
        while t != target {
            let partial = |t: f64, z: &S, out_ts: &Vec<f64>, out_ys: &Vec<S>, stats: Stats| {
                Box::new(Partial {
                    ts: out_ts.clone(),
                    ys: out_ys.iter().map(OdeState::dup).collect(),
                    t_reached: t,
                    y_reached: z.dup(),
                    stats,
                })
            };
            if stats.n_steps() >= opts.max_steps {
                return Err(fail(SolveError::MaxStepsExceeded {
                    t,
                    h: d * h_abs,
                    max_steps: opts.max_steps,
                    partial: partial(t, &z, &out_ts, &out_ys, stats),
                }));
            }
            let dist = (target - t).abs();
            // Fixed steps accumulate t by repeated addition, so allow a
            // relative slack to land without a sliver of a last step.
            let slack = if fixed_h.is_some() { 1e-9 } else { 4.0 * f64::EPSILON };
            let t_new = if h_abs >= dist * (1.0 - slack) { target } else { t + d * h_abs };
            let h = t_new - t;
            let step = alf_step(f, t, h, &z, &v, eta, &mut stats.nfe);
            let finite = step.z.all_finite() && step.v.all_finite();
            let ratio = match ctrl {
                Some(_) => S::error_ratio(&step.err, &z, &step.z, &opts.tol),
                None => 0.0,
            };
            if let Some(c) = ctrl {
                if !finite || ratio.is_nan() || ratio > 1.0 {
                    stats.n_rejected += 1;
                    h_abs = h.abs() * c.factor(&mut ctrl_state, ratio, 1, false);
                    if h_abs < opts.min_step || t + d * h_abs == t {
                        return Err(fail(SolveError::StepSizeUnderflow {
                            t,
                            h: d * h_abs,
                            partial: partial(t, &z, &out_ts, &out_ys, stats),
                        }));
                    }
                    continue;
                }
                h_abs =
                    (h.abs() * c.factor(&mut ctrl_state, ratio, 1, true)).clamp(opts.min_step, opts.max_step);
            } else if !finite {
                return Err(fail(SolveError::NonFiniteState { t: t_new }));
            }
            stats.n_accepted += 1;
            steps.push(StepRecord { t, h, error_ratio: ratio });
            t = t_new;
            z = step.z;
            v = step.v;
        }
        out_ts.push(t);
        out_ys.push(z.dup());
    }
    let sol = Solution { ts: out_ts, ys: out_ys, stats, steps, dense: None, event: None, checkpoints: None };
    Ok((sol, MaliTape { z_end: z, v_end: v, eta }))
}

pub(crate) fn backward<S, F>(
    f: &F,
    tape: &MaliTape<S>,
    sol: &Solution<S>,
    dl_dys: &[S],
) -> Gradients<S, F::Params>
where
    S: OdeState + Debug,
    F: VjpRhs<S> + ?Sized,
{
    let mut stats = BackwardStats::default();
    let mut dtheta = f.zero_params();
    let ts = &sol.ts;
    let mut out = ts.len() - 1;
    let mut z = tape.z_end.dup();
    let mut v = tape.v_end.dup();
    let mut zbar = dl_dys[out].dup();
    let mut vbar = zbar.zeros_like();
    let eta = tape.eta;
    out -= 1;
    for (n, step) in sol.steps.iter().enumerate().rev() {
        let (t, h) = (step.t, step.h);
        // Invert the step.
        let z_half = z.lincomb(&[(-0.5 * h, &v)]);
        let u = f.eval(t + 0.5 * h, &z_half);
        stats.nfe += 1;
        // v' = (1 - 2 eta) v + 2 eta u  =>  v = (v' - 2 eta u) / (1 - 2 eta).
        let keep = 1.0 - 2.0 * eta;
        let v_prev = v.zeros_like().lincomb(&[(1.0 / keep, &v), (-2.0 * eta / keep, &u)]);
        let z_prev = z_half.lincomb(&[(-0.5 * h, &v_prev)]);
        // Back-propagate: z' = z_half + h/2 v', v' = keep v + 2 eta u,
        // z_half = z + h/2 v.
        let vbar_total = vbar.lincomb(&[(0.5 * h, &zbar)]);
        let ubar = vbar_total.zeros_like().lincomb(&[(2.0 * eta, &vbar_total)]);
        let (zh_from_u, pbar) = f.vjp(t + 0.5 * h, &z_half, &ubar);
        stats.nvjp += 1;
        dtheta = dtheta.lincomb(&[(1.0, &pbar)]);
        let zhbar = zbar.lincomb(&[(1.0, &zh_from_u)]);
        vbar = zhbar.zeros_like().lincomb(&[(0.5 * h, &zhbar), (keep, &vbar_total)]);
        zbar = zhbar;
        z = z_prev;
        v = v_prev;
        stats.n_steps += 1;
        // An output at this step's start.
        if n > 0 && out > 0 && ts[out] == t {
            zbar = zbar.lincomb(&[(1.0, &dl_dys[out])]);
            out -= 1;
        }
    }
    // v0 = f(t0, z0).
    let (zb, pb) = f.vjp(ts[0], &z, &vbar);
    stats.nvjp += 1;
    dtheta = dtheta.lincomb(&[(1.0, &pb)]);
    let dy0 = zbar.lincomb(&[(1.0, &zb), (1.0, &dl_dys[0])]);
    let dts = time_gradients(f, ts, &sol.ys, dl_dys, &dy0, &mut stats.nfe);
    Gradients { dy0, dtheta, dts, stats }
}
