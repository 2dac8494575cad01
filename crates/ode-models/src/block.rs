//! `OdeBlock`: an ODE solve as a layer, with four ways to get its gradient.
//!
//! tch has no custom autograd functions, so for the modes other than
//! `Direct` the block cuts the graph at its output and runs the chain rule
//! itself: autograd gives dL/dy1 from the layers after the block,
//! ode-autodiff gives dL/dy0 and dL/dtheta for the block, and one surrogate
//! backward pass, `sum(y0 * dL/dy0) + sum_p sum(p * dL/dp)`, hands them to
//! autograd for the layers before the block. [`OdeBlock::train_step`] wraps
//! all of it, so a model never writes it.

use ode_autodiff::{solve_with_grad, AdjointOptions, GradError, GradSolve, GradientMethod, MaliOptions};
use ode_core::{solve, Rhs, SolveError, SolveOptions};
use tch::{Kind, Tensor};

use crate::dynamics::TorchRhs;
use crate::per_sample::{solve_per_sample, Autonomous, PerSampleError, PerSampleStats};

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
    /// The two-output solve `[t0, t1]` this is a view of (`None` for
    /// per-sample stepping, which has no backward pass of its own).
    at: Option<BlockForwardAt>,
}

impl OdeBlock {
    /// A block over `[0, 1]` with the given options and gradient mode.
    pub fn new(opts: SolveOptions, mode: GradMode) -> Self {
        OdeBlock { opts, mode, t0: 0.0, t1: 1.0, per_sample: false }
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
        Ok(BlockForward { y1, stats: at.stats, per_sample: None, at: Some(at) })
    }

    fn forward_per_sample<F>(&self, f: &TorchRhs<F>, y0: &Tensor) -> Result<BlockForward, BlockError>
    where
        F: Fn(f64, &Tensor) -> Tensor,
    {
        if !matches!(self.mode, GradMode::Direct) {
            return Err(BlockError::Usage(format!(
                "per-sample stepping needs GradMode::Direct, not {}",
                self.mode.name()
            )));
        }
        let rhs = Autonomous(|t, y: &Tensor| f.eval(t, y));
        let sol = solve_per_sample(&rhs, y0, &[self.t0, self.t1], &self.opts)?;
        let s = &sol.stats;
        let stats = BlockStats {
            nfe_forward: s.n_calls,
            nfe_backward: 0,
            n_accepted: s.n_accepted.iter().copied().max().unwrap_or(0),
            n_rejected: s.n_rejected.iter().copied().max().unwrap_or(0),
        };
        let y1 = sol.ys.into_iter().next_back().ok_or_else(|| BlockError::Usage("no output".into()))?;
        Ok(BlockForward { y1, stats, per_sample: Some(sol.stats), at: None })
    }

    /// After `loss.backward()` has filled `fwd.y1`'s gradient: back-propagates
    /// through the block into its parameters and the layers before it.
    /// Nothing to do for `Direct`. Returns the statistics with the backward
    /// evaluations filled in.
    pub fn backward<F>(&self, f: &TorchRhs<F>, fwd: BlockForward) -> Result<BlockStats, BlockError>
    where
        F: Fn(f64, &Tensor) -> Tensor,
    {
        let Some(at) = fwd.at.filter(|at| at.tape.is_some()) else {
            return Ok(fwd.stats);
        };
        let dy1 = fwd.y1.grad();
        if !dy1.defined() {
            return Err(BlockError::Usage(
                "the block output has no gradient: call loss.backward() before OdeBlock::backward".into(),
            ));
        }
        // y(t0) gets no cotangent (an undefined tensor counts as zero).
        let (surrogate, stats) = self.surrogate_at(f, at, &[Tensor::new(), dy1])?;
        if let Some(s) = surrogate {
            s.backward();
        }
        Ok(stats)
    }

    /// Forward, `loss_of(y1).backward()`, block backward: the gradients of
    /// every parameter before, inside and after the block are accumulated
    /// (call the optimizer's `zero_grad` before and `step` after). Returns
    /// the loss value and the block's statistics.
    pub fn train_step<F>(
        &self,
        f: &TorchRhs<F>,
        y0: &Tensor,
        loss_of: impl FnOnce(&Tensor) -> Tensor,
    ) -> Result<(f64, BlockStats), BlockError>
    where
        F: Fn(f64, &Tensor) -> Tensor,
    {
        let fwd = self.forward(f, y0)?;
        let loss = loss_of(&fwd.y1);
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
    y0: Tensor,
    tape: Option<GradSolve<Tensor>>,
    pub stats: BlockStats,
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
        let method = match &self.mode {
            GradMode::Direct => {
                let sol = solve(f, y0.shallow_clone(), ts, &self.opts)?;
                let stats = BlockStats {
                    nfe_forward: sol.stats.nfe,
                    nfe_backward: 0,
                    n_accepted: sol.stats.n_accepted,
                    n_rejected: sol.stats.n_rejected,
                };
                return Ok(BlockForwardAt { ys: sol.ys, y0: y0.shallow_clone(), tape: None, stats });
            }
            GradMode::Adjoint(a) => GradientMethod::Adjoint(a.clone()),
            GradMode::Aca => GradientMethod::Aca,
            GradMode::Mali(m) => GradientMethod::Mali(m.clone()),
        };
        let tape = tch::no_grad(|| solve_with_grad(f, y0.detach(), ts, &self.opts, &method))?;
        let s = tape.solution.stats;
        let ys = tape.solution.ys.iter().map(|y| y.detach().set_requires_grad(true)).collect();
        let stats = BlockStats {
            nfe_forward: s.nfe,
            nfe_backward: 0,
            n_accepted: s.n_accepted,
            n_rejected: s.n_rejected,
        };
        Ok(BlockForwardAt { ys, y0: y0.shallow_clone(), tape: Some(tape), stats })
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
        if grads.iter().all(|g| !g.defined()) {
            return Err(BlockError::Usage(
                "no block output has a gradient: call loss.backward() before OdeBlock::backward_at".into(),
            ));
        }
        let (surrogate, stats) = self.surrogate_at(f, fwd, &grads)?;
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
    pub fn surrogate_at<F>(
        &self,
        f: &TorchRhs<F>,
        fwd: BlockForwardAt,
        cotangents: &[Tensor],
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
        let g = tch::no_grad(|| tape.backward(f, &cot))?;
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
