//! The ODE-Net of the MNIST experiment trained with regularizers: the
//! image rows of the DISE paper's Table 1.

use ode_models::image::{loss_and_correct, ImageClassifier, ModelError, OdeNet, Prediction, StepOutput};
use tch::{nn, Tensor};

use crate::block::RegularizedBlock;
use crate::error::DiseError;
use crate::regularizer::Regularizers;

/// An [`OdeNet`] whose training loss is cross-entropy plus
/// `sum_k lambda_k R_k` of its regularizers, all from the block's one
/// solve. Inference is the ODE-Net's own (per sample when
/// `net.per_sample_inference` is set), so what is measured at test time
/// is the plain model's cost.
///
/// ```
/// use ode_dise::{ErrorSum, RegularizedOdeNet, Regularizers};
/// use ode_models::image::{Downsampling, ImageClassifier, OdeNet};
/// use ode_models::GradMode;
/// use tch::{Device, Kind, Tensor};
///
/// let net = OdeNet::new(Device::Cpu, Downsampling::Conv, GradMode::Aca, 1e-3);
/// let model = RegularizedOdeNet::new(net, Regularizers::new().with(ErrorSum::new(0.005)?), "error_sum");
/// let x = Tensor::rand([2, 1, 28, 28], (Kind::Float, Device::Cpu));
/// let out = model.train_step(&x, &Tensor::from_slice(&[3i64, 7])).unwrap();
/// assert!(out.regularizer > 0.0);
/// assert_eq!(model.name(), "odenet-aca-conv-error_sum");
/// # Ok::<(), ode_dise::DiseError>(())
/// ```
pub struct RegularizedOdeNet {
    pub net: OdeNet,
    regularized: RegularizedBlock,
    label: String,
}

impl RegularizedOdeNet {
    /// `net` trained with `regularizers`; `tag` joins the model's name
    /// (checkpoints of differently regularized runs do not mix).
    pub fn new(net: OdeNet, regularizers: Regularizers, tag: &str) -> Self {
        let label = format!("{}-{tag}", net.name());
        let regularized = RegularizedBlock::new(net.block.clone(), regularizers);
        RegularizedOdeNet { net, regularized, label }
    }
}

fn model_error(e: DiseError) -> ModelError {
    match e {
        DiseError::Block(b) => ModelError::Block(b),
        other => ModelError::Input(format!("regularizer: {other}")),
    }
}

impl ImageClassifier for RegularizedOdeNet {
    fn name(&self) -> String {
        self.label.clone()
    }
    fn var_store(&self) -> &nn::VarStore {
        &self.net.vs
    }
    fn var_store_mut(&mut self) -> &mut nn::VarStore {
        &mut self.net.vs
    }

    fn train_step(&self, images: &Tensor, labels: &Tensor) -> Result<StepOutput, ModelError> {
        ode_models::image::check_batch(images, Some(labels))?;
        let f = self.net.rhs();
        let z0 = self.net.encode(images);
        let fwd = self.regularized.forward(&f, &z0).map_err(model_error)?;
        let (task, correct) = loss_and_correct(&self.net.logits(&fwd.y1), labels);
        let reg = fwd.values.total.to_kind(task.kind());
        let (loss, regularizer) = (task.double_value(&[]), reg.double_value(&[]));
        if !(loss.is_finite() && regularizer.is_finite()) {
            return Err(ModelError::Diverged(loss + regularizer));
        }
        (task + reg).backward();
        let stats = self.regularized.backward(&f, fwd).map_err(model_error)?;
        Ok(StepOutput { loss, regularizer, correct, stats })
    }

    fn predict(&self, images: &Tensor) -> Result<Prediction, ModelError> {
        self.net.predict(images)
    }
}

/// What inference on a test set costs, with the whole batch stepped
/// together (the paper's count) and with each sample stepped on its own.
#[derive(Clone, Debug, serde::Serialize)]
pub struct TestCost {
    pub samples: usize,
    /// Fraction misclassified (the same model either way; the two modes'
    /// solutions differ within the tolerance, so the errors may differ a
    /// little).
    pub error_batch: f64,
    pub error_per_sample: f64,
    /// NFE of the batch solves, averaged over the evaluation batches.
    pub nfe_batch: f64,
    /// Each sample's own NFE, in test-set order.
    pub nfe_per_sample: Vec<usize>,
    pub nfe_summary: Option<ode_models::NfeSummary>,
    /// Wall-clock inference time per sample in each mode.
    pub time_per_sample_batch_s: f64,
    pub time_per_sample_per_sample_s: f64,
    pub eval_batch: usize,
}

/// Measures [`TestCost`] of `net` on `images` / `labels` in batches of
/// `batch` (restoring `net.per_sample_inference` afterwards).
pub fn measure_test_cost(
    net: &mut OdeNet,
    images: &Tensor,
    labels: &Tensor,
    batch: usize,
) -> Result<TestCost, ModelError> {
    let n = images.size().first().copied().unwrap_or(0);
    if n == 0 || labels.size() != [n] || batch == 0 {
        return Err(ModelError::Input(format!(
            "test set: {:?} images, {:?} labels, batch {batch}",
            images.size(),
            labels.size()
        )));
    }
    let was = net.per_sample_inference;
    let mut pass = |per_sample: bool| -> Result<(f64, f64, f64, Vec<usize>), ModelError> {
        net.per_sample_inference = per_sample;
        let (mut wrong, mut nfe, mut batches, mut time) = (0i64, 0usize, 0usize, 0.0);
        let mut counts = Vec::new();
        let mut start = 0;
        while start < n {
            let len = (batch as i64).min(n - start);
            let t0 = std::time::Instant::now();
            let p = net.predict(&images.narrow(0, start, len))?;
            time += t0.elapsed().as_secs_f64();
            let y = labels.narrow(0, start, len);
            wrong += p.logits.argmax(-1, false).ne_tensor(&y).sum(tch::Kind::Int64).int64_value(&[]);
            nfe += p.stats.nfe_forward;
            counts.extend(p.nfe_per_sample.unwrap_or_default());
            batches += 1;
            start += len;
        }
        Ok((wrong as f64 / n as f64, nfe as f64 / batches as f64, time / n as f64, counts))
    };
    let batch_mode = pass(false);
    let per_sample_mode = pass(true);
    net.per_sample_inference = was;
    let (error_batch, nfe_batch, time_batch, _) = batch_mode?;
    let (error_per_sample, _, time_per_sample, counts) = per_sample_mode?;
    Ok(TestCost {
        samples: n as usize,
        error_batch,
        error_per_sample,
        nfe_batch,
        nfe_summary: ode_models::NfeSummary::of(&counts),
        nfe_per_sample: counts,
        time_per_sample_batch_s: time_batch,
        time_per_sample_per_sample_s: time_per_sample,
        eval_batch: batch,
    })
}
