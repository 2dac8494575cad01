//! Backsolve adjoint (Chen et al. 2018): the augmented system
//! `d/dt [y, a, g] = [f, -a^T df/dy, -a^T df/dtheta]` solved backwards from
//! each output time to the previous one, adding `dL/dy(t_i)` to `a` at every
//! output time. Memory does not grow with the number of steps; accuracy is
//! that of the backward solve, and the reconstructed `y` can drift from the
//! forward trajectory where the dynamics are unstable backwards in time.

use std::fmt::Debug;

use ode_core::tableau::{ButcherTableau, DOPRI5};
use ode_core::{solve, Atol, Controller, OdeState, Solution, SolveOptions, StepSize, Tolerance};

use crate::error::GradError;
use crate::grad::{time_gradients, BackwardStats, Gradients};
use crate::neg;
use crate::rhs::VjpRhs;

/// Options of the backward solve. `None` fields take the forward's value.
#[derive(Clone, Debug, Default)]
pub struct AdjointOptions {
    pub method: Option<&'static ButcherTableau>,
    pub rtol: Option<f64>,
    pub atol: Option<f64>,
    /// Leave the parameter channels `g` out of the error norm (Kidger, Chen
    /// and Lyons 2021): fewer backward steps, same accuracy in practice.
    pub seminorm: bool,
    pub max_steps: Option<usize>,
}

impl AdjointOptions {
    pub fn tol(mut self, rtol: f64, atol: f64) -> Self {
        self.rtol = Some(rtol);
        self.atol = Some(atol);
        self
    }
    pub fn seminorm(mut self, yes: bool) -> Self {
        self.seminorm = yes;
        self
    }
    pub fn method(mut self, m: &'static ButcherTableau) -> Self {
        self.method = Some(m);
        self
    }
}

/// The augmented adjoint state. With `seminorm`, `g` is left out of the
/// error norm.
#[derive(Debug)]
pub struct Augmented<S, P> {
    pub y: S,
    pub a: S,
    pub g: P,
    seminorm: bool,
}

impl<S: OdeState, P: OdeState> OdeState for Augmented<S, P> {
    fn dup(&self) -> Self {
        Augmented { y: self.y.dup(), a: self.a.dup(), g: self.g.dup(), seminorm: self.seminorm }
    }
    fn zeros_like(&self) -> Self {
        Augmented {
            y: self.y.zeros_like(),
            a: self.a.zeros_like(),
            g: self.g.zeros_like(),
            seminorm: self.seminorm,
        }
    }
    fn numel(&self) -> usize {
        self.y.numel() + self.a.numel() + self.g.numel()
    }
    fn lincomb(&self, terms: &[(f64, &Self)]) -> Self {
        let ty: Vec<(f64, &S)> = terms.iter().map(|(c, x)| (*c, &x.y)).collect();
        let ta: Vec<(f64, &S)> = terms.iter().map(|(c, x)| (*c, &x.a)).collect();
        let tg: Vec<(f64, &P)> = terms.iter().map(|(c, x)| (*c, &x.g)).collect();
        Augmented {
            y: self.y.lincomb(&ty),
            a: self.a.lincomb(&ta),
            g: self.g.lincomb(&tg),
            seminorm: self.seminorm,
        }
    }
    fn weighted_sq_sum(e: &Self, y0: &Self, y1: &Self, tol: &Tolerance, offset: usize) -> f64 {
        let ny = e.y.numel();
        let na = e.a.numel();
        let mut acc = S::weighted_sq_sum(&e.y, &y0.y, &y1.y, tol, offset)
            + S::weighted_sq_sum(&e.a, &y0.a, &y1.a, tol, offset + ny);
        if !e.seminorm {
            acc += P::weighted_sq_sum(&e.g, &y0.g, &y1.g, tol, offset + ny + na);
        }
        acc
    }
    fn error_ratio(e: &Self, y0: &Self, y1: &Self, tol: &Tolerance) -> f64 {
        // The largest of the per-block RMS norms (as torchdiffeq): dropping
        // the parameter block for the seminorm can then only lower the
        // ratio, never raise it.
        let rms = |sq: f64, n: usize| (sq / n.max(1) as f64).sqrt();
        let ny = e.y.numel();
        let na = e.a.numel();
        let ry = rms(S::weighted_sq_sum(&e.y, &y0.y, &y1.y, tol, 0), ny);
        let ra = rms(S::weighted_sq_sum(&e.a, &y0.a, &y1.a, tol, ny), na);
        let mut r = ry.max(ra);
        if !e.seminorm {
            r = r.max(rms(P::weighted_sq_sum(&e.g, &y0.g, &y1.g, tol, ny + na), e.g.numel()));
        }
        // max() ignores NaN; keep it so the solver sees the failure.
        if ry.is_nan() || ra.is_nan() {
            f64::NAN
        } else {
            r
        }
    }
    fn all_finite(&self) -> bool {
        self.y.all_finite() && self.a.all_finite() && self.g.all_finite()
    }
    fn same_shape(&self, other: &Self) -> bool {
        self.y.same_shape(&other.y) && self.a.same_shape(&other.a) && self.g.same_shape(&other.g)
    }
    fn shape_desc(&self) -> String {
        format!("(y {}, a {}, g {})", self.y.shape_desc(), self.a.shape_desc(), self.g.shape_desc())
    }
    fn dot(&self, other: &Self) -> f64 {
        self.y.dot(&other.y) + self.a.dot(&other.a) + self.g.dot(&other.g)
    }
}

/// The backward solve's step policy, derived from the forward's.
enum Backstep<'a> {
    Adaptive(Controller),
    Fixed(f64),
    Grid(&'a [f64]),
}

impl Backstep<'_> {
    /// The policy for the backward interval from `from` down to `to`: the
    /// forward grid's points inside it, in reverse, for a grid forward.
    fn for_interval(&self, from: f64, to: f64) -> StepSize {
        match self {
            Backstep::Adaptive(c) => StepSize::Adaptive(*c),
            Backstep::Fixed(h) => StepSize::Fixed(*h),
            Backstep::Grid(g) => {
                let (lo, hi) = if from < to { (from, to) } else { (to, from) };
                let mut pts: Vec<f64> = g.iter().copied().filter(|t| *t > lo && *t < hi).collect();
                pts.push(from);
                pts.push(to);
                pts.sort_by(|a, b| ((a - b) * (to - from)).total_cmp(&0.0));
                pts.dedup();
                StepSize::Grid(pts)
            }
        }
    }
}

pub(crate) fn backward<S, F>(
    f: &F,
    adj: &AdjointOptions,
    fwd: &SolveOptions,
    sol: &Solution<S>,
    dl_dys: &[S],
) -> Result<Gradients<S, F::Params>, GradError<S>>
where
    S: OdeState + Debug,
    F: VjpRhs<S> + ?Sized,
{
    let atol = match (adj.atol, &fwd.tol.atol) {
        (Some(a), _) => Atol::Scalar(a),
        (None, Atol::Scalar(a)) => Atol::Scalar(*a),
        // A per-component atol describes y only; the augmented state is
        // three times larger, so fall back to its smallest entry.
        (None, Atol::PerComponent(v)) => Atol::Scalar(v.iter().copied().fold(f64::INFINITY, f64::min)),
    };
    // The backward mirrors the forward's step policy, except that a
    // fixed-step forward gets an adaptive backward when the user asked for
    // backward tolerances or an adaptive backward method.
    let wants_adaptive =
        adj.rtol.is_some() || adj.atol.is_some() || adj.method.is_some_and(|m| m.is_adaptive());
    let step = match &fwd.step {
        StepSize::Adaptive(c) => Backstep::Adaptive(*c),
        _ if wants_adaptive => Backstep::Adaptive(Controller::default()),
        StepSize::Fixed(h) => Backstep::Fixed(*h),
        StepSize::Grid(g) => Backstep::Grid(g),
    };
    let method = match (&step, adj.method) {
        (_, Some(m)) => m,
        (Backstep::Adaptive(_), None) if !fwd.method.is_adaptive() => &DOPRI5,
        _ => fwd.method,
    };
    let opts = SolveOptions {
        method,
        tol: Tolerance { rtol: adj.rtol.unwrap_or(fwd.tol.rtol), atol },
        max_steps: adj.max_steps.unwrap_or(fwd.max_steps),
        step: StepSize::Adaptive(Controller::default()),
        jump_t: fwd.jump_t.clone(),
        ..SolveOptions::default()
    };
    let aug_rhs = |t: f64, x: &Augmented<S, F::Params>| {
        let (fy, ay, ap) = f.eval_and_vjp(t, &x.y, &x.a);
        Augmented { y: fy, a: neg(&ay), g: neg(&ap), seminorm: x.seminorm }
    };
    let ts = &sol.ts;
    let n = ts.len();
    let mut stats = BackwardStats::default();
    let mut state = Augmented {
        y: sol.ys[n - 1].dup(),
        a: dl_dys[n - 1].dup(),
        g: f.zero_params(),
        seminorm: adj.seminorm,
    };
    for i in (1..n).rev() {
        let interval = [ts[i], ts[i - 1]];
        let mut opts_i = opts.clone();
        opts_i.step = step.for_interval(interval[0], interval[1]);
        let back = solve(&aug_rhs, state, &interval, &opts_i)
            .map_err(|e| GradError::Solve { stage: "adjoint backward", cause: strip(e) })?;
        stats.nfe += back.stats.nfe;
        stats.nvjp += back.stats.nfe;
        stats.n_steps += back.stats.n_steps();
        let mut end = back.ys.into_iter().next_back().expect("two output times");
        // Continue from the forward's estimate of y at t_{i-1}, as
        // torchdiffeq does, so errors of the backward y do not accumulate
        // across intervals.
        end.y = sol.ys[i - 1].dup();
        end.a = end.a.lincomb(&[(1.0, &dl_dys[i - 1])]);
        state = end;
    }
    let dy0 = state.a;
    let dts = time_gradients(f, ts, &sol.ys, dl_dys, &dy0, &mut stats.nfe);
    Ok(Gradients { dy0, dtheta: state.g, dts, stats })
}

/// Maps an error of the augmented solve to the state type of the caller,
/// dropping the partial augmented solution.
fn strip<S, P>(e: ode_core::SolveError<Augmented<S, P>>) -> ode_core::SolveError<S>
where
    S: OdeState + Debug,
    P: OdeState + Debug,
{
    use ode_core::SolveError as E;
    match e {
        E::InvalidTimes { reason } => E::InvalidTimes { reason },
        E::InvalidTolerance { reason } => E::InvalidTolerance { reason },
        E::InvalidOption { name, reason } => E::InvalidOption { name, reason },
        E::UnsupportedMethod { method, reason } => E::UnsupportedMethod { method, reason },
        E::ShapeMismatch { t, expected, found } => E::ShapeMismatch { t, expected, found },
        E::NonFiniteState { t } => E::NonFiniteState { t },
        E::NonFiniteRhs { t } => E::NonFiniteRhs { t },
        E::StepSizeUnderflow { t, h, partial } => {
            E::StepSizeUnderflow { t, h, partial: Box::new(partial_y(*partial)) }
        }
        E::MaxStepsExceeded { t, h, max_steps, partial } => {
            E::MaxStepsExceeded { t, h, max_steps, partial: Box::new(partial_y(*partial)) }
        }
        E::NonFiniteEvent { t } => E::NonFiniteEvent { t },
        E::SingularJacobian { t, h, partial } => {
            E::SingularJacobian { t, h, partial: Box::new(partial_y(*partial)) }
        }
        E::NewtonFailed { t, h, partial } => E::NewtonFailed { t, h, partial: Box::new(partial_y(*partial)) },
        E::NonFiniteJacobian { t } => E::NonFiniteJacobian { t },
        E::JacobianNotBanded { t, row, col, lower, upper } => {
            E::JacobianNotBanded { t, row, col, lower, upper }
        }
    }
}

fn partial_y<S: OdeState, P: OdeState>(p: ode_core::Partial<Augmented<S, P>>) -> ode_core::Partial<S> {
    ode_core::Partial {
        ts: p.ts,
        ys: p.ys.into_iter().map(|x| x.y).collect(),
        t_reached: p.t_reached,
        y_reached: p.y_reached.y,
        stats: p.stats,
    }
}
