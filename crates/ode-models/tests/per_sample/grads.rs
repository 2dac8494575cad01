//! Direct-mode gradients: autograd through the accepted steps reaches y0
//! and the dynamics' parameters, and matches finite differences.

use ode_core::{solve, SolveOptions};
use ode_models::per_sample::solve_per_sample;
use tch::{Kind, Tensor};

use crate::common::{dev, f64s, Mlp};

fn inputs() -> Tensor {
    tch::manual_seed(5);
    let scale = Tensor::from_slice(&[0.1f64, 1.0, 5.0]).to_device(dev()).unsqueeze(1);
    Tensor::randn([3, 2], (Kind::Double, dev())) * scale
}

const TS: [f64; 3] = [0.0, 0.6, 1.5];

/// A loss that weighs every output time and component differently.
fn loss(ys: &[Tensor]) -> Tensor {
    // Out-of-place sums: tch's `+=` is the in-place `add_`, which autograd
    // would reject on a graph value.
    ys.iter().enumerate().fold(Tensor::zeros([], (Kind::Double, dev())), |total, (i, y)| {
        let w = Tensor::arange_start(1, y.numel() as i64 + 1, (Kind::Double, dev())).view_as(y);
        total + (y * w).sin().sum(Kind::Double) * (i as f64 + 1.0)
    })
}

fn per_sample_loss(mlp: &Mlp, y0: &Tensor, rtol: f64) -> Tensor {
    let f = |_t: &Tensor, y: &Tensor| mlp.forward(y);
    let sol = solve_per_sample(&f, y0, &TS, &SolveOptions::default().tol(rtol, rtol * 1e-2)).unwrap();
    loss(&sol.ys)
}

fn with_grad(mlp: &Mlp) -> Mlp {
    let g = |p: &Tensor| p.detach().copy().set_requires_grad(true);
    Mlp { w1: g(&mlp.w1), b1: g(&mlp.b1), w2: g(&mlp.w2), b2: g(&mlp.b2) }
}

/// Every gradient (y0, then each parameter) flattened.
fn grads(inputs: &[&Tensor]) -> Vec<f64> {
    inputs.iter().flat_map(|x| f64s(&x.grad())).collect()
}

#[test]
fn direct_gradients_match_central_differences() {
    let base = Mlp::new(9, 8, Kind::Double);
    let mlp = with_grad(&base);
    let y0 = inputs().set_requires_grad(true);
    let rtol = 1e-11;
    per_sample_loss(&mlp, &y0, rtol).backward();
    let mut inputs: Vec<&Tensor> = vec![&y0];
    inputs.extend(mlp.params());
    let g = grads(&inputs);

    // Central differences of the per-sample forward, entry by entry.
    let eps = 1e-5;
    let mut checked = 0;
    let mut worst = 0.0f64;
    tch::no_grad(|| {
        let mut offset = 0;
        for which in 0..5 {
            let numel = inputs[which].numel();
            // y0 fully, and a spread of parameter entries.
            let stride = if which == 0 { 1 } else { 1 + numel / 4 };
            for j in (0..numel).step_by(stride) {
                let value = |delta: f64| {
                    let m = Mlp {
                        w1: base.w1.copy(),
                        b1: base.b1.copy(),
                        w2: base.w2.copy(),
                        b2: base.b2.copy(),
                    };
                    let y = inputs[0].detach().copy();
                    let target = match which {
                        0 => &y,
                        1 => &m.w1,
                        2 => &m.b1,
                        3 => &m.w2,
                        _ => &m.b2,
                    };
                    let _ = target.view([-1]).get(j as i64).f_add_scalar_(delta).unwrap();
                    per_sample_loss(&m, &y, rtol).double_value(&[])
                };
                let fd = (value(eps) - value(-eps)) / (2.0 * eps);
                let ad = g[offset + j];
                let rel = (fd - ad).abs() / ad.abs().max(1e-2);
                worst = worst.max(rel);
                assert!(rel < 1e-5, "input {which}, entry {j}: autograd {ad} vs finite difference {fd}");
                checked += 1;
            }
            offset += numel;
        }
    });
    eprintln!("direct vs central differences: {checked} entries, worst relative difference {worst:e}");
}

#[test]
fn direct_gradients_agree_with_whole_batch_direct_at_tight_tolerance() {
    let base = Mlp::new(4, 8, Kind::Double);
    let rtol = 1e-11;
    let ours = with_grad(&base);
    let y0a = inputs().set_requires_grad(true);
    per_sample_loss(&ours, &y0a, rtol).backward();
    let whole = with_grad(&base);
    let y0b = inputs().set_requires_grad(true);
    let f = |_t: f64, y: &Tensor| whole.forward(y);
    let sol = solve(&f, y0b.shallow_clone(), &TS, &SolveOptions::default().tol(rtol, rtol * 1e-2)).unwrap();
    loss(&sol.ys).backward();
    let mut a: Vec<&Tensor> = vec![&y0a];
    a.extend(ours.params());
    let mut b: Vec<&Tensor> = vec![&y0b];
    b.extend(whole.params());
    let (ga, gb) = (grads(&a), grads(&b));
    let scale = gb.iter().fold(0.0f64, |m, x| m.max(x.abs()));
    let worst = ga.iter().zip(&gb).fold(0.0f64, |m, (x, y)| m.max((x - y).abs()));
    eprintln!("per-sample vs whole-batch direct gradients: max diff {worst:e} (scale {scale:e})");
    assert!(worst < 1e-7 * scale, "max difference {worst:e} at gradient scale {scale:e}");
    assert!(ga.iter().all(|x| x.is_finite()) && ga.iter().any(|x| *x != 0.0));
}
