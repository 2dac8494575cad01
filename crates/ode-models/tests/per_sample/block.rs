//! `OdeBlock::per_sample(true)`: the per-sample solve as a Direct-mode layer.

use ode_core::SolveOptions;
use ode_models::per_sample::{solve_per_sample, Autonomous};
use ode_models::{BlockError, GradMode, OdeBlock, TorchRhs};
use tch::{Kind, Tensor};

use crate::common::{dev, max_abs_diff, Mlp};

#[test]
fn per_sample_block_trains_in_direct_mode() {
    let mlp = Mlp::new(21, 16, Kind::Double);
    for p in mlp.params() {
        let _ = p.set_requires_grad(true);
    }
    let params: Vec<Tensor> = mlp.params().into_iter().map(Tensor::shallow_clone).collect();
    let f = TorchRhs::new(|_t, y: &Tensor| mlp.forward(y), params);
    tch::manual_seed(2);
    let scale = Tensor::logspace(-1.0, 1.0, 16, 10.0, (Kind::Double, dev())).unsqueeze(1);
    let x = (Tensor::randn([16, 2], (Kind::Double, dev())) * scale).set_requires_grad(true);
    let opts = SolveOptions::default().tol(1e-6, 1e-8);
    let block = OdeBlock::new(opts.clone(), GradMode::Direct).span(0.0, 2.0).per_sample(true);

    let fwd = block.forward(&f, &x).unwrap();
    let reference =
        solve_per_sample(&Autonomous(|_t: f64, y: &Tensor| mlp.forward(y)), &x, &[0.0, 2.0], &opts).unwrap();
    assert!(max_abs_diff(&fwd.y1, &reference.ys[1]) < 1e-14);
    let ps = fwd.per_sample.as_ref().expect("per-sample statistics");
    assert_eq!(ps.nfe, reference.stats.nfe);
    assert_eq!(fwd.stats.nfe_forward, ps.n_calls);
    assert_eq!(fwd.stats.n_accepted, *ps.n_accepted.iter().max().unwrap());
    drop(fwd);

    let (loss, stats) = block.train_step(&f, &x, |y1| y1.square().mean(Kind::Double)).unwrap();
    assert!(loss.is_finite() && loss > 0.0);
    assert_eq!(stats.nfe_backward, 0);
    let gx = x.grad();
    assert!(gx.defined() && gx.abs().sum(Kind::Double).double_value(&[]) > 0.0);
    for p in mlp.params() {
        assert!(p.grad().defined(), "every dynamics parameter gets a gradient");
    }
}

#[test]
fn per_sample_block_rejects_other_modes_and_reports_solver_errors() {
    let f = TorchRhs::new(|_t, y: &Tensor| -y, vec![]);
    let x = Tensor::ones([4, 2], (Kind::Double, dev()));
    let block = OdeBlock::new(SolveOptions::default(), GradMode::Aca).per_sample(true);
    assert!(matches!(block.forward(&f, &x), Err(BlockError::Usage(_))));
    // A time-dependent function meets t = NaN and fails with a typed error.
    let g = TorchRhs::new(|t, y: &Tensor| -y * t, vec![]);
    let direct = OdeBlock::new(SolveOptions::default(), GradMode::Direct).per_sample(true);
    assert!(matches!(direct.forward(&g, &x), Err(BlockError::PerSample(_))));
    // Without the option the block is unchanged.
    let plain = OdeBlock::new(SolveOptions::default(), GradMode::Direct);
    assert!(plain.forward(&f, &x).unwrap().per_sample.is_none());
}
