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
        let mut acc = self.shallow_clone();
        for &(c, x) in terms {
            if c != 0.0 {
                // Not `+=`: tch's AddAssign is the in-place `add_`, which
                // would write into `self` (acc starts as its shallow clone)
                // and break autograd.
                #[allow(clippy::assign_op_pattern)]
                {
                    acc = acc + x * c;
                }
            }
        }
        acc
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

// Tests live in ode-models (tests/tensor_state.rs): only its binaries carry
// the rpath to libtorch.
