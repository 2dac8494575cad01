//! The integration loop: validation, step-size policy, landing points,
//! output through dense output, events and errors.

use std::fmt::Debug;

use crate::control::{initial_step, Controller, ControllerState};
use crate::dense::{DenseSolution, StepInterpolant};
use crate::error::{Partial, SolveError};
use crate::event::crossing;
use crate::options::{SolveOptions, StepSize};
use crate::rhs::Rhs;
use crate::rk::{error_ratio, eval_checked, rk_step, ShapeFailure};
use crate::solution::{EventHit, Solution, Stats, StepRecord};
use crate::state::OdeState;

/// Solves `dy/dt = f(t, y)`, `y(ts[0]) = y0`, and returns the states at every
/// time in `ts` (strictly increasing, or strictly decreasing to integrate
/// backwards in time).
///
/// ```
/// use ndarray::{array, Array1};
/// use ode_core::{solve, SolveOptions};
/// // Backwards in time: y' = y from t = 1 to t = 0.
/// let f = |_t: f64, y: &Array1<f64>| y.clone();
/// let sol = solve(&f, array![1f64.exp()], &[1.0, 0.0], &SolveOptions::default()).unwrap();
/// assert!((sol.ys[1][0] - 1.0).abs() < 1e-7);
/// ```
pub fn solve<S, F>(f: &F, y0: S, ts: &[f64], opts: &SolveOptions) -> Result<Solution<S>, SolveError<S>>
where
    S: OdeState + Debug,
    F: Rhs<S> + ?Sized,
{
    Integrator::new(f, ts, opts, None::<&fn(f64, &S) -> f64>)?.run(y0)
}

/// Like [`solve`], and stops at the first time where `event(t, y)` changes
/// sign. The crossing is located on the interpolant (no extra evaluations of
/// `f`) and returned in [`Solution::event`]; output times after it are not
/// reported.
///
/// ```
/// use ndarray::{array, Array1};
/// use ode_core::{solve_with_event, SolveOptions};
/// // A ball thrown up at 10 m/s: when does it land?
/// let f = |_t: f64, y: &Array1<f64>| array![y[1], -9.81];
/// let sol = solve_with_event(&f, array![0.0, 10.0], &[0.0, 5.0], &SolveOptions::default(),
///     |t, y: &Array1<f64>| if t > 0.0 { y[0] } else { 1.0 }).unwrap();
/// let hit = sol.event.unwrap();
/// assert!((hit.t - 20.0 / 9.81).abs() < 1e-8);
/// ```
pub fn solve_with_event<S, F, G>(
    f: &F,
    y0: S,
    ts: &[f64],
    opts: &SolveOptions,
    event: G,
) -> Result<Solution<S>, SolveError<S>>
where
    S: OdeState + Debug,
    F: Rhs<S> + ?Sized,
    G: Fn(f64, &S) -> f64,
{
    Integrator::new(f, ts, opts, Some(&event))?.run(y0)
}

/// How the steps are chosen once the options are validated.
enum Policy {
    Adaptive(Controller),
    /// Steps go from stop to stop (grid points, step_t, jump_t, the end).
    Fixed,
}

struct Integrator<'a, S, F: ?Sized, G> {
    f: &'a F,
    ts: &'a [f64],
    opts: &'a SolveOptions,
    event: Option<&'a G>,
    policy: Policy,
    direction: f64,
    /// Points steps must land on, in integration order, ending with t_end.
    stops: Vec<f64>,
    /// Which stops are discontinuities of f.
    is_jump: Vec<bool>,
    _state: std::marker::PhantomData<S>,
}

/// Mutable progress of a solve, kept together so errors can carry it.
struct Progress<S> {
    t: f64,
    y: S,
    stats: Stats,
    out_ts: Vec<f64>,
    out_ys: Vec<S>,
}

impl<S: OdeState + Debug> Progress<S> {
    fn partial(&self) -> Box<Partial<S>> {
        Box::new(Partial {
            ts: self.out_ts.clone(),
            ys: self.out_ys.iter().map(OdeState::dup).collect(),
            t_reached: self.t,
            y_reached: self.y.dup(),
            stats: self.stats,
        })
    }
}

fn shape_error<S: OdeState + Debug>(e: ShapeFailure, like: &S) -> SolveError<S> {
    SolveError::ShapeMismatch { t: e.t, expected: like.shape_desc(), found: e.found }
}

/// Checks output times (non-empty, finite, strictly monotonic) and returns
/// the direction of integration: 1 forwards, -1 backwards. Shared by every
/// solver; the error is the reason for `SolveError::InvalidTimes`.
pub(crate) fn time_direction(ts: &[f64]) -> Result<f64, String> {
    if ts.is_empty() {
        return Err("no output times given; ts[0] must be the initial time".into());
    }
    if let Some(t) = ts.iter().find(|t| !t.is_finite()) {
        return Err(format!("output time {t} is not finite"));
    }
    let direction = if ts.len() > 1 && ts[1] < ts[0] { -1.0 } else { 1.0 };
    if let Some(w) = ts.windows(2).find(|w| (w[1] - w[0]) * direction <= 0.0) {
        return Err(format!("output times must be strictly monotonic; found {} followed by {}", w[0], w[1]));
    }
    Ok(direction)
}

/// Checks a step grid against the output span: at least 2 finite points,
/// strictly monotonic in `direction`, from `t0` to at least `t_end`.
pub(crate) fn validate_grid(g: &[f64], t0: f64, t_end: f64, direction: f64) -> Result<(), String> {
    if g.len() < 2 || g.iter().any(|x| !x.is_finite()) {
        return Err("needs at least 2 finite points".into());
    }
    if g.windows(2).any(|w| (w[1] - w[0]) * direction <= 0.0) {
        return Err("must be strictly monotonic in the direction of ts".into());
    }
    if g[0] != t0 || (g[g.len() - 1] - t_end) * direction < 0.0 {
        return Err(format!("must start at ts[0] = {t0} and reach the last output time {t_end}"));
    }
    Ok(())
}

/// Steps below ten ulps of `t` cannot be resolved in floating point (the
/// threshold scipy uses too).
fn min_resolvable_step(t: f64) -> f64 {
    10.0 * (t.abs().next_up() - t.abs())
}

/// One ulp further in `direction`: where f is evaluated just past a jump.
fn nudge(t: f64, direction: f64) -> f64 {
    if direction > 0.0 {
        t.next_up()
    } else {
        t.next_down()
    }
}

impl<'a, S, F, G> Integrator<'a, S, F, G>
where
    S: OdeState + Debug,
    F: Rhs<S> + ?Sized,
    G: Fn(f64, &S) -> f64,
{
    fn new(
        f: &'a F,
        ts: &'a [f64],
        opts: &'a SolveOptions,
        event: Option<&'a G>,
    ) -> Result<Self, SolveError<S>> {
        let times = |reason: String| SolveError::InvalidTimes { reason };
        let option = |name: &'static str, reason: String| SolveError::InvalidOption { name, reason };
        let direction = time_direction(ts).map_err(times)?;
        let t0 = ts[0];
        let t_end = ts[ts.len() - 1];

        let policy = match &opts.step {
            StepSize::Adaptive(c) => {
                if !opts.method.is_adaptive() {
                    return Err(SolveError::UnsupportedMethod {
                        method: opts.method.name,
                        reason: "has no error estimator: use StepSize::Fixed or StepSize::Grid".into(),
                    });
                }
                c.validate().map_err(|r| option("controller", r))?;
                Policy::Adaptive(*c)
            }
            StepSize::Fixed(h) => {
                if !(h.is_finite() && *h > 0.0) {
                    return Err(option("step", format!("fixed step must be finite and > 0, got {h}")));
                }
                Policy::Fixed
            }
            StepSize::Grid(g) => {
                validate_grid(g, t0, t_end, direction).map_err(|r| option("grid", r))?;
                Policy::Fixed
            }
        };
        opts.validate_step_limits().map_err(|(name, reason)| option(name, reason))?;

        // Landing points strictly inside (t0, t_end), then t_end itself.
        let inside = |t: f64| (t - t0) * direction > 0.0 && (t - t_end) * direction < 0.0;
        let mut stops: Vec<(f64, bool)> = Vec::new();
        stops.extend(opts.step_t.iter().copied().filter(|t| inside(*t)).map(|t| (t, false)));
        stops.extend(opts.jump_t.iter().copied().filter(|t| inside(*t)).map(|t| (t, true)));
        match &opts.step {
            StepSize::Fixed(h) => {
                let span = (t_end - t0).abs();
                let n = (span / h - 1e-9).ceil().max(1.0);
                if n > opts.max_steps as f64 {
                    return Err(option(
                        "step",
                        format!("{n} fixed steps of {h} would exceed max_steps = {}", opts.max_steps),
                    ));
                }
                for i in 1..n as usize {
                    stops.push((t0 + direction * (i as f64) * h, false));
                }
            }
            StepSize::Grid(g) => stops.extend(g.iter().copied().filter(|t| inside(*t)).map(|t| (t, false))),
            StepSize::Adaptive(_) => {}
        }
        stops.push((t_end, false));
        stops.sort_by(|a, b| ((a.0 - b.0) * direction).total_cmp(&0.0));
        // A time listed twice is one stop; it is a jump if any listing says so.
        let mut merged: Vec<(f64, bool)> = Vec::with_capacity(stops.len());
        for (t, j) in stops {
            match merged.last_mut() {
                Some(last) if last.0 == t => last.1 |= j,
                _ => merged.push((t, j)),
            }
        }
        let (stops, is_jump) = merged.into_iter().unzip();
        Ok(Integrator {
            f,
            ts,
            opts,
            event,
            policy,
            direction,
            stops,
            is_jump,
            _state: std::marker::PhantomData,
        })
    }

    fn run(self, y0: S) -> Result<Solution<S>, SolveError<S>> {
        let opts = self.opts;
        let tab = opts.method;
        let d = self.direction;
        let t0 = self.ts[0];
        let t_end = self.ts[self.ts.len() - 1];
        if !y0.all_finite() {
            return Err(SolveError::NonFiniteState { t: t0 });
        }
        if let Policy::Adaptive(_) = self.policy {
            opts.tol.validate(y0.numel()).map_err(|reason| SolveError::InvalidTolerance { reason })?;
        }
        let mut p = Progress { t: t0, y: y0, stats: Stats::default(), out_ts: vec![t0], out_ys: Vec::new() };
        p.out_ys.push(p.y.dup());
        let mut steps: Vec<StepRecord> = Vec::new();
        let mut dense =
            opts.dense.then(|| DenseSolution { segments: Vec::new(), direction: d, t_stop: None });
        let mut checkpoints: Option<Vec<S>> = opts.checkpoints.then(Vec::new);
        if self.ts.len() == 1 {
            return Ok(Solution {
                ts: p.out_ts,
                ys: p.out_ys,
                stats: p.stats,
                steps,
                dense,
                event: None,
                checkpoints,
            });
        }

        let f = self.f;
        let mut k1: Option<S> = None;
        // f is evaluated just past a jump when the step starts on one.
        let mut starts_on_jump = false;
        let mut next_out = 1usize;
        let mut stop_idx = 0usize;
        let mut g_prev = match self.event {
            Some(g) => {
                let v = g(t0, &p.y);
                if !v.is_finite() {
                    return Err(SolveError::NonFiniteEvent { t: t0 });
                }
                v
            }
            None => 0.0,
        };

        let mut ctrl_state = ControllerState::default();
        let mut h_abs = 0.0;
        // Why the last trial failed, if it was rejected for non-finite values.
        let mut nonfinite: Option<SolveError<S>> = None;

        while (p.t - t_end) * d < 0.0 {
            // f(t, y) at the current state: reused from the last step (FSAL or
            // Hermite's f1) unless a jump or the first step forces a fresh one.
            let k = match k1.take() {
                Some(k) => k,
                None => {
                    let te = if starts_on_jump { nudge(p.t, d) } else { p.t };
                    let k = eval_checked(f, te, &p.y, &p.y, &mut p.stats.nfe)
                        .map_err(|e| shape_error(e, &p.y))?;
                    if !k.all_finite() {
                        return Err(SolveError::NonFiniteRhs { t: p.t });
                    }
                    k
                }
            };
            if h_abs == 0.0 {
                if let Policy::Adaptive(_) = self.policy {
                    h_abs = match opts.first_step {
                        Some(h) => h.abs(),
                        None => {
                            initial_step(f, p.t, &p.y, &k, d, tab.error_order, &opts.tol, &mut p.stats.nfe)
                                .abs()
                        }
                    };
                    h_abs = h_abs.clamp(opts.min_step, opts.max_step);
                }
            }
            while (self.stops[stop_idx] - p.t) * d <= 0.0 {
                stop_idx += 1;
            }
            let stop = self.stops[stop_idx];
            let dist = (stop - p.t).abs();
            let lands = match self.policy {
                Policy::Fixed => true,
                // Also land when the rest of the interval is below what t can
                // resolve: a step of h_abs would not move t at all.
                Policy::Adaptive(_) => {
                    h_abs >= dist * (1.0 - 4.0 * f64::EPSILON) || dist <= min_resolvable_step(p.t)
                }
            };
            let t_new = if lands { stop } else { p.t + d * h_abs };
            let h = t_new - p.t;
            if t_new == p.t || (lands && self.policy_is_fixed() && h == 0.0) {
                // The step that was tried, not the zero it amounted to.
                let h = if h == 0.0 { d * h_abs } else { h };
                return Err(SolveError::StepSizeUnderflow { t: p.t, h, partial: p.partial() });
            }
            if p.stats.n_steps() >= opts.max_steps {
                return Err(SolveError::MaxStepsExceeded {
                    t: p.t,
                    h,
                    max_steps: opts.max_steps,
                    partial: p.partial(),
                });
            }
            let lands_on_jump = lands && self.is_jump[stop_idx];
            // Stages at c = 1 sit on the jump: evaluate them just before it.
            let t_stage_end = if lands_on_jump { nudge(t_new, -d) } else { t_new };
            let step = rk_step(tab, f, p.t, &p.y, h, t_stage_end, k.dup(), &mut p.stats.nfe)
                .map_err(|e| shape_error(e, &p.y))?;
            let ratio = match self.policy {
                Policy::Adaptive(_) => error_ratio(tab, h, &step.ks, &p.y, &step.y1, &opts.tol),
                Policy::Fixed => 0.0,
            };
            let finite = ratio.is_finite() && step.y1.all_finite();

            if let Policy::Adaptive(ctrl) = self.policy {
                if !finite || ratio > 1.0 {
                    p.stats.n_rejected += 1;
                    nonfinite = (!finite).then(|| self.diagnose_nonfinite(p.t, h, &step.ks));
                    let factor = ctrl.factor(&mut ctrl_state, ratio, tab.error_order, false);
                    h_abs = h.abs() * factor;
                    if h_abs < opts.min_step || h_abs < min_resolvable_step(p.t) {
                        if let Some(e) = nonfinite {
                            return Err(e);
                        }
                        return Err(SolveError::StepSizeUnderflow {
                            t: p.t,
                            h: d * h_abs,
                            partial: p.partial(),
                        });
                    }
                    k1 = Some(k);
                    starts_on_jump = false;
                    continue;
                }
            } else if !finite {
                return Err(self.diagnose_nonfinite(p.t, h, &step.ks));
            }
            nonfinite = None;

            // Accepted.
            p.stats.n_accepted += 1;
            if let Some(c) = checkpoints.as_mut() {
                c.push(p.y.dup());
            }
            steps.push(StepRecord { t: p.t, h, error_ratio: ratio });
            let outputs_inside = next_out < self.ts.len() && (self.ts[next_out] - t_new) * d < 0.0;
            let need_interp = outputs_inside || self.event.is_some() || dense.is_some();
            let at_end = t_new == t_end;
            // f(t1, y1): the FSAL stage, or (non-FSAL) the next step's first
            // stage, computed now when an interpolant needs it.
            let mut f1: Option<S> = None;
            if !tab.fsal && need_interp && StepInterpolant::<S>::needs_f1(tab) {
                let v = eval_checked(f, t_stage_end, &step.y1, &p.y, &mut p.stats.nfe)
                    .map_err(|e| shape_error(e, &p.y))?;
                f1 = Some(v);
            }
            let mut ks = step.ks;
            let y1 = step.y1;
            // The first stage of the next step, when it can be reused.
            let next_k1 = if lands_on_jump || at_end {
                None
            } else if tab.fsal {
                ks.last().map(OdeState::dup)
            } else {
                f1.as_ref().map(OdeState::dup)
            };
            let interp = if need_interp {
                let y_start = std::mem::replace(&mut p.y, y1.dup());
                Some(
                    StepInterpolant::new(
                        tab,
                        f,
                        p.t,
                        h,
                        y_start,
                        std::mem::take(&mut ks),
                        f1,
                        &mut p.stats.nfe,
                    )
                    .map_err(|e| shape_error(e, &y1))?,
                )
            } else {
                p.y = y1.dup();
                None
            };
            let t_prev = p.t;
            p.t = t_new;

            // Events are checked before outputs so no output past the event
            // is reported.
            let mut event_hit: Option<EventHit<S>> = None;
            if let Some(g) = self.event {
                let g_new = g(t_new, &y1);
                if !g_new.is_finite() {
                    return Err(SolveError::NonFiniteEvent { t: t_new });
                }
                let it = interp.as_ref();
                let at = |t: f64| it.expect("interpolant is built when an event is set").eval(t);
                event_hit = crossing(g, (t_prev, g_prev), (t_new, g_new), &y1, at)
                    .map_err(|()| SolveError::NonFiniteEvent { t: t_new })?;
                g_prev = g_new;
            }
            let t_limit = event_hit.as_ref().map_or(t_new, |e| e.t);
            while next_out < self.ts.len() && (self.ts[next_out] - t_limit) * d <= 0.0 {
                let tq = self.ts[next_out];
                let yq = if tq == t_new {
                    y1.dup()
                } else {
                    interp.as_ref().expect("interpolant is built when outputs lie inside").eval(tq)
                };
                p.out_ts.push(tq);
                p.out_ys.push(yq);
                next_out += 1;
            }
            if let (Some(ds), Some(it)) = (dense.as_mut(), interp) {
                ds.segments.push(it);
            }
            if let Some(hit) = event_hit {
                if let Some(ds) = dense.as_mut() {
                    ds.t_stop = Some(hit.t);
                }
                return Ok(Solution {
                    ts: p.out_ts,
                    ys: p.out_ys,
                    stats: p.stats,
                    steps,
                    dense,
                    event: Some(hit),
                    checkpoints,
                });
            }

            if let Policy::Adaptive(ctrl) = self.policy {
                let factor = ctrl.factor(&mut ctrl_state, ratio, tab.error_order, true);
                h_abs = (h.abs() * factor).clamp(opts.min_step, opts.max_step);
            }
            k1 = next_k1;
            starts_on_jump = lands_on_jump;
        }
        let _ = nonfinite;
        Ok(Solution { ts: p.out_ts, ys: p.out_ys, stats: p.stats, steps, dense, event: None, checkpoints })
    }

    fn policy_is_fixed(&self) -> bool {
        matches!(self.policy, Policy::Fixed)
    }

    /// Explains a step whose result is not finite: `f` returned NaN/inf at
    /// some stage, or the state itself overflowed.
    fn diagnose_nonfinite(&self, t: f64, h: f64, ks: &[S]) -> SolveError<S> {
        let tab = self.opts.method;
        match ks.iter().position(|k| !k.all_finite()) {
            Some(i) => SolveError::NonFiniteRhs { t: t + tab.c[i] * h },
            None => SolveError::NonFiniteState { t: t + h },
        }
    }
}
