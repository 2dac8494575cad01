//! Latent ODE classifier (Rubanova et al. 2019, as for PhysioNet
//! mortality, without the reconstruction term): an ODE-RNN encoder run
//! backwards gives `q(z0 | x) = N(mean, exp(logvar))`, `z0` is sampled by
//! reparameterization, `dz/dt = g(z)` is solved from the first to the last
//! observation time of each series, and a linear head classifies `z(t_end)`.
//! The loss is the cross-entropy plus `kl_weight * KL(q || N(0, I))`
//! (averaged over the batch); inference uses `z0 = mean`.
//!
//! Implemented: the classifier on `z(t_end)` with the KL term. Not
//! implemented: the decoder and the reconstruction likelihood of the ELBO
//! (Rubanova et al.'s PhysioNet loss adds it); the classifier on `z(t_end)`
//! rather than on `z0` makes the latent ODE part of every prediction.
//!
//! The latent solve uses the same rescaled time as the encoder
//! (`dz/ds = span_b * g(z)`, `s` in `[0, 1]`, `span_b` the series' last
//! observation time), so every series is integrated over its own span in
//! one batched solve.

use tch::nn::{self, Module};
use tch::{Device, Tensor};

use super::chain::{BlockChain, BoxedDynamics, DynRhs};
use super::ode_rnn::OdeRnnEncoder;
use super::{cross_entropy, Inference, SeriesBatch, SeriesClassifier, StepOutput, TsModelError};
use crate::{OdeBlock, TorchRhs};

pub struct LatentOdeClassifier {
    vs: nn::VarStore,
    pub encoder: OdeRnnEncoder,
    to_z: nn::Linear,
    dyn1: nn::Linear,
    dyn2: nn::Linear,
    head: nn::Linear,
    pub latent: i64,
    pub kl_weight: f64,
    block: OdeBlock,
}

/// Sizes of a [`LatentOdeClassifier`].
#[derive(Clone, Copy, Debug)]
pub struct LatentSizes {
    pub channels: i64,
    pub classes: i64,
    /// Encoder hidden state and its ODE's hidden units.
    pub enc_hidden: i64,
    pub enc_units: i64,
    pub latent: i64,
    /// Hidden units of the latent dynamics.
    pub latent_units: i64,
}

impl LatentSizes {
    pub fn parameter_count(&self) -> i64 {
        let s = self;
        OdeRnnEncoder::parameter_count(s.channels, s.enc_hidden, s.enc_units)
            + (s.enc_hidden * 2 * s.latent + 2 * s.latent)
            + (s.latent * s.latent_units + s.latent_units + s.latent_units * s.latent + s.latent)
            + (s.latent * s.classes + s.classes)
    }
}

impl LatentOdeClassifier {
    pub fn new(sizes: LatentSizes, kl_weight: f64, block: OdeBlock, device: Device) -> Self {
        let s = sizes;
        let vs = nn::VarStore::new(device);
        let root = vs.root();
        let encoder =
            OdeRnnEncoder::new(&(&root / "enc"), s.channels, s.enc_hidden, s.enc_units, block.clone())
                .reverse(true);
        let to_z = nn::linear(&root / "to_z", s.enc_hidden, 2 * s.latent, Default::default());
        let dyn1 = nn::linear(&root / "zdyn" / "l1", s.latent, s.latent_units, Default::default());
        let dyn2 = nn::linear(&root / "zdyn" / "l2", s.latent_units, s.latent, Default::default());
        let head = nn::linear(&root / "head", s.latent, s.classes, Default::default());
        LatentOdeClassifier { vs, encoder, to_z, dyn1, dyn2, head, latent: s.latent, kl_weight, block }
    }

    /// `g(z)`.
    pub fn dynamics(&self, z: &Tensor) -> Tensor {
        self.dyn2.forward(&self.dyn1.forward(z).tanh())
    }

    fn latent_rhs(&self, span: Tensor) -> DynRhs<'_> {
        let mut p = vec![self.dyn1.ws.shallow_clone(), self.dyn2.ws.shallow_clone()];
        p.extend(self.dyn1.bs.iter().chain(self.dyn2.bs.iter()).map(Tensor::shallow_clone));
        let f: BoxedDynamics<'_> = Box::new(move |_s, z| &span * self.dynamics(z));
        TorchRhs::new(f, p)
    }

    /// Logits, the KL term `[B]` and the NFE per sample; `eps` is the
    /// reparameterization noise (`None`: `z0 = mean`).
    fn forward<'a>(
        &'a self,
        batch: &SeriesBatch,
        eps: Option<&Tensor>,
        chain: &mut BlockChain<'a>,
    ) -> Result<(Tensor, Tensor, Vec<usize>), TsModelError> {
        let enc = self.encoder.encode(batch, chain)?;
        let q = self.to_z.forward(&enc.h);
        let (mean, logvar) = (q.narrow(1, 0, self.latent), q.narrow(1, self.latent, self.latent));
        let z0 = match eps {
            Some(e) => &mean + e * (&logvar * 0.5).exp(),
            None => mean.shallow_clone(),
        };
        let kl =
            ((logvar.exp() + mean.square() - 1.0 - &logvar) * 0.5).sum_dim_intlist(1, false, mean.kind());
        let span = batch.times.select(1, batch.steps() - 1).unsqueeze(1);
        let (z1, n) = chain.solve(&self.block, self.latent_rhs(span), &z0)?;
        let nfe = enc.nfe_per_sample.iter().map(|c| c + n).collect();
        Ok((self.head.forward(&z1), kl, nfe))
    }
}

impl SeriesClassifier for LatentOdeClassifier {
    fn name(&self) -> &'static str {
        "latent-ode"
    }

    fn var_store(&self) -> &nn::VarStore {
        &self.vs
    }

    fn var_store_mut(&mut self) -> &mut nn::VarStore {
        &mut self.vs
    }

    fn train_step(&self, batch: &SeriesBatch) -> Result<StepOutput, TsModelError> {
        let kind = batch.values.kind();
        let eps = Tensor::randn([batch.batch_size(), self.latent], (kind, batch.values.device()));
        let mut chain = BlockChain::for_training();
        let (logits, kl, _) = self.forward(batch, Some(&eps), &mut chain)?;
        let loss = cross_entropy(&logits, &batch.labels) + kl.mean(kind) * self.kl_weight;
        let value = loss.double_value(&[]);
        if !value.is_finite() {
            return Err(TsModelError::NonFiniteLoss(value));
        }
        let stats = chain.backward(&loss)?;
        Ok(StepOutput { loss: value, stats })
    }

    fn infer(&self, batch: &SeriesBatch) -> Result<Inference, TsModelError> {
        tch::no_grad(|| {
            let mut chain = BlockChain::for_inference();
            let (logits, _, nfe_per_sample) = self.forward(batch, None, &mut chain)?;
            Ok(Inference { logits, nfe_per_sample })
        })
    }
}
