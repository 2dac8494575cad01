//! Bad input and failing samples give typed errors that name the samples.

use ode_core::tableau::{EULER, RK4};
use ode_core::{SolveOptions, Tolerance};
use ode_models::per_sample::{solve_per_sample, OutputTimes, PerSampleError};
use tch::{Kind, Tensor};

use crate::common::dev;

fn decay(_t: &Tensor, y: &Tensor) -> Tensor {
    -y
}

fn ones(b: i64) -> Tensor {
    Tensor::ones([b, 2], (Kind::Double, dev()))
}

fn opts() -> SolveOptions {
    SolveOptions::default().tol(1e-6, 1e-9)
}

#[test]
fn nan_in_the_initial_state_names_the_sample() {
    let y0 = ones(4);
    let _ = y0.get(2).get(1).fill_(f64::NAN);
    match solve_per_sample(&decay, &y0, &[0.0, 1.0], &opts()) {
        Err(PerSampleError::NonFiniteState { samples }) => assert_eq!(samples, vec![2]),
        other => panic!("expected NonFiniteState, got {other:?}"),
    }
}

#[test]
fn nan_from_the_dynamics_in_one_sample_names_it() {
    // Sample 1's right-hand side turns NaN once its time passes 0.5.
    let f = |t: &Tensor, y: &Tensor| {
        let bad = t.gt(0.5).logical_and(&Tensor::from_slice(&[false, true, false]).to_device(dev()));
        let nan = Tensor::full([3], f64::NAN, (Kind::Double, dev()));
        -y * nan.where_self(&bad, &Tensor::ones([3], (Kind::Double, dev()))).unsqueeze(1)
    };
    match solve_per_sample(&f, &ones(3), &[0.0, 1.0], &opts()) {
        Err(PerSampleError::NonFiniteRhs { samples, t }) => {
            assert_eq!(samples, vec![1]);
            assert!(t[0] <= 0.5 + 1e-9 && t[0] > 0.4, "stuck at t = {t:?}");
        }
        other => panic!("expected NonFiniteRhs, got {other:?}"),
    }
}

#[test]
fn max_steps_names_the_hard_sample() {
    let k = Tensor::from_slice(&[1.0f64, 1e4]).to_device(dev()).unsqueeze(1);
    let f = |_t: &Tensor, y: &Tensor| -(y * &k);
    match solve_per_sample(&f, &ones(2), &[0.0, 1.0], &opts().max_steps(50)) {
        Err(PerSampleError::MaxStepsExceeded { samples, max_steps, stats, .. }) => {
            assert_eq!(samples, vec![1]);
            assert_eq!(max_steps, 50);
            assert_eq!(stats.n_steps(1), 50);
            // The easy sample finished well within the limit.
            assert!(stats.n_steps(0) < 50);
        }
        other => panic!("expected MaxStepsExceeded, got {other:?}"),
    }
}

#[test]
fn step_size_underflow_names_the_sample() {
    // Sample 0 blows up at t = 1 (y' = y^2, y0 = 1); sample 1 is tame.
    let f = |_t: &Tensor, y: &Tensor| y * y;
    let y0 = Tensor::from_slice(&[1.0f64, 0.1]).to_device(dev()).unsqueeze(1);
    match solve_per_sample(&f, &y0, &[0.0, 2.0], &opts().min_step(1e-6)) {
        Err(PerSampleError::StepSizeUnderflow { samples, t, h, .. }) => {
            assert_eq!(samples, vec![0]);
            assert!(t[0] < 1.0 && t[0] > 0.99, "t = {t:?}");
            assert!(h[0].abs() < 1e-6);
        }
        other => panic!("expected StepSizeUnderflow, got {other:?}"),
    }
}

#[test]
fn bad_times_are_typed_errors() {
    let y0 = ones(3);
    let invalid = |ts: OutputTimes| {
        matches!(solve_per_sample(&decay, &y0, ts, &opts()), Err(PerSampleError::InvalidTimes { .. }))
    };
    assert!(invalid(vec![0.0, 1.0, 0.5].into()));
    assert!(invalid(vec![0.0, 1.0, 1.0].into()));
    assert!(invalid(vec![0.0, f64::NAN].into()));
    assert!(invalid(Vec::<f64>::new().into()));
    // Per-sample rows: wrong count, ragged, one non-monotonic.
    assert!(invalid(vec![vec![0.0, 1.0]; 2].into()));
    assert!(invalid(vec![vec![0.0, 1.0], vec![0.0, 1.0], vec![0.0]].into()));
    assert!(invalid(vec![vec![0.0, 1.0], vec![0.0, 1.0], vec![1.0, 1.0]].into()));
    let cube = Tensor::zeros([3, 2, 2], (Kind::Double, dev()));
    assert!(matches!(OutputTimes::from_tensor(&cube), Err(PerSampleError::InvalidTimes { .. })));
}

#[test]
fn bad_tolerances_options_and_methods_are_typed_errors() {
    let y0 = ones(3);
    let run = |o: SolveOptions| solve_per_sample(&decay, &y0, &[0.0, 1.0], &o);
    let mut neg = opts();
    neg.tol = Tolerance::new(-1e-6, 1e-9);
    assert!(matches!(run(neg), Err(PerSampleError::InvalidTolerance { .. })));
    // A per-component atol has one sample's size (2), not the batch's (6).
    assert!(matches!(run(opts().tol(1e-6, vec![1e-9; 6])), Err(PerSampleError::InvalidTolerance { .. })));
    assert!(run(opts().tol(1e-6, vec![1e-9, 1e-8])).is_ok());
    let invalid = |o: SolveOptions, name: &str| matches!(run(o), Err(PerSampleError::InvalidOption { name: n, .. }) if n == name);
    assert!(invalid(opts().max_steps(0), "max_steps"));
    assert!(invalid(opts().step_t(vec![0.5]), "step_t"));
    assert!(invalid(opts().jump_t(vec![0.5]), "jump_t"));
    assert!(invalid(opts().fixed_step(0.1), "step"));
    assert!(invalid(opts().min_step(1.0).max_step(0.5), "max_step"));
    for m in [&RK4, &EULER] {
        assert!(matches!(run(opts().method(m)), Err(PerSampleError::UnsupportedMethod { .. })));
    }
}

#[test]
fn bad_shapes_are_typed_errors() {
    let scalar = Tensor::from(1.0f64);
    assert!(matches!(
        solve_per_sample(&decay, &scalar, &[0.0, 1.0], &opts()),
        Err(PerSampleError::InvalidState { .. })
    ));
    let ints = Tensor::ones([2, 2], (Kind::Int64, dev()));
    assert!(matches!(
        solve_per_sample(&decay, &ints, &[0.0, 1.0], &opts()),
        Err(PerSampleError::InvalidState { .. })
    ));
    let wrong = |_t: &Tensor, y: &Tensor| y.narrow(1, 0, 1);
    assert!(matches!(
        solve_per_sample(&wrong, &ones(2), &[0.0, 1.0], &opts()),
        Err(PerSampleError::ShapeMismatch { .. })
    ));
    let f32_out = |_t: &Tensor, y: &Tensor| y.to_kind(Kind::Float);
    assert!(matches!(
        solve_per_sample(&f32_out, &ones(2), &[0.0, 1.0], &opts()),
        Err(PerSampleError::ShapeMismatch { .. })
    ));
}

#[test]
fn a_single_output_time_returns_y0_without_work() {
    let y0 = ones(2);
    let sol = solve_per_sample(&decay, &y0, &[3.0], &opts()).unwrap();
    assert_eq!(sol.ys.len(), 1);
    assert_eq!(sol.stats.n_calls, 0);
    assert!(sol.ys[0].equal(&y0));
}
