//! Convergence orders of the implicit formulas at constant step size, and
//! dense output / backward integration of the adaptive solvers.
#![cfg(feature = "stiff")]

use ndarray::{array, Array1};
use ode_core::implicit::problems::Hires;
use ode_core::implicit::{bdf_constant_step, solve_stiff, StiffMethod, StiffOptions};

/// Least-squares slope of log(err) against log(h).
fn slope(hs: &[f64], errs: &[f64]) -> f64 {
    let xs: Vec<f64> = hs.iter().map(|h| h.ln()).collect();
    let ys: Vec<f64> = errs.iter().map(|e| e.ln()).collect();
    let n = xs.len() as f64;
    let (mx, my) = (xs.iter().sum::<f64>() / n, ys.iter().sum::<f64>() / n);
    let cov: f64 = xs.iter().zip(&ys).map(|(x, y)| (x - mx) * (y - my)).sum();
    let var: f64 = xs.iter().map(|x| (x - mx) * (x - mx)).sum();
    cov / var
}

/// Prothero-Robinson `y' = lambda (y - cos t) - sin t`, exact `y = cos t`.
fn prothero_robinson(lambda: f64) -> impl Fn(f64, &Array1<f64>) -> Array1<f64> {
    move |t: f64, y: &Array1<f64>| y.mapv(|v| lambda * (v - t.cos()) - t.sin())
}

#[test]
fn bdf_fixed_order_convergence() {
    let f = prothero_robinson(-10.0);
    for ndf in [false, true] {
        for k in 1..=5usize {
            // Coarser steps for higher orders keep the errors far above
            // round-off.
            let ns: Vec<usize> = if k >= 4 { vec![20, 40, 80, 160] } else { vec![40, 80, 160, 320] };
            let mut hs = Vec::new();
            let mut errs = Vec::new();
            for &n in &ns {
                let h = 1.0 / n as f64;
                let past: Vec<Array1<f64>> = (0..=k).map(|j| array![(-(j as f64) * h).cos()]).collect();
                let y = bdf_constant_step(&f, 0.0, &past, h, n, ndf).unwrap();
                hs.push(h);
                errs.push((y[0] - 1f64.cos()).abs());
            }
            let p = slope(&hs, &errs);
            eprintln!("BDF{k} (ndf {ndf}): errors {errs:?}, order {p:.2}");
            assert!((p - k as f64).abs() < 0.3, "BDF{k} (ndf {ndf}): observed order {p:.2}");
        }
    }
}

#[test]
fn radau_order_five() {
    // The pendulum y1' = y2, y2' = -sin(y1) on [0, 10] with constant steps,
    // against the same method at 1024 steps (error ~1e-15).
    let f = |_t: f64, y: &Array1<f64>| array![y[1], -y[0].sin()];
    let run = |n: usize| {
        let h = 10.0 / n as f64;
        let opts = StiffOptions::new(StiffMethod::Radau5).fixed_step(h).tol(1e-12, 1e-12);
        let sol = solve_stiff(&f, array![1.0, 0.0], &[0.0, 10.0], &opts).unwrap();
        assert_eq!(sol.solution.stats.n_accepted, n);
        sol.solution.ys[1].clone()
    };
    let reference = run(1024);
    let mut hs = Vec::new();
    let mut errs = Vec::new();
    for n in [10usize, 20, 40, 80] {
        let y = run(n);
        hs.push(10.0 / n as f64);
        errs.push((&y - &reference).iter().fold(0.0f64, |m, v| m.max(v.abs())));
    }
    let p = slope(&hs, &errs);
    eprintln!("Radau IIA: errors {errs:?}, order {p:.2}");
    assert!((p - 5.0).abs() < 0.3, "observed order {p:.2}");
}

#[test]
fn dense_output_matches_a_tight_solution() {
    // HIRES observed at 50 times inside steps: the polynomial of each step
    // must be as accurate as the steps themselves.
    let ts: Vec<f64> = (0..=50).map(|i| Hires::T_END * i as f64 / 50.0).collect();
    let tight =
        solve_stiff(&Hires, Hires::y0(), &ts, &StiffOptions::new(StiffMethod::Radau5).tol(1e-12, 1e-16))
            .unwrap()
            .solution;
    for method in [StiffMethod::Bdf, StiffMethod::Radau5] {
        let rtol = 1e-7;
        let opts = StiffOptions::new(method).tol(rtol, 1e-11).dense(true);
        let sol = solve_stiff(&Hires, Hires::y0(), &ts, &opts).unwrap();
        let dense = sol.dense.as_ref().unwrap();
        assert_eq!(dense.len(), sol.solution.stats.n_accepted);
        let mut worst: f64 = 0.0;
        for (i, y) in sol.solution.ys.iter().enumerate() {
            let r = &tight.ys[i];
            let scale = r.mapv(|v| 1e-11 + rtol * v.abs());
            let e = ((y - r) / &scale).iter().fold(0.0f64, |m, v| m.max(v.abs()));
            worst = worst.max(e);
            // The dense solution agrees with the outputs.
            let yd = dense.eval(ts[i]).unwrap();
            assert!((&yd - y)
                .iter()
                .all(|d| d.abs() <= 1e-12 + 1e-9 * r.iter().fold(0.0f64, |m, v| m.max(v.abs()))));
        }
        eprintln!("{method:?}: worst scaled output error {worst:.2}");
        assert!(worst < 30.0, "{method:?}: scaled error {worst}");
        assert!(dense.eval(Hires::T_END + 1.0).is_none());
    }
}

#[test]
fn backwards_in_time_and_output_times() {
    // y' = -y from t = 2 back to t = 0 through t = 1.
    let f = |_t: f64, y: &Array1<f64>| -y;
    for method in [StiffMethod::Bdf, StiffMethod::Radau5] {
        let opts = StiffOptions::new(method).tol(1e-9, 1e-12);
        let sol = solve_stiff(&f, array![1.0], &[2.0, 1.0, 0.0], &opts).unwrap().solution;
        assert_eq!(sol.ts, vec![2.0, 1.0, 0.0]);
        assert!((sol.ys[1][0] - 1f64.exp()).abs() < 1e-7 * 1f64.exp(), "{method:?} {:?}", sol.ys[1]);
        assert!((sol.ys[2][0] - 2f64.exp()).abs() < 1e-7 * 2f64.exp(), "{method:?} {:?}", sol.ys[2]);
    }
}

#[test]
fn jumps_restart_the_method() {
    // f switches from -y to -10 y at t = 1: land on it and restart.
    let f = |t: f64, y: &Array1<f64>| if t < 1.0 { -y } else { y * -10.0 };
    for method in [StiffMethod::Bdf, StiffMethod::Radau5] {
        let mut opts = StiffOptions::new(method).tol(1e-9, 1e-12);
        opts.common.jump_t = vec![1.0];
        let sol = solve_stiff(&f, array![1.0], &[0.0, 1.0, 1.5], &opts).unwrap().solution;
        let exact1 = (-1f64).exp();
        let exact = exact1 * (-5f64).exp();
        assert!((sol.ys[1][0] - exact1).abs() < 1e-7 * exact1, "{method:?}");
        assert!((sol.ys[2][0] - exact).abs() < 1e-6 * exact, "{method:?}: {} vs {exact}", sol.ys[2][0]);
        assert!(sol.steps.iter().any(|s| s.t + s.h == 1.0), "{method:?}: no step lands on the jump");
    }
}
