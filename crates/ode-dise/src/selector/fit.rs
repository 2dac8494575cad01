//! Training v: regression of the predicted costs on the labels.

use ode_core::problems::SplitMix64;
use tch::nn::{self, OptimizerConfig};
use tch::{Kind, Reduction, Tensor};

use super::IntegratorSelector;
use crate::error::DiseError;

/// How [`IntegratorSelector::fit`] trains the cost network: Adam at `lr`,
/// mini-batches of `batch` shuffled with `seed`, `epochs` passes.
#[derive(Clone, Debug, PartialEq)]
pub struct FitOptions {
    pub epochs: usize,
    pub batch: usize,
    pub lr: f64,
    pub seed: u64,
}

impl Default for FitOptions {
    fn default() -> Self {
        FitOptions { epochs: 100, batch: 128, lr: 1e-3, seed: 0 }
    }
}

/// Adam on the cost network, for training batch by batch when the
/// initial states of a whole training set do not fit in memory (MNIST's
/// 60000 ODE-Net states take 550 MB): recompute `h(0)` per batch with the
/// frozen encoder and call [`CostTrainer::step`].
pub struct CostTrainer {
    opt: nn::Optimizer,
}

impl std::fmt::Debug for CostTrainer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CostTrainer")
    }
}

impl CostTrainer {
    /// One Adam step on the mean squared error between v's predicted costs
    /// for `h0` (`[B, ...]`) and `labels` (`[B, K]`); returns the loss.
    pub fn step(&mut self, sel: &IntegratorSelector, h0: &Tensor, labels: &Tensor) -> Result<f64, DiseError> {
        sel.check_batch(h0)?;
        let want = [h0.size()[0], sel.candidates.len() as i64];
        if labels.size() != want {
            return Err(DiseError::BadBatch {
                expected: format!("{want:?} labels"),
                got: format!("{:?}", labels.size()),
            });
        }
        let device = sel.net.var_store().device();
        let x = h0.detach().to_device(device).to_kind(Kind::Float);
        let y = labels.detach().to_device(device).to_kind(Kind::Float);
        let loss = sel.net.costs(&x, true).mse_loss(&y, Reduction::Mean);
        self.opt.backward_step(&loss);
        let value = loss.double_value(&[]);
        if !value.is_finite() {
            return Err(DiseError::InvalidSelector(format!("the cost regression diverged (loss {value})")));
        }
        Ok(value)
    }
}

impl IntegratorSelector {
    /// An Adam optimizer at `lr` over the cost network's variables.
    pub fn trainer(&self, lr: f64) -> Result<CostTrainer, DiseError> {
        if !(lr.is_finite() && lr > 0.0) {
            return Err(DiseError::InvalidSelector(format!("learning rate {lr}")));
        }
        Ok(CostTrainer { opt: nn::Adam::default().build(self.net.var_store(), lr)? })
    }

    /// Trains v on initial states `h0` (`[N, ...]`, computed with the
    /// target model frozen) and their cost labels (`[N, K]`,
    /// [`super::CandidateTable::label_tensor`]) by minimising the mean
    /// squared error. Returns each epoch's mean training loss.
    pub fn fit(&mut self, h0: &Tensor, labels: &Tensor, opts: &FitOptions) -> Result<Vec<f64>, DiseError> {
        self.check_batch(h0)?;
        let n = h0.size()[0];
        let k = self.candidates.len() as i64;
        if labels.size() != [n, k] {
            return Err(DiseError::BadBatch {
                expected: format!("[{n}, {k}] labels"),
                got: format!("{:?}", labels.size()),
            });
        }
        if opts.epochs == 0 || opts.batch == 0 {
            return Err(DiseError::InvalidSelector(format!("fit options {opts:?}")));
        }
        let mut trainer = self.trainer(opts.lr)?;
        let mut rng = SplitMix64::new(opts.seed);
        let mut order: Vec<i64> = (0..n).collect();
        let mut losses = Vec::with_capacity(opts.epochs);
        for _ in 0..opts.epochs {
            // Fisher-Yates with our own generator: the shuffle depends on
            // the seed only, not on libtorch's global one.
            for i in (1..order.len()).rev() {
                order.swap(i, (rng.next_u64() % (i as u64 + 1)) as usize);
            }
            let mut sum = 0.0;
            for chunk in order.chunks(opts.batch) {
                let idx = Tensor::from_slice(chunk).to_device(h0.device());
                let y = labels.index_select(0, &idx.to_device(labels.device()));
                let loss = trainer.step(self, &h0.index_select(0, &idx), &y)?;
                sum += loss * chunk.len() as f64;
            }
            losses.push(sum / n as f64);
        }
        Ok(losses)
    }
}
