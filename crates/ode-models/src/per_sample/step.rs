//! The tensor arithmetic of a per-sample step: stages with one step size
//! per sample, per-sample error norms and per-sample dense output.
//!
//! Step sizes, times and interpolation weights are host numbers turned into
//! constant tensors, so under autograd only the arithmetic of the states
//! enters the graph (the controller stays outside, as in ode-core).

use ode_core::tableau::ErrorEstimator;
use ode_core::{Atol, ButcherTableau, OdeState, Tolerance};
use tch::{Device, Kind, Tensor};

/// The error scale `atol + rtol max(|y0|, |y1|)` of one sample's
/// components, with a per-component `atol` broadcast over the batch.
pub(crate) struct Scale {
    rtol: f64,
    atol: AtolTensor,
}

enum AtolTensor {
    Scalar(f64),
    /// `[1, ...]`: one sample's shape, broadcast along the batch.
    PerComponent(Tensor),
}

impl Scale {
    /// `tol` must already be validated against one sample's size.
    pub(crate) fn new(tol: &Tolerance, like: &Tensor) -> Self {
        let atol = match &tol.atol {
            Atol::Scalar(a) => AtolTensor::Scalar(*a),
            Atol::PerComponent(v) => {
                let mut shape = like.size();
                shape[0] = 1;
                let t = Tensor::from_slice(v).to_device(like.device()).to_kind(like.kind()).reshape(&shape);
                AtolTensor::PerComponent(t)
            }
        };
        Scale { rtol: tol.rtol, atol }
    }

    pub(crate) fn of(&self, y0: &Tensor, y1: &Tensor) -> Tensor {
        let big = y0.abs().maximum(&y1.abs());
        match &self.atol {
            AtolTensor::Scalar(a) => big * self.rtol + *a,
            AtolTensor::PerComponent(a) => big * self.rtol + a,
        }
    }
}

/// Host values `[B]` as a `[B, 1, ..., 1]` column of `like`'s kind on its
/// device, broadcastable against the state.
pub(crate) fn column(values: &[f64], like: &Tensor) -> Tensor {
    let mut shape = vec![1i64; like.dim()];
    shape[0] = values.len() as i64;
    Tensor::from_slice(values).to_device(like.device()).to_kind(like.kind()).reshape(&shape)
}

/// The `[B]` f64 time tensor a [`super::BatchRhs`] receives.
pub(crate) fn times(values: &[f64], device: Device) -> Tensor {
    Tensor::from_slice(values).to_device(device)
}

/// `sum_j w_j k_j` over the non-zero weights, or `None` if all are zero.
pub(crate) fn comb(w: &[f64], ks: &[Tensor]) -> Option<Tensor> {
    let live: Vec<(f64, &Tensor)> =
        w.iter().zip(ks).filter(|(w, _)| **w != 0.0).map(|(w, k)| (*w, k)).collect();
    let (&(c0, k0), rest) = live.split_first()?;
    Some((k0 * c0).lincomb(rest))
}

/// `y + h_b sum_j w_j k_j`, with `hcol` the per-sample step sizes as a column.
pub(crate) fn advance(y: &Tensor, hcol: &Tensor, w: &[f64], ks: &[Tensor]) -> Tensor {
    match comb(w, ks) {
        Some(s) => y + hcol * s,
        None => y.shallow_clone(),
    }
}

/// The dense output `y0 + h_b sum_j W[j][b] K_j` with weights that differ
/// per sample (each sample has its own `theta`). `stages[j]` is `None`
/// where an interpolant does not use that stage (its weights are zero).
pub(crate) fn interpolate(
    y0: &Tensor,
    hcol: &Tensor,
    weights: &[Vec<f64>],
    stages: &[Option<&Tensor>],
) -> Tensor {
    let mut ks: Vec<&Tensor> = Vec::new();
    let mut ws: Vec<f64> = Vec::new();
    for (w, k) in weights.iter().zip(stages) {
        if let Some(k) = k {
            if w.iter().any(|x| *x != 0.0) {
                ks.push(k);
                ws.extend(w);
            }
        }
    }
    if ks.is_empty() {
        return y0.shallow_clone();
    }
    let b = y0.size()[0];
    let mut shape = vec![1i64; y0.dim() + 1];
    shape[0] = ks.len() as i64;
    shape[1] = b;
    let w = Tensor::from_slice(&ws).to_device(y0.device()).to_kind(y0.kind()).reshape(&shape);
    let sum = (Tensor::stack(&ks, 0) * w).sum_dim_intlist(0, false, y0.kind());
    y0 + hcol * sum
}

/// Per-sample `sum (e / scale)^2` over each sample's components for every
/// `e` in `errs`, and whether each sample of `y1` is finite: one read-back.
fn error_sums(errs: &[Tensor], y0: &Tensor, y1: &Tensor, scale: &Scale) -> (Vec<Vec<f64>>, Vec<bool>) {
    tch::no_grad(|| {
        let b = y0.size()[0];
        let sc = scale.of(y0, y1);
        let mut rows: Vec<Tensor> = errs
            .iter()
            .map(|e| {
                let r = e / &sc;
                (&r * &r).reshape([b, -1]).sum_dim_intlist(1, false, Kind::Double)
            })
            .collect();
        rows.push(y1.isfinite().reshape([b, -1]).all_dim(1, false).to_kind(Kind::Double));
        let all = read(&Tensor::cat(&rows, 0));
        let mut chunks: Vec<Vec<f64>> = all.chunks(b as usize).map(<[f64]>::to_vec).collect();
        let fin = chunks.pop().unwrap_or_default().iter().map(|x| *x != 0.0).collect();
        (chunks, fin)
    })
}

/// Each sample's error ratio (ode-core's `rk::error_ratio`, per sample) and
/// whether its `y1` is finite. `n` is one sample's number of components.
pub(crate) fn error_ratios(
    tab: &ButcherTableau,
    hcol: &Tensor,
    ks: &[Tensor],
    y0: &Tensor,
    y1: &Tensor,
    scale: &Scale,
    n: f64,
) -> (Vec<f64>, Vec<bool>) {
    let weighted = |w: &[f64]| match comb(w, ks) {
        Some(s) => hcol * s,
        None => y0.zeros_like(),
    };
    match tab.error {
        ErrorEstimator::Dop853 { e5, e3 } => {
            let (s, fin) = error_sums(&[weighted(e5), weighted(e3)], y0, y1, scale);
            let ratios = s[0]
                .iter()
                .zip(&s[1])
                .map(|(&s5, &s3)| if s5 == 0.0 { 0.0 } else { s5 / ((s5 + 0.01 * s3) * n).sqrt() })
                .collect();
            (ratios, fin)
        }
        ErrorEstimator::Embedded(e) => {
            let (s, fin) = error_sums(&[weighted(e)], y0, y1, scale);
            (s[0].iter().map(|s| (s / n).sqrt()).collect(), fin)
        }
        // Rejected by the option checks; a zero ratio accepts every step.
        ErrorEstimator::None => (vec![0.0; y0.size()[0] as usize], finite_rows(y1)),
    }
}

/// Per-sample `sqrt(mean (x / (atol + rtol |y0|))^2)`: the norms of
/// Hairer's initial-step heuristic, for several `x` in one read-back.
pub(crate) fn initial_norms(xs: &[&Tensor], y0: &Tensor, scale: &Scale) -> Vec<Vec<f64>> {
    tch::no_grad(|| {
        let b = y0.size()[0];
        let n = (y0.numel() as i64 / b.max(1)).max(1) as f64;
        let sc = scale.of(y0, y0);
        let rows: Vec<Tensor> = xs
            .iter()
            .map(|x| {
                let r = *x / &sc;
                (&r * &r).reshape([b, -1]).sum_dim_intlist(1, false, Kind::Double)
            })
            .collect();
        let all = read(&Tensor::cat(&rows, 0));
        all.chunks(b as usize).map(|c| c.iter().map(|s| (s / n).sqrt()).collect()).collect()
    })
}

/// Whether each sample of `x` is finite.
pub(crate) fn finite_rows(x: &Tensor) -> Vec<bool> {
    tch::no_grad(|| {
        let b = x.size()[0];
        read(&x.isfinite().reshape([b, -1]).all_dim(1, false).to_kind(Kind::Double))
            .into_iter()
            .map(|v| v != 0.0)
            .collect()
    })
}

/// A mask column (`[B, 1, ..., 1]` bool on `like`'s device) from host flags.
pub(crate) fn mask(flags: &[bool], like: &Tensor) -> Tensor {
    let v: Vec<u8> = flags.iter().map(|&f| f as u8).collect();
    let mut shape = vec![1i64; like.dim()];
    shape[0] = flags.len() as i64;
    Tensor::from_slice(&v).to_device(like.device()).to_kind(Kind::Bool).reshape(&shape)
}

/// `where(mask, a, b)` per sample.
pub(crate) fn select(m: &Tensor, a: &Tensor, b: &Tensor) -> Tensor {
    a.where_self(m, b)
}

/// A 1-D tensor's values on the host (the one synchronisation per read).
pub(crate) fn read(x: &Tensor) -> Vec<f64> {
    // The solver only reads 1-D Double tensors it built itself.
    Vec::<f64>::try_from(&x.to_kind(Kind::Double).reshape([-1])).unwrap_or_default()
}
