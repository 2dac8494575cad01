//! ODE-Net, ResNet and RK-Net of the MNIST experiment: parameter counts of
//! the reference architecture, output shapes, and a few SGD steps on a tiny
//! random batch reduce the loss.

use ode_models::image::{Downsampling, ImageClassifier, ModelError, OdeNet, ResNet, RkNet, DEFAULT_TOL};
use ode_models::GradMode;
use tch::nn::{self, OptimizerConfig};
use tch::{Device, Kind, Tensor};

fn dev() -> Device {
    ode_models::DeviceFlag::Auto.resolve()
}

#[test]
fn parameter_counts_match_the_reference() {
    let d = dev();
    let count = |m: &dyn ImageClassifier| m.parameter_count();
    assert_eq!(count(&OdeNet::new(d, Downsampling::Conv, GradMode::Aca, DEFAULT_TOL)), 208_266);
    assert_eq!(count(&OdeNet::new(d, Downsampling::Res, GradMode::Aca, DEFAULT_TOL)), 232_970);
    assert_eq!(count(&RkNet::new(d, Downsampling::Conv, 4)), 208_266);
    assert_eq!(count(&ResNet::new(d, Downsampling::Conv)), 576_778);
    assert_eq!(count(&ResNet::new(d, Downsampling::Res)), 601_482);
}

#[test]
fn outputs_are_batch_by_ten_and_bad_input_is_an_error() {
    tch::manual_seed(0);
    let d = dev();
    let x = Tensor::rand([3, 1, 28, 28], (Kind::Float, d));
    let models: Vec<Box<dyn ImageClassifier>> = vec![
        Box::new(OdeNet::new(d, Downsampling::Conv, GradMode::Direct, DEFAULT_TOL)),
        Box::new(OdeNet::new(d, Downsampling::Res, GradMode::Aca, DEFAULT_TOL)),
        Box::new(ResNet::new(d, Downsampling::Conv)),
        Box::new(ResNet::new(d, Downsampling::Res)),
        Box::new(RkNet::new(d, Downsampling::Conv, 2)),
    ];
    for m in &models {
        let p = m.predict(&x).unwrap();
        assert_eq!(p.logits.size(), [3, 10], "{}", m.name());
        assert!(!p.logits.requires_grad());
    }
    let m = &models[0];
    assert!(p_err(m.predict(&Tensor::rand([3, 28, 28], (Kind::Float, d)))));
    assert!(p_err(m.predict(&Tensor::ones([3, 1, 28, 28], (Kind::Int64, d)))));
    let labels = Tensor::from_slice(&[0i64, 1, 12]).to_device(d);
    assert!(matches!(m.train_step(&x, &labels), Err(ModelError::Input(_))));
    let labels = Tensor::from_slice(&[0i64, 1]).to_device(d);
    assert!(matches!(m.train_step(&x, &labels), Err(ModelError::Input(_))));
}

fn p_err<T>(r: Result<T, ModelError>) -> bool {
    matches!(r, Err(ModelError::Input(_)))
}

/// Cross-entropy on the batch after `steps` SGD steps, relative to before.
fn loss_ratio(m: &dyn ImageClassifier, steps: usize) -> (f64, f64) {
    let d = m.device();
    tch::manual_seed(11);
    let x = Tensor::rand([8, 1, 28, 28], (Kind::Float, d));
    let y = Tensor::randint(10, [8], (Kind::Int64, d));
    let loss = |m: &dyn ImageClassifier| {
        m.predict(&x).unwrap().logits.cross_entropy_for_logits(&y).double_value(&[])
    };
    let before = loss(m);
    let mut opt = nn::Sgd { momentum: 0.9, ..Default::default() }.build(m.var_store(), 0.05).unwrap();
    for _ in 0..steps {
        opt.zero_grad();
        let out = m.train_step(&x, &y).unwrap();
        assert!(out.loss.is_finite() && (0..=8).contains(&out.correct));
        opt.step();
    }
    (before, loss(m))
}

#[test]
fn a_few_sgd_steps_reduce_the_loss() {
    let d = dev();
    let models: Vec<Box<dyn ImageClassifier>> = vec![
        Box::new(OdeNet::new(d, Downsampling::Conv, GradMode::Aca, DEFAULT_TOL)),
        Box::new(OdeNet::new(d, Downsampling::Conv, GradMode::Direct, DEFAULT_TOL)),
        Box::new(RkNet::new(d, Downsampling::Conv, 2)),
        Box::new(ResNet::new(d, Downsampling::Conv)),
    ];
    for m in &models {
        let (before, after) = loss_ratio(m.as_ref(), 6);
        assert!(after < 0.8 * before, "{}: loss {before} -> {after}", m.name());
    }
}

#[test]
fn aca_training_reports_backward_evaluations() {
    let d = dev();
    tch::manual_seed(3);
    let m = OdeNet::new(d, Downsampling::Conv, GradMode::Aca, DEFAULT_TOL);
    let x = Tensor::rand([4, 1, 28, 28], (Kind::Float, d));
    let y = Tensor::from_slice(&[1i64, 2, 3, 4]).to_device(d);
    let out = m.train_step(&x, &y).unwrap();
    assert!(out.stats.nfe_forward > 0 && out.stats.nfe_backward > 0, "{:?}", out.stats);
    assert!(m.var_store().trainable_variables().iter().all(|p| p.grad().defined()));
}

/// Per-sample inference: each sample's NFE is the NFE of solving it alone
/// (a batch of one is ode-core's own solve), and the logits agree with
/// solving each sample alone. Images scaled differently get different
/// step counts, so the test can tell per-sample counts from a shared one.
#[test]
fn per_sample_inference_counts_each_sample_alone() {
    tch::manual_seed(3);
    let d = dev();
    let mut net = OdeNet::new(d, Downsampling::Conv, GradMode::Direct, 1e-4);
    let scales = Tensor::from_slice(&[0.0f32, 1.0, 8.0, 30.0]).view([4, 1, 1, 1]).to_device(d);
    let x = Tensor::rand([4, 1, 28, 28], (Kind::Float, d)) * scales;
    net.per_sample_inference = true;
    let p = net.predict(&x).unwrap();
    let counts = p.nfe_per_sample.clone().expect("per-sample counts");
    assert_eq!(counts.len(), 4);
    net.per_sample_inference = false;
    for (b, &nfe) in counts.iter().enumerate() {
        let alone = net.predict(&x.narrow(0, b as i64, 1)).unwrap();
        assert!(alone.nfe_per_sample.is_none());
        assert_eq!(nfe, alone.stats.nfe_forward, "sample {b}: per-sample count vs its own solve");
        // Same steps, same arithmetic up to the batched convolutions' f32
        // summation order: measured max difference ~1e-6; margin 50x.
        let diff = (p.logits.get(b as i64) - alone.logits.get(0)).abs().max().double_value(&[]);
        assert!(diff < 5e-5, "sample {b}: logits differ by {diff}");
    }
    // (The batch solve's count is not the largest of these: its error norm
    // is the RMS over the whole batch, so it takes steps of its own.)
    assert!(counts.iter().min() < counts.iter().max(), "the scales should give different counts: {counts:?}");
}
