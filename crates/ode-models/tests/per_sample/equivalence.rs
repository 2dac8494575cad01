//! With one sample the per-sample solver takes exactly ode-core's steps.

use ode_core::tableau::{ADAPTIVE_HEUN, BOSH3, DOPRI5, DOPRI8, FEHLBERG2, TSIT5};
use ode_core::{solve, ButcherTableau, Controller, SolveOptions};
use ode_models::per_sample::solve_per_sample;
use tch::{Kind, Tensor};

use crate::common::{dev, max_abs_diff};

/// Van der Pol (mu = 2) with a time-dependent forcing, on a [1, 2] tensor.
fn vdp(t: &Tensor, y: &Tensor) -> Tensor {
    let x = y.narrow(1, 0, 1);
    let v = y.narrow(1, 1, 1);
    let force = (t * 1.3).sin().unsqueeze(1) * 0.5;
    let dv = (1.0 - &x * &x) * &v * 2.0 - &x + force;
    Tensor::cat(&[v, dv], 1)
}

fn check(tab: &'static ButcherTableau, ctrl: Controller, ts: &[f64], rtol: f64) {
    let y0 = Tensor::from_slice(&[1.5f64, -0.3]).reshape([1, 2]).to_device(dev());
    let opts = SolveOptions::default().method(tab).tol(rtol, rtol * 1e-2).controller(ctrl);
    let core_f = |t: f64, y: &Tensor| vdp(&Tensor::from_slice(&[t]).to_device(dev()), y);
    let core = solve(&core_f, y0.shallow_clone(), ts, &opts).unwrap();
    let ours = solve_per_sample(&vdp, &y0, ts, &opts).unwrap();
    let s = &ours.stats;
    assert_eq!(s.nfe[0], core.stats.nfe, "{}: NFE", tab.name);
    assert_eq!(s.n_accepted[0], core.stats.n_accepted, "{}: accepted", tab.name);
    assert_eq!(s.n_rejected[0], core.stats.n_rejected, "{}: rejected", tab.name);
    assert_eq!(s.n_calls, core.stats.nfe, "{}: batch calls", tab.name);
    assert!(core.stats.n_rejected > 0 || tab.name != "dopri5", "the problem should exercise rejections");
    let mut worst = 0.0f64;
    for (a, b) in ours.ys.iter().zip(&core.ys) {
        let d = max_abs_diff(a, b);
        worst = worst.max(d);
        assert!(d < 1e-12, "{}: output differs by {d:e}", tab.name);
    }
    eprintln!(
        "{} rtol {rtol:e}: NFE {} ({} accepted, {} rejected) in both; outputs differ by {worst:e}",
        tab.name, s.nfe[0], s.n_accepted[0], s.n_rejected[0]
    );
    assert_eq!(ours.ys[0].kind(), Kind::Double);
}

#[test]
fn batch_of_one_takes_ode_core_steps_for_every_embedded_tableau() {
    let ts = [0.0, 0.3, 1.0, 2.5, 4.0, 4.01, 7.0];
    for tab in [&DOPRI5, &TSIT5, &BOSH3, &FEHLBERG2, &ADAPTIVE_HEUN, &DOPRI8] {
        check(tab, Controller::integral(), &ts, 1e-6);
    }
}

#[test]
fn batch_of_one_matches_with_pi_controller_backwards_in_time() {
    let ts = [5.0, 4.2, 1.0, -0.5];
    check(&DOPRI5, Controller::hairer_pi(), &ts, 1e-8);
    check(&TSIT5, Controller::pi(0.3, 0.4), &ts, 1e-5);
    check(&DOPRI8, Controller::integral(), &ts, 1e-9);
}
