//! OdeBlock: the four gradient modes agree, and training reduces the loss.

use ode_autodiff::{AdjointOptions, MaliOptions};
use ode_core::SolveOptions;
use ode_models::block::ErrorWeighting;
use ode_models::{BlockError, GradMode, OdeBlock, TorchRhs};
use tch::nn::{self, Module, OptimizerConfig};
use tch::{Device, Kind, Tensor};

/// A pre-layer, a tanh MLP dynamics (2 -> 16 -> 2) and a linear head, in f64.
struct Model {
    vs_pre: nn::VarStore,
    vs_ode: nn::VarStore,
    pre: nn::Linear,
    l1: nn::Linear,
    l2: nn::Linear,
    head: nn::Linear,
}

/// torch's generator is global and the tests of this file run in parallel
/// threads: every draw goes through here, seeded and under one lock, so no
/// test's draws fall between another's seed and its draws.
fn seeded<T>(seed: i64, draw: impl FnOnce() -> T) -> T {
    static GENERATOR: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _held = GENERATOR.lock().unwrap_or_else(|e| e.into_inner());
    tch::manual_seed(seed);
    draw()
}

fn model(seed: i64) -> Model {
    seeded(seed, model_unlocked)
}

fn model_unlocked() -> Model {
    let mut vs_pre = nn::VarStore::new(Device::Cpu);
    let mut vs_ode = nn::VarStore::new(Device::Cpu);
    let pre = nn::linear(vs_pre.root() / "pre", 3, 2, Default::default());
    let head = nn::linear(vs_pre.root() / "head", 2, 1, Default::default());
    let l1 = nn::linear(vs_ode.root() / "l1", 2, 16, Default::default());
    let l2 = nn::linear(vs_ode.root() / "l2", 16, 2, Default::default());
    vs_pre.double();
    vs_ode.double();
    Model { vs_pre, vs_ode, pre, l1, l2, head }
}

fn data() -> (Tensor, Tensor) {
    let x = seeded(7, || Tensor::randn([32, 3], (Kind::Double, Device::Cpu)));
    let y = (x.sum_dim_intlist(1, true, Kind::Double) * 0.5).sin();
    (x, y)
}

/// Runs one training-step gradient computation and returns all gradients
/// (pre-layer, dynamics, head) flattened, plus the loss.
fn gradients(m: &Model, mode: GradMode, rtol: f64) -> (Vec<f64>, f64) {
    gradients_with_errors(m, mode, rtol, None)
}

/// [`gradients`] of the task loss plus `lambda` times the sum of the
/// block's step error sums (DISE's error regularizer), when given.
fn gradients_with_errors(m: &Model, mode: GradMode, rtol: f64, lambda: Option<f64>) -> (Vec<f64>, f64) {
    let (x, y) = data();
    for v in m.vs_pre.trainable_variables().iter().chain(m.vs_ode.trainable_variables().iter()) {
        let mut g = v.grad();
        if g.defined() {
            let _ = g.zero_();
        }
    }
    let f =
        TorchRhs::new(|_t, z: &Tensor| m.l2.forward(&m.l1.forward(z).tanh()), m.vs_ode.trainable_variables());
    let block = OdeBlock::new(SolveOptions::default().tol(rtol, rtol * 1e-2), mode)
        .step_errors(lambda.map(|_| ErrorWeighting::PerStep));
    let z0 = m.pre.forward(&x);
    let (loss, _) = block
        .train_step_with_errors(&f, &z0, |z1, errors| {
            let task = (m.head.forward(z1) - &y).square().mean(Kind::Double);
            match (lambda, errors) {
                (Some(l), Some(e)) => task + e.sum(Kind::Double) * l,
                _ => task,
            }
        })
        .unwrap();
    let mut all = Vec::new();
    let mut vars: Vec<(String, Tensor)> = m.vs_pre.variables().into_iter().collect();
    vars.extend(m.vs_ode.variables());
    vars.sort_by(|a, b| a.0.cmp(&b.0));
    for (_, v) in vars {
        let g: Vec<f64> = Vec::try_from(v.grad().flatten(0, -1)).unwrap();
        all.extend(g);
    }
    (all, loss)
}

fn rel(a: &[f64], b: &[f64]) -> f64 {
    let num: f64 = a.iter().zip(b).map(|(p, q)| (p - q) * (p - q)).sum::<f64>().sqrt();
    let den: f64 = b.iter().map(|q| q * q).sum::<f64>().sqrt();
    num / den
}

#[test]
fn direct_and_aca_agree_and_adjoint_is_within_its_tolerance() {
    let m = model(1);
    let (direct, l_direct) = gradients(&m, GradMode::Direct, 1e-6);
    let (aca, l_aca) = gradients(&m, GradMode::Aca, 1e-6);
    assert_eq!(l_direct, l_aca, "the forward passes are the same solve");
    // Both are the exact derivative of the same discrete solve: equal to
    // round-off (the issue asks for 1e-6 relative).
    // Measured: bitwise equal (0), adjoint 1.1e-7, MALI 8.2e-8.
    let e = rel(&aca, &direct);
    assert!(e < 1e-10, "ACA vs Direct: {e:e}");
    let (adjoint, _) = gradients(&m, GradMode::Adjoint(AdjointOptions::default().tol(1e-9, 1e-11)), 1e-6);
    let e = rel(&adjoint, &direct);
    // Both approximate the true gradient to about the forward tolerance.
    assert!(e < 1e-4, "adjoint vs Direct: {e:e}");
    let (mali, _) = gradients(&m, GradMode::Mali(MaliOptions::default()), 1e-6);
    let e = rel(&mali, &direct);
    assert!(e < 1e-2, "MALI vs Direct: {e:e}");
}

/// The same for the error regularizer: ACA's cotangents of the accepted
/// steps' error estimates (`backward_with_errors`) against autograd
/// through the recorded stages, for every parameter before, inside and
/// after the block.
#[test]
fn direct_and_aca_agree_on_the_error_regularizer() {
    let m = model(1);
    let (direct, l_direct) = gradients_with_errors(&m, GradMode::Direct, 1e-6, Some(0.05));
    let (aca, l_aca) = gradients_with_errors(&m, GradMode::Aca, 1e-6, Some(0.05));
    assert_eq!(l_direct, l_aca, "the same solve and the same error sums");
    let (plain, _) = gradients(&m, GradMode::Direct, 1e-6);
    assert!(rel(&plain, &direct) > 0.1, "the regularizer changes the gradient");
    // err_n is a small difference of stages, so the two sweeps' round-off
    // is magnified in it. Measured: 1.1e-12 (the regularizer moves the
    // gradient by 0.53 relative); bound 1e-10.
    let e = rel(&aca, &direct);
    assert!(e < 1e-10, "ACA vs Direct: {e:e}");
}

#[test]
fn training_reduces_the_loss_in_every_mode() {
    let modes = [
        GradMode::Direct,
        GradMode::Aca,
        GradMode::Adjoint(AdjointOptions::default()),
        GradMode::Mali(MaliOptions::default()),
    ];
    for mode in modes {
        let m = model(3);
        let (x, y) = data();
        let params: Vec<Tensor> =
            m.vs_pre.trainable_variables().into_iter().chain(m.vs_ode.trainable_variables()).collect();
        let mut opt_pre = nn::Adam::default().build(&m.vs_pre, 0.02).unwrap();
        let mut opt_ode = nn::Adam::default().build(&m.vs_ode, 0.02).unwrap();
        let f = TorchRhs::new(
            |_t, z: &Tensor| m.l2.forward(&m.l1.forward(z).tanh()),
            m.vs_ode.trainable_variables(),
        );
        // Loose tolerances and few steps keep this test quick; each mode
        // must still cut the loss by half (measured: 14.9 -> 0.97).
        let block = OdeBlock::new(SolveOptions::default().tol(1e-3, 1e-5), mode.clone());
        let mut losses = Vec::new();
        for _ in 0..12 {
            opt_pre.zero_grad();
            opt_ode.zero_grad();
            let z0 = m.pre.forward(&x);
            let (loss, stats) = block
                .train_step(&f, &z0, |z1| (m.head.forward(z1) - &y).square().mean(Kind::Double))
                .unwrap();
            assert!(stats.nfe_forward > 0);
            losses.push(loss);
            opt_pre.step();
            opt_ode.step();
        }
        assert!(params.iter().all(|p| p.grad().defined()), "{}: every parameter got a gradient", mode.name());
        let (first, last) = (losses[0], *losses.last().unwrap());
        assert!(last < 0.5 * first, "{}: loss {first} -> {last}", mode.name());
    }
}

#[test]
fn backward_before_loss_backward_is_a_usage_error() {
    let m = model(5);
    let f =
        TorchRhs::new(|_t, z: &Tensor| m.l2.forward(&m.l1.forward(z).tanh()), m.vs_ode.trainable_variables());
    let block = OdeBlock::new(SolveOptions::default(), GradMode::Aca);
    let z0 = Tensor::ones([4, 2], (Kind::Double, Device::Cpu));
    let fwd = block.forward(&f, &z0).unwrap();
    assert!(matches!(block.backward(&f, fwd), Err(BlockError::Usage(_))));
}

#[test]
fn nan_input_is_a_typed_error() {
    let m = model(6);
    let f =
        TorchRhs::new(|_t, z: &Tensor| m.l2.forward(&m.l1.forward(z).tanh()), m.vs_ode.trainable_variables());
    let z0 = Tensor::full([4, 2], f64::NAN, (Kind::Double, Device::Cpu));
    for mode in [GradMode::Direct, GradMode::Aca] {
        let block = OdeBlock::new(SolveOptions::default(), mode);
        assert!(block.forward(&f, &z0).is_err());
    }
}

/// The adjoint carries the parameter gradient as one flat tensor; split
/// back, it equals autograd's per-parameter gradient of `a . f(y)`.
#[test]
fn flat_parameter_vjp_splits_into_autograd_gradients() {
    use ode_autodiff::VjpRhs;
    let m = model(11);
    let params = m.vs_ode.trainable_variables();
    let f = TorchRhs::new(
        |_t, y: &Tensor| m.l2.forward(&m.l1.forward(y).tanh()),
        params.iter().map(Tensor::shallow_clone).collect(),
    );
    let (y, a) = seeded(12, || {
        (
            Tensor::randn([5, 2], (Kind::Double, Device::Cpu)),
            Tensor::randn([5, 2], (Kind::Double, Device::Cpu)),
        )
    });
    let (_, flat) = f.vjp(0.0, &y, &a);
    assert_eq!(flat.size(), [f.zero_params().numel() as i64]);
    let parts = f.split_params(&flat);
    assert_eq!(parts.len(), params.len());
    let scalar = (m.l2.forward(&m.l1.forward(&y).tanh()) * &a).sum(Kind::Double);
    let refs = Tensor::run_backward(&[scalar], &params, false, false);
    for ((p, got), want) in params.iter().zip(&parts).zip(&refs) {
        assert_eq!(got.size(), p.size());
        let diff = (got - want).abs().max().double_value(&[]);
        assert!(diff < 1e-14, "parameter gradient differs by {diff}");
    }
}
