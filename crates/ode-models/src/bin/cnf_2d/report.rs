//! The end of a `cnf_2d` run: the final loss on fresh samples and the
//! figure data (density grids and samples).

use ode_models::cnf::grid::{to_pairs, to_vec, Grid};
use ode_models::cnf::run::IterRecord;
use ode_models::cnf::{Flow, Objective, PlanarDirection, TraceMethod};
use serde_json::json;
use tch::{Device, Kind, Tensor};

use super::{Args, Data, Result};

/// Final numbers: the loss on fresh samples (2-D: exact trace), its NFE, and
/// the training time per iteration (first iteration excluded as warm-up).
pub(crate) fn evaluate(
    a: &Args,
    flow: &mut Flow,
    objective: &Objective,
    data: &Data,
    device: Device,
    history: &[IterRecord],
) -> Result<serde_json::Value> {
    let times: Vec<f64> = history.iter().skip(1).map(|r| r.time_s).collect();
    let sec_per_iter =
        if times.is_empty() { f64::NAN } else { times.iter().sum::<f64>() / times.len() as f64 };
    let train_nfe = history.iter().map(|r| r.nfe as f64).sum::<f64>() / history.len().max(1) as f64;
    let tail = &history[history.len().saturating_sub((history.len() / 10).max(1))..];
    let train_loss_tail = tail.iter().map(|r| r.loss).sum::<f64>() / tail.len().max(1) as f64;
    if a.task == "scale" {
        return Ok(
            json!({ "sec_per_iter": sec_per_iter, "train_nfe": train_nfe, "train_loss_tail": train_loss_tail }),
        );
    }
    // Held-out numbers use the exact trace whatever trained the model (the
    // closed form: autograd's value at a fraction of the cost).
    if let Flow::Cnf(c) = flow {
        c.trace = TraceMethod::ClosedForm;
    }
    tch::manual_seed(a.seed as i64 ^ 0x5eed);
    let held_out = data.batch(a.eval_samples, a.seed ^ 0xDEAD_BEEF, device);
    let (loss, nfe) = tch::no_grad(|| -> Result<(f64, usize)> {
        match objective {
            Objective::DensityMatching { target, .. } => {
                let out = flow.sample(a.eval_samples, device, false)?;
                let kl = (&out.log_q - target.log_density(&out.z)?).mean(Kind::Float);
                Ok((kl.double_value(&[]), out.nfe))
            }
            Objective::MaxLikelihood => {
                let x = held_out.as_ref().ok_or_else(|| anyhow!("no held-out data"))?;
                let out = flow.log_density(x, false)?;
                Ok((-out.log_q.mean(Kind::Float).double_value(&[]), out.nfe))
            }
        }
    })?;
    Ok(
        json!({ "eval_loss": loss, "eval_nfe": nfe, "train_loss_tail": train_loss_tail, "train_nfe": train_nfe,
        "sec_per_iter": sec_per_iter }),
    )
}

/// Heat maps and samples for the figures: the model's density on a grid (a
/// histogram of its samples where it has no closed form), the target's, and
/// for a CNF the marginal densities and samples at several times.
pub(crate) fn figures(
    a: &Args,
    flow: &Flow,
    objective: &Objective,
    data: &Data,
    device: Device,
) -> Result<serde_json::Value> {
    let grid = Grid { lo: -4.0, hi: 4.0, n: a.grid };
    let pts = grid.points(device);
    let n_samples = 2000;
    tch::manual_seed(a.seed as i64 ^ 0xF16);
    let (model_density, model_samples) = tch::no_grad(|| -> Result<(Vec<f64>, Option<Tensor>)> {
        Ok(match flow {
            Flow::Planar(p) if p.direction == PlanarDirection::Generative => {
                let s = flow.sample(50_000, device, false)?.z;
                (grid.histogram(&s), Some(s.narrow(0, 0, n_samples)))
            }
            Flow::Planar(_) => (to_vec(&flow.log_density(&pts, false)?.log_q.exp()), None),
            Flow::Cnf(_) => {
                let d = to_vec(&flow.log_density(&pts, false)?.log_q.exp());
                (d, Some(flow.sample(n_samples, device, false)?.z))
            }
        })
    })?;
    let (target_density, data_samples) = match objective {
        Objective::DensityMatching { target, .. } => {
            let lp = target.log_density(&pts)?;
            let p = (&lp - lp.max()).exp();
            let z = p.sum(Kind::Double).double_value(&[]) * grid.cell() * grid.cell();
            (to_vec(&(p / z)), None)
        }
        Objective::MaxLikelihood => {
            let s = data.batch(50_000, a.seed ^ 0xDA7A, device).ok_or_else(|| anyhow!("no data"))?;
            (grid.histogram(&s), Some(s.narrow(0, 0, n_samples)))
        }
    };
    let mut flow_frames = Vec::new();
    if let (Flow::Cnf(c), true) = (flow, a.flow_times >= 2) {
        let small = Grid { n: a.grid.min(60), ..grid };
        let spts = small.points(device);
        tch::manual_seed(a.seed as i64 ^ 0xF10);
        let z0 = Tensor::randn([n_samples, 2], (Kind::Float, device));
        for k in 0..a.flow_times {
            let t = c.t1 * k as f64 / (a.flow_times - 1) as f64;
            let d = tch::no_grad(|| c.log_density_at(&spts, t, false))?;
            let s = tch::no_grad(|| c.sample_to(&z0, t, false))?;
            flow_frames.push(json!({ "t": t, "grid": small, "density": to_vec(&d.log_q.exp()), "samples": to_pairs(&s.z) }));
        }
    }
    Ok(json!({
        "grid": grid,
        "model_density": model_density,
        "model_samples": model_samples.as_ref().map(to_pairs),
        "target_density": target_density,
        "data_samples": data_samples.as_ref().map(to_pairs),
        "flow": flow_frames,
    }))
}
