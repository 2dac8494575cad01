//! A tch function of `(t, y)` with trainable parameters as an ODE right-hand
//! side whose vector-Jacobian products come from autograd.

use ode_autodiff::VjpRhs;
use ode_core::Rhs;
use tch::{Kind, Tensor};

/// `dy/dt = f(t, y; params)` for any tch code `f`. `params` are the tensors
/// gradients are taken with respect to (typically `vs.trainable_variables()`
/// of the dynamics' `VarStore`).
///
/// The VJP is one evaluation of `f` with autograd on a detached copy of
/// `y`, then one backward pass: the same ACA and adjoint code as for
/// hand-written ndarray problems serves any module.
pub struct TorchRhs<F> {
    f: F,
    params: Vec<Tensor>,
    n_params: i64,
}

impl<F: Fn(f64, &Tensor) -> Tensor> TorchRhs<F> {
    pub fn new(f: F, params: Vec<Tensor>) -> Self {
        let n_params = params.iter().map(|p| p.numel() as i64).sum();
        TorchRhs { f, params, n_params }
    }

    /// The parameters gradients are taken with respect to.
    pub fn params(&self) -> &[Tensor] {
        &self.params
    }

    /// Splits a flat parameter gradient (the `dtheta` of ode-autodiff's
    /// gradients for this right-hand side) into one tensor per parameter,
    /// shaped like it. Views, no copies.
    ///
    /// # Panics
    /// If `flat` does not have as many elements as the parameters together.
    pub fn split_params(&self, flat: &Tensor) -> Vec<Tensor> {
        assert_eq!(flat.numel() as i64, self.n_params, "flat parameter gradient of the wrong length");
        let mut offset = 0;
        self.params
            .iter()
            .map(|p| {
                let n = p.numel() as i64;
                let part = flat.narrow(0, offset, n).view(p.size().as_slice());
                offset += n;
                part
            })
            .collect()
    }
}

impl<F: Fn(f64, &Tensor) -> Tensor> Rhs<Tensor> for TorchRhs<F> {
    fn eval(&self, t: f64, y: &Tensor) -> Tensor {
        (self.f)(t, y)
    }
}

impl<F: Fn(f64, &Tensor) -> Tensor> VjpRhs<Tensor> for TorchRhs<F> {
    /// The parameter gradient as one flat tensor (the parameters' gradients
    /// flattened and concatenated in order; [`TorchRhs::split_params`]
    /// undoes it). The adjoint carries this vector through its backward
    /// solve: one tensor instead of one per parameter means a few kernels
    /// per linear combination instead of a few per parameter, which is
    /// most of the backward cost of a small network.
    type Params = Tensor;

    fn zero_params(&self) -> Tensor {
        match self.params.first() {
            Some(p) => Tensor::zeros([self.n_params], (p.kind(), p.device())),
            None => Tensor::zeros([0], (Kind::Float, tch::Device::Cpu)),
        }
    }

    fn vjp(&self, t: f64, y: &Tensor, a: &Tensor) -> (Tensor, Tensor) {
        let (_, dy, dp) = self.eval_and_vjp(t, y, a);
        (dy, dp)
    }

    fn eval_and_vjp(&self, t: f64, y: &Tensor, a: &Tensor) -> (Tensor, Tensor, Tensor) {
        tch::with_grad(|| {
            let y = y.detach().set_requires_grad(true);
            let out = (self.f)(t, &y);
            let fy = out.detach();
            let scalar = (out * a.detach()).sum(Kind::Double);
            let mut inputs: Vec<&Tensor> = Vec::with_capacity(self.params.len() + 1);
            inputs.push(&y);
            inputs.extend(self.params.iter());
            let grads = Tensor::run_backward(&[scalar], &inputs, false, false);
            let mut it = grads.into_iter();
            let dy = defined_or_zeros(it.next(), &y);
            let flat: Vec<Tensor> =
                self.params.iter().map(|p| defined_or_zeros(it.next(), p).reshape([-1])).collect();
            let dp = if flat.is_empty() { self.zero_params() } else { Tensor::cat(&flat, 0) };
            (fy, dy, dp)
        })
    }
}

/// autograd leaves the gradient of an input that does not influence the
/// output undefined; the VJP of such an input is zero.
fn defined_or_zeros(g: Option<Tensor>, like: &Tensor) -> Tensor {
    match g {
        Some(g) if g.defined() => g.detach(),
        _ => like.zeros_like().detach(),
    }
}
