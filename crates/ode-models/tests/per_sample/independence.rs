//! A sample's result does not depend on which other samples share its batch.

use ode_core::tableau::{BOSH3, DOPRI5, DOPRI8};
use ode_core::SolveOptions;
use ode_models::per_sample::{solve_per_sample, Autonomous, GroupedByTime, Rowwise};
use tch::{Kind, Tensor};

use crate::common::{dev, f64s, max_abs_diff, Mlp};

/// Inputs whose scales differ by two orders of magnitude.
fn mixed_inputs(b: i64) -> Tensor {
    tch::manual_seed(11);
    let scale = Tensor::logspace(-1.0, 1.0, b, 10.0, (Kind::Double, dev())).unsqueeze(1);
    Tensor::randn([b, 2], (Kind::Double, dev())) * scale
}

#[test]
fn each_sample_alone_gives_the_batch_result() {
    for tab in [&DOPRI5, &BOSH3, &DOPRI8] {
        sample_alone_matches_batch(SolveOptions::default().method(tab).tol(1e-7, 1e-9));
    }
}

fn sample_alone_matches_batch(opts: SolveOptions) {
    let mlp = Mlp::new(3, 16, Kind::Double);
    let f = |_t: &Tensor, y: &Tensor| mlp.forward(y) * 3.0;
    let y0 = mixed_inputs(8);
    let ts = [0.0, 0.4, 1.0, 2.0];
    let batch = solve_per_sample(&f, &y0, &ts, &opts).unwrap();
    for b in 0..8 {
        let alone = solve_per_sample(&f, &y0.narrow(0, b, 1), &ts, &opts).unwrap();
        for (a, full) in alone.ys.iter().zip(&batch.ys) {
            let d = max_abs_diff(a, &full.narrow(0, b, 1));
            assert!(d < 1e-12, "sample {b}: {d:e}");
        }
        let b = b as usize;
        assert_eq!(alone.stats.nfe[0], batch.stats.nfe[b]);
        assert_eq!(alone.stats.n_accepted[0], batch.stats.n_accepted[b]);
        assert_eq!(alone.stats.n_rejected[0], batch.stats.n_rejected[b]);
    }
    // A permuted sub-batch: same rows, same counts.
    let idx = Tensor::from_slice(&[5i64, 0, 7]).to_device(dev());
    let sub = solve_per_sample(&f, &y0.index_select(0, &idx), &ts, &opts).unwrap();
    let d = max_abs_diff(&sub.ys[3], &batch.ys[3].index_select(0, &idx));
    assert!(d < 1e-12, "permuted sub-batch: {d:e}");
    assert_eq!(sub.stats.nfe, vec![batch.stats.nfe[5], batch.stats.nfe[0], batch.stats.nfe[7]]);
    // The samples really do differ in work.
    assert!(batch.stats.nfe.iter().min() < batch.stats.nfe.iter().max());
}

#[test]
fn scalar_time_adapters_agree_with_the_batched_time_form() {
    // A time-dependent right-hand side written three ways.
    let batched = |t: &Tensor, y: &Tensor| -(y * &(t * 2.0).cos().unsqueeze(1)) + 0.1;
    let scalar = |t: f64, y: &Tensor| -(y * (2.0 * t).cos()) + 0.1;
    let k = Tensor::from_slice(&[1.0f64, 4.0, 0.25]).to_device(dev());
    let y0 = Tensor::stack(&[&k, &(&k * -1.0)], 1);
    let ts = [0.0, 0.7, 3.0];
    let opts = SolveOptions::default().tol(1e-7, 1e-9);
    let a = solve_per_sample(&batched, &y0, &ts, &opts).unwrap();
    let g = solve_per_sample(&GroupedByTime(scalar), &y0, &ts, &opts).unwrap();
    assert!(max_abs_diff(&a.stacked(), &g.stacked()) < 1e-12);
    assert_eq!(a.stats.nfe, g.stats.nfe);
    // The autonomous adapter passes t = NaN: a function that uses t fails
    // loudly instead of running with a wrong time.
    let err = solve_per_sample(&Autonomous(scalar), &y0, &ts, &opts).unwrap_err();
    assert_eq!(err.samples(), &[0, 1, 2]);
    // ... and a function that ignores t runs.
    let auto = solve_per_sample(&Autonomous(|_t: f64, y: &Tensor| -y), &y0, &ts, &opts).unwrap();
    let exact = &y0 * (-3.0f64).exp();
    assert!(max_abs_diff(&auto.ys[2], &exact) < 1e-6);
    assert_eq!(f64s(&auto.ys[0]), f64s(&y0));
}

#[test]
fn rowwise_functions_evaluate_only_running_samples_with_identical_results() {
    let mlp = Mlp::new(8, 16, Kind::Double);
    let w1 = mlp.w1.detach().copy().set_requires_grad(true);
    let f = |_t: &Tensor, y: &Tensor| ((y.matmul(&w1) + &mlp.b1).tanh().matmul(&mlp.w2) + &mlp.b2) * 3.0;
    let opts = SolveOptions::default().tol(1e-7, 1e-9);
    // Per-sample output rows exercise the scatter of outputs into the batch.
    let rows: Vec<Vec<f64>> = (0..8).map(|b| vec![0.0, 0.3 + 0.1 * b as f64, 1.0 + 0.5 * b as f64]).collect();
    let run = |rowwise: bool| {
        let y0 = mixed_inputs(8).set_requires_grad(true);
        let sol = if rowwise {
            solve_per_sample(&Rowwise(f), &y0, rows.clone(), &opts).unwrap()
        } else {
            solve_per_sample(&f, &y0, rows.clone(), &opts).unwrap()
        };
        let loss = sol.ys.iter().map(|y| y.sin().sum(Kind::Double)).fold(Tensor::from(0.0f64), |a, b| a + b);
        let mut w = w1.grad();
        if w.defined() {
            let _ = w.zero_();
        }
        loss.backward();
        (sol, f64s(&y0.grad()), f64s(&w1.grad()))
    };
    let (full, gy_full, gw_full) = run(false);
    let (sub, gy_sub, gw_sub) = run(true);
    assert!(max_abs_diff(&full.stacked(), &sub.stacked()) < 1e-12);
    assert_eq!(full.stats, sub.stats);
    let close = |a: &[f64], b: &[f64]| a.iter().zip(b).all(|(x, y)| (x - y).abs() <= 1e-10 * (1.0 + x.abs()));
    assert!(close(&gy_full, &gy_sub) && close(&gw_full, &gw_sub), "gradients differ");
    assert!(gy_full.iter().any(|g| *g != 0.0));
}
