//! The ODE-RNN encoder of Rubanova et al. (2019): between two observations
//! the hidden state follows `dh/dt = f(h)` (an MLP, H -> U -> H with tanh),
//! at an observation a GRU updates it from the observed values (missing
//! channels as 0) and the observation mask.
//!
//! **Per-sample times.** The series of a batch are observed at different
//! times, so the gap from one observation to the next differs per sample.
//! Each solve integrates a rescaled time `s` in `[0, 1]`,
//! `dh/ds = gap_b * f(h)`, which is the same trajectory as `dh/dt = f(h)`
//! over `[t_{k-1}, t_k]` for every sample `b` (with `t = t_{k-1} + s gap_b`)
//! but over one interval shared by the whole batch: one batched solve per
//! row with one step-size sequence, any gradient mode, and a zero gap
//! (padding, or two rows at the same time) is exactly the identity. The
//! price is that the step size is set by the batch's hardest sample, so a
//! batch costs more evaluations than its samples solved alone; the
//! evaluation ([`super::evaluate`]) therefore measures NFE per sample with
//! each series solved on its own by default. Row `k` of a series is
//! reached after solving the gaps of rows `1..=k`; the gap into a padding
//! row is 0 (padding repeats the last time) and the GRU does not update
//! there, so padding leaves the state as it was at the last real row.
//!
//! Run backwards ([`OdeRnnEncoder::reverse`], the Latent ODE's recognition
//! network) the rows are read from last to first and each solve goes back
//! in time: `dh/ds = -gap_b * f(h)`.

use tch::nn::{self, Module};
use tch::{Kind, Tensor};

use super::chain::{BlockChain, BoxedDynamics, DynRhs};
use super::gru::GruCell;
use super::{SeriesBatch, TsModelError};
use crate::{GradMode, OdeBlock, TorchRhs};

/// What an encoder pass gives.
pub struct EncoderOutput {
    /// `[B, H]`: the state after the last row (the first, run backwards).
    pub h: Tensor,
    /// Per sample: the evaluations of `f` its state went through (each
    /// batched solve it took part in counts in full).
    pub nfe_per_sample: Vec<usize>,
}

/// GRU updates at observations, an ODE between them.
#[derive(Debug)]
pub struct OdeRnnEncoder {
    pub gru: GruCell,
    dyn1: nn::Linear,
    dyn2: nn::Linear,
    pub hidden: i64,
    pub block: OdeBlock,
    pub reverse: bool,
}

impl OdeRnnEncoder {
    /// GRU input `2C` (values and mask), hidden `hidden`, dynamics MLP with
    /// `units` hidden units.
    pub fn new(path: &nn::Path, channels: i64, hidden: i64, units: i64, block: OdeBlock) -> OdeRnnEncoder {
        OdeRnnEncoder {
            gru: GruCell::new(path / "gru", 2 * channels, hidden),
            dyn1: nn::linear(path / "ode" / "l1", hidden, units, Default::default()),
            dyn2: nn::linear(path / "ode" / "l2", units, hidden, Default::default()),
            hidden,
            block,
            reverse: false,
        }
    }

    /// Reads the rows from last to first.
    pub fn reverse(mut self, yes: bool) -> Self {
        self.reverse = yes;
        self
    }

    pub fn parameter_count(channels: i64, hidden: i64, units: i64) -> i64 {
        GruCell::parameter_count(2 * channels, hidden) + (hidden * units + units) + (units * hidden + hidden)
    }

    pub fn grad_mode(&self) -> &GradMode {
        &self.block.mode
    }

    /// `f(h)`.
    pub fn dynamics(&self, h: &Tensor) -> Tensor {
        self.dyn2.forward(&self.dyn1.forward(h).tanh())
    }

    fn dynamics_params(&self) -> Vec<Tensor> {
        let mut p = vec![self.dyn1.ws.shallow_clone(), self.dyn2.ws.shallow_clone()];
        p.extend(self.dyn1.bs.iter().chain(self.dyn2.bs.iter()).map(Tensor::shallow_clone));
        p
    }

    /// `dh/ds = scale * f(h)`, `scale [B, 1]` the signed gaps.
    fn rescaled(&self, scale: Tensor) -> DynRhs<'_> {
        let f: BoxedDynamics<'_> = Box::new(move |_s, h| &scale * self.dynamics(h));
        TorchRhs::new(f, self.dynamics_params())
    }

    /// The GRU update at row `k`: only on real rows with at least one
    /// observed value.
    fn update(&self, batch: &SeriesBatch, k: i64, h: &Tensor) -> Tensor {
        let obs = batch.observed.select(1, k);
        let x = Tensor::cat(&[batch.values.select(1, k), obs.shallow_clone()], 1);
        let any = obs.amax(&[1i64][..], true);
        self.gru.masked_step(&x, h, &(batch.valid_at(k) * any))
    }

    /// Runs the encoder over `batch`; the solves go into `chain`.
    pub fn encode<'a>(
        &'a self,
        batch: &SeriesBatch,
        chain: &mut BlockChain<'a>,
    ) -> Result<EncoderOutput, TsModelError> {
        let (b, t) = (batch.batch_size(), batch.steps());
        if batch.channels() * 2 != self.gru.input {
            return Err(TsModelError::Shape(format!(
                "{} channels for an encoder built for {}",
                batch.channels(),
                self.gru.input / 2
            )));
        }
        let mut h = Tensor::zeros([b, self.hidden], (batch.values.kind(), batch.values.device()));
        let mut nfe = vec![0usize; b as usize];
        let rows: Vec<i64> = if self.reverse { (0..t).rev().collect() } else { (0..t).collect() };
        for (i, &k) in rows.iter().enumerate() {
            if i > 0 {
                // Forwards: the gap into row k; backwards: out of row k.
                let scale = if self.reverse { -batch.gap_into(k + 1) } else { batch.gap_into(k) };
                let (h1, n) = chain.solve(&self.block, self.rescaled(scale), &h)?;
                h = h1;
                // Charged to the samples whose state is still moving: row k
                // is real (forwards) or row k+1 is (backwards).
                let reached = if self.reverse { k + 1 } else { k };
                for (count, &len) in nfe.iter_mut().zip(&batch.lengths) {
                    if (reached as usize) < len {
                        *count += n;
                    }
                }
            }
            h = self.update(batch, k, &h);
        }
        Ok(EncoderOutput { h, nfe_per_sample: nfe })
    }
}

/// The float kind of a var store's first variable (f32 by default).
pub(crate) fn store_kind(vs: &nn::VarStore) -> Kind {
    vs.trainable_variables().first().map(|t| t.kind()).unwrap_or(Kind::Float)
}
