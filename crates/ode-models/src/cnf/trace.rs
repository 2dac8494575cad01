//! `tr(df/dz)` by autograd: exactly (one backward pass per dimension) or by
//! Hutchinson's estimator (one vector-Jacobian product); or in closed form
//! for the hypernetwork dynamics ([`TraceMethod::ClosedForm`]).
//!
//! Both take the output `f` of the dynamics and the input `z` it was
//! computed from (which must require grad); with `create_graph` the result
//! can itself be differentiated, which training needs.

use std::str::FromStr;

use tch::{Kind, Tensor};

use super::CnfError;

/// Distribution of Hutchinson's probe vectors (both have `E[e e^T] = I`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Noise {
    /// Entries +1 or -1 with equal probability (lowest variance).
    Rademacher,
    Gaussian,
}

/// How the trace is computed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TraceMethod {
    /// Exact, by autograd: `D` backward passes per evaluation, whatever the
    /// dynamics (the general method the paper's scale argument is about).
    Exact,
    /// Exact, from the hypernetwork's structure:
    /// `tr(df/dz) = sum_m (1 - h_m^2) u_m . w_m`, computed with the velocity
    /// in one pass (no backward pass, no double-backward graph). Same value
    /// as [`TraceMethod::Exact`] up to rounding; the fast choice in 2-D.
    ClosedForm,
    /// One probe vector per sample, drawn once per solve.
    Hutchinson(Noise),
}

impl TraceMethod {
    pub fn name(self) -> &'static str {
        match self {
            TraceMethod::Exact => "exact",
            TraceMethod::ClosedForm => "closed-form",
            TraceMethod::Hutchinson(Noise::Rademacher) => "hutchinson-rademacher",
            TraceMethod::Hutchinson(Noise::Gaussian) => "hutchinson-gaussian",
        }
    }
}

impl FromStr for TraceMethod {
    type Err = CnfError;
    fn from_str(s: &str) -> Result<Self, CnfError> {
        match s {
            "exact" => Ok(TraceMethod::Exact),
            "closed-form" => Ok(TraceMethod::ClosedForm),
            "hutchinson" | "hutchinson-rademacher" => Ok(TraceMethod::Hutchinson(Noise::Rademacher)),
            "hutchinson-gaussian" => Ok(TraceMethod::Hutchinson(Noise::Gaussian)),
            _ => Err(CnfError::Arg(format!(
                "unknown trace method `{s}`; use exact, closed-form, hutchinson-rademacher or hutchinson-gaussian"
            ))),
        }
    }
}

/// A probe tensor like `like` (torch's generator: seed with `tch::manual_seed`).
pub fn sample_noise(noise: Noise, like: &Tensor) -> Tensor {
    let opts = (like.kind(), like.device());
    match noise {
        Noise::Gaussian => Tensor::randn(like.size(), opts),
        Noise::Rademacher => Tensor::randint(2, like.size(), opts) * 2.0 - 1.0,
    }
}

fn grad(out: &Tensor, z: &Tensor, create_graph: bool) -> Result<Tensor, CnfError> {
    let g = Tensor::f_run_backward(&[out], &[z], true, create_graph)?;
    g.into_iter().next().ok_or_else(|| CnfError::Arg("autograd returned no gradient".into()))
}

/// `tr(df/dz)` per row of `z` (`[B, D]` -> `[B]`): `D` backward passes.
pub fn exact_trace(f: &Tensor, z: &Tensor, create_graph: bool) -> Result<Tensor, CnfError> {
    let d = super::check_batch(z, -1)?;
    let mut tr = Tensor::zeros([z.size()[0]], (z.kind(), z.device()));
    for i in 0..d {
        let gi = grad(&f.select(1, i).sum(Kind::Float), z, create_graph)?;
        // Not `+=` (in place in tch): `tr` is part of the graph when training.
        tr = tr.g_add(&gi.select(1, i));
    }
    Ok(tr)
}

/// Hutchinson's estimate `e^T (df/dz) e` per row, from one vector-Jacobian
/// product `e^T df/dz` (one backward pass whatever `D`).
pub fn hutchinson_trace(f: &Tensor, z: &Tensor, e: &Tensor, create_graph: bool) -> Result<Tensor, CnfError> {
    super::check_batch(z, -1)?;
    if e.size() != z.size() {
        return Err(CnfError::Shape {
            what: "probe vector".into(),
            expected: format!("{:?}", z.size()),
            got: e.size(),
        });
    }
    let vjp = grad(&(f * e).sum(Kind::Float), z, create_graph)?;
    Ok((vjp * e).sum_dim_intlist(&[1i64][..], false, Kind::Float))
}
