//! Cotangents of the local error estimates (ACA only): the gradient of
//! L = sum_n |err_n|^2 by `backward_with_errors` against finite differences
//! of the same quantity recomputed on the frozen step grid.

mod common;

use common::*;
use ndarray::{array, Array1};
use ode_autodiff::problems::{CubicSpiral, LotkaVolterra, Mlp};
use ode_autodiff::{solve_with_grad, GradientMethod};
use ode_core::tableau::{BOSH3, DOPRI5, DOPRI8, TSIT5};
use ode_core::{ButcherTableau, OdeState, SolveOptions};

/// `sum_n |err_n|^2` of a solve on the frozen grid `fopts`.
fn err_loss<F: FlatParams>(f: &F, y0: &Y, ts: &[f64], fopts: &SolveOptions) -> f64 {
    let fwd = solve_with_grad(f, y0.clone(), ts, fopts, &GradientMethod::Aca).unwrap();
    fwd.error_estimates(f).unwrap().iter().map(|e| e.dot(e)).sum()
}

/// Relative error of `g` against five-point FD at the best of the steps
/// eps = 1e-5, 1e-4, 1e-3 (relative): err_n = h sum e_i k_i is a
/// cancellation-prone difference whose rounding (~1e-10 relative) makes
/// small steps noisy, while large steps suffer truncation, and which wins
/// depends on the problem (MLP/dopri8: 2.9e-6, 2.4e-7, 3.1e-8; LV/dopri5:
/// ~7e-9 at 1e-5, 4.2e-6 at 1e-3). A wrong gradient is off at every step.
fn best_fd_err<F: FlatParams>(g: &[f64], f: &F, y0: &Y, obj: &dyn Fn(&F, &Y) -> f64) -> f64 {
    [1e-5, 1e-4, 1e-3]
        .iter()
        .map(|&eps| {
            let (a, b) = fd_grad(f, y0, eps, obj);
            rel(g, &cat(&a, &b))
        })
        .fold(f64::INFINITY, f64::min)
}

/// Returns the relative error of the error-regularizer gradient, and of the
/// combined gradient (output loss + 1e6 x error loss) against FD.
fn check<F: FlatParams>(name: &str, f: &F, y0: &Y, ts: &[f64], m: &'static ButcherTableau) -> (f64, f64) {
    let opts = SolveOptions::default().method(m).tol(1e-5, 1e-7);
    let fwd = solve_with_grad(f, y0.clone(), ts, &opts, &GradientMethod::Aca).unwrap();
    let errs = fwd.error_estimates(f).unwrap();
    assert_eq!(errs.len(), fwd.solution.steps.len());

    // The estimates are the ones the controller saw (dopri8's controller
    // mixes in a 3rd-order estimate, so only the embedded pairs are checked).
    if m.name != DOPRI8.name {
        let ckpt_opts = opts.clone().checkpoints(true);
        let sol = ode_core::solve(f, y0.clone(), ts, &ckpt_opts).unwrap();
        let ck = sol.checkpoints.unwrap();
        for (n, (e, s)) in errs.iter().zip(&sol.steps).enumerate() {
            let y1 = ck.get(n + 1).unwrap_or_else(|| sol.ys.last().unwrap());
            let r = Y::error_ratio(e, &ck[n], y1, &opts.tol);
            assert!(
                (r - s.error_ratio).abs() <= 1e-9 * s.error_ratio.max(1e-3),
                "step {n}: {r} vs {}",
                s.error_ratio
            );
        }
    }

    let zeros: Vec<Y> = fwd.solution.ys.iter().map(|y| Array1::zeros(y.len())).collect();
    let derr: Vec<Y> = errs.iter().map(|e| e * 2.0).collect();
    let g = fwd.backward_with_errors(f, &zeros, &derr).unwrap();
    let fopts = frozen(&fwd, m);
    let obj1 = |f: &F, y0: &Y| err_loss(f, y0, ts, &fopts);
    let e1 = best_fd_err(&cat(g.dy0.as_slice().unwrap(), &F::flat(&g.dtheta)), f, y0, &obj1);

    // Combined: output loss plus a weighted error regularizer (the weight
    // makes both parts of comparable size).
    let w = 1e6;
    let derr_w: Vec<Y> = errs.iter().map(|e| e * (2.0 * w)).collect();
    let g2 = fwd.backward_with_errors(f, &loss_cot(&fwd.solution.ys), &derr_w).unwrap();
    let both = |f: &F, y0: &Y| {
        let fwd = solve_with_grad(f, y0.clone(), ts, &fopts, &GradientMethod::Aca).unwrap();
        let r: f64 = fwd.error_estimates(f).unwrap().iter().map(|e| e.dot(e)).sum();
        loss(&fwd.solution.ys) + w * r
    };
    let e2 = best_fd_err(&cat(g2.dy0.as_slice().unwrap(), &F::flat(&g2.dtheta)), f, y0, &both);
    println!(
        "{name} {}: {} steps, sum|err|^2 = {:.3e}; rel err vs frozen FD: errors only {e1:.2e}, combined {e2:.2e}",
        m.name,
        errs.len(),
        errs.iter().map(|e| e.dot(e)).sum::<f64>()
    );
    (e1, e2)
}

/// Bound: 1e-6 relative against the best-step FD (see `best_fd_err`).
#[test]
fn error_cotangents_match_frozen_fd() {
    let lv = LotkaVolterra::default();
    let ts_lv = [0.0, 1.3, 2.5, 4.0, 10.0];
    let sp = CubicSpiral::default();
    let ts_sp = [0.0, 2.5, 7.1, 12.0];
    let mlp = Mlp::seeded(2, 8, 3);
    let ts_mlp = [0.0, 0.7, 2.0];
    for m in [&DOPRI5, &TSIT5, &BOSH3, &DOPRI8] {
        for (e1, e2) in [
            check("lotka-volterra", &lv, &array![1.0, 1.0], &ts_lv, m),
            check("lotka-volterra bwd", &lv, &array![1.0, 1.0], &[10.0, 6.5, 0.0], m),
            check("spiral", &sp, &array![2.0, 0.0], &ts_sp, m),
            check("mlp", &mlp, &array![0.5, -1.0], &ts_mlp, m),
        ] {
            assert!(e1 < 1e-6 && e2 < 1e-6, "{} {e1:e} {e2:e}", m.name);
        }
    }
}
