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
}

impl<F: Fn(f64, &Tensor) -> Tensor> TorchRhs<F> {
    pub fn new(f: F, params: Vec<Tensor>) -> Self {
        TorchRhs { f, params }
    }

    /// The parameters gradients are taken with respect to.
    pub fn params(&self) -> &[Tensor] {
        &self.params
    }
}

impl<F: Fn(f64, &Tensor) -> Tensor> Rhs<Tensor> for TorchRhs<F> {
    fn eval(&self, t: f64, y: &Tensor) -> Tensor {
        (self.f)(t, y)
    }
}

impl<F: Fn(f64, &Tensor) -> Tensor> VjpRhs<Tensor> for TorchRhs<F> {
    type Params = Vec<Tensor>;

    fn zero_params(&self) -> Vec<Tensor> {
        self.params.iter().map(|p| p.zeros_like()).collect()
    }

    fn vjp(&self, t: f64, y: &Tensor, a: &Tensor) -> (Tensor, Vec<Tensor>) {
        let (_, dy, dp) = self.eval_and_vjp(t, y, a);
        (dy, dp)
    }

    fn eval_and_vjp(&self, t: f64, y: &Tensor, a: &Tensor) -> (Tensor, Tensor, Vec<Tensor>) {
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
            let dp = self.params.iter().map(|p| defined_or_zeros(it.next(), p)).collect();
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
