//! `cargo xtask bench core`: ode-core's explicit solvers against scipy's
//! `solve_ivp` on the same problems, at matched tolerances, in one run.
//!
//! xtask defines the cases (including the random matrix and initial states),
//! computes the references and its own timings, writes the cases to
//! `target/bench/cases.json`, runs `xtask/peer/scipy_core.py` in the project
//! virtualenv, and merges both sides into `target/bench/core.json` and a
//! section of `docs/benchmarks.md`. Errors of both sides are computed here,
//! by the same code, against the same reference.

use std::path::Path;
use std::process::Command;

use anyhow::{anyhow, bail, Context, Result};
use ndarray::{Array1, Array2};
use ode_core::tableau::{ButcherTableau, DOPRI5, DOPRI8, TSIT5};
use ode_core::{solve, solve_batch, SolveOptions};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::bench_report::{self, fmt_time, OUT_DIR};
use crate::problems::{self, max_abs_diff};
use crate::util::{self, TimingPolicy};
use crate::venv;

const PEER_SCRIPT: &str = "xtask/peer/scipy_core.py";

/// Reference solves: our dopri8, tight.
const REF_RTOL: f64 = 1e-13;
const REF_ATOL: f64 = 1e-15;
/// How many problems of a batch scipy's tight DOP853 cross-checks.
const REF_PEER_CHECK_MAX: usize = 50;

/// Batch size of the Van der Pol case.
const VDP_SIDE: usize = 100;

#[derive(Clone)]
enum Problem {
    Lorenz { sigma: f64, rho: f64, beta: f64 },
    Arenstorf { mu: f64 },
    Linear { a: Array2<f64> },
    VanDerPol { mu: f64 },
}

struct Case {
    name: &'static str,
    description: String,
    problem: Problem,
    t0: f64,
    t1: f64,
    y0s: Vec<Array1<f64>>,
}

impl Case {
    fn is_batch(&self) -> bool {
        self.y0s.len() > 1
    }

    fn to_json(&self) -> serde_json::Value {
        let (kind, params, matrix) = match &self.problem {
            Problem::Lorenz { sigma, rho, beta } => {
                ("lorenz", json!({ "sigma": sigma, "rho": rho, "beta": beta }), None)
            }
            Problem::Arenstorf { mu } => ("arenstorf", json!({ "mu": mu }), None),
            Problem::Linear { a } => {
                let rows: Vec<Vec<f64>> = a.rows().into_iter().map(|r| r.to_vec()).collect();
                ("linear", json!({}), Some(rows))
            }
            Problem::VanDerPol { mu } => ("van_der_pol", json!({ "mu": mu }), None),
        };
        let y0s: Vec<Vec<f64>> = self.y0s.iter().map(|y| y.to_vec()).collect();
        let mut v = json!({
            "name": self.name,
            "problem": kind,
            "params": params,
            "t0": self.t0,
            "t1": self.t1,
            "y0s": y0s,
        });
        if let Some(m) = matrix {
            v["matrix"] = json!(m);
        }
        v
    }
}

fn cases() -> Vec<Case> {
    let (sigma, rho, beta) = problems::LORENZ;
    let a = problems::damped_skew_matrix(100, 0.1, 0.05, 20_240_100);
    vec![
        Case {
            name: "lorenz",
            description: "Lorenz (sigma 10, rho 28, beta 8/3), y0 = (1, 1, 1), t in [0, 20]".into(),
            problem: Problem::Lorenz { sigma, rho, beta },
            t0: 0.0,
            t1: 20.0,
            y0s: vec![Array1::from(vec![1.0, 1.0, 1.0])],
        },
        Case {
            name: "arenstorf",
            description: format!(
                "Arenstorf orbit (mu = {}), one period T = {}",
                problems::ARENSTORF_MU,
                problems::ARENSTORF_PERIOD
            ),
            problem: Problem::Arenstorf { mu: problems::ARENSTORF_MU },
            t0: 0.0,
            t1: problems::ARENSTORF_PERIOD,
            y0s: vec![Array1::from(problems::ARENSTORF_Y0.to_vec())],
        },
        Case {
            name: "linear100",
            description: "y' = A y, 100-dim, A = U - U^T - 0.05 I with U = 0.1 N(0,1) (seeded), \
                          y0 ~ N(0,1) (seeded), t in [0, 10]"
                .into(),
            problem: Problem::Linear { a },
            t0: 0.0,
            t1: 10.0,
            y0s: vec![problems::normal_vector(100, 20_240_101)],
        },
        Case {
            name: "vdp_batch",
            description: format!(
                "{} Van der Pol problems (mu = 1), y0 on a seeded jittered {VDP_SIDE}x{VDP_SIDE} grid \
                 over [-2, 2]^2, t in [0, 10]; ours: one `solve_batch` call",
                VDP_SIDE * VDP_SIDE
            ),
            problem: Problem::VanDerPol { mu: 1.0 },
            t0: 0.0,
            t1: 10.0,
            y0s: problems::jittered_grid(VDP_SIDE, -2.0, 2.0, 20_240_102),
        },
    ]
}

struct Method {
    ours: &'static ButcherTableau,
    peer: &'static str,
    rtol: f64,
    atol: f64,
}

fn methods() -> Vec<Method> {
    vec![
        Method { ours: &DOPRI5, peer: "RK45", rtol: 1e-6, atol: 1e-9 },
        Method { ours: &TSIT5, peer: "RK45", rtol: 1e-6, atol: 1e-9 },
        Method { ours: &DOPRI8, peer: "DOP853", rtol: 1e-10, atol: 1e-12 },
    ]
}

/// What one side measured on one case with one method.
struct Measured {
    time_s: f64,
    repeats: usize,
    /// Evaluations per problem (mean over a batch).
    nfe: f64,
    finals: Vec<Array1<f64>>,
    /// Indices of the batch problems `finals` belong to.
    indices: Vec<usize>,
}

/// One row of `target/bench/core.json`.
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
    ours_repeats: usize,
    peer_repeats: usize,
    /// Batch only: our time with rayon limited to one thread.
    #[serde(skip_serializing_if = "Option::is_none")]
    ours_s_1thread: Option<f64>,
    /// Max-abs difference between our reference and scipy's DOP853 at the
    /// reference tolerance.
    ref_diff: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    peer_note: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    notes: Option<String>,
}

#[derive(Deserialize)]
struct PeerOut {
    python: String,
    numpy: String,
    scipy: String,
    results: Vec<PeerResult>,
    refs: Vec<PeerRef>,
}

#[derive(Deserialize)]
struct PeerResult {
    case: String,
    method: String,
    rtol: f64,
    time_s: f64,
    repeats: usize,
    indices: Vec<usize>,
    finals: Vec<Vec<f64>>,
    nfe_total: f64,
    n_solved: usize,
    note: Option<String>,
}

#[derive(Deserialize)]
struct PeerRef {
    case: String,
    indices: Vec<usize>,
    finals: Vec<Vec<f64>>,
}

fn progress(msg: &str) {
    eprintln!("[bench core] {msg}");
}

/// Dispatches to a generic body with the case's right-hand side, so every
/// solve calls a concrete closure (no dynamic dispatch in the timings).
macro_rules! with_rhs {
    ($problem:expr, |$f:ident| $body:expr) => {
        match $problem {
            Problem::Lorenz { sigma, rho, beta } => {
                let $f = problems::lorenz(*sigma, *rho, *beta);
                $body
            }
            Problem::Arenstorf { mu } => {
                let $f = problems::arenstorf(*mu);
                $body
            }
            Problem::Linear { a } => {
                let $f = problems::linear(a.clone());
                $body
            }
            Problem::VanDerPol { mu } => {
                let $f = problems::van_der_pol(*mu);
                $body
            }
        }
    };
}

/// Solves every problem of a case; batches go through `solve_batch`.
fn solve_all<F>(f: &F, case: &Case, opts: &SolveOptions) -> Result<(Vec<Array1<f64>>, usize)>
where
    F: Fn(f64, &Array1<f64>) -> Array1<f64> + Sync,
{
    let ts = [case.t0, case.t1];
    if case.is_batch() {
        let sols = solve_batch(f, &case.y0s, &ts, opts);
        let mut finals = Vec::with_capacity(sols.len());
        let mut nfe = 0;
        for (i, s) in sols.into_iter().enumerate() {
            let s = s.map_err(|e| anyhow!("{} problem {i}: {e}", case.name))?;
            nfe += s.stats.nfe;
            finals.push(s.ys.last().expect("two output times").clone());
        }
        Ok((finals, nfe))
    } else {
        let s = solve(f, case.y0s[0].clone(), &ts, opts).map_err(|e| anyhow!("{}: {e}", case.name))?;
        let nfe = s.stats.nfe;
        Ok((vec![s.ys.last().expect("two output times").clone()], nfe))
    }
}

fn reference(case: &Case) -> Result<Vec<Array1<f64>>> {
    let opts = SolveOptions::default().method(&DOPRI8).tol(REF_RTOL, REF_ATOL).max_steps(10_000_000);
    with_rhs!(&case.problem, |f| solve_all(&f, case, &opts).map(|r| r.0))
        .with_context(|| format!("reference solve of {}", case.name))
}

fn measure_ours(case: &Case, m: &Method, policy: &TimingPolicy) -> Result<(Measured, Option<f64>)> {
    let opts = SolveOptions::default().method(m.ours).tol(m.rtol, m.atol).max_steps(10_000_000);
    with_rhs!(&case.problem, |f| {
        let (time_s, repeats, last) = policy.time(|| solve_all(&f, case, &opts));
        let (finals, nfe) = last?;
        let one_thread = if case.is_batch() {
            let pool = rayon::ThreadPoolBuilder::new().num_threads(1).build()?;
            let (t, _, r) = pool.install(|| policy.time(|| solve_all(&f, case, &opts)));
            r?;
            Some(t)
        } else {
            None
        };
        let n = finals.len();
        Ok((
            Measured { time_s, repeats, nfe: nfe as f64 / n as f64, finals, indices: (0..n).collect() },
            one_thread,
        ))
    })
}

fn max_err(finals: &[Array1<f64>], indices: &[usize], refs: &[Array1<f64>]) -> f64 {
    finals.iter().zip(indices).map(|(y, &i)| max_abs_diff(y, &refs[i])).fold(0.0, f64::max)
}

pub fn run(quick: bool) -> Result<()> {
    if cfg!(debug_assertions) {
        eprintln!("[bench core] warning: xtask was built without optimisations; use `cargo xtask` (release)");
    }
    venv::ensure_venv().context("setting up the Python virtualenv for the scipy peer")?;
    std::fs::create_dir_all(OUT_DIR)?;

    let policy = if quick {
        TimingPolicy { budget_s: 0.3, min_repeats: 1, max_repeats: 5 }
    } else {
        TimingPolicy { budget_s: 2.0, min_repeats: 3, max_repeats: 50 }
    };
    // Batch limit for scipy: above this estimate it solves a subset sized to
    // take about `target` seconds, and its time is scaled linearly.
    let (peer_batch_limit_s, peer_batch_target_s) = if quick { (10.0, 5.0) } else { (120.0, 40.0) };

    let cases = cases();
    let methods = methods();
    let load_before = util::load_average();

    // Our side: references, then every method on every case.
    let mut refs = Vec::new();
    let mut ours = Vec::new();
    for case in &cases {
        let t0 = std::time::Instant::now();
        let r = reference(case)?;
        progress(&format!(
            "{}: reference dopri8 rtol {REF_RTOL:e} atol {REF_ATOL:e} ({} problem(s), {:.2} s)",
            case.name,
            r.len(),
            t0.elapsed().as_secs_f64()
        ));
        refs.push(r);
        let mut row = Vec::new();
        for m in &methods {
            let (meas, one_thread) = measure_ours(case, m, &policy)?;
            progress(&format!(
                "{} {} rtol {:e}: {} (best of {}), {:.0} evaluations per problem{}",
                case.name,
                m.ours.name,
                m.rtol,
                fmt_time(meas.time_s),
                meas.repeats,
                meas.nfe,
                one_thread.map(|t| format!(", 1 thread {}", fmt_time(t))).unwrap_or_default()
            ));
            row.push((meas, one_thread));
        }
        ours.push(row);
    }

    // The peer.
    let cases_path = Path::new(OUT_DIR).join("cases.json");
    let peer_path = Path::new(OUT_DIR).join("peer.json");
    let mut peer_methods: Vec<serde_json::Value> = Vec::new();
    for m in &methods {
        let v = json!({ "method": m.peer, "rtol": m.rtol, "atol": m.atol });
        if !peer_methods.contains(&v) {
            peer_methods.push(v);
        }
    }
    let spec = json!({
        "timing": policy,
        "peer_batch_limit_s": peer_batch_limit_s,
        "peer_batch_target_s": peer_batch_target_s,
        "reference": { "rtol": REF_RTOL, "atol": REF_ATOL, "peer_check_max": REF_PEER_CHECK_MAX },
        "peer_methods": peer_methods,
        "cases": cases.iter().map(Case::to_json).collect::<Vec<_>>(),
    });
    std::fs::write(&cases_path, serde_json::to_vec(&spec)?)?;
    progress("running the scipy peer");
    let mut cmd = Command::new(venv::venv_python());
    cmd.arg(PEER_SCRIPT).arg(&cases_path).arg(&peer_path);
    // Only for the peer: let numpy's OpenBLAS pick its kernels itself.
    cmd.env_remove("OPENBLAS_CORETYPE").env_remove("OPENBLAS_L2_SIZE");
    std::fs::remove_file(&peer_path).ok();
    util::run(&mut cmd).context("the scipy peer failed")?;
    let peer: PeerOut =
        serde_json::from_slice(&std::fs::read(&peer_path)?).context("reading the peer output")?;

    // Merge.
    let mut records = Vec::new();
    for (ci, case) in cases.iter().enumerate() {
        let r = &refs[ci];
        let pref = peer
            .refs
            .iter()
            .find(|p| p.case == case.name)
            .ok_or_else(|| anyhow!("peer output lacks the reference check of {}", case.name))?;
        let pref_finals: Vec<Array1<f64>> = pref.finals.iter().map(|v| Array1::from(v.clone())).collect();
        let ref_diff = max_err(&pref_finals, &pref.indices, r);
        for (mi, m) in methods.iter().enumerate() {
            let (o, one_thread) = &ours[ci][mi];
            let p = peer
                .results
                .iter()
                .find(|p| p.case == case.name && p.method == m.peer && p.rtol == m.rtol)
                .ok_or_else(|| anyhow!("peer output lacks {} {}", case.name, m.peer))?;
            let p_finals: Vec<Array1<f64>> = p.finals.iter().map(|v| Array1::from(v.clone())).collect();
            if p_finals.len() != p.indices.len() || p.indices.iter().any(|&i| i >= r.len()) {
                bail!("peer output for {} {} is inconsistent", case.name, m.peer);
            }
            records.push(Record {
                case: case.name.into(),
                method: m.ours.name.into(),
                rtol: m.rtol,
                atol: m.atol,
                ours_s: o.time_s,
                peer: format!("scipy {}", m.peer),
                peer_s: p.time_s,
                ratio: p.time_s / o.time_s,
                ours_nfe: o.nfe,
                peer_nfe: p.nfe_total / p.n_solved as f64,
                ours_err: max_err(&o.finals, &o.indices, r),
                peer_err: max_err(&p_finals, &p.indices, r),
                ours_repeats: o.repeats,
                peer_repeats: p.repeats,
                ours_s_1thread: *one_thread,
                ref_diff,
                peer_note: p.note.clone(),
                notes: case.is_batch().then(|| {
                    format!(
                        "{} problems; NFE are means per problem, errors the max over the problems; ours is one \
                         solve_batch call on {} threads (ours_s_1thread: rayon limited to one thread); \
                         scipy solves them one after another in a Python loop",
                        case.y0s.len(),
                        rayon::current_num_threads()
                    )
                }),
            });
        }
    }
    let load = (load_before, util::load_average());
    let md = markdown(&cases, &records, &peer, &policy, quick, load);
    bench_report::publish("core", &records, &md)?;
    Ok(())
}

fn markdown(
    cases: &[Case],
    records: &[Record],
    peer: &PeerOut,
    policy: &TimingPolicy,
    quick: bool,
    load: (Option<f64>, Option<f64>),
) -> String {
    let mut s = String::new();
    s.push_str("## core: ode-core vs scipy `solve_ivp`\n\n");
    let software = format!("Python {}, numpy {}, scipy {}", peer.python, peer.numpy, peer.scipy);
    s.push_str(&bench_report::run_header("core", quick, &software, load));
    s.push_str(
        "| case | method | rtol / atol | ours | peer | peer time | peer / ours | ours NFE | peer NFE \
         | ours err | peer err |\n|---|---|---|---:|---|---:|---:|---:|---:|---:|---:|\n",
    );
    for r in records {
        s.push_str(&format!(
            "| {} | {} | {:.0e} / {:.0e} | {} | {} | {}{} | {:.1}x | {:.0} | {:.0} | {:.1e} | {:.1e} |\n",
            r.case,
            r.method,
            r.rtol,
            r.atol,
            fmt_time(r.ours_s),
            r.peer,
            fmt_time(r.peer_s),
            if r.peer_note.is_some() { " *" } else { "" },
            r.ratio,
            r.ours_nfe,
            r.peer_nfe,
            r.ours_err,
            r.peer_err
        ));
    }
    s.push_str("\nCases:\n\n");
    for c in cases {
        s.push_str(&format!("- `{}`: {}.\n", c.name, c.description));
    }
    s.push_str(&format!(
        "\nHow to read it:\n\n\
         - Times are the best of N wall-clock runs of the whole solve (N adapted to a {} s budget per \
         entry, between {} and {}), the same rule on both sides; scipy runs in the project virtualenv \
         as a child process. NFE = right-hand-side evaluations per problem, each side counting every \
         call it makes.\n\
         - Errors are the max-abs error of the final state(s) against a reference: our dopri8 at \
         rtol {REF_RTOL:e}, atol {REF_ATOL:e}. Reference cross-check against scipy DOP853 at the same \
         tolerances (max-abs difference): {}. Lorenz is chaotic over [0, 20], so its errors at \
         rtol 1e-6 are large for every solver and its reference is only as good as that difference.\n",
        policy.budget_s,
        policy.min_repeats,
        policy.max_repeats,
        records
            .iter()
            .filter(|r| r.method == records[0].method)
            .map(|r| format!("{} {:.1e}", r.case, r.ref_diff))
            .collect::<Vec<_>>()
            .join(", ")
    ));
    let batch: Vec<&Record> = records.iter().filter(|r| r.ours_s_1thread.is_some()).collect();
    if let Some(first) = batch.first() {
        let parts: Vec<String> = batch
            .iter()
            .map(|r| {
                let t1 = r.ours_s_1thread.unwrap_or(f64::NAN);
                format!("{} {} (peer / ours = {:.1}x)", r.method, fmt_time(t1), r.peer_s / t1)
            })
            .collect();
        s.push_str(&format!(
            "- `{}`: ours is one `solve_batch` call, parallel over the {} cores (the times in the table); \
             with rayon limited to one thread: {}. scipy solves the problems one after another in a \
             Python loop.\n",
            first.case,
            util::nproc(),
            parts.join(", ")
        ));
    }
    let mut seen = Vec::new();
    for r in records {
        if let Some(n) = &r.peer_note {
            if !seen.contains(&(&r.case, &r.peer, n)) {
                seen.push((&r.case, &r.peer, n));
                s.push_str(&format!("- \\* `{}` {}: {n}.\n", r.case, r.peer));
            }
        }
    }
    s
}
