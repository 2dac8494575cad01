//! The GRU baselines. All three update only on real rows (padding leaves
//! the state unchanged) and classify the last state with a linear head.
//!
//! - [`GruVariant::Plain`]: the observed values (missing channels as 0), no
//!   times: irregular sampling is invisible to it except through the
//!   missing values.
//! - [`GruVariant::TimeGap`]: values, mask, and the time since the previous
//!   row as one more input.
//! - [`GruVariant::Decay`]: GRU-D (Che et al. 2018): with `delta` the time
//!   since each channel was last observed, a missing value is imputed as
//!   `gamma_x x_last + (1 - gamma_x) mean` with
//!   `gamma_x = exp(-relu(w_x delta + b_x))` (per channel, diagonal), the
//!   hidden state decays by `gamma_h = exp(-relu(W_h delta + b_h))` before
//!   each update, and the GRU reads the imputed values and the mask. The
//!   empirical mean is 0 because the inputs are standardized with the
//!   training statistics ([`super::Standardizer`]).

use std::str::FromStr;

use tch::nn::{self, Module};
use tch::{Device, Tensor};

use super::gru::GruCell;
use super::{cross_entropy, Inference, SeriesBatch, SeriesClassifier, StepOutput, TsModelError};

/// Which baseline.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GruVariant {
    Plain,
    TimeGap,
    Decay,
}

impl GruVariant {
    pub fn name(self) -> &'static str {
        match self {
            GruVariant::Plain => "gru",
            GruVariant::TimeGap => "gru-dt",
            GruVariant::Decay => "gru-d",
        }
    }

    fn gru_input(self, channels: i64) -> i64 {
        match self {
            GruVariant::Plain => channels,
            GruVariant::TimeGap => 2 * channels + 1,
            GruVariant::Decay => 2 * channels,
        }
    }

    /// Trainable scalars of the classifier with `hidden` units.
    pub fn parameter_count(self, channels: i64, classes: i64, hidden: i64) -> i64 {
        let decay = match self {
            GruVariant::Decay => 2 * channels + channels * hidden + hidden,
            _ => 0,
        };
        GruCell::parameter_count(self.gru_input(channels), hidden) + decay + hidden * classes + classes
    }
}

impl FromStr for GruVariant {
    type Err = TsModelError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "gru" => Ok(GruVariant::Plain),
            "gru-dt" => Ok(GruVariant::TimeGap),
            "gru-d" => Ok(GruVariant::Decay),
            other => Err(TsModelError::InvalidArgument {
                name: "model",
                reason: format!("unknown GRU baseline `{other}`; use gru, gru-dt or gru-d"),
            }),
        }
    }
}

/// GRU-D's decay parameters.
struct Decay {
    w_x: Tensor,
    b_x: Tensor,
    to_h: nn::Linear,
}

pub struct GruClassifier {
    vs: nn::VarStore,
    pub variant: GruVariant,
    pub gru: GruCell,
    decay: Option<Decay>,
    head: nn::Linear,
}

impl GruClassifier {
    pub fn new(variant: GruVariant, channels: i64, classes: i64, hidden: i64, device: Device) -> Self {
        let vs = nn::VarStore::new(device);
        let root = vs.root();
        let gru = GruCell::new(&root / "gru", variant.gru_input(channels), hidden);
        let decay = (variant == GruVariant::Decay).then(|| Decay {
            w_x: (&root / "decay").zeros("w_x", &[channels]),
            b_x: (&root / "decay").zeros("b_x", &[channels]),
            to_h: nn::linear(&root / "decay" / "h", channels, hidden, Default::default()),
        });
        let head = nn::linear(&root / "head", hidden, classes, Default::default());
        GruClassifier { vs, variant, gru, decay, head }
    }

    fn logits(&self, batch: &SeriesBatch) -> Result<Tensor, TsModelError> {
        let (b, t, c) = (batch.batch_size(), batch.steps(), batch.channels());
        let expected = self.gru.input;
        if self.variant.gru_input(c) != expected {
            return Err(TsModelError::Shape(format!(
                "{c} channels for a {} built for another count",
                self.variant.name()
            )));
        }
        let opts = (batch.values.kind(), batch.values.device());
        let mut h = Tensor::zeros([b, self.gru.hidden], opts);
        // GRU-D's memory: each channel's last observed value and time.
        let mut x_last = Tensor::zeros([b, c], opts);
        let mut t_last = batch.times.select(1, 0).unsqueeze(1).expand([b, c], false).copy();
        for k in 0..t {
            let x = batch.values.select(1, k);
            let m = batch.observed.select(1, k);
            let valid = batch.valid_at(k);
            let any = m.amax(&[1i64][..], true);
            h = match (&self.decay, self.variant) {
                (Some(d), _) => {
                    let tk = batch.times.select(1, k).unsqueeze(1);
                    let delta = &tk - &t_last;
                    let gamma_x = (-(&delta * &d.w_x + &d.b_x).relu()).exp();
                    let x_hat = &m * &x + (1.0 - &m) * (&gamma_x * &x_last);
                    let gamma_h = (-d.to_h.forward(&delta).relu()).exp();
                    let h_new = self.gru.step(&Tensor::cat(&[x_hat, m.shallow_clone()], 1), &(&gamma_h * &h));
                    let seen = &m * &valid;
                    x_last = &seen * &x + (1.0 - &seen) * &x_last;
                    t_last = &seen * &tk + (1.0 - &seen) * &t_last;
                    &valid * h_new + (1.0 - &valid) * &h
                }
                (None, GruVariant::TimeGap) => {
                    let input = Tensor::cat(&[x, m, batch.gap_into(k)], 1);
                    self.gru.masked_step(&input, &h, &(&valid * any))
                }
                (None, _) => self.gru.masked_step(&x, &h, &(&valid * any)),
            };
        }
        Ok(self.head.forward(&h))
    }
}

impl SeriesClassifier for GruClassifier {
    fn name(&self) -> &'static str {
        self.variant.name()
    }

    fn var_store(&self) -> &nn::VarStore {
        &self.vs
    }

    fn var_store_mut(&mut self) -> &mut nn::VarStore {
        &mut self.vs
    }

    fn train_step(&self, batch: &SeriesBatch) -> Result<StepOutput, TsModelError> {
        let loss = cross_entropy(&self.logits(batch)?, &batch.labels);
        let value = loss.double_value(&[]);
        if !value.is_finite() {
            return Err(TsModelError::NonFiniteLoss(value));
        }
        loss.backward();
        Ok(StepOutput { loss: value, stats: Default::default() })
    }

    fn infer(&self, batch: &SeriesBatch) -> Result<Inference, TsModelError> {
        let logits = tch::no_grad(|| self.logits(batch))?;
        Ok(Inference { logits, nfe_per_sample: vec![0; batch.lengths.len()] })
    }
}
