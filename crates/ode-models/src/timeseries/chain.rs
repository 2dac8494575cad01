//! The backward pass through a sequence of ODE solves.
//!
//! An ODE-RNN solves one ODE per gap between observations, each solve's
//! output feeding a GRU update whose output is the next solve's input. In
//! `Direct` mode the whole sequence is one autograd graph. In the other
//! modes every [`OdeBlock`] cuts the graph at its output (its `y1` is a
//! fresh leaf; see `block.rs`), so the chain rule runs link by link from
//! the last solve to the first: the loss gives the last output's cotangent,
//! that solve's surrogate backward fills the previous output's gradient
//! (through the GRU update in between), and so on.
//!
//! The last link is special: the loss can also depend on what lies before
//! its input by another path (the Latent ODE's KL term reads the encoder
//! output that also gives `z0`), so its cotangent comes from
//! `run_backward` keeping the graph and one backward pass of
//! `loss + surrogate` walks that shared graph once, as the latent ODE of
//! `latent/model.rs` does.

use ode_core::SolveOptions;
use tch::{Kind, Tensor};

use super::{PassStats, TsModelError};
use crate::block::{BlockError, BlockForwardAt};
use crate::{GradMode, OdeBlock, TorchRhs};

/// Dynamics with their parameters, boxed so that the solves of different
/// models (hidden-state and latent dynamics) can share one chain.
pub type DynRhs<'a> = TorchRhs<BoxedDynamics<'a>>;

/// A boxed `f(t, y)`.
pub type BoxedDynamics<'a> = Box<dyn Fn(f64, &Tensor) -> Tensor + 'a>;

/// The solves of one forward pass, kept for the backward pass when the
/// gradient mode cuts the graph.
pub struct BlockChain<'a> {
    links: Vec<(&'a OdeBlock, DynRhs<'a>, BlockForwardAt)>,
    /// No backward pass will follow: solve without recording anything.
    inference: bool,
    pub stats: PassStats,
}

impl<'a> BlockChain<'a> {
    /// A chain for a training step.
    pub fn for_training() -> Self {
        BlockChain { links: Vec::new(), inference: false, stats: PassStats::default() }
    }

    /// A chain for inference (call under `tch::no_grad`): plain solves.
    pub fn for_inference() -> Self {
        BlockChain { links: Vec::new(), inference: true, stats: PassStats::default() }
    }

    /// Solves `f` over the block's `[0, 1]` from `y0` and returns `y(1)`
    /// and the number of evaluations of `f` on the batch.
    pub fn solve(
        &mut self,
        block: &'a OdeBlock,
        f: DynRhs<'a>,
        y0: &Tensor,
    ) -> Result<(Tensor, usize), TsModelError> {
        let ts = [block.t0, block.t1];
        if self.inference {
            let sol = ode_core::solve(&f, y0.shallow_clone(), &ts, &block.opts).map_err(BlockError::from)?;
            self.stats.nfe_forward += sol.stats.nfe;
            let y1 = sol
                .ys
                .into_iter()
                .nth(1)
                .ok_or_else(|| TsModelError::Shape("solve without output".into()))?;
            return Ok((y1, sol.stats.nfe));
        }
        let fwd = block.forward_at(&f, y0, &ts)?;
        let nfe = fwd.stats.nfe_forward;
        self.stats.nfe_forward += nfe;
        let y1 = fwd.ys[1].shallow_clone();
        if !matches!(block.mode, GradMode::Direct) {
            self.links.push((block, f, fwd));
        }
        Ok((y1, nfe))
    }

    /// `loss.backward()` through every solve of the chain; returns the
    /// chain's statistics with the backward evaluations added.
    pub fn backward(mut self, loss: &Tensor) -> Result<PassStats, TsModelError> {
        let Some((block, f, fwd)) = self.links.pop() else {
            loss.backward();
            return Ok(self.stats);
        };
        let cot = Tensor::f_run_backward(&[loss], &[&fwd.ys[1]], true, false)?;
        let cot1 = cot.into_iter().next().unwrap_or_else(Tensor::new);
        let (sur, st) = block.surrogate_at(&f, fwd, &[Tensor::new(), cot1])?;
        self.stats.nfe_backward += st.nfe_backward;
        match sur {
            Some(s) => (loss.to_kind(Kind::Double) + s).backward(),
            None => loss.backward(),
        }
        while let Some((block, f, fwd)) = self.links.pop() {
            let st = block.backward_at(&f, fwd)?;
            self.stats.nfe_backward += st.nfe_backward;
        }
        Ok(self.stats)
    }
}

/// Solver options of the time-series models: dopri5 at the given
/// tolerances.
pub fn solve_options(rtol: f64, atol: f64) -> SolveOptions {
    SolveOptions::default().tol(rtol, atol)
}
