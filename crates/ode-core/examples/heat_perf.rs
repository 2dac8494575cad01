//! Per-step cost of the implicit solvers on the 1-D heat equation (the
//! `heat*` cases of `cargo xtask bench stiff`): work counts, the error
//! against the exact solution, the best of `--repeats` solve times, the
//! time per accepted step, and a fingerprint of the final state's bits.
//!
//! ```text
//! cargo run --release -p ode-core --example heat_perf -- [--repeats N] [--n 100,1000]
//!     [--methods bdf,radau5,auto] [--rtols 1e-6,1e-8] [--dense [--no-detect]]
//! ```
//!
//! Used to compare versions of the linear algebra: when only the speed
//! changed, every count and the fingerprint stay the same.

use std::time::Instant;

use ndarray::Array1;
use ode_core::implicit::problems::Heat1d;
use ode_core::implicit::{solve_stiff, StiffMethod, StiffOptions};

/// The value following `--name`, if given.
fn arg(name: &str) -> Option<String> {
    std::env::args().skip_while(|a| a != name).nth(1)
}

fn list<T: std::str::FromStr>(name: &str, default: &str) -> Vec<T> {
    arg(name)
        .unwrap_or_else(|| default.to_string())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect()
}

/// FNV-1a over the bit patterns: equal fingerprints mean (almost surely)
/// bitwise equal states.
fn fingerprint(y: &Array1<f64>) -> u64 {
    y.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, v| (h ^ v.to_bits()).wrapping_mul(0x0100_0000_01b3))
}

fn method(name: &str) -> Option<StiffMethod> {
    match name {
        "bdf" => Some(StiffMethod::Bdf),
        "radau5" => Some(StiffMethod::Radau5),
        "auto" => Some(StiffMethod::Auto),
        "adams" => Some(StiffMethod::Adams),
        _ => None,
    }
}

fn main() {
    let repeats: usize = arg("--repeats").and_then(|s| s.parse().ok()).unwrap_or(20);
    let sizes: Vec<usize> = list("--n", "100,1000");
    let rtols: Vec<f64> = list("--rtols", "1e-6,1e-8");
    let methods: Vec<StiffMethod> =
        arg("--methods").unwrap_or_else(|| "bdf,radau5,auto".into()).split(',').filter_map(method).collect();
    let dense = std::env::args().any(|a| a == "--dense");
    // `--dense` alone lets the solver find the band; with `--no-detect` it
    // factorizes the full matrix with LAPACK.
    let detect = !std::env::args().any(|a| a == "--no-detect");
    println!(
        "{:16} {:6} {:7} {:5} {:5} {:4} {:4} {:>9} {:9} {:>10} {:>8} {:>16}",
        "case",
        "method",
        "rtol",
        "steps",
        "nfe",
        "jac",
        "lu",
        "adams/bdf",
        "err",
        "best us",
        "us/step",
        "fingerprint"
    );
    for &n in &sizes {
        let heat = Heat1d { n };
        let (y0, exact) = (heat.y0(), heat.exact(0.1));
        let name = format!(
            "heat{n}-{}",
            if !dense {
                "banded"
            } else if detect {
                "dense"
            } else {
                "dense-lapack"
            }
        );
        for &m in &methods {
            for &rtol in &rtols {
                let mut opts =
                    StiffOptions::new(m).tol(rtol, rtol * 1e-3).max_steps(10_000_000).detect_band(detect);
                if !dense {
                    opts = opts.banded(1, 1);
                }
                let mut best = f64::INFINITY;
                let mut last = None;
                for _ in 0..repeats.max(1) {
                    let start = Instant::now();
                    let r = solve_stiff(&heat, y0.clone(), &[0.0, 0.1], &opts);
                    best = best.min(start.elapsed().as_secs_f64());
                    last = Some(r);
                }
                match last.expect("at least one solve") {
                    Ok(sol) => {
                        let (st, ss) = (sol.solution.stats, sol.stiff_stats);
                        let y = &sol.solution.ys[1];
                        let err = y.iter().zip(&exact).map(|(a, b)| ((a - b) / b).abs()).fold(0.0, f64::max);
                        println!(
                            "{name:16} {:6} {rtol:7.0e} {:5} {:5} {:4} {:4} {:>9} {err:9.3e} {:10.1} {:8.2} {:016x}",
                            m.name(),
                            st.n_accepted,
                            st.nfe,
                            ss.n_jac,
                            ss.n_lu,
                            format!("{}/{}", ss.n_adams_steps, ss.n_bdf_steps),
                            best * 1e6,
                            best * 1e6 / st.n_accepted.max(1) as f64,
                            fingerprint(y)
                        );
                    }
                    Err(e) => println!("{name:16} {:6} {rtol:7.0e} failed: {e}", m.name()),
                }
            }
        }
    }
}
