//! `cargo xtask bench torch`: a neural ODE through our `OdeBlock` and
//! through torchdiffeq, on the same weights, libtorch and thread count.
//!
//! xtask does not depend on tch (it bootstraps the environment), so our side
//! is the `bench_torch` binary of ode-models. xtask writes the spec to
//! `target/bench/torch_spec.json`; the binary draws the weights and initial
//! states, writes them to `target/bench/torch_data.json`, and times our
//! side (`torch_ours.json`); `xtask/peer/torchdiffeq_bench.py` reads the
//! same spec and data in the project virtualenv (`torch_peer.json`); xtask
//! merges both into `target/bench/torch.json` and a section of
//! `docs/benchmarks.md`.
//!
//! Environment: `BENCH_TORCH_THREADS` (default 1) is the thread count of
//! both sides, `BENCH_TORCH_DEVICE` (default `auto`) the device.

use std::path::Path;
use std::process::Command;

use anyhow::{anyhow, Context, Result};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::bench_report::{self, fmt_time, OUT_DIR};
use crate::util::{self, TimingPolicy};
use crate::venv;

const PEER_SCRIPT: &str = "xtask/peer/torchdiffeq_bench.py";
const RTOL: f64 = 1e-5;
const ATOL: f64 = 1e-6;
/// The reference: our dopri8 in f64 on the same (f32) weights and states.
const REF_RTOL: f64 = 1e-12;
const REF_ATOL: f64 = 1e-12;
const SEED: i64 = 20_240_400;
const BATCHES: [usize; 3] = [1, 64, 1024];
const MODES: [&str; 4] = ["forward", "direct", "adjoint", "aca"];

#[derive(Deserialize)]
struct Run {
    case: String,
    batch: usize,
    mode: String,
    time_s: f64,
    repeats: usize,
    nfe_forward: usize,
    nfe_backward: usize,
    y1: Vec<f64>,
    #[serde(default)]
    grads: Option<Vec<f64>>,
    /// Forward rows of ours: the time of the same number of bare
    /// evaluations of f (no solver around them).
    #[serde(default)]
    floor_s: Option<f64>,
}

#[derive(Deserialize)]
struct Ref {
    case: String,
    batch: usize,
    y1: Vec<f64>,
}

#[derive(Deserialize)]
struct OursOut {
    device: String,
    threads: usize,
    results: Vec<Run>,
    refs: Vec<Ref>,
}

#[derive(Deserialize)]
struct PeerOut {
    python: String,
    torch: String,
    torchdiffeq: String,
    threads: usize,
    device: String,
    results: Vec<Run>,
}

/// One row of `target/bench/torch.json`.
#[derive(Serialize)]
struct Record {
    case: String,
    mode: String,
    batch: usize,
    /// What the peer ran for this row.
    peer: String,
    ours_s: f64,
    peer_s: f64,
    ratio: f64,
    /// Evaluations of the dynamics, forward + backward, each side counting
    /// its own calls (ours: f and VJP evaluations; torchdiffeq: calls of the
    /// module, one per augmented evaluation in the adjoint).
    ours_nfe: usize,
    peer_nfe: usize,
    ours_nfe_forward: usize,
    peer_nfe_forward: usize,
    /// Max-abs difference of the forward outputs y(1), ours vs theirs.
    max_abs_diff: f64,
    /// Max-abs error of each side's y(1) against the f64 reference.
    ours_ref_err: f64,
    peer_ref_err: f64,
    /// Max-abs difference of the parameter gradients, relative to the
    /// largest gradient entry of the peer.
    #[serde(skip_serializing_if = "Option::is_none")]
    grad_rel_diff: Option<f64>,
    ours_repeats: usize,
    peer_repeats: usize,
    /// Forward rows: time of `ours_nfe` bare evaluations of f on our side;
    /// `peer_s / floor_s` is the largest ratio any solver could reach.
    #[serde(skip_serializing_if = "Option::is_none")]
    floor_s: Option<f64>,
}

fn max_abs_diff(a: &[f64], b: &[f64]) -> f64 {
    if a.len() != b.len() {
        return f64::NAN;
    }
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f64::max)
}

fn progress(msg: &str) {
    eprintln!("[bench torch] {msg}");
}

fn cases() -> Vec<(&'static str, [usize; 3], &'static str)> {
    vec![
        ("mlp2", [2, 50, 2], "y' = W2 tanh(W1 y + b1) + b2, 2-50-2"),
        ("mlp64", [64, 256, 64], "y' = W2 tanh(W1 y + b1) + b2, 64-256-64"),
    ]
}

pub fn run(quick: bool) -> Result<()> {
    venv::ensure_venv().context("setting up the Python virtualenv for the torchdiffeq peer")?;
    std::fs::create_dir_all(OUT_DIR)?;
    let threads: usize = match std::env::var("BENCH_TORCH_THREADS") {
        Ok(s) => s.parse().with_context(|| format!("BENCH_TORCH_THREADS={s}"))?,
        Err(_) => 1,
    };
    let device = std::env::var("BENCH_TORCH_DEVICE").unwrap_or_else(|_| "auto".into());
    let policy = if quick {
        TimingPolicy { budget_s: 0.2, min_repeats: 1, max_repeats: 5 }
    } else {
        TimingPolicy { budget_s: 1.0, min_repeats: 3, max_repeats: 30 }
    };
    let spec = json!({
        "threads": threads,
        "device": device,
        "seed": SEED,
        "rtol": RTOL,
        "atol": ATOL,
        "ref_rtol": REF_RTOL,
        "ref_atol": REF_ATOL,
        "timing": policy,
        "batches": BATCHES,
        "modes": MODES,
        "cases": cases().iter().map(|(n, d, _)| json!({ "name": n, "dims": d })).collect::<Vec<_>>(),
    });
    let dir = Path::new(OUT_DIR);
    let (spec_p, data_p, ours_p, peer_p) = (
        dir.join("torch_spec.json"),
        dir.join("torch_data.json"),
        dir.join("torch_ours.json"),
        dir.join("torch_peer.json"),
    );
    std::fs::write(&spec_p, serde_json::to_vec_pretty(&spec)?)?;
    let load_before = util::load_average();

    progress("building and running our side (ode-models' bench_torch binary, release)");
    let mut cmd = util::cargo();
    cmd.args(["run", "--quiet", "--release", "-p", "ode-models", "--bin", "bench_torch", "--"])
        .arg(&spec_p)
        .arg(&data_p)
        .arg(&ours_p)
        .args(["--device", &device]);
    std::fs::remove_file(&ours_p).ok();
    util::run(&mut cmd).context("our side (bench_torch) failed")?;

    progress("running the torchdiffeq peer");
    let mut cmd = Command::new(venv::venv_python());
    cmd.arg(PEER_SCRIPT).arg(&spec_p).arg(&data_p).arg(&peer_p);
    std::fs::remove_file(&peer_p).ok();
    util::run(&mut cmd).context("the torchdiffeq peer failed")?;

    let ours: OursOut =
        serde_json::from_slice(&std::fs::read(&ours_p)?).context("reading our side's output")?;
    let peer: PeerOut =
        serde_json::from_slice(&std::fs::read(&peer_p)?).context("reading the peer's output")?;
    let mut records = Vec::new();
    for o in &ours.results {
        // ACA has no torchdiffeq counterpart: it is compared with odeint's
        // direct backprop, which differentiates the same discrete solve.
        let peer_mode = if o.mode == "aca" { "direct" } else { o.mode.as_str() };
        let p = peer
            .results
            .iter()
            .find(|p| p.case == o.case && p.batch == o.batch && p.mode == peer_mode)
            .ok_or_else(|| anyhow!("peer output lacks {} batch {} {peer_mode}", o.case, o.batch))?;
        let r = ours
            .refs
            .iter()
            .find(|r| r.case == o.case && r.batch == o.batch)
            .ok_or_else(|| anyhow!("no reference for {} batch {}", o.case, o.batch))?;
        let grad_rel_diff = match (&o.grads, &p.grads) {
            (Some(a), Some(b)) => {
                let scale = b.iter().fold(0.0f64, |m, x| m.max(x.abs())).max(f64::MIN_POSITIVE);
                Some(max_abs_diff(a, b) / scale)
            }
            _ => None,
        };
        records.push(Record {
            case: o.case.clone(),
            mode: o.mode.clone(),
            batch: o.batch,
            peer: match peer_mode {
                "forward" => "odeint (no_grad)",
                "direct" => "odeint",
                _ => "odeint_adjoint",
            }
            .into(),
            ours_s: o.time_s,
            peer_s: p.time_s,
            ratio: p.time_s / o.time_s,
            ours_nfe: o.nfe_forward + o.nfe_backward,
            peer_nfe: p.nfe_forward + p.nfe_backward,
            ours_nfe_forward: o.nfe_forward,
            peer_nfe_forward: p.nfe_forward,
            max_abs_diff: max_abs_diff(&o.y1, &p.y1),
            ours_ref_err: max_abs_diff(&o.y1, &r.y1),
            peer_ref_err: max_abs_diff(&p.y1, &r.y1),
            grad_rel_diff,
            ours_repeats: o.repeats,
            peer_repeats: p.repeats,
            floor_s: o.floor_s,
        });
    }
    let load = (load_before, util::load_average());
    let md = markdown(&records, &ours, &peer, &policy, quick, load);
    bench_report::publish("torch", &records, &md)?;
    Ok(())
}

fn markdown(
    records: &[Record],
    ours: &OursOut,
    peer: &PeerOut,
    policy: &TimingPolicy,
    quick: bool,
    load: (Option<f64>, Option<f64>),
) -> String {
    let mut s = String::new();
    s.push_str("## torch: OdeBlock vs torchdiffeq\n\n");
    let software = format!(
        "both sides on libtorch {} from the project virtualenv (Python {}, torchdiffeq {}), float32, \
         device {} (ours) / {} (peer), {} intra-op thread(s) on both sides (ours {}, peer {})",
        peer.torch,
        peer.python,
        peer.torchdiffeq,
        ours.device,
        peer.device,
        ours.threads,
        ours.threads,
        peer.threads,
    );
    s.push_str(&bench_report::run_header("torch", quick, &software, load));
    s.push_str(
        "| case | mode | batch | ours | peer | peer time | peer / ours | ours NFE | peer NFE | max abs diff \
         | ours err | peer err | grad rel diff | peer / f floor |\n|---|---|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    for r in records {
        s.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {:.1}x | {} | {} | {:.1e} | {:.1e} | {:.1e} | {} | {} |\n",
            r.case,
            r.mode,
            r.batch,
            fmt_time(r.ours_s),
            r.peer,
            fmt_time(r.peer_s),
            r.ratio,
            if r.ours_nfe == r.ours_nfe_forward {
                r.ours_nfe.to_string()
            } else {
                format!("{} + {}", r.ours_nfe_forward, r.ours_nfe - r.ours_nfe_forward)
            },
            if r.peer_nfe == r.peer_nfe_forward {
                r.peer_nfe.to_string()
            } else {
                format!("{} + {}", r.peer_nfe_forward, r.peer_nfe - r.peer_nfe_forward)
            },
            r.max_abs_diff,
            r.ours_ref_err,
            r.peer_ref_err,
            r.grad_rel_diff.map(|g| format!("{g:.1e}")).unwrap_or_else(|| "-".into()),
            r.floor_s.map(|f| format!("{:.1}x", r.peer_s / f)).unwrap_or_else(|| "-".into()),
        ));
    }
    s.push_str("\nCases:\n\n");
    for (n, _, d) in cases() {
        s.push_str(&format!("- `{n}`: {d}, weights U(-1/sqrt(fan_in), 1/sqrt(fan_in)), y0 ~ N(0, 1).\n"));
    }
    s.push_str(&format!(
        "\nHow to read it:\n\n\
         - Both sides solve y' = f(y) over [0, 1] with dopri5 at rtol {RTOL:e}, atol {ATOL:e} (adjoint \
         backward at the same tolerances, full norm on both sides), on the same float32 weights and \
         initial states (drawn by our binary, read by the peer from `target/bench/torch_data.json`). \
         Loss = sum of squares of y(1).\n\
         - Modes: `forward` = solve only (no graph); `direct` = forward + backward by autograd through \
         the solver (ours: `GradMode::Direct`, peer: `odeint`); `adjoint` = backsolve adjoint (ours: \
         `GradMode::Adjoint`, peer: `odeint_adjoint`); `aca` = ours only (`GradMode::Aca`), compared \
         with `odeint`'s direct backprop, which differentiates the same discrete solve.\n\
         - Times: best of N wall-clock runs after one warm-up (N adapted to a {} s budget, between {} \
         and {}), the same rule on both sides, zeroing gradients included.\n\
         - NFE: forward + backward calls of the dynamics. Ours counts every evaluation of f and every \
         VJP (our adjoint evaluates f and its VJP separately, 2 per augmented evaluation, and 2 more \
         for dL/dt); torchdiffeq counts calls of the module (one per augmented evaluation). The \
         forward counts are comparable (both `2 + 6 steps`, torchdiffeq never shrinks an accepted \
         step, we may).\n\
         - `max abs diff`: ours vs torchdiffeq on y(1). The two take different step sequences, so their \
         outputs differ by about the local tolerance, not by round-off. `ours err` / `peer err`: each \
         against a tight reference (our dopri8 in float64, rtol {REF_RTOL:e}, atol {REF_ATOL:e}, same \
         weights). `grad rel diff`: max-abs difference of the parameter gradients over the largest \
         gradient entry.\n\
         - `peer / f floor` (forward rows): the peer's time over the time of the same number of bare \
         evaluations of f on our side, i.e. the ratio a solver with zero overhead of its own would \
         reach. Where it is below a goal, no solver can meet that goal on this machine: the \
         evaluations of the network are the cost, and both sides run them in the same libtorch.\n",
        policy.budget_s, policy.min_repeats, policy.max_repeats
    ));
    s
}
