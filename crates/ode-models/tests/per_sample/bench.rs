//! Benchmark (ignored by default): per-sample vs whole-batch stepping for an
//! MLP neural ODE whose inputs have mixed scales. Run with
//! `cargo test -p ode-models --test per_sample bench -- --ignored --nocapture`.

use std::time::Instant;

use ode_core::{solve, SolveOptions};
use ode_models::per_sample::{solve_per_sample, Rowwise};
use tch::{Kind, Tensor};

use crate::common::dev;

/// 2 -> 50 -> 2 tanh MLP.
struct Net {
    w1: Tensor,
    b1: Tensor,
    w2: Tensor,
    b2: Tensor,
}

impl Net {
    fn new(kind: Kind) -> Self {
        tch::manual_seed(0);
        let o = (kind, dev());
        Net {
            w1: (Tensor::randn([2, 50], o) * 1.5).set_requires_grad(true),
            b1: (Tensor::randn([50], o) * 0.5).set_requires_grad(true),
            w2: (Tensor::randn([50, 2], o) * (2.0 / 50f64.sqrt())).set_requires_grad(true),
            b2: (Tensor::randn([2], o) * 0.1).set_requires_grad(true),
        }
    }
    fn forward(&self, y: &Tensor) -> Tensor {
        (y.matmul(&self.w1) + &self.b1).tanh().matmul(&self.w2) + &self.b2
    }
    fn to_double(&self) -> Self {
        let d = |p: &Tensor| p.detach().to_kind(Kind::Double);
        Net { w1: d(&self.w1), b1: d(&self.b1), w2: d(&self.w2), b2: d(&self.b2) }
    }
}

/// Each sample's error in units of the tolerance, the largest over its
/// components of `|y - ref| / (atol + rtol max(|y0|, |ref|))` (roughly the
/// scale the controller saw along the way), as "max / mean over the batch".
fn error_in_tol(y: &Tensor, reference: &Tensor, y0: &Tensor, rtol: f64, atol: f64) -> String {
    let r = reference.to_kind(Kind::Double);
    let big = r.abs().maximum(&y0.to_kind(Kind::Double).abs());
    let per = ((y.to_kind(Kind::Double) - &r).abs() / (big * rtol + atol)).amax([1i64].as_slice(), false);
    format!("{:.1} / {:.2}", per.max().double_value(&[]), per.mean(Kind::Double).double_value(&[]))
}

fn best_of<T>(runs: usize, mut f: impl FnMut() -> T) -> (f64, T) {
    let mut best = f64::INFINITY;
    let mut last = None;
    for _ in 0..runs {
        let t = Instant::now();
        let v = f();
        best = best.min(t.elapsed().as_secs_f64());
        last = Some(v);
    }
    (best, last.expect("at least one run"))
}

#[test]
#[ignore = "benchmark: run explicitly with --ignored --nocapture"]
fn bench_mlp_mixed_scales_per_sample_vs_whole_batch() {
    tch::set_num_threads(1);
    let (rtol, atol) = (1e-5, 1e-7);
    let opts = SolveOptions::default().tol(rtol, atol);
    let ts = [0.0, 2.0];
    println!("| B | stepping | NFE per sample (min / mean / max) | calls of f | error / tol (max / mean) | forward s | fwd+bwd s |");
    println!("|---|---|---|---|---|---|---|");
    for (kind, b) in [(Kind::Float, 64i64), (Kind::Float, 1024), (Kind::Double, 64), (Kind::Double, 1024)] {
        let net = Net::new(kind);
        let exact = net.to_double();
        tch::manual_seed(1);
        // Input scales from 0.01 to 100.
        let scale = Tensor::logspace(-2.0, 2.0, b, 10.0, (kind, dev())).unsqueeze(1);
        let x = Tensor::randn([b, 2], (kind, dev())) * scale;
        let b = format!("{b} {}", if kind == Kind::Float { "f32" } else { "f64" });
        let per = |grad: bool, rowwise: bool| {
            let f = |_t: &Tensor, y: &Tensor| net.forward(y);
            let sol = if rowwise {
                solve_per_sample(&Rowwise(f), &x, &ts, &opts).unwrap()
            } else {
                solve_per_sample(&f, &x, &ts, &opts).unwrap()
            };
            if grad {
                sol.ys[1].square().mean(kind).backward();
            }
            sol.stats
        };
        let whole = |grad: bool| {
            let f = |_t: f64, y: &Tensor| net.forward(y);
            let sol = solve(&f, x.shallow_clone(), &ts, &opts).unwrap();
            if grad {
                sol.ys[1].square().mean(kind).backward();
            }
            sol.stats
        };
        let (tp, sp) = best_of(5, || tch::no_grad(|| per(false, false)));
        let (tpg, _) = best_of(5, || per(true, false));
        let (tr, _) = best_of(5, || tch::no_grad(|| per(false, true)));
        let (trg, _) = best_of(5, || per(true, true));
        let (tw, sw) = best_of(5, || tch::no_grad(|| whole(false)));
        let (twg, _) = best_of(5, || whole(true));
        let min = sp.nfe.iter().min().unwrap();
        let reference = tch::no_grad(|| {
            let f = |_t: &Tensor, y: &Tensor| exact.forward(y);
            let tight = SolveOptions::default().tol(1e-11, 1e-13);
            solve_per_sample(&Rowwise(f), &x.to_kind(Kind::Double), &ts, &tight).unwrap().ys.remove(1)
        });
        let (yp, yw) = tch::no_grad(|| {
            let g = |_t: f64, y: &Tensor| net.forward(y);
            let f = |_t: &Tensor, y: &Tensor| net.forward(y);
            let p = solve_per_sample(&f, &x, &ts, &opts).unwrap().ys.remove(1);
            (p, solve(&g, x.shallow_clone(), &ts, &opts).unwrap().ys.remove(1))
        });
        let (ep, ew) =
            (error_in_tol(&yp, &reference, &x, rtol, atol), error_in_tol(&yw, &reference, &x, rtol, atol));
        println!(
            "| {b} | per-sample | {min} / {:.1} / {} | {} | {ep} | {tp:.4} | {tpg:.4} |",
            sp.nfe_mean(),
            sp.nfe_max(),
            sp.n_calls
        );
        println!("| {b} | per-sample, `Rowwise` | (same) | {} | (same) | {tr:.4} | {trg:.4} |", sp.n_calls);
        println!("| {b} | whole batch | {0} / {0} / {0} | {0} | {ew} | {tw:.4} | {twg:.4} |", sw.nfe);
        assert!(sp.nfe_mean() < sw.nfe as f64, "per-sample stepping should save evaluations on average");
    }
}
