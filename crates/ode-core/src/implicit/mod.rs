//! Implicit solvers for stiff problems on `Array1<f64>` states: variable
//! order BDF (NDF by default), Radau IIA of order 5, implicit Adams of
//! variable order 1-12 for non-stiff problems (Nordsieck form, corrector
//! solved by functional iteration, as in LSODE), and `Auto`, which starts
//! with Adams and switches to BDF where the problem is stiff and back where
//! it is not (as LSODA does; [`StiffStats::n_switches`] counts the
//! switches).
//!
//! They take the same options ([`SolveOptions`](crate::SolveOptions) inside [`StiffOptions`]),
//! return the same [`Solution`] with the same statistics and the same
//! typed [`SolveError`]s as [`crate::solve()`], plus [`StiffStats`] (Jacobian
//! evaluations, LU factorizations, Newton iterations) and, on request, a
//! [`StiffDense`] continuous solution built from each method's own
//! polynomial (BDF's interpolating polynomial, Radau's collocation
//! polynomial). [`solve_stiff_with_event`] stops at a terminal event,
//! located on that polynomial.
//!
//! Jacobians are analytic when the right-hand side provides one through
//! [`StiffRhs::jacobian`] (or [`WithJacobian`]), otherwise forward
//! differences; linear algebra is dense LU from LAPACK through
//! ndarray-linalg. A Jacobian declared banded ([`StiffOptions::banded`])
//! is kept in band storage ([`banded::BandMatrix`], filled by
//! [`StiffRhs::banded_jacobian`] or by grouped differences) and factorized
//! by a banded LU ([`banded::BandLu`]).
//!
//! ```
//! use ndarray::{array, Array1};
//! use ode_core::implicit::{solve_stiff, StiffMethod, StiffOptions};
//!
//! // Robertson's chemical kinetics, stiff with rate constants 0.04, 3e7, 1e4.
//! let f = |_t: f64, y: &Array1<f64>| {
//!     array![
//!         -0.04 * y[0] + 1e4 * y[1] * y[2],
//!         0.04 * y[0] - 1e4 * y[1] * y[2] - 3e7 * y[1] * y[1],
//!         3e7 * y[1] * y[1],
//!     ]
//! };
//! let opts = StiffOptions::new(StiffMethod::Bdf).tol(1e-6, 1e-10);
//! let sol = solve_stiff(&f, array![1.0, 0.0, 0.0], &[0.0, 40.0], &opts).unwrap();
//! let y = &sol.solution.ys[1];
//! assert!((y[0] - 0.7158).abs() < 1e-3);
//! assert!(sol.solution.stats.n_accepted < 300);
//! println!("{} steps, {} LU factorizations", sol.solution.stats.n_accepted, sol.stiff_stats.n_lu);
//!
//! // The same with automatic switching: Adams through the fast transient,
//! // then BDF once the step is limited by stability.
//! let opts = StiffOptions::new(StiffMethod::Auto).tol(1e-6, 1e-10);
//! let sol = solve_stiff(&f, array![1.0, 0.0, 0.0], &[0.0, 40.0], &opts).unwrap();
//! assert!((sol.solution.ys[1][0] - 0.7158).abs() < 1e-3);
//! assert!(sol.stiff_stats.n_switches >= 1 && sol.stiff_stats.n_bdf_steps > 0);
//! ```

mod adams;
pub mod banded;
pub(crate) mod bdf;
mod bdf_work;
mod clock;
mod corrector;
mod dense;
mod event;
mod handover;
mod jacobian;
mod lapack_stack;
mod lu;
mod newton;
mod nordsieck;
mod options;
pub mod problems;
mod radau;
mod switch;
mod work;

use ndarray::Array1;

pub use dense::{Segment, StiffDense};
pub use jacobian::{JacobianStructure, StiffRhs, WithBandedJacobian, WithJacobian};
pub use options::{StiffMethod, StiffOptions, StiffStats};

use crate::control::initial_step;
use crate::error::{Partial, SolveError};
use crate::options::StepSize;
use crate::solution::{EventHit, Solution, Stats, StepRecord};
use crate::tolerance::Tolerance;
use event::{EventFn, EventWatch};
use newton::{Ctx, Fail};

/// What [`solve_stiff`] returns: the same [`Solution`] as [`crate::solve()`]
/// (its `dense` field stays `None`), the implicit counters, and the
/// continuous solution when `dense` was asked for.
#[derive(Debug)]
pub struct StiffSolution {
    pub solution: Solution<Array1<f64>>,
    pub stiff_stats: StiffStats,
    pub dense: Option<StiffDense>,
}

/// One accepted step, as reported by a stepper.
#[derive(Clone, Copy, Debug)]
pub(crate) struct StepInfo {
    pub t_old: f64,
    pub h: f64,
    pub error_ratio: f64,
}

/// A method's stepping: one accepted step per call, never past `t_bound`.
pub(crate) trait Stepper {
    fn t(&self) -> f64;
    fn y(&self) -> &Array1<f64>;
    fn step<F: StiffRhs + ?Sized>(&mut self, ctx: &mut Ctx<'_, F>, t_bound: f64) -> Result<StepInfo, Fail>;
    /// The continuous solution over the last accepted step.
    fn segment(&self) -> Option<Segment>;
    /// That solution at `t`.
    fn eval_last(&self, t: f64) -> Option<Array1<f64>>;
}

type Error = SolveError<Array1<f64>>;

/// Solves the (possibly stiff) problem `dy/dt = f(t, y)`, `y(ts[0]) = y0`,
/// with an implicit method and returns the states at every time in `ts`
/// (strictly increasing, or strictly decreasing to integrate backwards).
///
/// Bad input (times, tolerances, options, shapes, NaN) gives a typed
/// [`SolveError`], never a panic; so do a singular iteration matrix
/// ([`SolveError::SingularJacobian`]) and Newton iterations that keep
/// failing ([`SolveError::NewtonFailed`]).
///
/// ```
/// use ndarray::{array, Array1, Array2};
/// use ode_core::implicit::{solve_stiff, StiffMethod, StiffOptions, WithJacobian};
///
/// // A stiff linear system with an analytic Jacobian, solved with Radau IIA.
/// let a = array![[-1000.0, 1.0], [0.0, -0.5]];
/// let rhs = WithJacobian { f: |_t: f64, y: &Array1<f64>| a.dot(y), jac: |_t: f64, _y: &Array1<f64>| a.clone() };
/// let opts = StiffOptions::new(StiffMethod::Radau5).tol(1e-8, 1e-10).dense(true);
/// let sol = solve_stiff(&rhs, array![1.0, 1.0], &[0.0, 1.0, 2.0], &opts).unwrap();
/// assert!((sol.solution.ys[2][1] - (-1.0f64).exp()).abs() < 1e-7);
/// let mid = sol.dense.unwrap().eval(1.5).unwrap();
/// assert!((mid[1] - (-0.75f64).exp()).abs() < 1e-6);
/// ```
pub fn solve_stiff<F: StiffRhs + ?Sized>(
    f: &F,
    y0: Array1<f64>,
    ts: &[f64],
    opts: &StiffOptions,
) -> Result<StiffSolution, Error> {
    run(f, y0, ts, opts, None)
}

/// Like [`solve_stiff`], and stops at the first time where `event(t, y)`
/// changes sign (or reaches zero). The crossing is located on the accepted
/// step's own polynomial (no extra evaluations of `f`) and returned in
/// `solution.event`; output times after it are not reported, and the dense
/// output ends there. A non-finite event value is
/// [`SolveError::NonFiniteEvent`].
///
/// ```
/// use ndarray::{array, Array1};
/// use ode_core::implicit::{solve_stiff_with_event, StiffMethod, StiffOptions};
/// // Stiff decay towards cos(t): when does y first fall to 0.5?
/// let f = |t: f64, y: &Array1<f64>| array![-1000.0 * (y[0] - t.cos())];
/// let opts = StiffOptions::new(StiffMethod::Radau5).tol(1e-8, 1e-10);
/// let sol = solve_stiff_with_event(&f, array![1.0], &[0.0, 2.0], &opts, |_t, y: &Array1<f64>| y[0] - 0.5).unwrap();
/// let hit = sol.solution.event.unwrap();
/// // y follows cos(t) to within 1e-3 once the transient is over.
/// assert!((hit.t - 0.5f64.acos()).abs() < 2e-3);
/// assert_eq!(sol.solution.ts, vec![0.0]);
/// ```
pub fn solve_stiff_with_event<F, G>(
    f: &F,
    y0: Array1<f64>,
    ts: &[f64],
    opts: &StiffOptions,
    event: G,
) -> Result<StiffSolution, Error>
where
    F: StiffRhs + ?Sized,
    G: Fn(f64, &Array1<f64>) -> f64,
{
    run(f, y0, ts, opts, Some(&event))
}

fn run<F: StiffRhs + ?Sized>(
    f: &F,
    y0: Array1<f64>,
    ts: &[f64],
    opts: &StiffOptions,
    event: Option<EventFn<'_>>,
) -> Result<StiffSolution, Error> {
    let plan = validate(ts, &y0, opts)?;
    let n = y0.len();
    let c = &opts.common;
    let mut ctx = Ctx {
        structure: opts.jacobian,
        detect_band: opts.detect_band,
        lu_max_change: if opts.lu_reuse { newton::LU_REUSE_MAX_CHANGE } else { 0.0 },
        direction: plan.direction,
        min_step: c.min_step,
        max_step: c.max_step,
        max_steps: c.max_steps,
        ..Ctx::new(f, &c.tol, n)
    };
    let ndf = opts.ndf;
    match opts.method {
        StiffMethod::Bdf => {
            let max_order = opts.max_order.unwrap_or(bdf::MAX_ORDER);
            drive(&mut ctx, y0, ts, opts, &plan, event, 1, |ctx, t, y, f0, h| {
                bdf::Bdf::new(ctx, t, y, &f0, h, max_order, ndf)
            })
        }
        StiffMethod::Radau5 => {
            let fixed = match &c.step {
                StepSize::Fixed(h) => Some(*h),
                _ => None,
            };
            drive(&mut ctx, y0, ts, opts, &plan, event, 3, |ctx, t, y, f0, h| {
                radau::Radau5::new(ctx, t, y, f0, h, fixed)
            })
        }
        StiffMethod::Adams => {
            let max_order = opts.max_order.unwrap_or(nordsieck::MAX_ORDER);
            match &c.step {
                StepSize::Fixed(h) => {
                    let h = *h;
                    drive(&mut ctx, y0, ts, opts, &plan, event, 1, |ctx, t, y, f0, _h| {
                        adams::Adams::new_fixed(ctx, t, y, f0, h, max_order)
                    })
                }
                _ => drive(&mut ctx, y0, ts, opts, &plan, event, 1, |ctx, t, y, f0, h| {
                    Ok(adams::Adams::new(t, y, &f0, h, ctx.direction, max_order))
                }),
            }
            .map(|mut sol| {
                sol.stiff_stats.n_adams_steps = sol.solution.stats.n_accepted;
                sol
            })
        }
        StiffMethod::Auto => {
            let max_order = opts.max_order.unwrap_or(nordsieck::MAX_ORDER);
            drive(&mut ctx, y0, ts, opts, &plan, event, 1, |ctx, t, y, f0, h| {
                Ok(switch::Auto::new(t, y, &f0, h, ctx.direction, max_order, ndf))
            })
        }
    }
}

/// Validated times and landing points.
struct Plan {
    direction: f64,
    /// Points steps land on, in integration order, ending with t_end.
    stops: Vec<f64>,
    is_jump: Vec<bool>,
}

fn validate(ts: &[f64], y0: &Array1<f64>, opts: &StiffOptions) -> Result<Plan, Error> {
    let times = |reason: String| SolveError::InvalidTimes { reason };
    let option = |name: &'static str, reason: String| SolveError::InvalidOption { name, reason };
    let c = &opts.common;
    let direction = crate::solve::time_direction(ts).map_err(times)?;
    let (t0, t_end) = (ts[0], ts[ts.len() - 1]);
    let method = opts.method.name();
    let mut grid: Vec<f64> = Vec::new();
    match &c.step {
        StepSize::Adaptive(_) => {}
        StepSize::Fixed(h) if matches!(opts.method, StiffMethod::Radau5 | StiffMethod::Adams) => {
            if !(h.is_finite() && *h > 0.0) {
                return Err(option("step", format!("fixed step must be finite and > 0, got {h}")));
            }
            let n = ((t_end - t0).abs() / h - 1e-9).ceil().max(1.0);
            if n > c.max_steps as f64 {
                return Err(option(
                    "step",
                    format!("{n} fixed steps of {h} would exceed max_steps = {}", c.max_steps),
                ));
            }
        }
        StepSize::Grid(g) if opts.method == StiffMethod::Radau5 => {
            crate::solve::validate_grid(g, t0, t_end, direction).map_err(|r| option("grid", r))?;
            grid = g.clone();
        }
        _ => {
            return Err(SolveError::UnsupportedMethod {
                method,
                reason: "runs with adaptive steps only (fixed steps: Radau5 and Adams; grids: Radau5)".into(),
            })
        }
    }
    if let Some(k) = opts.max_order {
        let hi = match opts.method {
            StiffMethod::Bdf => bdf::MAX_ORDER,
            StiffMethod::Adams | StiffMethod::Auto => nordsieck::MAX_ORDER,
            // Ignored by Radau5.
            StiffMethod::Radau5 => usize::MAX,
        };
        if opts.method != StiffMethod::Radau5 && !(1..=hi).contains(&k) {
            return Err(option("max_order", format!("must be in 1..={hi} for {method}, got {k}")));
        }
    }
    c.validate_step_limits().map_err(|(name, reason)| option(name, reason))?;
    if let JacobianStructure::Banded { lower, upper } = opts.jacobian {
        let n = y0.len();
        if lower >= n.max(1) || upper >= n.max(1) {
            return Err(option(
                "jacobian",
                format!("bandwidths (lower {lower}, upper {upper}) must be smaller than the dimension {n}"),
            ));
        }
    }
    c.tol.validate(y0.len()).map_err(|reason| SolveError::InvalidTolerance { reason })?;
    if !y0.iter().all(|v| v.is_finite()) {
        return Err(SolveError::NonFiniteState { t: t0 });
    }
    let inside = |t: f64| (t - t0) * direction > 0.0 && (t - t_end) * direction < 0.0;
    let mut stops: Vec<(f64, bool)> = Vec::new();
    stops.extend(c.step_t.iter().copied().filter(|t| inside(*t)).map(|t| (t, false)));
    stops.extend(c.jump_t.iter().copied().filter(|t| inside(*t)).map(|t| (t, true)));
    stops.extend(grid.iter().copied().filter(|t| inside(*t)).map(|t| (t, false)));
    stops.push((t_end, false));
    stops.sort_by(|a, b| ((a.0 - b.0) * direction).total_cmp(&0.0));
    let mut merged: Vec<(f64, bool)> = Vec::with_capacity(stops.len());
    for (t, j) in stops {
        match merged.last_mut() {
            Some(last) if last.0 == t => last.1 |= j,
            _ => merged.push((t, j)),
        }
    }
    let (stops, is_jump) = merged.into_iter().unzip();
    Ok(Plan { direction, stops, is_jump })
}

/// Progress kept so that errors can carry the partial solution.
struct Outputs {
    ts: Vec<f64>,
    ys: Vec<Array1<f64>>,
}

fn to_error(fail: Fail, n: usize, out: &Outputs, t: f64, y: &Array1<f64>, stats: Stats) -> Error {
    let partial = || {
        Box::new(Partial {
            ts: out.ts.clone(),
            ys: out.ys.clone(),
            t_reached: t,
            y_reached: y.clone(),
            stats,
        })
    };
    match fail {
        Fail::Shape { t, found } => SolveError::ShapeMismatch { t, expected: format!("[{n}]"), found },
        Fail::NonFiniteRhs { t } => SolveError::NonFiniteRhs { t },
        Fail::NonFiniteJacobian { t } => SolveError::NonFiniteJacobian { t },
        Fail::NotBanded { t, row, col, lower, upper } => {
            SolveError::JacobianNotBanded { t, row, col, lower, upper }
        }
        Fail::Singular { t, h } => SolveError::SingularJacobian { t, h, partial: partial() },
        Fail::Newton { t, h } => SolveError::NewtonFailed { t, h, partial: partial() },
        Fail::Underflow { t, h } => SolveError::StepSizeUnderflow { t, h, partial: partial() },
        Fail::MaxSteps { t, h } => SolveError::MaxStepsExceeded { t, h, max_steps: 0, partial: partial() },
    }
}

/// One ulp further in `direction`.
fn nudge(t: f64, direction: f64) -> f64 {
    if direction > 0.0 {
        t.next_up()
    } else {
        t.next_down()
    }
}

/// The integration loop shared by every method: first evaluation and
/// initial step, stops, outputs through the step's polynomial, dense
/// output, restarts at jumps, errors with the partial solution.
#[allow(clippy::too_many_arguments)]
fn drive<F, S, M>(
    ctx: &mut Ctx<'_, F>,
    y0: Array1<f64>,
    ts: &[f64],
    opts: &StiffOptions,
    plan: &Plan,
    event: Option<EventFn<'_>>,
    order_for_h0: u32,
    mut make: M,
) -> Result<StiffSolution, Error>
where
    F: StiffRhs + ?Sized,
    S: Stepper,
    M: FnMut(&mut Ctx<'_, F>, f64, Array1<f64>, Array1<f64>, f64) -> Result<S, Fail>,
{
    let c = &opts.common;
    let n = ctx.n;
    let d = plan.direction;
    let (t0, t_end) = (ts[0], ts[ts.len() - 1]);
    let mut out = Outputs { ts: vec![t0], ys: vec![y0.clone()] };
    let mut steps: Vec<StepRecord> = Vec::new();
    let mut checkpoints: Option<Vec<Array1<f64>>> = c.checkpoints.then(Vec::new);
    let mut dense = c.dense.then(|| StiffDense { segments: Vec::new(), direction: d, t_stop: None });
    let finish = |ctx: &Ctx<'_, F>, out: Outputs, steps, dense, checkpoints, event| {
        Ok(StiffSolution {
            solution: Solution {
                ts: out.ts,
                ys: out.ys,
                stats: ctx.stats,
                steps,
                dense: None,
                event,
                checkpoints,
            },
            stiff_stats: ctx.sstats,
            dense,
        })
    };
    if ts.len() == 1 {
        return finish(ctx, out, steps, dense, checkpoints, None);
    }
    let mut watch = match event {
        Some(g) => Some(EventWatch::new(g, t0, &y0)?),
        None => None,
    };
    let max_steps = c.max_steps;
    let fail = |e: Fail, ctx: &Ctx<'_, F>, out: &Outputs, t: f64, y: &Array1<f64>| {
        let mut err = to_error(e, n, out, t, y, ctx.stats);
        if let SolveError::MaxStepsExceeded { max_steps: m, .. } = &mut err {
            *m = max_steps;
        }
        err
    };

    // f(t0, y0) and the first step.
    let f0 = match ctx.rhs(t0, &y0) {
        Ok(v) => v,
        Err(e) => return Err(fail(e, ctx, &out, t0, &y0)),
    };
    if !f0.iter().all(|v| v.is_finite()) {
        return Err(SolveError::NonFiniteRhs { t: t0 });
    }
    let mut h0 = match c.first_step {
        Some(h) => h.abs(),
        None => {
            let g = |t: f64, y: &Array1<f64>| ctx.f.eval(t, y);
            initial_step(&g, t0, &y0, &f0, d, order_for_h0, &c.tol, &mut ctx.stats.nfe).abs()
        }
    };
    // Not `clamp`: the floor at t0 may exceed `max_step` (then the first
    // step reports the underflow).
    h0 = h0.max(ctx.min_step_at(t0)).min(c.max_step).min((t_end - t0).abs());
    let mut stepper = match make(ctx, t0, y0.clone(), f0, h0) {
        Ok(s) => s,
        Err(e) => return Err(fail(e, ctx, &out, t0, &y0)),
    };
    let mut next_out = 1usize;
    let mut stop_idx = 0usize;
    while (stepper.t() - t_end) * d < 0.0 {
        while (plan.stops[stop_idx] - stepper.t()) * d <= 0.0 {
            stop_idx += 1;
        }
        let stop = plan.stops[stop_idx];
        if let Some(cp) = checkpoints.as_mut() {
            cp.push(stepper.y().clone());
        }
        let info = match stepper.step(ctx, stop) {
            Ok(i) => i,
            Err(e) => {
                let (t, y) = (stepper.t(), stepper.y().clone());
                return Err(fail(e, ctx, &out, t, &y));
            }
        };
        steps.push(StepRecord { t: info.t_old, h: info.h, error_ratio: info.error_ratio });
        let t_new = stepper.t();
        // Events first, so that no output past one is reported.
        let hit: Option<EventHit<Array1<f64>>> =
            watch.as_mut().map(|w| w.check(&stepper, info.t_old)).transpose()?.flatten();
        let t_limit = hit.as_ref().map_or(t_new, |h| h.t);
        while next_out < ts.len() && (ts[next_out] - t_limit) * d <= 0.0 {
            let tq = ts[next_out];
            let yq = if tq == t_new { Some(stepper.y().clone()) } else { stepper.eval_last(tq) };
            out.ts.push(tq);
            out.ys.push(yq.unwrap_or_else(|| stepper.y().clone()));
            next_out += 1;
        }
        if let Some(ds) = dense.as_mut() {
            if let Some(seg) = stepper.segment() {
                ds.segments.push(seg);
            }
        }
        if let Some(hit) = hit {
            if let Some(ds) = dense.as_mut() {
                ds.t_stop = Some(hit.t);
            }
            return finish(ctx, out, steps, dense, checkpoints, Some(hit));
        }
        if t_new == stop && plan.is_jump[stop_idx] && t_new != t_end {
            // Restart just past the discontinuity.
            let y = stepper.y().clone();
            let restarted = ctx.rhs(nudge(t_new, d), &y).and_then(|f1| {
                if !f1.iter().all(|v| v.is_finite()) {
                    return Err(Fail::NonFiniteRhs { t: t_new });
                }
                make(ctx, t_new, y.clone(), f1, info.h.abs())
            });
            stepper = match restarted {
                Ok(s) => s,
                Err(e) => return Err(fail(e, ctx, &out, t_new, &y)),
            };
        }
    }
    finish(ctx, out, steps, dense, checkpoints, None)
}

/// BDF at a constant step `h` and fixed order `k = past.len() - 1` (1-5)
/// from exact starting values `past[j] = y(t0 - j h)`: returns
/// `y(t0 + n_steps h)`. The same step code as [`solve_stiff`]'s BDF with the
/// error control and order selection switched off; it exists to measure
/// the convergence order of the formulas.
///
/// ```
/// use ndarray::{array, Array1};
/// use ode_core::implicit::bdf_constant_step;
/// // y' = -y with BDF2 from exact values at t = 0, -0.01 and -0.02.
/// let f = |_t: f64, y: &Array1<f64>| -y;
/// let past = [array![1.0], array![0.01f64.exp()], array![0.02f64.exp()]];
/// let y = bdf_constant_step(&f, 0.0, &past, 0.01, 100, false).unwrap();
/// assert!((y[0] - (-1.0f64).exp()).abs() < 1e-4);
/// ```
pub fn bdf_constant_step<F: StiffRhs + ?Sized>(
    f: &F,
    t0: f64,
    past: &[Array1<f64>],
    h: f64,
    n_steps: usize,
    ndf: bool,
) -> Result<Array1<f64>, Error> {
    let option = |reason: String| SolveError::InvalidOption { name: "past", reason };
    if !(2..=bdf::MAX_ORDER + 1).contains(&past.len()) {
        return Err(option(format!("needs 2 to 6 starting values (order 1-5), got {}", past.len())));
    }
    let n = past[0].len();
    if past.iter().any(|p| p.len() != n) {
        return Err(option("starting values differ in length".into()));
    }
    if past.iter().any(|p| !p.iter().all(|v| v.is_finite())) {
        return Err(SolveError::NonFiniteState { t: t0 });
    }
    if !(h.is_finite() && h != 0.0 && t0.is_finite()) {
        return Err(SolveError::InvalidOption {
            name: "step",
            reason: format!("must be finite and non-zero, got {h}"),
        });
    }
    let tol = Tolerance::new(1e-10, 1e-10);
    let mut ctx = Ctx { direction: h.signum(), ..Ctx::new(f, &tol, n) };
    let out = Outputs { ts: vec![t0], ys: vec![past[0].clone()] };
    let mut s = bdf::Bdf::from_history(&mut ctx, t0, past, h.abs(), ndf)
        .map_err(|e| to_error(e, n, &out, t0, &past[0], ctx.stats))?;
    for _ in 0..n_steps {
        if let Err(e) = s.constant_step(&mut ctx) {
            let (t, y) = (s.t(), s.y().clone());
            return Err(to_error(e, n, &out, t, &y, ctx.stats));
        }
    }
    Ok(s.y().clone())
}
