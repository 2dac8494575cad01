//! Our side of `cargo xtask bench torch` (xtask must not depend on tch, so
//! it runs this binary).
//!
//! Usage: `bench_torch SPEC_JSON DATA_JSON OUT_JSON [--device cpu|cuda|cuda:N|auto]`
//!
//! Reads the benchmark spec written by xtask (cases, batches, tolerances,
//! thread count, timing policy, seed), draws the weights and initial states
//! and writes them to DATA_JSON as plain lists (the torchdiffeq peer reads the
//! same file, so both sides use the very same numbers), times every mode
//! through `OdeBlock`, computes a tight f64 reference of every forward
//! solve, and writes times, evaluation counts, outputs and gradients to
//! OUT_JSON. Progress goes to stderr.

use std::time::Instant;

use ode_autodiff::AdjointOptions;
use ode_core::tableau::{DOPRI5, DOPRI8};
use ode_core::{solve, SolveOptions};
use ode_models::{BlockError, DeviceFlag, GradMode, OdeBlock, TorchRhs};
use serde_json::{json, Value};
use tch::{Device, Kind, Tensor};

type Res<T> = Result<T, String>;

/// Output, forward NFE and backward NFE of one run.
type Run = (Tensor, usize, usize);

#[derive(Clone, Copy)]
struct Timing {
    budget_s: f64,
    min_repeats: usize,
    max_repeats: usize,
}

impl Timing {
    /// One warm-up run, then best-of-N with N adapted to the budget: the
    /// rule of xtask's `TimingPolicy` (and of the Python peer).
    fn time<T>(&self, device: Device, mut f: impl FnMut() -> T) -> (f64, usize, T) {
        let sync = || {
            if let Device::Cuda(i) = device {
                tch::Cuda::synchronize(i as i64);
            }
        };
        // Warm-up: first-call allocations and thread start-up are not timed
        // (the peer does the same).
        drop(f());
        sync();
        let t0 = Instant::now();
        let mut last = f();
        sync();
        let mut best = t0.elapsed().as_secs_f64();
        let n = if best >= self.budget_s {
            1
        } else {
            ((self.budget_s / best.max(1e-9)).floor() as usize).clamp(self.min_repeats, self.max_repeats)
        };
        for _ in 1..n {
            let t0 = Instant::now();
            last = f();
            sync();
            best = best.min(t0.elapsed().as_secs_f64());
        }
        (best, n, last)
    }
}

/// The MLP `y' = W2 tanh(W1 y + b1) + b2`.
struct Mlp {
    w1: Tensor,
    b1: Tensor,
    w2: Tensor,
    b2: Tensor,
}

impl Mlp {
    /// PyTorch's default `nn.Linear` init: U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
    fn random(d: i64, h: i64) -> Mlp {
        let u = |shape: &[i64], fan_in: i64| {
            let bound = 1.0 / (fan_in as f64).sqrt();
            (Tensor::rand(shape, (Kind::Double, Device::Cpu)) * 2.0 - 1.0) * bound
        };
        Mlp { w1: u(&[h, d], d), b1: u(&[h], d), w2: u(&[d, h], h), b2: u(&[d], h) }
    }

    fn params(&self) -> [&Tensor; 4] {
        [&self.w1, &self.b1, &self.w2, &self.b2]
    }

    fn to(&self, kind: Kind, device: Device, grad: bool) -> Mlp {
        let c = |t: &Tensor| t.to_kind(kind).to_device(device).detach().set_requires_grad(grad);
        Mlp { w1: c(&self.w1), b1: c(&self.b1), w2: c(&self.w2), b2: c(&self.b2) }
    }

    fn eval(&self, y: &Tensor) -> Tensor {
        y.linear(&self.w1, Some(&self.b1)).tanh().linear(&self.w2, Some(&self.b2))
    }
}

fn to_vec(t: &Tensor) -> Res<Vec<f64>> {
    let flat = t.detach().to_device(Device::Cpu).to_kind(Kind::Double).reshape([-1]);
    Vec::<f64>::try_from(&flat).map_err(|e| e.to_string())
}

fn list(t: &Tensor) -> Res<Value> {
    Ok(json!(to_vec(t)?))
}

fn get<'a>(v: &'a Value, key: &str) -> Res<&'a Value> {
    v.get(key).ok_or_else(|| format!("spec lacks `{key}`"))
}

fn num(v: &Value, key: &str) -> Res<f64> {
    get(v, key)?.as_f64().ok_or_else(|| format!("`{key}` is not a number"))
}

fn main() {
    if let Err(e) = run() {
        eprintln!("bench_torch: error: {e}");
        std::process::exit(1);
    }
}

fn run() -> Res<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut pos = Vec::new();
    let mut flag = DeviceFlag::Auto;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--device" => flag = it.next().ok_or("--device needs a value")?.parse()?,
            s if s.starts_with("--") => return Err(format!("unknown option `{s}`")),
            s => pos.push(s.to_string()),
        }
    }
    let [spec_path, data_path, out_path] = pos.as_slice() else {
        return Err("usage: bench_torch SPEC_JSON DATA_JSON OUT_JSON [--device cpu|cuda|cuda:N|auto]".into());
    };
    let spec: Value =
        serde_json::from_slice(&std::fs::read(spec_path).map_err(|e| format!("{spec_path}: {e}"))?)
            .map_err(|e| format!("{spec_path}: {e}"))?;
    let device = flag.resolve();
    let threads = num(&spec, "threads")? as i32;
    tch::set_num_threads(threads);
    tch::manual_seed(num(&spec, "seed")? as i64);
    let rtol = num(&spec, "rtol")?;
    let atol = num(&spec, "atol")?;
    let (ref_rtol, ref_atol) = (num(&spec, "ref_rtol")?, num(&spec, "ref_atol")?);
    let t = get(&spec, "timing")?;
    let timing = Timing {
        budget_s: num(t, "budget_s")?,
        min_repeats: num(t, "min_repeats")? as usize,
        max_repeats: num(t, "max_repeats")? as usize,
    };
    let batches: Vec<i64> = get(&spec, "batches")?
        .as_array()
        .ok_or("`batches` is not a list")?
        .iter()
        .filter_map(Value::as_i64)
        .collect();
    let modes: Vec<String> = get(&spec, "modes")?
        .as_array()
        .ok_or("`modes` is not a list")?
        .iter()
        .filter_map(|m| m.as_str().map(String::from))
        .collect();
    let cases = get(&spec, "cases")?.as_array().ok_or("`cases` is not a list")?;

    let opts = SolveOptions::default().method(&DOPRI5).tol(rtol, atol);
    let ref_opts = SolveOptions::default().method(&DOPRI8).tol(ref_rtol, ref_atol).max_steps(1_000_000);
    let adjoint = AdjointOptions::default().tol(rtol, atol);

    let mut data_cases = Vec::new();
    let mut results = Vec::new();
    let mut refs = Vec::new();
    for case in cases {
        let name = get(case, "name")?.as_str().ok_or("case name")?.to_string();
        let dims: Vec<i64> =
            get(case, "dims")?.as_array().ok_or("dims")?.iter().filter_map(Value::as_i64).collect();
        let &[d, h, d_out] = dims.as_slice() else {
            return Err(format!("{name}: dims must be [d, hidden, d]"));
        };
        if d != d_out {
            return Err(format!("{name}: an ODE needs dims [d, hidden, d]"));
        }
        let master = Mlp::random(d, h);
        let mut y0s = Vec::new();
        for &b in &batches {
            y0s.push(
                Tensor::randn([b, d], (Kind::Double, Device::Cpu)).to_kind(Kind::Float).to_kind(Kind::Double),
            );
        }
        // The f32 weights both sides use, written as f64 lists (exact).
        let w32 = master.to(Kind::Float, Device::Cpu, false);
        data_cases.push(json!({
            "name": name,
            "dims": dims,
            "w1": list(&w32.w1)?, "b1": list(&w32.b1)?, "w2": list(&w32.w2)?, "b2": list(&w32.b2)?,
            "y0s": batches.iter().zip(&y0s).map(|(b, y)| Ok(json!({ "batch": b, "y0": list(y)? })))
                .collect::<Res<Vec<_>>>()?,
        }));

        // The f64 reference, with the same (f32-rounded) weights and y0.
        let w64 = w32.to(Kind::Double, Device::Cpu, false);
        for (&b, y0) in batches.iter().zip(&y0s) {
            let f = |_t: f64, y: &Tensor| w64.eval(y);
            let t0 = Instant::now();
            let sol = tch::no_grad(|| solve(&f, y0.shallow_clone(), &[0.0, 1.0], &ref_opts))
                .map_err(|e| format!("{name} batch {b}: reference: {e}"))?;
            eprintln!(
                "[bench_torch] {name} batch {b}: reference dopri8 f64 rtol {ref_rtol:e} atol {ref_atol:e}, {} NFE, {:.2} s",
                sol.stats.nfe,
                t0.elapsed().as_secs_f64()
            );
            refs.push(json!({ "case": name, "batch": b, "y1": list(&sol.ys[1])? }));
        }

        let w = w32.to(Kind::Float, device, true);
        let params: Vec<Tensor> = w.params().iter().map(|p| p.shallow_clone()).collect();
        let f = TorchRhs::new(|_t: f64, y: &Tensor| w.eval(y), params);
        let zero_grads = || {
            for p in w.params() {
                let mut g = p.grad();
                if g.defined() {
                    let _ = g.zero_();
                }
            }
        };
        let grads = || -> Res<Value> {
            let mut all = Vec::new();
            for p in w.params() {
                all.extend(to_vec(&p.grad())?);
            }
            Ok(json!(all))
        };
        for (&b, y0) in batches.iter().zip(&y0s) {
            let y0 = y0.to_kind(Kind::Float).to_device(device);
            for mode in &modes {
                let block = |m: GradMode| OdeBlock::new(opts.clone(), m);
                let loss_of = |y1: &Tensor| y1.square().sum(Kind::Float);
                let (time_s, repeats, out) = match mode.as_str() {
                    "forward" => {
                        let blk = block(GradMode::Direct);
                        timing.time(device, || {
                            tch::no_grad(|| blk.forward(&f, &y0))
                                .map(|fw| (fw.y1, fw.stats.nfe_forward, 0usize))
                        })
                    }
                    "direct" => {
                        let blk = block(GradMode::Direct);
                        timing.time(device, || -> Result<Run, BlockError> {
                            zero_grads();
                            let fw = blk.forward(&f, &y0)?;
                            loss_of(&fw.y1).backward();
                            Ok((fw.y1.detach(), fw.stats.nfe_forward, 0usize))
                        })
                    }
                    "adjoint" | "aca" => {
                        let m =
                            if mode == "aca" { GradMode::Aca } else { GradMode::Adjoint(adjoint.clone()) };
                        let blk = block(m);
                        timing.time(device, || -> Result<Run, BlockError> {
                            zero_grads();
                            let fw = blk.forward(&f, &y0)?;
                            let y1 = fw.y1.detach();
                            loss_of(&fw.y1).backward();
                            let st = blk.backward(&f, fw)?;
                            Ok((y1, st.nfe_forward, st.nfe_backward))
                        })
                    }
                    other => return Err(format!("unknown mode `{other}`")),
                };
                let (y1, nfe_f, nfe_b) = out.map_err(|e| format!("{name} {mode} {b}: {e}"))?;
                eprintln!(
                    "[bench_torch] {name} batch {b} {mode}: {:.3} ms (best of {repeats}), NFE {nfe_f} + {nfe_b}",
                    time_s * 1e3
                );
                let mut r = json!({
                    "case": name, "batch": b, "mode": mode, "time_s": time_s, "repeats": repeats,
                    "nfe_forward": nfe_f, "nfe_backward": nfe_b, "y1": list(&y1)?,
                });
                if mode == "forward" {
                    // The same number of bare evaluations of f: what a
                    // forward solve costs with zero solver overhead, so
                    // peer_s / floor_s bounds any solver's ratio.
                    let (floor_s, _, _) = timing.time(device, || {
                        tch::no_grad(|| {
                            let mut out = None;
                            for _ in 0..nfe_f {
                                out = Some(w.eval(&y0));
                            }
                            out
                        })
                    });
                    r["floor_s"] = json!(floor_s);
                }
                if mode != "forward" {
                    r["grads"] = grads()?;
                }
                results.push(r);
            }
        }
    }

    std::fs::write(
        data_path,
        serde_json::to_vec(&json!({ "cases": data_cases })).map_err(|e| e.to_string())?,
    )
    .map_err(|e| format!("{data_path}: {e}"))?;
    let out = json!({
        "device": format!("{device:?}"),
        "threads": tch::get_num_threads(),
        "results": results,
        "refs": refs,
    });
    std::fs::write(out_path, serde_json::to_vec(&out).map_err(|e| e.to_string())?)
        .map_err(|e| format!("{out_path}: {e}"))?;
    Ok(())
}
