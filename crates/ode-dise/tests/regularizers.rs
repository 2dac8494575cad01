//! The regularizers through `RegularizedBlock`: values against closed
//! forms and hand sums, gradients against finite differences and across
//! gradient modes, the step control left unchanged by the integral
//! channels, and the typed errors.

use ode_autodiff::{AdjointOptions, MaliOptions};
use ode_core::SolveOptions;
use ode_dise::{
    BatchReduction, DiseError, ErrorSum, ErrorWeighting, JacobianFrobenius, Kinetic, Noise, RegularizedBlock,
    Regularizer, Regularizers, SolveTerms, L1, L2,
};
use ode_models::{BlockError, GradMode, OdeBlock, TorchRhs};
use tch::{Device, Kind, Tensor};

#[path = "../../ode-models/tests/support/mlp.rs"]
#[allow(dead_code)]
mod mlp;
use mlp::{f64s, input, rel, serial, Mlp};

/// `A = [[-0.5, 1], [-1, -0.5]]`: `A^T A = 1.25 I`, so along `y' = A y`,
/// `|f|^2 = 1.25 |y|^2 = 1.25 |y0|^2 exp(-t)`.
fn rotation_decay() -> Tensor {
    Tensor::from_slice(&[-0.5f64, 1.0, -1.0, -0.5]).reshape([2, 2])
}

fn all_solve_regularizers() -> Regularizers {
    Regularizers::new()
        .with(ErrorSum::new(0.3).unwrap())
        .with(Kinetic::new(0.2).unwrap())
        .with(JacobianFrobenius::new(0.1).unwrap())
        .with(L2::new(0.05).unwrap())
}

#[test]
fn kinetic_energy_of_a_linear_flow_matches_its_closed_form() {
    let _serial = serial();
    let a = rotation_decay();
    let f = TorchRhs::new(|_t, y: &Tensor| y.matmul(&a.tr()), vec![]);
    let y0 = input(1, 5);
    let sq = f64s(&y0.square().sum_dim_intlist(1, false, Kind::Double));
    let exact: Vec<f64> = sq.iter().map(|s| 1.25 * s * (1.0 - (-2.0f64).exp())).collect();
    for (reduction, want) in [
        (BatchReduction::Mean, exact.iter().sum::<f64>() / 5.0),
        (BatchReduction::Sum, exact.iter().sum::<f64>()),
    ] {
        let regs = Regularizers::new().with(Kinetic::new(1.0).unwrap().reduction(reduction));
        let block = OdeBlock::new(SolveOptions::default().tol(1e-10, 1e-12), GradMode::Direct).span(0.0, 2.0);
        let fwd = RegularizedBlock::new(block, regs).forward(&f, &y0).unwrap();
        let got = fwd.values.terms[0].value.double_value(&[]);
        // dopri5 at rtol 1e-10: measured 2.9e-11 relative; bound 1e-9.
        assert!((got - want).abs() <= 1e-9 * want, "{reduction:?}: {got} vs {want}");
        assert!((fwd.values.total.double_value(&[]) - got).abs() <= 1e-15 * got, "lambda = 1");
    }
    // Backwards in time the channel integrates to minus the integral; the
    // regularizer still reports the (positive) kinetic energy.
    let regs = Regularizers::new().with(Kinetic::new(1.0).unwrap().reduction(BatchReduction::Sum));
    let block = OdeBlock::new(SolveOptions::default().tol(1e-10, 1e-12), GradMode::Direct).span(2.0, 0.0);
    let y2 = y0.matmul(&(rotation_decay() * 2.0).linalg_matrix_exp().tr());
    let back = RegularizedBlock::new(block, regs).forward(&f, &y2).unwrap();
    let want: f64 = exact.iter().sum();
    let got = back.values.terms[0].value.double_value(&[]);
    // Measured: 5.0e-11 relative.
    assert!((got - want).abs() <= 1e-9 * want, "backwards: {got} vs {want}");
}

#[test]
fn jacobian_estimate_is_unbiased_and_exact_with_rademacher_probes() {
    let _serial = serial();
    let a = rotation_decay();
    let f = TorchRhs::new(|_t, y: &Tensor| y.matmul(&a.tr()), vec![]);
    let opts = SolveOptions::default().tol(1e-8, 1e-10);
    // ||A||_F^2 = 2.5; with +-1 probes |eps^T A|^2 = 2.5 for every probe.
    let regs = Regularizers::new().with(JacobianFrobenius::new(1.0).unwrap().noise(Noise::Rademacher));
    let block = RegularizedBlock::new(OdeBlock::new(opts.clone(), GradMode::Direct), regs);
    let got = block.forward(&f, &input(2, 16)).unwrap().values.terms[0].value.double_value(&[]);
    // Measured: 4e-16.
    assert!((got - 2.5).abs() < 1e-12, "Rademacher: {got}");
    // Gaussian probes: |eps^T A|^2 = 1.25 |eps|^2 (A A^T = 1.25 I), i.e.
    // 1.25 chi^2_2: mean 2.5, standard deviation 2.5. Over 4096 samples the
    // mean's standard deviation is 0.039; bound: 5 of them (measured:
    // 2.532, 0.8 of them).
    tch::manual_seed(3);
    let regs = Regularizers::new().with(JacobianFrobenius::new(1.0).unwrap());
    let block = RegularizedBlock::new(OdeBlock::new(opts, GradMode::Direct), regs);
    let got = block.forward(&f, &input(4, 4096)).unwrap().values.terms[0].value.double_value(&[]);
    assert!((got - 2.5).abs() < 5.0 * 0.039, "Gaussian: {got}");
}

#[test]
fn l1_and_l2_are_hand_sums_with_their_gradients() {
    let _serial = serial();
    let p1 = Tensor::from_slice(&[1.0f64, -2.0, 0.25]).set_requires_grad(true);
    let p2 = Tensor::from_slice(&[-0.5f64, 3.0]).reshape([2, 1]).set_requires_grad(true);
    let params = [p1.shallow_clone(), p2.shallow_clone()];
    let terms = SolveTerms { error_sums: None, kinetic: None, jacobian: None, params: &params };
    let regs = Regularizers::new().with(L1::new(0.1).unwrap()).with(L2::new(0.01).unwrap());
    let like = Tensor::zeros([], (Kind::Double, Device::Cpu));
    let values = regs.evaluate(&terms, &like).unwrap();
    let l1 = 1.0 + 2.0 + 0.25 + 0.5 + 3.0;
    let l2 = 1.0 + 4.0 + 0.0625 + 0.25 + 9.0;
    assert_eq!(values.logged(), vec![("l1".to_string(), l1), ("l2".to_string(), l2)]);
    assert!((values.total.double_value(&[]) - (0.1 * l1 + 0.01 * l2)).abs() < 1e-15);
    values.total.backward();
    // d/dp (0.1 |p| + 0.01 p^2) = 0.1 sign(p) + 0.02 p.
    let want1: Vec<f64> = [1.0f64, -2.0, 0.25].iter().map(|p| 0.1 * p.signum() + 0.02 * p).collect();
    let want2: Vec<f64> = [-0.5f64, 3.0].iter().map(|p| 0.1 * p.signum() + 0.02 * p).collect();
    assert!(rel(&f64s(&p1.grad()), &want1) < 1e-15);
    assert!(rel(&f64s(&p2.grad()), &want2) < 1e-15);
}

/// The integral channels are kept out of the error norm (huge atol, and
/// `y`'s tolerances scaled to keep the RMS): the solve takes the steps it
/// takes without them, and the error regularizer sees `y`'s own norm.
#[test]
fn integral_channels_do_not_change_the_steps() {
    let _serial = serial();
    let mlp = Mlp::new(5, 1.5);
    let f = TorchRhs::new(|_t, y: &Tensor| mlp.forward(y), mlp.params());
    let x = input(6, 8);
    for (per_sample, opts) in [
        (false, SolveOptions::default().tol(1e-6, 1e-8)),
        (true, SolveOptions::default().tol(1e-6, 1e-8)),
        (false, SolveOptions::default().tol(1e-5, vec![1e-7; 16])),
    ] {
        let block = OdeBlock::new(opts, GradMode::Direct).per_sample(per_sample);
        let errors_only =
            RegularizedBlock::new(block.clone(), Regularizers::new().with(ErrorSum::new(1.0).unwrap()));
        let everything = RegularizedBlock::new(block, all_solve_regularizers());
        let plain = errors_only.forward(&f, &x).unwrap();
        let augmented = everything.forward(&f, &x).unwrap();
        assert_eq!(plain.stats.nfe_forward, augmented.stats.nfe_forward, "per-sample {per_sample}");
        assert_eq!(plain.stats.n_accepted, augmented.stats.n_accepted);
        assert_eq!(plain.stats.n_rejected, augmented.stats.n_rejected);
        assert_eq!(plain.per_sample.map(|s| s.nfe), augmented.per_sample.map(|s| s.nfe));
        let dy = (&plain.y1 - &augmented.y1).abs().max().double_value(&[]);
        // Same steps, different reductions and tolerance roundings: measured
        // 0 to 8.9e-16; bound 1e-13.
        assert!(dy < 1e-13, "per-sample {per_sample}: y1 differs by {dy:e}");
        let (e_plain, e_aug) = (
            plain.values.terms[0].value.double_value(&[]),
            augmented.values.terms[0].value.double_value(&[]),
        );
        // err_n magnifies rounding (a small difference of stages).
        // Measured: up to 7.5e-11 relative (per-sample); bound 1e-9.
        assert!((e_plain - e_aug).abs() <= 1e-9 * e_plain, "per-sample {per_sample}: {e_plain} vs {e_aug}");
    }
}

/// Gradients of every solve regularizer at once: ACA (error cotangents and
/// the integral channels' cotangents through its replay) equals Direct;
/// the adjoint and MALI, which can give the integral regularizers only,
/// agree with Direct on those within their accuracy.
#[test]
fn gradient_modes_agree_on_the_regularizers() {
    let _serial = serial();
    let mlp = Mlp::new(7, 1.5);
    let f = TorchRhs::new(|_t, y: &Tensor| mlp.forward(y), mlp.params());
    let run = |mode: GradMode, regs: Regularizers| {
        mlp.zero_grads();
        let x = input(8, 6).set_requires_grad(true);
        let block = RegularizedBlock::new(OdeBlock::new(SolveOptions::default().tol(1e-6, 1e-8), mode), regs);
        tch::manual_seed(9); // the same Hutchinson probes in every run
        let step = block.train_step(&f, &(&x * 1.0), |y1| y1.square().mean(Kind::Double)).unwrap();
        let mut g = mlp.grads();
        g.extend(f64s(&x.grad()));
        (g, step)
    };
    let (direct, s_direct) = run(GradMode::Direct, all_solve_regularizers());
    let (aca, s_aca) = run(GradMode::Aca, all_solve_regularizers());
    assert_eq!(s_direct.regularizers.len(), 4);
    for ((name, a), (_, b)) in s_direct.regularizers.iter().zip(&s_aca.regularizers) {
        assert!((a - b).abs() <= 1e-12 * a.abs(), "{name}: {a} vs {b}");
        assert!(*a > 0.0, "{name} = {a}");
    }
    // The regularizer values are bitwise equal (the same forward solve).
    // Gradients: measured 8.4e-13; bound 1e-10 (err_n magnifies rounding).
    let e = rel(&aca, &direct);
    assert!(e < 1e-10, "ACA vs Direct: {e:e}");

    let integrals = || {
        Regularizers::new()
            .with(Kinetic::new(0.2).unwrap())
            .with(JacobianFrobenius::new(0.1).unwrap())
            .with(L1::new(0.01).unwrap())
    };
    let (direct, _) = run(GradMode::Direct, integrals());
    let (adjoint, _) = run(GradMode::Adjoint(AdjointOptions::default().tol(1e-9, 1e-11)), integrals());
    let (mali, _) = run(GradMode::Mali(MaliOptions::default()), integrals());
    // Both approximate the exact gradient to about the forward tolerance
    // (as for the task loss in ode-models' block tests). Measured: adjoint
    // 4.4e-6, MALI 4.0e-6; bounds 1e-5 and 4e-5.
    let e = rel(&adjoint, &direct);
    assert!(e < 1e-5, "adjoint vs Direct: {e:e}");
    let e = rel(&mali, &direct);
    assert!(e < 4e-5, "MALI vs Direct: {e:e}");
}

/// Central differences of the whole regularizer (error sum, kinetic,
/// Jacobian with fixed probes, L2) against autograd, on a fixed step grid
/// with `rtol = 0`: the gradient holds the steps fixed and the error scale
/// constant, and then so does the forward.
#[test]
fn regularizer_gradient_matches_finite_differences() {
    let _serial = serial();
    let mlp = Mlp::new(11, 1.5);
    let f = TorchRhs::new(|_t, y: &Tensor| mlp.forward(y), mlp.params());
    let opts = SolveOptions::default().tol(0.0, 1e-5).fixed_step(0.125);
    let x = input(12, 4);
    let block = RegularizedBlock::new(OdeBlock::new(opts, GradMode::Direct), all_solve_regularizers());
    let value = || {
        tch::manual_seed(13);
        tch::no_grad(|| block.forward(&f, &x).unwrap().values.total.double_value(&[]))
    };
    mlp.zero_grads();
    tch::manual_seed(13);
    block.forward(&f, &x).unwrap().values.total.backward();
    let analytic = f64s(&mlp.w1.grad());
    let worst_at = |eps: f64| -> f64 {
        let mut worst: f64 = 0.0;
        for (i, want) in analytic.iter().enumerate() {
            let bump = |d: f64| {
                tch::no_grad(|| {
                    let _ = mlp.w1.view([-1]).get(i as i64).f_add_(&Tensor::from(d)).unwrap();
                })
            };
            bump(eps);
            let up = value();
            bump(-2.0 * eps);
            let down = value();
            bump(eps);
            let fd = (up - down) / (2.0 * eps);
            worst = worst.max((fd - want).abs() / want.abs().max(1e-3));
        }
        worst
    };
    // Truncation error of central differences shrinks as eps^2 (a factor
    // of 100 from 1e-3 to 1e-4); round-off in the error sums takes over
    // below 1e-4. Measured: 5.2e-5 at 1e-3, 4.1e-7 at 1e-4 (ratio 126).
    // Bounds: 5e-6 (12x) and a ratio above 50.
    let coarse = worst_at(1e-3);
    let fine = worst_at(1e-4);
    assert!(fine < 5e-6, "finite differences vs autograd at eps = 1e-4: {fine:e}");
    assert!(coarse / fine > 50.0, "quadratic convergence: {coarse:e} at 1e-3, {fine:e} at 1e-4");
}

#[test]
fn typed_errors() {
    let _serial = serial();
    let mlp = Mlp::new(14, 1.0);
    let f = TorchRhs::new(|_t, y: &Tensor| mlp.forward(y), mlp.params());
    let x = input(15, 4);
    for mode in [GradMode::Adjoint(AdjointOptions::default()), GradMode::Mali(MaliOptions::default())] {
        let regs = Regularizers::new().with(ErrorSum::new(0.1).unwrap()).with(Kinetic::new(0.1).unwrap());
        let block = RegularizedBlock::new(OdeBlock::new(SolveOptions::default(), mode), regs);
        let err = block.forward(&f, &x).err().expect("the error sum needs Direct or ACA");
        assert!(matches!(err, DiseError::Block(BlockError::StepErrorsNotDifferentiable { .. })), "{err}");
        assert!(err.to_string().contains("GradMode::Direct or GradMode::Aca"), "{err}");
    }
    let conflict = Regularizers::new()
        .with(ErrorSum::new(0.1).unwrap())
        .with(ErrorSum::new(0.1).unwrap().weighting(ErrorWeighting::StepSize));
    assert!(matches!(conflict.needs(), Err(DiseError::Conflict(_))));
    assert!(matches!(Kinetic::new(-1.0), Err(DiseError::Invalid(_))));
    assert!(matches!(L1::new(f64::NAN), Err(DiseError::Invalid(_))));
    let terms = SolveTerms { error_sums: None, kinetic: None, jacobian: None, params: &[] };
    assert!(matches!(ErrorSum::new(1.0).unwrap().value(&terms), Err(DiseError::MissingTerm { .. })));
    // A state without a batch dimension cannot carry integral channels.
    let block = RegularizedBlock::new(
        OdeBlock::new(SolveOptions::default(), GradMode::Direct),
        Regularizers::new().with(Kinetic::new(1.0).unwrap()),
    );
    let scalar = Tensor::from(1.0f64);
    let g = TorchRhs::new(|_t, y: &Tensor| -y, vec![]);
    assert!(matches!(block.forward(&g, &scalar), Err(DiseError::Invalid(_))));
}
