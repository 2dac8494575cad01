//! `OdeBlock::step_errors`: the per-sample sums of the accepted steps'
//! scaled error estimates, their gradients in Direct and ACA mode, with
//! full-batch and per-sample stepping, and the typed errors of the modes
//! that cannot differentiate them.

use ode_autodiff::{AdjointOptions, MaliOptions};
use ode_core::tableau::{ADAPTIVE_HEUN, BOSH3, DOPRI8, FEHLBERG2, TSIT5};
use ode_core::{solve, Rhs, SolveOptions};
use ode_models::block::ErrorWeighting;
use ode_models::per_sample::{solve_per_sample, Autonomous};
use ode_models::{BlockError, GradMode, OdeBlock, TorchRhs};
use tch::{Device, Kind, Tensor};

#[path = "support/mlp.rs"]
#[allow(dead_code)]
mod mlp;
use mlp::{f64s, input, rel, serial, Mlp};

/// For one sample the block's sum is the sum of the error ratios the
/// controller itself computed (ode-core's `StepRecord::error_ratio`).
#[test]
fn one_sample_sum_is_the_controllers_ratio_sum() {
    let _serial = serial();
    let mlp = Mlp::new(1, 1.0);
    let f = TorchRhs::new(|_t, y: &Tensor| mlp.forward(y), mlp.params());
    let opts = SolveOptions::default().tol(1e-7, 1e-9);
    let x = input(2, 1);
    let reference = tch::no_grad(|| solve(&f, x.shallow_clone(), &[0.0, 1.0], &opts)).unwrap();
    let ratio_sum: f64 = reference.steps.iter().map(|s| s.error_ratio).sum();
    let dt_sum: f64 = reference.steps.iter().map(|s| s.error_ratio * s.h.abs()).sum();
    for (mode, weighting, want) in [
        (GradMode::Direct, ErrorWeighting::PerStep, ratio_sum),
        (GradMode::Aca, ErrorWeighting::PerStep, ratio_sum),
        (GradMode::Direct, ErrorWeighting::StepSize, dt_sum),
    ] {
        let block = OdeBlock::new(opts.clone(), mode.clone()).step_errors(weighting);
        let fwd = block.forward(&f, &x).unwrap();
        assert_eq!(fwd.stats.n_accepted, reference.steps.len(), "the same steps");
        let got = fwd.error_sums.as_ref().unwrap().double_value(&[0]);
        // Same numbers, reduced in another order: measured <= 2e-16.
        assert!((got - want).abs() <= 1e-13 * want, "{} {weighting:?}: {got} vs {want}", mode.name());
        assert!(reference.steps.len() >= 4 && ratio_sum > 0.0, "several steps with a non-zero error");
    }
}

/// The full-batch norm splits per sample: the controller's ratio of a
/// step is the RMS of the samples' ratios, so with a batch of copies of
/// one sample every copy gets that sample's sum.
#[test]
fn copies_of_one_sample_share_the_batch_ratio() {
    let _serial = serial();
    let mlp = Mlp::new(3, 1.0);
    let f = TorchRhs::new(|_t, y: &Tensor| mlp.forward(y), mlp.params());
    let opts = SolveOptions::default().tol(1e-5, 1e-7);
    let one = input(4, 1);
    let batch = one.repeat([3, 1]);
    let block = OdeBlock::new(opts, GradMode::Direct).step_errors(ErrorWeighting::PerStep);
    let single = block.forward(&f, &one).unwrap().error_sums.unwrap().double_value(&[0]);
    let sums = f64s(&block.forward(&f, &batch).unwrap().error_sums.unwrap());
    // The batched matmul rounds f differently from a batch of one, and
    // err_n, a small difference of stages, magnifies that rounding.
    // Measured: 2.1e-11 relative; bound 1e-8.
    for s in sums {
        assert!((s - single).abs() <= 1e-8 * single, "{s} vs {single}");
    }
}

/// Gradients of `task + lambda R_err` (and of `R_err` alone) with respect to
/// the dynamics and the block input: ACA replays the accepted steps and
/// takes the error cotangents, Direct differentiates the recorded stages;
/// both are the exact derivative of the same discrete solve.
#[test]
fn direct_and_aca_give_the_same_error_gradient() {
    let _serial = serial();
    let mlp = Mlp::new(5, 1.5);
    let f = TorchRhs::new(|_t, y: &Tensor| mlp.forward(y), mlp.params());
    let opts = SolveOptions::default().tol(1e-6, 1e-8);
    let run = |mode: GradMode, weighting: ErrorWeighting, with_task: bool| {
        mlp.zero_grads();
        let x = input(6, 8).set_requires_grad(true);
        let z0 = &x * 1.0;
        let block = OdeBlock::new(opts.clone(), mode).step_errors(weighting);
        let (loss, stats) = block
            .train_step_with_errors(&f, &z0, |y1, errs| {
                let r = errs.unwrap().sum(Kind::Double) * 0.3;
                if with_task {
                    y1.square().mean(Kind::Double) + r
                } else {
                    r
                }
            })
            .unwrap();
        let mut g = mlp.grads();
        g.extend(f64s(&x.grad()));
        (g, loss, stats)
    };
    for weighting in [ErrorWeighting::PerStep, ErrorWeighting::StepSize] {
        for with_task in [true, false] {
            let (direct, l_direct, s_direct) = run(GradMode::Direct, weighting, with_task);
            let (aca, l_aca, s_aca) = run(GradMode::Aca, weighting, with_task);
            assert_eq!(l_direct, l_aca, "the same forward solve");
            assert_eq!(s_direct.n_accepted, s_aca.n_accepted);
            assert!(s_aca.nfe_backward > 0);
            // err_n is a small difference of stages, so round-off in the
            // stages is magnified in it; the two sweeps add it in different
            // orders. Measured: 1.8e-13 to 2.6e-12; bound 1e-10.
            let e = rel(&aca, &direct);
            assert!(e < 1e-10, "{weighting:?}, task {with_task}: ACA vs Direct {e:e}");
            assert!(direct.iter().any(|g| *g != 0.0));
        }
    }
}

/// The regularizer's gradient holds the step sizes fixed (as the block's
/// gradients always do) and the error scale constant (it is detached), so
/// finite differences are taken on a fixed step grid with `rtol = 0`: then
/// the forward is a smooth function of the parameters and the scale is
/// `atol`, and differences see the function autograd differentiates.
#[test]
fn error_gradient_matches_finite_differences_on_fixed_steps() {
    let _serial = serial();
    let mlp = Mlp::new(7, 1.5);
    let f = TorchRhs::new(|_t, y: &Tensor| mlp.forward(y), mlp.params());
    let opts = SolveOptions::default().tol(0.0, 1e-5).fixed_step(0.125);
    let x = input(8, 4);
    let block = OdeBlock::new(opts, GradMode::Direct).step_errors(ErrorWeighting::PerStep);
    let value = |mlp_x: &Tensor| -> f64 {
        tch::no_grad(|| {
            block.forward(&f, mlp_x).unwrap().error_sums.unwrap().sum(Kind::Double).double_value(&[])
        })
    };
    mlp.zero_grads();
    let xg = x.detach().set_requires_grad(true);
    block.forward(&f, &xg).unwrap().error_sums.unwrap().sum(Kind::Double).backward();
    let analytic_w1 = f64s(&mlp.w1.grad());
    let analytic_x = f64s(&xg.grad());
    // The largest relative difference over 12 entries of w1 and all of x
    // (gradients below 1e-3 measured against 1e-3).
    let worst_at = |eps: f64| -> f64 {
        let mut worst: f64 = 0.0;
        for (i, want) in analytic_w1.iter().enumerate().take(12) {
            let bump = |d: f64| {
                tch::no_grad(|| {
                    let w = mlp.w1.view([-1]);
                    let _ = w.get(i as i64).f_add_(&Tensor::from(d)).unwrap();
                })
            };
            bump(eps);
            let up = value(&x);
            bump(-2.0 * eps);
            let down = value(&x);
            bump(eps);
            let fd = (up - down) / (2.0 * eps);
            worst = worst.max((fd - want).abs() / want.abs().max(1e-3));
        }
        for (i, want) in analytic_x.iter().enumerate() {
            let xp = x.copy();
            let _ = xp.view([-1]).get(i as i64).f_add_(&Tensor::from(eps)).unwrap();
            let xm = x.copy();
            let _ = xm.view([-1]).get(i as i64).f_add_(&Tensor::from(-eps)).unwrap();
            let fd = (value(&xp) - value(&xm)) / (2.0 * eps);
            worst = worst.max((fd - want).abs() / want.abs().max(1e-3));
        }
        worst
    };
    // Central differences converge quadratically to the derivative. Below
    // eps ~ 1e-4 round-off takes over: each err_n is a small difference of
    // stages, so R carries about 1e-12 relative noise (measured at eps =
    // 2e-5: 2.9e-6, worse than at 1e-4). Measured: 1.46e-4 at eps = 1e-3,
    // 1.46e-6 at eps = 1e-4 (a factor of 100, i.e. eps^2: the difference
    // is truncation, not a wrong gradient). Bounds: 5e-6 (3.4x), ratio > 50.
    let coarse = worst_at(1e-3);
    let fine = worst_at(1e-4);
    assert!(fine < 5e-6, "finite differences vs autograd at eps = 1e-4: {fine:e}");
    assert!(coarse / fine > 50.0, "quadratic convergence: {coarse:e} at 1e-3, {fine:e} at 1e-4");
}

/// Per-sample stepping: every sample's sum is the sum it gets when solved
/// alone, and its gradient with respect to its own input is the same too.
#[test]
fn per_sample_sums_are_each_samples_own() {
    let _serial = serial();
    let mlp = Mlp::new(9, 1.5);
    let f = TorchRhs::new(|_t, y: &Tensor| mlp.forward(y), mlp.params());
    let opts = SolveOptions::default().tol(1e-6, 1e-8);
    // Inputs of very different sizes, so the samples take different steps.
    let scale = Tensor::from_slice(&[0.1f64, 1.0, 3.0, 6.0]).unsqueeze(1);
    let x = (input(10, 4) * scale).set_requires_grad(true);
    let block =
        OdeBlock::new(opts.clone(), GradMode::Direct).per_sample(true).step_errors(ErrorWeighting::PerStep);
    let fwd = block.forward(&f, &x).unwrap();
    let sums = fwd.error_sums.as_ref().unwrap().shallow_clone();
    let steps = fwd.per_sample.as_ref().unwrap().n_accepted.clone();
    assert!(steps.iter().min() < steps.iter().max(), "samples take different steps: {steps:?}");
    let row = |i: i64| sums.get(i);
    for i in 0..4i64 {
        let xi = x.detach().narrow(0, i, 1).set_requires_grad(true);
        let alone = block.forward(&f, &xi).unwrap();
        let alone_sum = alone.error_sums.unwrap();
        // The same steps as ode-core's solve of this sample alone: its
        // controller ratios sum to the same number.
        let reference = tch::no_grad(|| solve(&f, xi.detach(), &[0.0, 1.0], &opts)).unwrap();
        let ratios: f64 = reference.steps.iter().map(|s| s.error_ratio).sum();
        let got = row(i).double_value(&[]);
        assert_eq!(reference.steps.len(), steps[i as usize]);
        // The batched matmul rounds f differently from a batch of one, and
        // err_n (a small difference of stages) magnifies that. Measured:
        // up to 8.2e-10 relative against the sample alone and 1.04e-8
        // against ode-core's ratios; bound 1e-7.
        let alone_value = alone_sum.double_value(&[0]);
        assert!((got - alone_value).abs() <= 1e-7 * got, "sample {i}: {got} vs {alone_value}");
        assert!((got - ratios).abs() <= 1e-7 * got, "sample {i}: {got} vs ode-core {ratios}");
        // Gradient of sample i's sum with respect to its own input.
        let gx = Tensor::run_backward(&[row(i)], &[&x], true, false).pop().unwrap();
        let g_alone =
            Tensor::run_backward(&[alone_sum.sum(Kind::Double)], &[&xi], false, false).pop().unwrap();
        let diff = (gx.narrow(0, i, 1) - &g_alone).abs().max().double_value(&[]);
        let size = g_alone.abs().max().double_value(&[]);
        // As for the values. Measured: up to 7.3e-9 relative; bound 1e-7.
        assert!(diff <= 1e-7 * size, "sample {i}: gradient differs by {diff:e} (size {size:e})");
        // Other samples' inputs do not influence it.
        let others = gx.abs().sum(Kind::Double).double_value(&[])
            - gx.narrow(0, i, 1).abs().sum(Kind::Double).double_value(&[]);
        assert_eq!(others, 0.0, "sample {i}'s sum depends on other samples");
    }
    // The |h|-weighted sums use each sample's own step sizes.
    let weighted = block.clone().step_errors(ErrorWeighting::StepSize).forward(&f, &x).unwrap();
    let weighted = f64s(weighted.error_sums.as_ref().unwrap());
    for (i, got) in weighted.iter().enumerate() {
        let xi = x.detach().narrow(0, i as i64, 1);
        let reference = tch::no_grad(|| solve(&f, xi, &[0.0, 1.0], &opts)).unwrap();
        let want: f64 = reference.steps.iter().map(|s| s.error_ratio * s.h.abs()).sum();
        // As above: measured up to 1.1e-8 relative; bound 1e-7.
        assert!((got - want).abs() <= 1e-7 * want, "sample {i}: {got} vs {want}");
    }
    // The per-sample solve without the option takes the same steps.
    let plain = solve_per_sample(&Autonomous(|t, y: &Tensor| f.eval(t, y)), &x, &[0.0, 1.0], &opts).unwrap();
    assert_eq!(plain.stats.n_accepted, steps);
    assert!(plain.error_sums.is_none());
}

#[test]
fn adjoint_and_mali_cannot_give_step_errors() {
    let _serial = serial();
    let mlp = Mlp::new(11, 1.0);
    let f = TorchRhs::new(|_t, y: &Tensor| mlp.forward(y), mlp.params());
    let x = input(12, 4);
    for mode in [GradMode::Adjoint(AdjointOptions::default()), GradMode::Mali(MaliOptions::default())] {
        let name = mode.name();
        let block = OdeBlock::new(SolveOptions::default(), mode).step_errors(ErrorWeighting::PerStep);
        let err = block.forward(&f, &x).err().expect("a typed error");
        assert!(matches!(err, BlockError::StepErrorsNotDifferentiable { mode } if mode == name), "{err}");
        let msg = err.to_string();
        assert!(msg.contains("Direct") && msg.contains("Aca"), "names the modes that can: {msg}");
        // Without the option the mode works as before.
        let plain = OdeBlock::new(SolveOptions::default(), block.mode.clone());
        assert!(plain.forward(&f, &x).unwrap().error_sums.is_none());
    }
    // A method without one embedded estimate.
    let block = OdeBlock::new(SolveOptions::default().method(&DOPRI8), GradMode::Direct)
        .step_errors(ErrorWeighting::PerStep);
    assert!(matches!(block.forward(&f, &x), Err(BlockError::StepErrorsUnsupportedMethod { .. })));
    let per_sample = block.clone().per_sample(true);
    assert!(matches!(per_sample.forward(&f, &x), Err(BlockError::StepErrorsUnsupportedMethod { .. })));
}

/// A zero error (f = c y at c = 0: every stage is exactly zero) gives zero
/// sums and a zero gradient through them, not `0 * inf = NaN`.
#[test]
fn zero_error_has_a_zero_gradient() {
    let _serial = serial();
    let c = Tensor::zeros([2], (Kind::Double, Device::Cpu)).set_requires_grad(true);
    let f = TorchRhs::new(|_t, y: &Tensor| y * &c, vec![c.shallow_clone()]);
    let x = input(13, 3);
    for mode in [GradMode::Direct, GradMode::Aca] {
        let block = OdeBlock::new(SolveOptions::default(), mode.clone()).step_errors(ErrorWeighting::PerStep);
        let fwd = block.forward(&f, &x).unwrap();
        let sums = fwd.error_sums.as_ref().unwrap();
        assert_eq!(f64s(sums), vec![0.0; 3]);
        (sums.sum(Kind::Double) + fwd.y1.sum(Kind::Double)).backward();
        block.backward(&f, fwd).unwrap();
        let g = f64s(&c.grad());
        // y1 = exp(c) y0, so d(sum y1)/dc_j = sum_s y0_{s,j} at c = 0; the
        // error sums add nothing.
        let want = f64s(&x.sum_dim_intlist(0, false, Kind::Double));
        for (got, want) in g.iter().zip(&want) {
            assert!((got - want).abs() < 1e-12, "{}: {g:?} vs {want:?}", mode.name());
        }
        let _ = c.grad().zero_();
    }
}

/// Other embedded pairs, with and without FSAL, and outputs inside steps
/// (`forward_at`): for a non-FSAL method with outputs inside a step the
/// solver evaluates `f(t1, y1)` after acceptance and reuses it as the next
/// step's first stage, which the block must find. One sample's sum equals
/// the controller's ratios, and ACA's gradient equals Direct's.
#[test]
fn every_embedded_pair_with_outputs_inside_steps() {
    let _serial = serial();
    let mlp = Mlp::new(15, 1.5);
    let f = TorchRhs::new(|_t, y: &Tensor| mlp.forward(y), mlp.params());
    let ts = [0.0, 0.1, 0.35, 0.6, 1.0];
    for tab in [&ADAPTIVE_HEUN, &FEHLBERG2, &BOSH3, &TSIT5] {
        let opts = SolveOptions::default().tol(1e-5, 1e-7).method(tab);
        let x = input(16, 1);
        let reference = tch::no_grad(|| solve(&f, x.shallow_clone(), &ts, &opts)).unwrap();
        assert!(reference.steps.len() >= 3, "{}: {} steps", tab.name, reference.steps.len());
        let want: f64 = reference.steps.iter().map(|s| s.error_ratio).sum();
        let mut grads = Vec::new();
        for mode in [GradMode::Direct, GradMode::Aca] {
            mlp.zero_grads();
            let block = OdeBlock::new(opts.clone(), mode).step_errors(ErrorWeighting::PerStep);
            let fwd = block.forward_at(&f, &x, &ts).unwrap();
            let sums = fwd.error_sums.as_ref().unwrap().shallow_clone();
            let got = sums.double_value(&[0]);
            // Measured: <= 2e-16 relative.
            assert!((got - want).abs() <= 1e-13 * want, "{}: {got} vs {want}", tab.name);
            (fwd.ys[2].sum(Kind::Double) + &sums * 0.5).sum(Kind::Double).backward();
            block.backward_at(&f, fwd).unwrap();
            grads.push(mlp.grads());
        }
        // Measured: 4e-17 (adaptive_heun) to 2.2e-12 (tsit5); bound 1e-10.
        let e = rel(&grads[1], &grads[0]);
        assert!(e < 1e-10, "{}: ACA vs Direct {e:e}", tab.name);
    }
}
