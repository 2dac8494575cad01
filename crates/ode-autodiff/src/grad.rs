//! The one entry point: a forward solve that returns a backward handle.

use std::fmt::Debug;

use ode_core::{solve, OdeState, Solution, SolveOptions, StepRecord};

use crate::adjoint::{self, AdjointOptions};
use crate::error::GradError;
use crate::mali::{self, MaliOptions, MaliTape};
use crate::rhs::VjpRhs;
use crate::{aca, neg};

/// How gradients of a solve are computed.
#[derive(Clone, Debug)]
pub enum GradientMethod {
    /// Backsolve adjoint: the augmented system solved backwards in time.
    Adjoint(AdjointOptions),
    /// Adaptive checkpoint adjoint: exact for the discrete forward pass.
    Aca,
    /// Asynchronous leapfrog (reversible); replaces the forward solver.
    Mali(MaliOptions),
}

/// Counters of one backward pass.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BackwardStats {
    /// Evaluations of f in the backward pass.
    pub nfe: usize,
    /// Vector-Jacobian products.
    pub nvjp: usize,
    /// Steps taken (adjoint: accepted + rejected of the backward solve;
    /// ACA and MALI: steps replayed).
    pub n_steps: usize,
}

/// What the backward pass returns.
#[derive(Debug)]
pub struct Gradients<S, P> {
    /// dL/dy0.
    pub dy0: S,
    /// dL/dtheta.
    pub dtheta: P,
    /// dL/dt_i for every output time (continuous-time formula
    /// `<dL/dy_i, f(t_i, y_i)>`, and `-<a(t0), f(t0, y0)>` for `t_0`).
    pub dts: Vec<f64>,
    pub stats: BackwardStats,
}

pub(crate) enum Tape<S> {
    Aca { opts: SolveOptions, checkpoints: Vec<S> },
    Adjoint(AdjointOptions, SolveOptions),
    Mali(MaliTape<S>),
}

/// A forward solve together with what its backward pass needs.
pub struct GradSolve<S> {
    /// The forward solution: outputs, statistics and accepted steps.
    pub solution: Solution<S>,
    tape: Tape<S>,
}

/// Solves forward and keeps what `method` needs for the backward pass.
///
/// For `Aca` and `Adjoint`, `opts` configures the forward `ode-core` solve.
/// For `Mali`, the forward is the asynchronous leapfrog integrator with
/// `opts`' tolerances, controller, first/min/max step and max_steps.
pub fn solve_with_grad<S, F>(
    f: &F,
    y0: S,
    ts: &[f64],
    opts: &SolveOptions,
    method: &GradientMethod,
) -> Result<GradSolve<S>, GradError<S>>
where
    S: OdeState + Debug,
    F: VjpRhs<S> + ?Sized,
{
    if !opts.jump_t.is_empty() && !matches!(method, GradientMethod::Adjoint(_)) {
        return Err(GradError::Unsupported { method: method.name(), what: "jump_t".into() });
    }
    match method {
        GradientMethod::Aca => {
            let fwd_opts = opts.clone().checkpoints(true).dense(false);
            let mut solution = solve(f, y0, ts, &fwd_opts).map_err(GradError::forward)?;
            let checkpoints = solution.checkpoints.take().unwrap_or_default();
            Ok(GradSolve { solution, tape: Tape::Aca { opts: fwd_opts, checkpoints } })
        }
        GradientMethod::Adjoint(a) => {
            let fwd_opts = opts.clone().checkpoints(false);
            let solution = solve(f, y0, ts, &fwd_opts).map_err(GradError::forward)?;
            Ok(GradSolve { solution, tape: Tape::Adjoint(a.clone(), fwd_opts) })
        }
        GradientMethod::Mali(m) => {
            let (solution, tape) = mali::forward(f, y0, ts, opts, m)?;
            Ok(GradSolve { solution, tape: Tape::Mali(tape) })
        }
    }
}

impl GradientMethod {
    pub fn name(&self) -> &'static str {
        match self {
            GradientMethod::Adjoint(_) => "adjoint",
            GradientMethod::Aca => "aca",
            GradientMethod::Mali(_) => "mali",
        }
    }
}

impl<S: OdeState + Debug> GradSolve<S> {
    /// The accepted steps of the forward pass.
    pub fn steps(&self) -> &[StepRecord] {
        &self.solution.steps
    }

    /// ACA only: the state at the start of every accepted step
    /// (`checkpoints()[n]` is y at `steps()[n].t`), as the forward computed
    /// it. `None` for the other methods, which keep no checkpoints.
    pub fn checkpoints(&self) -> Option<&[S]> {
        match &self.tape {
            Tape::Aca { checkpoints, .. } => Some(checkpoints),
            _ => None,
        }
    }

    /// Back-propagates `dl_dys[i] = dL/dy(t_i)` (one per output time) and
    /// returns dL/dy0, dL/dtheta and dL/dt_i.
    pub fn backward<F: VjpRhs<S> + ?Sized>(
        &self,
        f: &F,
        dl_dys: &[S],
    ) -> Result<Gradients<S, F::Params>, GradError<S>> {
        self.check_cotangents(dl_dys, "cotangents (one per output time)", self.solution.ys.len())?;
        match &self.tape {
            Tape::Aca { opts, checkpoints } => {
                Ok(aca::backward(f, opts.method, &self.solution, checkpoints, dl_dys, None))
            }
            Tape::Adjoint(a, fwd) => adjoint::backward(f, a, fwd, &self.solution, dl_dys),
            Tape::Mali(t) => Ok(mali::backward(f, t, &self.solution, dl_dys)),
        }
    }

    /// ACA only: like [`GradSolve::backward`], with cotangents for the local
    /// error estimate `err_n = h_n sum_i e_i k_i` of every accepted step (what
    /// an error regularizer such as DISE's differentiates).
    pub fn backward_with_errors<F: VjpRhs<S> + ?Sized>(
        &self,
        f: &F,
        dl_dys: &[S],
        dl_derrs: &[S],
    ) -> Result<Gradients<S, F::Params>, GradError<S>> {
        self.check_cotangents(dl_dys, "cotangents (one per output time)", self.solution.ys.len())?;
        self.check_cotangents(
            dl_derrs,
            "error cotangents (one per accepted step)",
            self.solution.steps.len(),
        )?;
        match &self.tape {
            Tape::Aca { opts, checkpoints } => {
                Ok(aca::backward(f, opts.method, &self.solution, checkpoints, dl_dys, Some(dl_derrs)))
            }
            _ => Err(GradError::Unsupported {
                method: self.method_name(),
                what: "cotangents of the local error estimates".into(),
            }),
        }
    }

    /// ACA only: the local error estimates `err_n` of the accepted steps,
    /// recomputed from the checkpoints.
    pub fn error_estimates<F: VjpRhs<S> + ?Sized>(&self, f: &F) -> Result<Vec<S>, GradError<S>> {
        match &self.tape {
            Tape::Aca { opts, checkpoints } => {
                Ok(aca::error_estimates(f, opts.method, &self.solution, checkpoints))
            }
            _ => Err(GradError::Unsupported { method: self.method_name(), what: "error estimates".into() }),
        }
    }

    fn method_name(&self) -> &'static str {
        match self.tape {
            Tape::Aca { .. } => "aca",
            Tape::Adjoint(..) => "adjoint",
            Tape::Mali(_) => "mali",
        }
    }

    fn check_cotangents(&self, xs: &[S], what: &'static str, expected: usize) -> Result<(), GradError<S>> {
        if xs.len() != expected {
            return Err(GradError::CotangentCount { what, expected, found: xs.len() });
        }
        let like = &self.solution.ys[0];
        for (index, x) in xs.iter().enumerate() {
            if !x.same_shape(like) {
                return Err(GradError::CotangentShape {
                    index,
                    expected: like.shape_desc(),
                    found: x.shape_desc(),
                });
            }
        }
        Ok(())
    }
}

/// dL/dt_i by the continuous-time formula, shared by every method:
/// `<g_i, f(t_i, y_i)>` for the outputs after the first, and
/// `-<dL/dy0 - g_0, f(t_0, y_0)>` for the initial time.
pub(crate) fn time_gradients<S: OdeState, F: VjpRhs<S> + ?Sized>(
    f: &F,
    ts: &[f64],
    ys: &[S],
    dl_dys: &[S],
    dy0: &S,
    nfe: &mut usize,
) -> Vec<f64> {
    let mut dts = Vec::with_capacity(ts.len());
    for (i, (t, y)) in ts.iter().zip(ys).enumerate() {
        let fy = f.eval(*t, y);
        *nfe += 1;
        if i == 0 {
            let through_flow = dy0.lincomb(&[(-1.0, &dl_dys[0])]);
            dts.push(neg(&through_flow).dot(&fy));
        } else {
            dts.push(dl_dys[i].dot(&fy));
        }
    }
    dts
}
