//! Test metrics: accuracy, macro one-vs-rest AUC, NFE and wall clock per
//! sample.
//!
//! **NFE per sample.** A batched solve steps all its series together, so
//! its NFE is not any one series' cost. The evaluation charges each series
//! the NFE of every solve it took part in while its state was still moving
//! (the evaluations its state went through; see
//! [`super::OdeRnnEncoder::encode`]). With `batch_size` 1 (the default of
//! the binary) every series is solved alone and this is exactly its own
//! cost; with larger batches it is an upper bound, the batch's hardest
//! series setting the steps.
//!
//! **Wall clock per sample** is the time of the inference passes (forward
//! without gradients, batches already on the device) divided by the number
//! of series.

use std::time::Instant;

use serde::{Deserialize, Serialize};
use tch::{Device, Kind};

use super::batch::{SeriesBatch, Standardizer};
use super::metrics::{accuracy, macro_auc};
use super::{SeriesClassifier, TsModelError};
use crate::data::SeriesTensors;
use crate::NfeSummary;

/// Metrics of a model on a test set.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TestMetrics {
    pub samples: usize,
    pub accuracy: f64,
    /// Macro average of the one-vs-rest AUCs of the softmax scores.
    pub macro_auc: Option<f64>,
    /// `None` for the models without an ODE.
    pub nfe_per_sample: Option<NfeSummary>,
    pub time_per_sample_s: f64,
    pub batch_size: usize,
    pub mean_loss: f64,
}

/// Evaluates `model` on every series of `data` in order, `batch_size` at a
/// time.
pub fn evaluate(
    model: &dyn SeriesClassifier,
    data: &SeriesTensors,
    scale: &Standardizer,
    batch_size: usize,
    classes: usize,
) -> Result<TestMetrics, TsModelError> {
    let n = data.len();
    if n == 0 || batch_size == 0 {
        return Err(TsModelError::InvalidArgument {
            name: "evaluate",
            reason: format!("{n} series, batch size {batch_size}"),
        });
    }
    let vs = model.var_store();
    let (kind, device): (Kind, Device) = (super::ode_rnn::store_kind(vs), vs.device());
    let (mut predicted, mut labels, mut probs, mut nfe) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let (mut seconds, mut loss_sum) = (0.0, 0.0);
    let all: Vec<usize> = (0..n).collect();
    for which in all.chunks(batch_size) {
        let batch = SeriesBatch::gather(data, which, scale, kind, device)?;
        let start = Instant::now();
        let out = model.infer(&batch)?;
        let _ = out.logits.double_value(&[0, 0]); // wait for the device
        seconds += start.elapsed().as_secs_f64();
        let loss = super::cross_entropy(&out.logits, &batch.labels).double_value(&[]);
        loss_sum += loss * which.len() as f64;
        let p = out.logits.softmax(-1, Kind::Double).to_device(Device::Cpu);
        let rows: Vec<Vec<f64>> = Vec::try_from(&p)?;
        let arg: Vec<i64> = Vec::try_from(&p.argmax(-1, false))?;
        let lab: Vec<i64> = Vec::try_from(&batch.labels.to_device(Device::Cpu))?;
        predicted.extend(arg.iter().map(|&a| a as usize));
        labels.extend(lab.iter().map(|&l| l as usize));
        probs.extend(rows);
        nfe.extend(out.nfe_per_sample);
    }
    Ok(TestMetrics {
        samples: n,
        accuracy: accuracy(&predicted, &labels).unwrap_or(f64::NAN),
        macro_auc: macro_auc(&probs, &labels, classes),
        nfe_per_sample: if nfe.iter().any(|&c| c > 0) { NfeSummary::of(&nfe) } else { None },
        time_per_sample_s: seconds / n as f64,
        batch_size,
        mean_loss: loss_sum / n as f64,
    })
}
