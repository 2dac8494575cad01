//! `cargo xtask bench stiff`: ode-core's implicit solvers against scipy's
//! `solve_ivp` BDF, Radau and LSODA on standard stiff problems, at matched
//! tolerances, in one run, plus a work-precision plot.
//!
//! Both sides get the same analytic Jacobians: dense, except on the
//! `-banded` heat cases, where both get the structure (ours a banded
//! Jacobian, scipy's BDF/Radau a sparse one, LSODA its packed band). xtask
//! writes the
//! cases and the list of runs to `target/bench/stiff_cases.json`, runs
//! `xtask/peer/scipy_stiff.py`, computes the errors of both sides against
//! the same references, and writes `target/bench/stiff.json`, the `stiff`
//! section of `docs/benchmarks.md` and `target/bench/stiff_work_precision.png`.

//!
//! The implicit solvers need OpenBLAS, which the bootstrapping xtask is
//! built without: without the `stiff` feature, `run` rebuilds xtask with it
//! and runs `bench stiff` again.

use anyhow::Result;

/// Runs the benchmark (re-running xtask with `--features stiff` when this
/// build lacks the implicit solvers, and with BLAS pinned to one thread).
pub fn run(quick: bool) -> Result<()> {
    // OpenBLAS reads its thread count once, when it is loaded, so it has to
    // be in the environment before the process starts: re-run unless it is.
    let threads_pinned = std::env::var_os("OPENBLAS_NUM_THREADS").is_some();
    #[cfg(feature = "stiff")]
    if threads_pinned {
        return imp::run(quick);
    }
    let mut cmd = crate::util::cargo();
    cmd.args(["run", "--release", "-p", "xtask", "--features", "stiff", "--", "bench", "stiff"]);
    if quick {
        cmd.arg("--quick");
    }
    if !threads_pinned {
        // One BLAS thread on both sides (the scipy peer inherits it): the
        // Newton matrices here are 3x3 to 1000x1000, where OpenBLAS's
        // threads cost more than they give on a 2-core machine, and a
        // shared thread count keeps the comparison fair.
        cmd.env("OPENBLAS_NUM_THREADS", "1");
    }
    crate::util::run(&mut cmd)
}

#[cfg(feature = "stiff")]
mod imp {
    use std::path::Path;
    use std::process::Command;

    use anyhow::{anyhow, Context, Result};
    use ndarray::Array1;
    use ode_core::implicit::problems::{Heat1d, Hires, Orego, Robertson, VanDerPol};
    use ode_core::implicit::{solve_stiff, StiffMethod, StiffOptions, StiffRhs};
    use serde::{Deserialize, Serialize};
    use serde_json::json;

    use crate::bench_report::{self, fmt_time, OUT_DIR};
    use crate::equal_error::{self, Point};
    use crate::plot::{self, Chart, Legend, Series};
    use crate::util::{self, TimingPolicy};
    use crate::venv;

    const PEER_SCRIPT: &str = "xtask/peer/scipy_stiff.py";

    #[derive(Clone)]
    enum Problem {
        Robertson,
        VanDerPol {
            mu: f64,
        },
        Hires,
        Orego,
        /// `banded`: both sides are told the Jacobian is tridiagonal.
        Heat {
            n: usize,
            banded: bool,
        },
    }

    struct Case {
        name: &'static str,
        description: &'static str,
        problem: Problem,
        t1: f64,
        y0: Array1<f64>,
        reference: Array1<f64>,
        /// atol = rtol * atol_factor: small next to every reference component,
        /// so both sides are held to relative accuracy.
        atol_factor: f64,
        /// Only the table's tolerances, not the plot's whole sweep: for
        /// the cases whose solves take seconds (heat1000).
        table_only: bool,
        /// Our `StiffOptions::detect_band` (the default, `true`): dense
        /// Jacobians with a narrow band get a banded LU. The `-lapack`
        /// cases switch it off to show LAPACK's dense LU against scipy's.
        detect_band: bool,
    }

    impl Case {
        fn rtols(&self, sweep: &[f64]) -> Vec<f64> {
            if self.table_only {
                TABLE_RTOLS.to_vec()
            } else {
                sweep.to_vec()
            }
        }
    }

    /// The heat equation on [0, 0.1] with `n` interior points, against the
    /// exact solution of the semi-discrete system.
    fn heat_case(name: &'static str, description: &'static str, n: usize, banded: bool) -> Case {
        let heat = Heat1d { n };
        Case {
            name,
            description,
            problem: Problem::Heat { n, banded },
            t1: 0.1,
            y0: heat.y0(),
            reference: heat.exact(0.1),
            atol_factor: 1e-3,
            table_only: false,
            detect_band: true,
        }
    }

    fn cases(quick: bool) -> Vec<Case> {
        let mut v = vec![
            Case {
                name: "robertson",
                description: "Robertson kinetics to t = 1e5 (reference: scipy LSODA at rtol 1e-13)",
                problem: Problem::Robertson,
                t1: 1e5,
                y0: Robertson::y0(),
                reference: Robertson::reference_1e5(),
                atol_factor: 1e-10,
                table_only: false,
                detect_band: true,
            },
            Case {
                name: "vdp1000",
                description: "Van der Pol mu = 1000 on [0, 3000] (reference: scipy Radau at rtol 1e-13)",
                problem: Problem::VanDerPol { mu: 1000.0 },
                t1: 3000.0,
                y0: VanDerPol::y0(),
                reference: VanDerPol::reference_mu1000_t3000(),
                atol_factor: 1e-4,
                table_only: false,
                detect_band: true,
            },
            Case {
                name: "hires",
                description: "HIRES on [0, 321.8122] (reference: the IVP test set)",
                problem: Problem::Hires,
                t1: Hires::T_END,
                y0: Hires::y0(),
                reference: Hires::reference(),
                atol_factor: 1e-4,
                table_only: false,
                detect_band: true,
            },
            Case {
                name: "orego",
                description: "OREGO on [0, 360] (reference: the IVP test set)",
                problem: Problem::Orego,
                t1: Orego::T_END,
                y0: Orego::y0(),
                reference: Orego::reference(),
                atol_factor: 1e-3,
                table_only: false,
                detect_band: true,
            },
            heat_case(
                "heat100-dense",
                "u_t = u_xx, 100 interior points, t in [0, 0.1], dense Jacobian on both sides \
                 (reference: exact solution of the semi-discrete system); ours finds the tridiagonal band \
                 in the dense matrix and factorizes banded (`StiffOptions::detect_band`, on by default), \
                 scipy factorizes the full matrix",
                100,
                false,
            ),
            heat_case(
                "heat100-banded",
                "the same with the Jacobian's structure on both sides: ours banded (1, 1) with banded LU, \
                 scipy BDF/Radau a `scipy.sparse` csc Jacobian (sparse LU), LSODA `lband = uband = 1` \
                 with the packed banded Jacobian",
                100,
                true,
            ),
            heat_case("heat1000-banded", "the banded case with 1000 interior points", 1000, true),
        ];
        if !quick {
            v.push(Case {
                table_only: true,
                ..heat_case(
                    "heat1000-dense",
                    "1000 interior points with dense Jacobians (table-only, to keep the full run short)",
                    1000,
                    false,
                )
            });
            for (name, description, n) in [
                (
                    "heat100-dense-lapack",
                    "heat100-dense with our band detection off: LAPACK's dense LU on both sides (table-only)",
                    100,
                ),
                ("heat1000-dense-lapack", "the same with 1000 interior points (table-only)", 1000),
            ] {
                v.push(Case {
                    table_only: true,
                    detect_band: false,
                    ..heat_case(name, description, n, false)
                });
            }
        }
        v
    }

    impl Case {
        fn to_json(&self) -> serde_json::Value {
            let (kind, params) = match &self.problem {
                Problem::Robertson => ("robertson", json!({})),
                Problem::VanDerPol { mu } => ("van_der_pol", json!({ "mu": mu })),
                Problem::Hires => ("hires", json!({})),
                Problem::Orego => ("orego", json!({})),
                Problem::Heat { n, banded } => ("heat", json!({ "n": n, "banded": banded })),
            };
            json!({ "name": self.name, "problem": kind, "params": params, "t0": 0.0, "t1": self.t1,
                    "y0": self.y0.to_vec() })
        }
    }

    /// Our methods, in the order of the table and the plot.
    const OURS: [StiffMethod; 3] = [StiffMethod::Bdf, StiffMethod::Radau5, StiffMethod::Auto];
    /// scipy's methods.
    const PEERS: [&str; 3] = ["BDF", "Radau", "LSODA"];
    /// Our method and the scipy method it is compared with: LSODA is
    /// automatic Adams/BDF switching, as is our `Auto`.
    const PAIRS: [(StiffMethod, &str); 3] =
        [(StiffMethod::Bdf, "BDF"), (StiffMethod::Radau5, "Radau"), (StiffMethod::Auto, "LSODA")];
    /// Tolerances of the table.
    const TABLE_RTOLS: [f64; 2] = [1e-6, 1e-8];
    /// Timing rounds of a full run (ours, then scipy, each round).
    const ROUNDS: usize = 2;

    #[derive(Serialize)]
    struct Record {
        case: String,
        method: String,
        rtol: f64,
        atol: f64,
        ours_s: f64,
        peer: String,
        peer_s: f64,
        ratio: f64,
        ours_nfe: f64,
        peer_nfe: f64,
        ours_err: f64,
        peer_err: f64,
        ours_steps: usize,
        peer_steps: usize,
        ours_njac: usize,
        peer_njac: usize,
        ours_nlu: usize,
        peer_nlu: usize,
        ours_repeats: usize,
        peer_repeats: usize,
    }

    #[derive(Deserialize)]
    struct PeerOut {
        python: String,
        numpy: String,
        scipy: String,
        results: Vec<PeerResult>,
    }

    #[derive(Deserialize)]
    struct PeerResult {
        case: String,
        method: String,
        rtol: f64,
        time_s: f64,
        repeats: usize,
        success: bool,
        r#final: Vec<f64>,
        nfe: usize,
        njev: usize,
        nlu: usize,
        steps: usize,
    }

    struct Ours {
        time_s: f64,
        repeats: usize,
        err: f64,
        nfe: usize,
        steps: usize,
        njac: usize,
        nlu: usize,
    }

    fn progress(msg: &str) {
        eprintln!("[bench stiff] {msg}");
    }

    /// Largest relative error over the components.
    fn max_rel(y: &[f64], r: &Array1<f64>) -> f64 {
        if y.len() != r.len() {
            return f64::INFINITY;
        }
        y.iter().zip(r).map(|(a, b)| ((a - b) / b).abs()).fold(0.0, f64::max)
    }

    fn measure<F: StiffRhs>(
        f: &F,
        case: &Case,
        m: StiffMethod,
        rtol: f64,
        policy: &TimingPolicy,
    ) -> Result<Ours> {
        let mut opts = StiffOptions::new(m)
            .tol(rtol, rtol * case.atol_factor)
            .max_steps(10_000_000)
            .detect_band(case.detect_band);
        if let Problem::Heat { banded: true, .. } = case.problem {
            opts = opts.banded(1, 1);
        }
        let ts = [0.0, case.t1];
        let (time_s, repeats, last) = policy.time(|| solve_stiff(f, case.y0.clone(), &ts, &opts));
        let sol = last.map_err(|e| anyhow!("{} {} rtol {rtol:e}: {e}", case.name, m.name()))?;
        let y = sol.solution.ys.last().expect("two output times");
        Ok(Ours {
            time_s,
            repeats,
            err: max_rel(y.as_slice().unwrap_or(&y.to_vec()), &case.reference),
            nfe: sol.solution.stats.nfe,
            steps: sol.solution.stats.n_accepted,
            njac: sol.stiff_stats.n_jac,
            nlu: sol.stiff_stats.n_lu,
        })
    }

    fn measure_case(case: &Case, m: StiffMethod, rtol: f64, policy: &TimingPolicy) -> Result<Ours> {
        match &case.problem {
            Problem::Robertson => measure(&Robertson, case, m, rtol, policy),
            Problem::VanDerPol { mu } => measure(&VanDerPol { mu: *mu }, case, m, rtol, policy),
            Problem::Hires => measure(&Hires, case, m, rtol, policy),
            Problem::Orego => measure(&Orego, case, m, rtol, policy),
            Problem::Heat { n, .. } => measure(&Heat1d { n: *n }, case, m, rtol, policy),
        }
    }

    /// One pass over our methods on every case and tolerance; failed solves
    /// go to `failures`.
    fn measure_ours(
        cases: &[Case],
        sweep: &[f64],
        policy: &TimingPolicy,
        failures: &mut Vec<String>,
    ) -> Vec<(String, StiffMethod, f64, Ours)> {
        let mut ours = Vec::new();
        for case in cases {
            for m in OURS {
                for rtol in case.rtols(sweep) {
                    let o = match measure_case(case, m, rtol, policy) {
                        Ok(o) => o,
                        // A failed solve is a result (scipy's BDF fails on
                        // vdp1000 at rtol 1e-9 too): recorded, not fatal.
                        Err(e) => {
                            progress(&format!("FAILED: {e:#}"));
                            failures.push(format!(
                                "ours {} on {} at rtol {rtol:.0e}: {e:#}",
                                m.name(),
                                case.name
                            ));
                            continue;
                        }
                    };
                    progress(&format!(
                        "{} {} rtol {rtol:.0e}: {} (best of {}), {} steps, nfe {}, rel err {:.1e}",
                        case.name,
                        m.name(),
                        fmt_time(o.time_s),
                        o.repeats,
                        o.steps,
                        o.nfe,
                        o.err
                    ));
                    ours.push((case.name.to_string(), m, rtol, o));
                }
            }
        }
        ours
    }

    /// One run of the scipy peer over the same cases and tolerances.
    fn run_peer(cases: &[Case], sweep: &[f64], policy: &TimingPolicy) -> Result<PeerOut> {
        let cases_path = Path::new(OUT_DIR).join("stiff_cases.json");
        let peer_path = Path::new(OUT_DIR).join("stiff_peer.json");
        let mut runs = Vec::new();
        for case in cases {
            for method in PEERS {
                for rtol in case.rtols(sweep) {
                    runs.push(json!({ "case": case.name, "method": method, "rtol": rtol, "atol": rtol * case.atol_factor }));
                }
            }
        }
        let spec = json!({
            "timing": policy,
            "cases": cases.iter().map(Case::to_json).collect::<Vec<_>>(),
            "runs": runs,
        });
        std::fs::write(&cases_path, serde_json::to_vec(&spec)?)?;
        progress("running the scipy peer");
        let mut cmd = Command::new(venv::venv_python());
        cmd.arg(PEER_SCRIPT).arg(&cases_path).arg(&peer_path);
        // Only for the peer: let numpy's OpenBLAS pick its kernels itself.
        cmd.env_remove("OPENBLAS_CORETYPE").env_remove("OPENBLAS_L2_SIZE");
        std::fs::remove_file(&peer_path).ok();
        util::run(&mut cmd).context("the scipy peer failed")?;
        serde_json::from_slice(&std::fs::read(&peer_path)?).context("reading the peer output")
    }

    pub(super) fn run(quick: bool) -> Result<()> {
        if cfg!(debug_assertions) {
            eprintln!(
                "[bench stiff] warning: xtask was built without optimisations; use `cargo xtask` (release)"
            );
        }
        venv::ensure_venv().context("setting up the Python virtualenv for the scipy peer")?;
        std::fs::create_dir_all(OUT_DIR)?;
        let policy = if quick {
            TimingPolicy { budget_s: 0.2, min_repeats: 1, max_repeats: 5 }
        } else {
            TimingPolicy { budget_s: 1.0, min_repeats: 3, max_repeats: 50 }
        };
        // The work-precision sweep; the table uses TABLE_RTOLS from it.
        let sweep: Vec<f64> =
            if quick { vec![1e-4, 1e-6, 1e-8] } else { vec![1e-4, 1e-5, 1e-6, 1e-7, 1e-8, 1e-9] };
        let cases = cases(quick);
        let load_before = util::load_average();

        // Rounds of ours-then-scipy, each row's best time over the rounds: a
        // slow spell of the (shared) machine then costs both sides alike
        // instead of whichever happened to run through it.
        let rounds = if quick { 1 } else { ROUNDS };
        let mut ours: Vec<(String, StiffMethod, f64, Ours)> = Vec::new();
        let mut failures: Vec<String> = Vec::new();
        let mut peer: Option<PeerOut> = None;
        for round in 1..=rounds {
            progress(&format!("round {round} of {rounds}"));
            for (case, m, rtol, o) in measure_ours(&cases, &sweep, &policy, &mut failures) {
                match ours.iter_mut().find(|x| x.0 == case && x.1 == m && x.2 == rtol) {
                    Some(x) => {
                        x.3.time_s = x.3.time_s.min(o.time_s);
                        x.3.repeats += o.repeats;
                    }
                    None => ours.push((case, m, rtol, o)),
                }
            }
            let p = run_peer(&cases, &sweep, &policy)?;
            peer = Some(match peer {
                None => p,
                Some(mut acc) => {
                    for r in p.results {
                        let same = |x: &&mut PeerResult| {
                            x.case == r.case && x.method == r.method && x.rtol == r.rtol
                        };
                        match acc.results.iter_mut().find(same) {
                            Some(x) => {
                                x.time_s = x.time_s.min(r.time_s);
                                x.repeats += r.repeats;
                            }
                            None => acc.results.push(r),
                        }
                    }
                    acc
                }
            });
        }
        // Every round fails the same solves.
        failures.sort();
        failures.dedup();
        let peer = peer.ok_or_else(|| anyhow!("no timing round ran"))?;

        let find_peer = |case: &str, method: &str, rtol: f64| {
            peer.results
                .iter()
                .find(|p| p.case == case && p.method == method && p.rtol == rtol)
                .ok_or_else(|| anyhow!("peer output lacks {case} {method} rtol {rtol:e}"))
        };
        let find_ours = |case: &str, m: StiffMethod, rtol: f64| {
            ours.iter()
                .find(|o| o.0 == case && o.1 == m && o.2 == rtol)
                .map(|o| &o.3)
                .ok_or_else(|| anyhow!("missing our run {case} {} {rtol:e}", m.name()))
        };

        let mut records = Vec::new();
        for case in &cases {
            for &rtol in &TABLE_RTOLS {
                for (m, pm) in PAIRS {
                    let p = find_peer(case.name, pm, rtol)?;
                    let Ok(o) = find_ours(case.name, m, rtol) else {
                        continue; // listed under the failed runs
                    };
                    let peer_err =
                        if p.success { max_rel(&p.r#final, &case.reference) } else { f64::INFINITY };
                    records.push(Record {
                        case: case.name.into(),
                        method: m.name().into(),
                        rtol,
                        atol: rtol * case.atol_factor,
                        ours_s: o.time_s,
                        peer: format!("scipy {pm}"),
                        peer_s: p.time_s,
                        ratio: p.time_s / o.time_s,
                        ours_nfe: o.nfe as f64,
                        peer_nfe: p.nfe as f64,
                        ours_err: o.err,
                        peer_err,
                        ours_steps: o.steps,
                        peer_steps: p.steps,
                        ours_njac: o.njac,
                        peer_njac: p.njev,
                        ours_nlu: o.nlu,
                        peer_nlu: p.nlu,
                        ours_repeats: o.repeats,
                        peer_repeats: p.repeats,
                    });
                }
            }
        }

        // Work-precision: error against time, one panel per case.
        let mut charts = Vec::new();
        for case in &cases {
            let mut series = Vec::new();
            for (i, m) in OURS.into_iter().enumerate() {
                let pts: Vec<(f64, f64)> = sweep
                    .iter()
                    .filter_map(|&r| find_ours(case.name, m, r).ok())
                    .map(|o| (o.time_s, o.err.max(1e-16)))
                    .collect();
                series.push(Series::line(format!("ours {}", m.name()), pts, i).markers());
            }
            for (i, pm) in PEERS.into_iter().enumerate() {
                let pts: Vec<(f64, f64)> = sweep
                    .iter()
                    .filter_map(|&r| find_peer(case.name, pm, r).ok())
                    .filter(|p| p.success)
                    .map(|p| (p.time_s, max_rel(&p.r#final, &case.reference).max(1e-16)))
                    .collect();
                series.push(Series::line(format!("scipy {pm}"), pts, i + OURS.len()).dashed().markers());
            }
            charts.push(Chart {
                title: case.name.into(),
                x_label: "time (s)".into(),
                y_label: "max relative error".into(),
                log_x: true,
                log_y: true,
                legend: Legend::UpperRight,
                series,
                ..Chart::default()
            });
        }
        let png = Path::new(OUT_DIR).join("stiff_work_precision.png");
        plot::draw(&png, &charts, (420, 380))?;

        // Speed at equal accuracy, from the same sweep.
        let mut equal = Vec::new();
        for case in &cases {
            for (m, pm) in PAIRS {
                let rtols = case.rtols(&sweep);
                let ours_pts: Vec<Point> = rtols
                    .iter()
                    .filter_map(|&r| find_ours(case.name, m, r).ok())
                    .map(|o| Point { time_s: o.time_s, err: o.err })
                    .collect();
                let peer_pts: Vec<Point> = rtols
                    .iter()
                    .filter_map(|&r| find_peer(case.name, pm, r).ok())
                    .filter(|p| p.success)
                    .map(|p| Point { time_s: p.time_s, err: max_rel(&p.r#final, &case.reference) })
                    .collect();
                let ratios = equal_error::ratios(&ours_pts, &peer_pts);
                equal.push(EqualError {
                    case: case.name.into(),
                    method: m.name().into(),
                    peer: format!("scipy {pm}"),
                    peer_points: peer_pts.len(),
                    ratios,
                });
            }
        }
        std::fs::write(
            Path::new(OUT_DIR).join("stiff_equal_error.json"),
            serde_json::to_vec_pretty(&equal)?,
        )?;

        let load = (load_before, util::load_average());
        for p in peer.results.iter().filter(|p| !p.success) {
            failures.push(format!("scipy {} on {} at rtol {:.0e}", p.method, p.case, p.rtol));
        }
        let info = RunInfo { quick, load, sweep: &sweep, failures: &failures, equal: &equal };
        let md = markdown(&cases, &records, &peer, &policy, &info);
        bench_report::publish("stiff", &records, &md)?;
        progress(&format!("wrote {}", png.display()));
        Ok(())
    }

    /// How the run went, for the markdown.
    struct RunInfo<'a> {
        quick: bool,
        load: (Option<f64>, Option<f64>),
        sweep: &'a [f64],
        failures: &'a [String],
        equal: &'a [EqualError],
    }

    /// One method pair on one case at equal accuracy: `(peer error, peer
    /// time / our time at that error)` for each peer sweep point inside
    /// our range of errors.
    #[derive(Serialize)]
    struct EqualError {
        case: String,
        method: String,
        peer: String,
        peer_points: usize,
        ratios: Vec<(f64, f64)>,
    }

    /// The section on speed at equal accuracy.
    fn equal_error_markdown(equal: &[EqualError], is_ablation: &dyn Fn(&str) -> bool) -> String {
        let mut s = String::from(
            "\nSpeed at equal accuracy (`target/bench/stiff_equal_error.json`): each scipy sweep point \
             against our time at the same error, read off our sweep (log-log interpolation between \
             consecutive tolerances; scipy points outside our range of errors are not compared):\n\n\
             | case | ours | peer | compared | peer / ours at equal error: min | median | max |\n\
             |---|---|---|---:|---:|---:|---:|\n",
        );
        let (mut all, mut ge10) = (0, 0);
        let mut ablation = Vec::new();
        for e in equal {
            let mut r: Vec<f64> = e.ratios.iter().map(|x| x.1).collect();
            r.sort_by(f64::total_cmp);
            if is_ablation(&e.case) {
                ablation.extend_from_slice(&r);
            } else {
                all += r.len();
                ge10 += r.iter().filter(|&&x| x >= 10.0).count();
            }
            let cell = |v: Option<&f64>| v.map_or("-".to_string(), |v| format!("{v:.1}x"));
            s.push_str(&format!(
                "| {} | {} | {} | {} of {} | {} | {} | {} |\n",
                e.case,
                e.method,
                e.peer,
                r.len(),
                e.peer_points,
                cell(r.first()),
                cell(r.get(r.len() / 2)),
                cell(r.last())
            ));
        }
        s.push_str(&format!(
            "\nAt equal accuracy, peer / ours >= 10x at {ge10} of {all} compared points{}.\n",
            ablation_summary(&ablation, "points")
        ));
        s
    }

    /// The clause that reports the `-lapack` ablation's ratios apart from
    /// the rest: those cases switch off our band detection, so LAPACK's
    /// dense LU dominates both sides and bounds the ratio whatever the
    /// solver does around it.
    fn ablation_summary(ratios: &[f64], what: &str) -> String {
        if ratios.is_empty() {
            return String::new();
        }
        let lo = ratios.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = ratios.iter().copied().fold(0.0, f64::max);
        format!(
            " of the default configuration; the {} {what} of the `-lapack` ablation (LAPACK's dense LU on \
             both sides) are {lo:.1}x-{hi:.1}x",
            ratios.len()
        )
    }

    fn markdown(
        cases: &[Case],
        records: &[Record],
        peer: &PeerOut,
        policy: &TimingPolicy,
        info: &RunInfo,
    ) -> String {
        let RunInfo { quick, load, sweep, failures, equal } = *info;
        let mut s = String::new();
        s.push_str("## stiff: ode-core implicit solvers vs scipy `solve_ivp` BDF / Radau / LSODA\n\n");
        let software = format!(
            "Python {}, numpy {}, scipy {}; BLAS threads (OPENBLAS_NUM_THREADS) {} on both sides",
            peer.python,
            peer.numpy,
            peer.scipy,
            std::env::var("OPENBLAS_NUM_THREADS").unwrap_or_else(|_| "unset".into()),
        );
        s.push_str(&bench_report::run_header("stiff", quick, &software, load));
        s.push_str(
            "| case | ours | rtol / atol | ours time | peer | peer time | peer / ours | ours steps | peer steps \
             | ours NFE | peer NFE | ours LU | peer LU | ours err | peer err |\n\
             |---|---|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n",
        );
        for r in records {
            s.push_str(&format!(
                "| {} | {} | {:.0e} / {:.0e} | {} | {} | {} | {:.1}x | {} | {} | {:.0} | {:.0} | {} | {} | {:.1e} | {:.1e} \
                 |\n",
                r.case,
                r.method,
                r.rtol,
                r.atol,
                fmt_time(r.ours_s),
                r.peer,
                fmt_time(r.peer_s),
                r.ratio,
                r.ours_steps,
                r.peer_steps,
                r.ours_nfe,
                r.peer_nfe,
                r.ours_nlu,
                r.peer_nlu,
                r.ours_err,
                r.peer_err
            ));
        }
        let is_ablation = |case: &str| cases.iter().any(|c| c.name == case && !c.detect_band);
        let (ablation, default): (Vec<&Record>, Vec<&Record>) =
            records.iter().partition(|r| is_ablation(&r.case));
        let ge10 = default.iter().filter(|r| r.ratio >= 10.0).count();
        let ablation_ratios: Vec<f64> = ablation.iter().map(|r| r.ratio).collect();
        let as_accurate = records.iter().filter(|r| r.ours_err <= r.peer_err).count();
        s.push_str("\nCases:\n\n");
        for c in cases {
            s.push_str(&format!("- `{}`: {}.\n", c.name, c.description));
        }
        s.push_str(&format!(
            "\nHow to read it:\n\n\
             - Both sides solve the same problems with the same analytic Jacobians, at the same rtol and \
             atol: dense everywhere except on the `-banded` cases, where both sides get the structure \
             (on the `-dense` heat cases ours finds the band in the dense matrix by itself; the `-lapack` \
             cases switch that off). \
             LU counts are factorizations of the Newton matrix (Radau's real and complex one count as \
             two on both sides). Times are the best of N wall-clock runs of the whole solve (N adapted to a {} s \
             budget, between {} and {}, in each of {} rounds of ours then scipy), the same rule on both \
             sides; scipy runs in the project virtualenv \
             as a child process. NFE counts every evaluation of f each side makes.\n\
             - Errors are the largest relative error of the final state over the components (atol is \
             small next to every component), against the references listed with the cases.\n\
             - scipy's LSODA (Fortran ODEPACK) is compared with our `auto` (implicit Adams switching to \
             BDF on detected stiffness and back, as LSODA does).\n\
             - Peer / ours >= 10x in {ge10} of {} rows{}; ours at least as accurate as the peer in \
             {as_accurate} of {} rows. The work-precision plot (`target/bench/stiff_work_precision.png`) sweeps rtol over \
             {} for every method (cases marked table-only: the table's tolerances).\n",
            policy.budget_s,
            policy.min_repeats,
            policy.max_repeats,
            if info.quick { 1 } else { ROUNDS },
            default.len(),
            ablation_summary(&ablation_ratios, "rows"),
            records.len(),
            sweep.iter().map(|r| format!("{r:.0e}")).collect::<Vec<_>>().join(", ")
        ));
        s.push_str(&equal_error_markdown(equal, &is_ablation));
        if !failures.is_empty() {
            s.push_str("\nFailed solves (left out of the table and the plot):\n\n");
            for f in failures {
                s.push_str(&format!("- {f}\n"));
            }
        }
        s
    }
}
