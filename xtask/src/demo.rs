//! `cargo xtask demo`: a short tour of the solver on the Lorenz system.

use std::time::Instant;

use anyhow::{anyhow, Result};
use ndarray::array;
use ode_core::tableau::DOPRI5;
use ode_core::{solve, SolveOptions};

use crate::problems::{lorenz, LORENZ};

pub fn run() -> Result<()> {
    let (sigma, rho, beta) = LORENZ;
    let f = lorenz(sigma, rho, beta);
    let y0 = array![1.0, 1.0, 1.0];
    let ts: Vec<f64> = (0..=8).map(|i| 2.5 * i as f64).collect();
    let opts = SolveOptions::default().method(&DOPRI5).tol(1e-8, 1e-10);

    println!("Lorenz system (sigma = {sigma}, rho = {rho}, beta = 8/3), y(0) = (1, 1, 1)");
    println!("dopri5, rtol 1e-8, atol 1e-10\n");
    let t0 = Instant::now();
    let sol = solve(&f, y0, &ts, &opts).map_err(|e| anyhow!("solve failed: {e}"))?;
    let elapsed = t0.elapsed();

    println!("{:>6}  {:>14} {:>14} {:>14}", "t", "x", "y", "z");
    for (t, y) in sol.ts.iter().zip(&sol.ys) {
        println!("{t:>6.1}  {:>14.8} {:>14.8} {:>14.8}", y[0], y[1], y[2]);
    }
    let s = sol.stats;
    let (h_min, h_max) =
        sol.steps.iter().fold((f64::INFINITY, 0.0f64), |(lo, hi), r| (lo.min(r.h.abs()), hi.max(r.h.abs())));
    println!(
        "\n{} right-hand-side evaluations, {} accepted and {} rejected steps \
         (step sizes {h_min:.2e} .. {h_max:.2e}), {:.2} ms",
        s.nfe,
        s.n_accepted,
        s.n_rejected,
        elapsed.as_secs_f64() * 1e3
    );
    println!("The Lorenz system is chaotic: tighten the tolerance and the late states change.");
    Ok(())
}
