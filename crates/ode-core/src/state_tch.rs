//! [`OdeState`] for `tch::Tensor` (feature `tch`), so every solver runs on
//! tensors on any device.
//!
//! Every operation builds a new tensor (no in-place updates), so a solve
//! under autograd records a valid graph. The norms run under `no_grad` and
//! read one scalar back: the host synchronisations of a GPU solve.

use tch::{Kind, Tensor};

use crate::state::OdeState;
use crate::tolerance::{Atol, Tolerance};

impl OdeState for Tensor {
    fn dup(&self) -> Self {
        self.shallow_clone()
    }

    fn zeros_like(&self) -> Self {
        self.zeros_like()
    }

    fn numel(&self) -> usize {
        self.numel()
    }

    fn lincomb(&self, terms: &[(f64, &Self)]) -> Self {
        let live: Vec<(f64, &Tensor)> =
            terms.iter().filter(|(c, _)| *c != 0.0).map(|&(c, x)| (c, x)).collect();
        match live.as_slice() {
            [] => self.shallow_clone(),
            // Two kernels (mul, add); never `+=`: tch's AddAssign is the
            // in-place `add_`, which would write into `self` and break
            // autograd.
            [(c, x)] => self + *x * *c,
            // Two or more terms: `self + K c` with the terms stacked as the
            // columns of K, one gemv (`addmv`) after one copy (`stack`),
            // instead of a mul and an add per term. At small batch the
            // solve's cost is the number of kernel launches, not flops.
            _ => {
                let xs: Vec<&Tensor> = live.iter().map(|(_, x)| *x).collect();
                let k = Tensor::stack(&xs, 0).reshape([live.len() as i64, -1]);
                let c = coefficients(&live, self);
                self.reshape([-1]).addmv(&k.tr(), &c).view(self.size().as_slice())
            }
        }
    }

    fn weighted_sq_sum(e: &Self, y0: &Self, y1: &Self, tol: &Tolerance, offset: usize) -> f64 {
        tch::no_grad(|| {
            let big = y0.abs().maximum(&y1.abs());
            let scale = match &tol.atol {
                Atol::Scalar(a) => big * tol.rtol + *a,
                Atol::PerComponent(v) => {
                    let n = e.numel();
                    let slice: Vec<f64> = (0..n).map(|j| v.get(offset + j).copied().unwrap_or(0.0)).collect();
                    let atol = Tensor::from_slice(&slice).to_device(e.device()).to_kind(e.kind()).view_as(e);
                    big * tol.rtol + atol
                }
            };
            let r = e / scale;
            (&r * &r).sum(Kind::Double).double_value(&[])
        })
    }

    fn all_finite(&self) -> bool {
        tch::no_grad(|| self.isfinite().all().int64_value(&[]) != 0)
    }

    fn same_shape(&self, other: &Self) -> bool {
        self.size() == other.size() && self.kind() == other.kind() && self.device() == other.device()
    }

    fn shape_desc(&self) -> String {
        format!("{:?} {:?} on {:?}", self.size(), self.kind(), self.device())
    }

    fn dot(&self, other: &Self) -> f64 {
        tch::no_grad(|| (self * other).sum(Kind::Double).double_value(&[]))
    }
}

/// The coefficients of a `lincomb` as a vector of `like`'s kind on its
/// device.
fn coefficients(terms: &[(f64, &Tensor)], like: &Tensor) -> Tensor {
    let c = match like.kind() {
        Kind::Float => Tensor::from_slice(&terms.iter().map(|(c, _)| *c as f32).collect::<Vec<f32>>()),
        Kind::Double => Tensor::from_slice(&terms.iter().map(|(c, _)| *c).collect::<Vec<f64>>()),
        k => Tensor::from_slice(&terms.iter().map(|(c, _)| *c).collect::<Vec<f64>>()).to_kind(k),
    };
    if like.device() == tch::Device::Cpu {
        c
    } else {
        c.to_device(like.device())
    }
}

// Tests live in ode-models (tests/tensor_state.rs), next to the models that
// use this impl.
