//! Training with the error regularizer makes the learned dynamics cheaper
//! for dopri5 than training without it, on a toy regression.

use ode_core::SolveOptions;
use ode_dise::{ErrorSum, RegularizedBlock, Regularizers};
use ode_models::{GradMode, OdeBlock, TorchRhs};
use tch::nn::{self, Module, OptimizerConfig};
use tch::{Device, Kind, Tensor};

/// Trains `y1 = R x` (a rotation by 1 radian) with a 2 -> 32 -> 2 tanh
/// dynamics, returns the final task loss and dopri5's NFE on the training
/// batch after training.
fn train(lambda: Option<f64>, steps: usize) -> (f64, usize) {
    // Tiny tensors: one thread avoids synchronisation overhead.
    tch::set_num_threads(1);
    tch::manual_seed(0);
    let vs = nn::VarStore::new(Device::Cpu);
    let cfg = nn::LinearConfig { ws_init: nn::Init::Randn { mean: 0.0, stdev: 1.5 }, ..Default::default() };
    let l1 = nn::linear(vs.root() / "l1", 2, 32, cfg);
    let l2 = nn::linear(vs.root() / "l2", 32, 2, Default::default());
    let f = TorchRhs::new(|_t, y: &Tensor| l2.forward(&l1.forward(y).tanh()), vs.trainable_variables());
    let x = Tensor::randn([64, 2], (Kind::Float, Device::Cpu));
    let (c, s) = (1f64.cos(), 1f64.sin());
    let rot = Tensor::from_slice(&[c as f32, -s as f32, s as f32, c as f32]).reshape([2, 2]);
    let target = x.matmul(&rot.tr());
    let opts = SolveOptions::default().tol(1e-6, 1e-8);
    let regs = match lambda {
        Some(l) => Regularizers::new().with(ErrorSum::new(l).unwrap()),
        None => Regularizers::new(),
    };
    let block = RegularizedBlock::new(OdeBlock::new(opts.clone(), GradMode::Direct), regs);
    let mut opt = nn::Adam::default().build(&vs, 2e-2).unwrap();
    let mut loss = f64::NAN;
    for _ in 0..steps {
        opt.zero_grad();
        let step = block.train_step(&f, &x, |y1| (y1 - &target).square().mean(Kind::Float)).unwrap();
        loss = step.loss;
        opt.step();
    }
    let plain = OdeBlock::new(opts, GradMode::Direct);
    let nfe = tch::no_grad(|| plain.forward(&f, &x).unwrap().stats.nfe_forward);
    (loss, nfe)
}

#[test]
fn error_regularizer_lowers_dopri_nfe() {
    let (loss_plain, nfe_plain) = train(None, 300);
    let (loss_reg, nfe_reg) = train(Some(0.01), 300);
    // Measured (2 s for both runs): NFE 56 without the regularizer, 38 with
    // it (0.68x: 9 accepted steps become 6), at a task loss of 5.3e-4 and
    // 5.6e-3. Bounds: at most 0.8x the NFE, and a loss that still fits the
    // rotation (the targets have variance 1).
    assert!(
        (nfe_reg as f64) <= 0.8 * nfe_plain as f64,
        "NFE {nfe_reg} with the regularizer vs {nfe_plain} without"
    );
    assert!(loss_reg < 0.02 && loss_plain < 0.02, "task losses {loss_reg} and {loss_plain}");
}
