//! Planar normalizing flow (Rezende & Mohamed 2015), the paper's baseline:
//! `K` layers `f(z) = z + u' tanh(w^T z + b)` with
//! `log|det df/dz| = log|1 + u'^T (1 - tanh^2(w^T z + b)) w|` in closed form.
//!
//! `u' = u + (m(w^T u) - w^T u) w / |w|^2` keeps `w^T u' = m(w^T u) > -1`,
//! which makes each layer invertible. Rezende & Mohamed take
//! `m(x) = -1 + softplus(x)`; we shift its argument,
//! `m(x) = -1 + softplus(x + ln(e - 1))`, so that `m(0) = 0`: with theirs a
//! layer with `u = 0` is not the identity but contracts along `w` (log-det
//! about -0.37 per layer), and 64 such layers start the density 20+ nats
//! off. The range of `m`, hence invertibility, is unchanged.
//!
//! A planar flow has a closed-form density in one direction only, so it is
//! built for one task: [`PlanarDirection::Generative`] maps base samples to
//! data (sampling and the density of its own samples: density matching);
//! [`PlanarDirection::Normalizing`] maps data to the base (the density of
//! any point: maximum likelihood). Asking the other way is an error.

use tch::nn::{self, Init};
use tch::Tensor;

use super::density::{standard_normal_log_density, FlowOutput};
use super::CnfError;

/// `ln(e - 1)`: makes `m(0) = 0` in the invertibility correction.
const M_SHIFT: f64 = 0.541_324_854_612_918_1;

/// Which way the layers run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PlanarDirection {
    /// base -> data.
    Generative,
    /// data -> base.
    Normalizing,
}

struct Layer {
    w: Tensor,
    u: Tensor,
    b: Tensor,
}

/// `K` planar layers in `D` dimensions.
pub struct PlanarFlow {
    layers: Vec<Layer>,
    dim: i64,
    pub direction: PlanarDirection,
}

impl PlanarFlow {
    /// `layers` planar layers on `dim` dimensions under `p`: `w ~ N(0, I)`,
    /// `u ~ N(0, 0.1^2 I)`, `b = 0`, so each layer starts near the identity
    /// (`w` is not small: the correction to `u` scales with `1 / |w|`).
    pub fn new(p: &nn::Path, dim: i64, layers: usize, direction: PlanarDirection) -> Result<Self, CnfError> {
        if dim < 1 {
            return Err(CnfError::ZeroDim);
        }
        if layers == 0 {
            return Err(CnfError::ZeroLayers);
        }
        let (init_w, init_u) = (Init::Randn { mean: 0.0, stdev: 1.0 }, Init::Randn { mean: 0.0, stdev: 0.1 });
        let layers = (0..layers)
            .map(|k| {
                let q = p / format!("layer{k}");
                Layer {
                    w: q.var("w", &[dim], init_w),
                    u: q.var("u", &[dim], init_u),
                    b: q.var("b", &[1], Init::Const(0.0)),
                }
            })
            .collect();
        Ok(PlanarFlow { layers, dim, direction })
    }

    pub fn dim(&self) -> i64 {
        self.dim
    }

    pub fn n_layers(&self) -> usize {
        self.layers.len()
    }

    /// Applies the layers in order to `z` (`[B, D]`): the output and the
    /// summed `log|det|` of the Jacobians, `[B]`.
    pub fn transform(&self, z: &Tensor) -> Result<(Tensor, Tensor), CnfError> {
        super::check_batch(z, self.dim)?;
        super::check_finite(z, "planar flow input")?;
        let mut z = z.shallow_clone();
        let mut logdet = Tensor::zeros([z.size()[0]], (z.kind(), z.device()));
        for l in &self.layers {
            let wu = l.w.dot(&l.u);
            let m = (&wu + M_SHIFT).softplus() - 1.0;
            let u_hat = &l.u + (m - &wu) * &l.w / l.w.dot(&l.w);
            let a = z.matmul(&l.w) + &l.b;
            let h = a.tanh();
            // psi^T u' = (1 - h^2) w^T u'
            let det: Tensor = (-h.square() + 1.0) * l.w.dot(&u_hat) + 1.0;
            // Never `+=`: tch's AddAssign is in place and would write into the
            // caller's input (`z` starts as a shallow clone of it) and the graph.
            logdet = logdet.g_add(&det.abs().log());
            z = z.g_add(&(h.unsqueeze(1) * u_hat.unsqueeze(0)));
        }
        Ok((z, logdet))
    }

    /// Samples from base points `z0` (generative direction only).
    pub fn sample_from(&self, z0: &Tensor) -> Result<FlowOutput, CnfError> {
        if self.direction != PlanarDirection::Generative {
            return Err(CnfError::Unsupported(
                "sampling from a normalizing-direction planar flow (no closed-form inverse)",
            ));
        }
        let (x, logdet) = self.transform(z0)?;
        Ok(FlowOutput { z: x, log_q: standard_normal_log_density(z0) - logdet, nfe: 0 })
    }

    /// `log q(x)` of any points (normalizing direction only).
    pub fn log_density(&self, x: &Tensor) -> Result<FlowOutput, CnfError> {
        if self.direction != PlanarDirection::Normalizing {
            return Err(CnfError::Unsupported(
                "the density of arbitrary points under a generative planar flow (no closed-form inverse)",
            ));
        }
        let (z, logdet) = self.transform(x)?;
        Ok(FlowOutput { log_q: standard_normal_log_density(&z) + logdet, z, nfe: 0 })
    }
}
