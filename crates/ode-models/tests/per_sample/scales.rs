//! Samples with very different time scales: each is accurate, and the easy
//! ones do much less work than the hard ones and than a whole-batch solve.

use ode_core::tableau::TSIT5;
use ode_core::{solve, SolveOptions};
use ode_models::per_sample::{solve_per_sample, OutputTimes};
use tch::{Kind, Tensor};

use crate::common::{dev, f64s};

fn rates(kind: Kind) -> Tensor {
    // 0.1 .. 100: three orders of magnitude.
    Tensor::logspace(-1.0, 2.0, 8, 10.0, (kind, dev())).unsqueeze(1)
}

#[test]
fn decays_over_three_orders_of_magnitude() {
    let k = rates(Kind::Double);
    let f = |_t: &Tensor, y: &Tensor| -(y * &k);
    let y0 = Tensor::ones([8, 1], (Kind::Double, dev()));
    let ts = [0.0, 0.25, 0.5, 1.0, 2.0];
    let (rtol, atol) = (1e-6, 1e-9);
    let opts = SolveOptions::default().tol(rtol, atol);
    let sol = solve_per_sample(&f, &y0, &ts, &opts).unwrap();
    let ks = f64s(&k);
    for (i, &t) in ts.iter().enumerate() {
        let got = f64s(&sol.ys[i]);
        for (b, &kb) in ks.iter().enumerate() {
            let exact = (-kb * t).exp();
            let err = (got[b] - exact).abs();
            assert!(err <= 10.0 * (atol + rtol * exact), "k = {kb}, t = {t}: error {err:e}");
        }
    }
    let whole = solve(&|_t: f64, y: &Tensor| -(y * &k), y0.shallow_clone(), &ts, &opts).unwrap();
    let nfe = &sol.stats.nfe;
    eprintln!(
        "decay: per-sample NFE {nfe:?}, batch calls {}, whole-batch NFE {}",
        sol.stats.n_calls, whole.stats.nfe
    );
    assert!(nfe[0] * 4 < nfe[7], "easy {} vs hard {}", nfe[0], nfe[7]);
    assert!(nfe[0] * 4 < whole.stats.nfe, "easy {} vs whole batch {}", nfe[0], whole.stats.nfe);
    // The batch runs until its slowest sample is done.
    assert_eq!(sol.stats.n_calls, sol.stats.nfe_max());
    // The whole-batch solve agrees with the per-sample one to its tolerance.
    let d = (whole.ys[4].shallow_clone() - &sol.ys[4]).abs().max().double_value(&[]);
    assert!(d < 1e-6, "whole batch vs per sample: {d:e}");
}

#[test]
fn oscillators_of_different_frequencies() {
    let w = Tensor::from_slice(&[0.5f64, 5.0, 50.0]).to_device(dev()).unsqueeze(1);
    let w2 = &w * &w;
    let f = |_t: &Tensor, y: &Tensor| Tensor::cat(&[y.narrow(1, 1, 1), -(&w2 * y.narrow(1, 0, 1))], 1);
    let y0 = Tensor::cat(
        &[Tensor::ones([3, 1], (Kind::Double, dev())), Tensor::zeros([3, 1], (Kind::Double, dev()))],
        1,
    );
    let ts: Vec<f64> = (0..=8).map(|i| i as f64 * 0.25).collect();
    let (rtol, atol) = (1e-8, 1e-10);
    let opts = SolveOptions::default().method(&TSIT5).tol(rtol, atol);
    let sol = solve_per_sample(&f, &y0, ts.as_slice(), &opts).unwrap();
    let ws = f64s(&w);
    let mut worst = vec![0.0f64; 3];
    for (i, &t) in ts.iter().enumerate() {
        let got = f64s(&sol.ys[i]);
        for (b, &wb) in ws.iter().enumerate() {
            // Errors relative to the amplitude of each component.
            let ex = (got[2 * b] - (wb * t).cos()).abs();
            let ev = (got[2 * b + 1] + wb * (wb * t).sin()).abs() / wb;
            worst[b] = worst[b].max(ex).max(ev);
        }
    }
    eprintln!("oscillators: worst errors {worst:?}, NFE {:?}", sol.stats.nfe);
    for (b, e) in worst.iter().enumerate() {
        assert!(*e < 10.0 * (rtol + atol), "w = {}: error {e:e}", ws[b]);
    }
    let nfe = &sol.stats.nfe;
    assert!(nfe[0] * 4 < nfe[2] && nfe[1] < nfe[2], "NFE {nfe:?}");
}

#[test]
fn per_sample_output_times_with_their_own_spans() {
    let k = Tensor::from_slice(&[0.5f64, 3.0, 20.0]).to_device(dev()).unsqueeze(1);
    let f = |_t: &Tensor, y: &Tensor| -(y * &k);
    let rows = vec![vec![0.0, 1.0, 3.0], vec![1.0, 1.5, 1.75], vec![2.0, 1.9, 1.0]];
    let y0 = Tensor::ones([3, 1], (Kind::Double, dev()));
    let opts = SolveOptions::default().tol(1e-8, 1e-11);
    let sol = solve_per_sample(&f, &y0, OutputTimes::PerSample(rows.clone()), &opts).unwrap();
    for (i, y) in sol.ys.iter().enumerate() {
        let got = f64s(y);
        for (b, kb) in [0.5f64, 3.0, 20.0].iter().enumerate() {
            let exact = (-kb * (rows[b][i] - rows[b][0])).exp();
            assert!(
                (got[b] - exact).abs() < 1e-7 * exact.max(1e-3),
                "sample {b}, output {i}: {} vs {exact}",
                got[b]
            );
        }
    }
    // The same times given as a [B, T] tensor.
    let tt = Tensor::from_slice(&rows.concat()).reshape([3, 3]);
    let again = solve_per_sample(&f, &y0, OutputTimes::from_tensor(&tt).unwrap(), &opts).unwrap();
    assert_eq!(f64s(&again.stacked()), f64s(&sol.stacked()));
}

#[test]
fn f32_states_stay_f32_and_meet_a_loose_tolerance() {
    let k = rates(Kind::Float);
    let f = |_t: &Tensor, y: &Tensor| -(y * &k);
    let y0 = Tensor::ones([8, 1], (Kind::Float, dev()));
    let sol = solve_per_sample(&f, &y0, &[0.0, 1.0], &SolveOptions::default().tol(1e-4, 1e-6)).unwrap();
    assert_eq!(sol.ys[1].kind(), Kind::Float);
    let exact = (-k).exp();
    let err = (&sol.ys[1] - exact).abs().max().double_value(&[]);
    assert!(err < 1e-3, "f32 error {err:e}");
    assert!(sol.stats.nfe[0] < sol.stats.nfe[7]);
}
