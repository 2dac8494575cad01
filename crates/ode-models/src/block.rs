//! `OdeBlock`: an ODE solve as a layer, with four ways to get its gradient.
//!
//! tch has no custom autograd functions, so for the modes other than
//! `Direct` the block cuts the graph at its output and runs the chain rule
//! itself: autograd gives dL/dy1 from the layers after the block,
//! ode-autodiff gives dL/dy0 and dL/dtheta for the block, and one surrogate
//! backward pass, `sum(y0 * dL/dy0) + sum_p sum(p * dL/dp)`, hands them to
//! autograd for the layers before the block. [`OdeBlock::train_step`] wraps
//! all of it, so a model never writes it.
//!
//! On request ([`OdeBlock::step_errors`]) the block also returns, per
//! sample, the sum of the accepted steps' scaled error estimates as a
//! differentiable `[B]` tensor ([`BlockForward::error_sums`]): DISE's error
//! regularizer. Its exact definition is in the docs of [`step_errors`]. A
//! loss on it gets gradients with respect to the dynamics' parameters and
//! the block input in `Direct` mode (full-batch and per-sample stepping)
//! and in `Aca` mode (its cotangent goes to ode-autodiff's
//! `backward_with_errors`); the adjoint and MALI cannot differentiate a
//! discrete error estimate ([`BlockError::StepErrorsNotDifferentiable`]).

pub mod step_errors;

use ode_autodiff::{solve_with_grad, AdjointOptions, GradError, GradSolve, GradientMethod, MaliOptions};
use ode_core::{solve, Rhs, SolveError, SolveOptions};
use tch::{Kind, Tensor};

use crate::dynamics::TorchRhs;
use crate::per_sample::{
    solve_per_sample, solve_per_sample_with_errors, Autonomous, PerSampleError, PerSampleStats,
};
pub use step_errors::ErrorWeighting;
pub(crate) use step_errors::{embedded_weights, sample_error_norms};
use step_errors::{AcceptedSteps, Recorder, StepErrorTape};

/// How the block's gradient is computed.
#[derive(Clone, Debug)]
pub enum GradMode {
    /// Autograd through the accepted steps (step sizes are plain numbers, so
    /// rejected trials and the controller never enter the graph). Memory
    /// grows with the number of steps.
    Direct,
    /// Backsolve adjoint (Chen et al. 2018).
    Adjoint(AdjointOptions),
    /// Adaptive checkpoint adjoint (Zhuang et al. 2020).
    Aca,
    /// Asynchronous leapfrog, reversible (MALI).
    Mali(MaliOptions),
}

impl GradMode {
    pub fn name(&self) -> &'static str {
        match self {
            GradMode::Direct => "direct",
            GradMode::Adjoint(_) => "adjoint",
            GradMode::Aca => "aca",
            GradMode::Mali(_) => "mali",
        }
    }
}

/// Errors of a block.
#[derive(Debug, thiserror::Error)]
pub enum BlockError {
    #[error("ODE block solve failed: {0}")]
    Solve(#[from] SolveError<Tensor>),
    #[error("ODE block gradient failed: {0}")]
    Grad(#[from] GradError<Tensor>),
    #[error("ODE block: {0}")]
    Usage(String),
    #[error("ODE block per-sample solve failed: {0}")]
    PerSample(#[from] PerSampleError),
    /// Step error estimates were asked for in a gradient mode that cannot
    /// differentiate them.
    #[error(
        "the {mode} gradient cannot differentiate step error estimates: it does not go through the \
         discrete accepted steps (a continuous adjoint, or MALI's reversible leapfrog steps); \
         use GradMode::Direct or GradMode::Aca"
    )]
    StepErrorsNotDifferentiable { mode: &'static str },
    /// Step error estimates were asked for with a method that has no single
    /// embedded error estimate.
    #[error("step error estimates need an embedded error estimator, but method {method} {reason}")]
    StepErrorsUnsupportedMethod { method: &'static str, reason: String },
    /// The accepted steps' stages could not be found after the solve.
    #[error("ODE block: cannot collect the step error estimates: {0}")]
    StepErrors(String),
}

/// An ODE solve from `t0` to `t1` as a layer.
#[derive(Clone, Debug)]
pub struct OdeBlock {
    pub opts: SolveOptions,
    pub mode: GradMode,
    pub t0: f64,
    pub t1: f64,
    /// Step each sample of the batch with its own step size
    /// ([`crate::per_sample`]); `Direct` mode only.
    pub per_sample: bool,
    /// Return each sample's sum of step error estimates
    /// ([`BlockForward::error_sums`]), weighted as given; `Direct` and `Aca`
    /// modes only.
    pub step_errors: Option<ErrorWeighting>,
}

/// Evaluation counts of one block pass.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BlockStats {
    pub nfe_forward: usize,
    pub nfe_backward: usize,
    pub n_accepted: usize,
    pub n_rejected: usize,
}

/// The result of [`OdeBlock::forward`]: the output state and what the
/// backward pass needs.
pub struct BlockForward {
    /// y(t1). For modes other than `Direct` this is a fresh leaf whose
    /// gradient the block reads after `loss.backward()`.
    pub y1: Tensor,
    pub stats: BlockStats,
    /// Per-sample counters when the block steps per sample.
    pub per_sample: Option<PerSampleStats>,
    /// With [`OdeBlock::step_errors`]: `[B]`, sample `s`'s sum over its
    /// accepted steps of `w_n r_{s,n}` (definition in [`step_errors`]). In
    /// `Direct` mode it carries the graph; in `Aca` mode it is a fresh leaf
    /// whose gradient [`OdeBlock::backward`] reads after `loss.backward()`,
    /// as for `y1`.
    pub error_sums: Option<Tensor>,
    /// The two-output solve `[t0, t1]` this is a view of (`None` for
    /// per-sample stepping, which has no backward pass of its own).
    at: Option<BlockForwardAt>,
}

impl OdeBlock {
    /// A block over `[0, 1]` with the given options and gradient mode.
    pub fn new(opts: SolveOptions, mode: GradMode) -> Self {
        OdeBlock { opts, mode, t0: 0.0, t1: 1.0, per_sample: false, step_errors: None }
    }

    /// Asks for each sample's sum of step error estimates
    /// ([`BlockForward::error_sums`], [`BlockForwardAt::error_sums`]); `None`
    /// turns it off. Only `Direct` (full-batch or per-sample) and `Aca` can
    /// differentiate it: the forward pass of the other modes returns
    /// [`BlockError::StepErrorsNotDifferentiable`]. The method needs one
    /// embedded error estimate (dopri5, bosh3, tsit5, ...; not DOP853 or
    /// fixed-step methods: [`BlockError::StepErrorsUnsupportedMethod`]).
    ///
    /// ```
    /// # use ode_core::SolveOptions;
    /// # use ode_models::block::ErrorWeighting;
    /// # use ode_models::{GradMode, OdeBlock, TorchRhs};
    /// # use tch::{nn, nn::Module, Device, Kind, Tensor};
    /// let vs = nn::VarStore::new(Device::Cpu);
    /// let lin = nn::linear(vs.root(), 2, 2, Default::default());
    /// let f = TorchRhs::new(|_t, y: &Tensor| lin.forward(y).tanh(), vs.trainable_variables());
    /// let block = OdeBlock::new(SolveOptions::default().tol(1e-4, 1e-6), GradMode::Aca)
    ///     .step_errors(ErrorWeighting::PerStep);
    /// let x = Tensor::randn([8, 2], (Kind::Float, Device::Cpu));
    /// let fwd = block.forward(&f, &x).unwrap();
    /// let r_err = fwd.error_sums.as_ref().unwrap().sum(Kind::Float);
    /// // Task loss plus lambda R_err; the block's backward takes both cotangents.
    /// (fwd.y1.square().mean(Kind::Float) + r_err * 0.01).backward();
    /// block.backward(&f, fwd).unwrap();
    /// assert!(vs.trainable_variables().iter().all(|p| p.grad().defined()));
    /// ```
    pub fn step_errors(mut self, weighting: impl Into<Option<ErrorWeighting>>) -> Self {
        self.step_errors = weighting.into();
        self
    }

    /// The requested weighting after checking that this block can
    /// differentiate step errors.
    fn step_error_request(&self) -> Result<Option<ErrorWeighting>, BlockError> {
        let Some(weighting) = self.step_errors else {
            return Ok(None);
        };
        if let GradMode::Adjoint(_) | GradMode::Mali(_) = self.mode {
            return Err(BlockError::StepErrorsNotDifferentiable { mode: self.mode.name() });
        }
        embedded_weights(self.opts.method).map_err(|reason| BlockError::StepErrorsUnsupportedMethod {
            method: self.opts.method.name,
            reason,
        })?;
        if !self.opts.jump_t.is_empty() {
            // Stages next to a jump are evaluated at nudged times.
            return Err(BlockError::Usage("step error estimates do not support jump_t".into()));
        }
        Ok(Some(weighting))
    }

    pub fn span(mut self, t0: f64, t1: f64) -> Self {
        self.t0 = t0;
        self.t1 = t1;
        self
    }

    /// Per-sample adaptive stepping: each sample of the batch (first
    /// dimension of `y0`) gets its own step size and accept/reject decision
    /// ([`crate::per_sample`]). Only with [`GradMode::Direct`] (the other
    /// modes return [`BlockError::Usage`]), and only for dynamics that do not
    /// depend on `t`: they are called with `t = NaN` (see
    /// [`crate::per_sample::Autonomous`]). In [`BlockStats`], `nfe_forward`
    /// is then the number of calls on the batch and `n_accepted` /
    /// `n_rejected` are the largest per-sample counts; the per-sample
    /// counters are in [`BlockForward::per_sample`].
    pub fn per_sample(mut self, yes: bool) -> Self {
        self.per_sample = yes;
        self
    }

    /// Solves from `y0`. With `Direct` the output carries the autograd
    /// graph; otherwise the solve runs without one. The two-time case of
    /// [`OdeBlock::forward_at`].
    pub fn forward<F>(&self, f: &TorchRhs<F>, y0: &Tensor) -> Result<BlockForward, BlockError>
    where
        F: Fn(f64, &Tensor) -> Tensor,
    {
        if self.per_sample {
            return self.forward_per_sample(f, y0);
        }
        let at = self.forward_at(f, y0, &[self.t0, self.t1])?;
        let y1 = at.ys[1].shallow_clone();
        let error_sums = at.error_sums.as_ref().map(Tensor::shallow_clone);
        Ok(BlockForward { y1, stats: at.stats, per_sample: None, error_sums, at: Some(at) })
    }

    fn forward_per_sample<F>(&self, f: &TorchRhs<F>, y0: &Tensor) -> Result<BlockForward, BlockError>
    where
        F: Fn(f64, &Tensor) -> Tensor,
    {
        let weighting = self.step_error_request()?;
        if !matches!(self.mode, GradMode::Direct) {
            return Err(BlockError::Usage(format!(
                "per-sample stepping needs GradMode::Direct, not {}",
                self.mode.name()
            )));
        }
        let rhs = Autonomous(|t, y: &Tensor| f.eval(t, y));
        let ts = [self.t0, self.t1];
        let sol = match weighting {
            Some(w) => solve_per_sample_with_errors(&rhs, y0, &ts, &self.opts, w)?,
            None => solve_per_sample(&rhs, y0, &ts, &self.opts)?,
        };
        let s = &sol.stats;
        let stats = BlockStats {
            nfe_forward: s.n_calls,
            nfe_backward: 0,
            n_accepted: s.n_accepted.iter().copied().max().unwrap_or(0),
            n_rejected: s.n_rejected.iter().copied().max().unwrap_or(0),
        };
        let y1 =
            sol.ys.last().map(Tensor::shallow_clone).ok_or_else(|| BlockError::Usage("no output".into()))?;
        Ok(BlockForward { y1, stats, per_sample: Some(sol.stats), error_sums: sol.error_sums, at: None })
    }

    /// After `loss.backward()` has filled the gradients of `fwd.y1` (and of
    /// `fwd.error_sums`, when the loss uses them): back-propagates through
    /// the block into its parameters and the layers before it. Nothing to
    /// do for `Direct`. Returns the statistics with the backward
    /// evaluations filled in.
    pub fn backward<F>(&self, f: &TorchRhs<F>, fwd: BlockForward) -> Result<BlockStats, BlockError>
    where
        F: Fn(f64, &Tensor) -> Tensor,
    {
        let Some(at) = fwd.at.filter(|at| at.tape.is_some()) else {
            return Ok(fwd.stats);
        };
        let dy1 = fwd.y1.grad();
        let d_errors = defined_grad(at.error_sums.as_ref());
        if !dy1.defined() && d_errors.is_none() {
            return Err(BlockError::Usage(
                "the block output has no gradient: call loss.backward() before OdeBlock::backward".into(),
            ));
        }
        // y(t0) gets no cotangent (an undefined tensor counts as zero).
        let (surrogate, stats) =
            self.surrogate_at_with_errors(f, at, &[Tensor::new(), dy1], d_errors.as_ref())?;
        if let Some(s) = surrogate {
            s.backward();
        }
        Ok(stats)
    }

    /// Forward, `loss_of(y1).backward()`, block backward: the gradients of
    /// every parameter before, inside and after the block are accumulated
    /// (call the optimizer's `zero_grad` before and `step` after). Returns
    /// the loss value and the block's statistics. To put the step errors
    /// into the loss, use [`OdeBlock::train_step_with_errors`].
    pub fn train_step<F>(
        &self,
        f: &TorchRhs<F>,
        y0: &Tensor,
        loss_of: impl FnOnce(&Tensor) -> Tensor,
    ) -> Result<(f64, BlockStats), BlockError>
    where
        F: Fn(f64, &Tensor) -> Tensor,
    {
        self.train_step_with_errors(f, y0, |y1, _| loss_of(y1))
    }

    /// [`OdeBlock::train_step`] with a loss of `y1` and of the per-sample
    /// step error sums (`None` unless [`OdeBlock::step_errors`] asked for
    /// them): `|y1, errors| task(y1) + lambda * errors.unwrap().sum(..)`.
    pub fn train_step_with_errors<F>(
        &self,
        f: &TorchRhs<F>,
        y0: &Tensor,
        loss_of: impl FnOnce(&Tensor, Option<&Tensor>) -> Tensor,
    ) -> Result<(f64, BlockStats), BlockError>
    where
        F: Fn(f64, &Tensor) -> Tensor,
    {
        let fwd = self.forward(f, y0)?;
        let loss = loss_of(&fwd.y1, fwd.error_sums.as_ref());
        let value = loss.double_value(&[]);
        loss.backward();
        let stats = self.backward(f, fwd)?;
        Ok((value, stats))
    }
}

/// The result of [`OdeBlock::forward_at`]: the states at every output time
/// and what the backward pass needs.
pub struct BlockForwardAt {
    /// `y(ts[i])` for every output time. For modes other than `Direct` these
    /// are fresh leaves whose gradients [`OdeBlock::backward_at`] reads after
    /// `loss.backward()`; an output the loss does not use gets a zero
    /// cotangent.
    pub ys: Vec<Tensor>,
    /// With [`OdeBlock::step_errors`]: each sample's sum of step error
    /// estimates over the whole solve, as [`BlockForward::error_sums`].
    pub error_sums: Option<Tensor>,
    y0: Tensor,
    tape: Option<GradSolve<Tensor>>,
    /// ACA with step errors: what the error cotangents are computed from.
    errors: Option<StepErrorTape>,
    pub stats: BlockStats,
}

/// A gradient the loss filled in, if any.
fn defined_grad(x: Option<&Tensor>) -> Option<Tensor> {
    x.map(Tensor::grad).filter(Tensor::defined)
}

/// Multi-output solves (latent ODEs decode the state at many times). The
/// block's own `t0`/`t1` are not used: the output times are the argument.
impl OdeBlock {
    /// Solves from `y0` at `ts[0]` and returns the state at every time of
    /// `ts` (`ys[0]` is `y0` itself for `Direct`). With `Direct` the outputs
    /// carry the autograd graph; otherwise the solve runs without one and
    /// [`OdeBlock::backward_at`] hands every output's cotangent to
    /// ode-autodiff's backward.
    ///
    /// ```no_run
    /// # use ode_core::SolveOptions;
    /// # use ode_models::{GradMode, OdeBlock, TorchRhs};
    /// # use tch::{nn, nn::Module, Device, Kind, Tensor};
    /// let vs = nn::VarStore::new(Device::Cpu);
    /// let lin = nn::linear(vs.root(), 2, 2, Default::default());
    /// let f = TorchRhs::new(|_t, y: &Tensor| lin.forward(y).tanh(), vs.trainable_variables());
    /// let block = OdeBlock::new(SolveOptions::default().tol(1e-5, 1e-7), GradMode::Aca);
    /// let y0 = Tensor::randn([8, 2], (Kind::Float, Device::Cpu));
    /// let fwd = block.forward_at(&f, &y0, &[0.0, 0.5, 1.0]).unwrap();
    /// let loss = fwd.ys[1].square().sum(Kind::Float) + fwd.ys[2].sum(Kind::Float);
    /// loss.backward();
    /// let stats = block.backward_at(&f, fwd).unwrap();
    /// # let _ = stats;
    /// ```
    pub fn forward_at<F>(
        &self,
        f: &TorchRhs<F>,
        y0: &Tensor,
        ts: &[f64],
    ) -> Result<BlockForwardAt, BlockError>
    where
        F: Fn(f64, &Tensor) -> Tensor,
    {
        let weighting = self.step_error_request()?;
        let method = match &self.mode {
            GradMode::Direct => return self.forward_direct(f, y0, ts, weighting),
            GradMode::Adjoint(a) => GradientMethod::Adjoint(a.clone()),
            GradMode::Aca => GradientMethod::Aca,
            GradMode::Mali(m) => GradientMethod::Mali(m.clone()),
        };
        let (tape, errors) = match weighting {
            None => (tch::no_grad(|| solve_with_grad(f, y0.detach(), ts, &self.opts, &method))?, None),
            Some(w) => {
                let rec = Recorder::new(f);
                let tape = tch::no_grad(|| solve_with_grad(&rec, y0.detach(), ts, &self.opts, &method))?;
                let sol = &tape.solution;
                let accepted = AcceptedSteps {
                    tab: self.opts.method,
                    tol: &self.opts.tol,
                    steps: &sol.steps,
                    checkpoints: tape.checkpoints().unwrap_or(&[]),
                    y_end: sol.ys.last().unwrap_or(y0),
                    t_end: sol.ts.last().copied().unwrap_or(f64::NAN),
                };
                let errors = tch::no_grad(|| rec.into_tape(accepted, w)).map_err(BlockError::StepErrors)?;
                (tape, Some(errors))
            }
        };
        let s = tape.solution.stats;
        let ys = tape.solution.ys.iter().map(|y| y.detach().set_requires_grad(true)).collect();
        let stats = BlockStats {
            nfe_forward: s.nfe,
            nfe_backward: 0,
            n_accepted: s.n_accepted,
            n_rejected: s.n_rejected,
        };
        let error_sums =
            errors.as_ref().map(|e| tch::no_grad(|| e.sums(y0)).detach().set_requires_grad(true));
        Ok(BlockForwardAt { ys, error_sums, y0: y0.shallow_clone(), tape: Some(tape), errors, stats })
    }

    /// `Direct`: the solve with autograd on; with step errors, through a
    /// [`Recorder`] that finds the accepted steps' stages (with their graph).
    fn forward_direct<F>(
        &self,
        f: &TorchRhs<F>,
        y0: &Tensor,
        ts: &[f64],
        weighting: Option<ErrorWeighting>,
    ) -> Result<BlockForwardAt, BlockError>
    where
        F: Fn(f64, &Tensor) -> Tensor,
    {
        let (sol, error_sums) = match weighting {
            None => (solve(f, y0.shallow_clone(), ts, &self.opts)?, None),
            Some(w) => {
                let rec = Recorder::new(f);
                let mut sol = solve(&rec, y0.shallow_clone(), ts, &self.opts.clone().checkpoints(true))?;
                let checkpoints = sol.checkpoints.take().unwrap_or_default();
                let accepted = AcceptedSteps {
                    tab: self.opts.method,
                    tol: &self.opts.tol,
                    steps: &sol.steps,
                    checkpoints: &checkpoints,
                    y_end: sol.ys.last().unwrap_or(y0),
                    t_end: sol.ts.last().copied().unwrap_or(f64::NAN),
                };
                let errors = rec.into_tape(accepted, w).map_err(BlockError::StepErrors)?;
                let sums = errors.sums(y0);
                (sol, Some(sums))
            }
        };
        let stats = BlockStats {
            nfe_forward: sol.stats.nfe,
            nfe_backward: 0,
            n_accepted: sol.stats.n_accepted,
            n_rejected: sol.stats.n_rejected,
        };
        Ok(BlockForwardAt { ys: sol.ys, error_sums, y0: y0.shallow_clone(), tape: None, errors: None, stats })
    }

    /// After `loss.backward()`: back-propagates the gradients of every output
    /// of [`OdeBlock::forward_at`] through the block into its parameters and
    /// the layers before it. Nothing to do for `Direct`.
    ///
    /// `loss.backward()` frees the graph before the block; when the loss
    /// also depends on those layers by another path (a VAE's KL term on
    /// the encoder that produced `y0`), use [`OdeBlock::surrogate_at`]
    /// instead.
    pub fn backward_at<F>(&self, f: &TorchRhs<F>, fwd: BlockForwardAt) -> Result<BlockStats, BlockError>
    where
        F: Fn(f64, &Tensor) -> Tensor,
    {
        if fwd.tape.is_none() {
            return Ok(fwd.stats);
        }
        let grads: Vec<Tensor> = fwd.ys.iter().map(Tensor::grad).collect();
        let d_errors = defined_grad(fwd.error_sums.as_ref());
        if grads.iter().all(|g| !g.defined()) && d_errors.is_none() {
            return Err(BlockError::Usage(
                "no block output has a gradient: call loss.backward() before OdeBlock::backward_at".into(),
            ));
        }
        let (surrogate, stats) = self.surrogate_at_with_errors(f, fwd, &grads, d_errors.as_ref())?;
        if let Some(s) = surrogate {
            s.backward();
        }
        Ok(stats)
    }

    /// Runs the block's backward for the cotangents `dL/dy(ts[i])` (an
    /// undefined tensor counts as zero) and returns the surrogate scalar
    /// `sum(y0 * dL/dy0) + sum_p sum(p * dL/dp)` (`None` for `Direct`, or
    /// when nothing before or inside the block needs a gradient). Adding it
    /// to the loss and calling `backward()` once gives every gradient, so a
    /// graph shared between `y0` and the rest of the loss is walked once:
    ///
    /// ```text
    /// let cot = Tensor::run_backward(&[&loss], &fwd.ys, true, false); // keep the graph
    /// let (sur, stats) = block.surrogate_at(&f, fwd, &cot)?;
    /// (loss + sur.unwrap()).backward();
    /// ```
    ///
    /// The step error sums get no cotangent here; see
    /// [`OdeBlock::surrogate_at_with_errors`].
    pub fn surrogate_at<F>(
        &self,
        f: &TorchRhs<F>,
        fwd: BlockForwardAt,
        cotangents: &[Tensor],
    ) -> Result<(Option<Tensor>, BlockStats), BlockError>
    where
        F: Fn(f64, &Tensor) -> Tensor,
    {
        self.surrogate_at_with_errors(f, fwd, cotangents, None)
    }

    /// [`OdeBlock::surrogate_at`] with the cotangent `dL/dR` (`[B]`) of
    /// [`BlockForwardAt::error_sums`] as well (`None` or an undefined
    /// tensor: zero). In `Aca` mode it becomes the cotangents of every
    /// accepted step's error estimate for ode-autodiff's
    /// `backward_with_errors`.
    pub fn surrogate_at_with_errors<F>(
        &self,
        f: &TorchRhs<F>,
        fwd: BlockForwardAt,
        cotangents: &[Tensor],
        error_cotangent: Option<&Tensor>,
    ) -> Result<(Option<Tensor>, BlockStats), BlockError>
    where
        F: Fn(f64, &Tensor) -> Tensor,
    {
        let mut stats = fwd.stats;
        let Some(tape) = fwd.tape else {
            return Ok((None, stats));
        };
        if cotangents.len() != fwd.ys.len() {
            return Err(BlockError::Usage(format!(
                "{} cotangents for {} outputs",
                cotangents.len(),
                fwd.ys.len()
            )));
        }
        let cot: Vec<Tensor> = cotangents
            .iter()
            .zip(&fwd.ys)
            .map(|(g, y)| if g.defined() { g.detach() } else { y.zeros_like().detach() })
            .collect();
        let d_errors = match (error_cotangent.filter(|g| g.defined()), &fwd.errors) {
            (None, _) => None,
            (Some(g), Some(errors)) => Some(errors.cotangents(g)),
            (Some(_), None) => {
                return Err(BlockError::Usage(
                    "an error cotangent for a forward pass without step errors (OdeBlock::step_errors)"
                        .into(),
                ))
            }
        };
        let g = tch::no_grad(|| match &d_errors {
            Some(d) => tape.backward_with_errors(f, &cot, d),
            None => tape.backward(f, &cot),
        })?;
        stats.nfe_backward = g.stats.nfe + g.stats.nvjp;
        let mut terms: Vec<Tensor> = Vec::new();
        if fwd.y0.requires_grad() {
            terms.push((&fwd.y0 * &g.dy0).sum(Kind::Double));
        }
        for (p, dp) in f.params().iter().zip(f.split_params(&g.dtheta)) {
            if p.requires_grad() {
                terms.push((p * &dp).sum(Kind::Double));
            }
        }
        let total =
            terms.split_first().map(|(first, rest)| rest.iter().fold(first.shallow_clone(), |a, t| a + t));
        Ok((total, stats))
    }
}
