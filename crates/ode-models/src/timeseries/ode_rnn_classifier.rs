//! ODE-RNN classifier: the encoder's state after the last observation
//! through a linear head.

use tch::nn::{self, Module};
use tch::{Device, Tensor};

use super::chain::BlockChain;
use super::ode_rnn::OdeRnnEncoder;
use super::{cross_entropy, Inference, SeriesBatch, SeriesClassifier, StepOutput, TsModelError};
use crate::OdeBlock;

pub struct OdeRnnClassifier {
    vs: nn::VarStore,
    pub encoder: OdeRnnEncoder,
    head: nn::Linear,
}

impl OdeRnnClassifier {
    pub fn new(
        channels: i64,
        classes: i64,
        hidden: i64,
        units: i64,
        block: OdeBlock,
        device: Device,
    ) -> Self {
        let vs = nn::VarStore::new(device);
        let root = vs.root();
        let encoder = OdeRnnEncoder::new(&(&root / "enc"), channels, hidden, units, block);
        let head = nn::linear(&root / "head", hidden, classes, Default::default());
        OdeRnnClassifier { vs, encoder, head }
    }

    pub fn parameter_count_for(channels: i64, classes: i64, hidden: i64, units: i64) -> i64 {
        OdeRnnEncoder::parameter_count(channels, hidden, units) + hidden * classes + classes
    }

    fn logits<'a>(
        &'a self,
        batch: &SeriesBatch,
        chain: &mut BlockChain<'a>,
    ) -> Result<(Tensor, Vec<usize>), TsModelError> {
        let out = self.encoder.encode(batch, chain)?;
        Ok((self.head.forward(&out.h), out.nfe_per_sample))
    }
}

impl SeriesClassifier for OdeRnnClassifier {
    fn name(&self) -> &'static str {
        "ode-rnn"
    }

    fn var_store(&self) -> &nn::VarStore {
        &self.vs
    }

    fn var_store_mut(&mut self) -> &mut nn::VarStore {
        &mut self.vs
    }

    fn train_step(&self, batch: &SeriesBatch) -> Result<StepOutput, TsModelError> {
        let mut chain = BlockChain::for_training();
        let (logits, _) = self.logits(batch, &mut chain)?;
        let loss = cross_entropy(&logits, &batch.labels);
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
            let (logits, nfe_per_sample) = self.logits(batch, &mut chain)?;
            Ok(Inference { logits, nfe_per_sample })
        })
    }
}
