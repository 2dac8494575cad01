//! A tch function of `(t, y)` with trainable parameters as an ODE right-hand
//! side whose vector-Jacobian products come from autograd.

use std::cell::RefCell;

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
    /// Evaluations kept by `eval_for_vjp` for the VJPs that follow.
    kept: RefCell<Vec<Kept>>,
}

/// One evaluation with its autograd graph, waiting for its VJP.
struct Kept {
    t: f64,
    /// Where `y`'s data lives and its shape: with `t`, which point this is.
    /// `input` shares `y`'s storage, so no other tensor can take that
    /// address while this is kept.
    at: (usize, Vec<i64>, Vec<i64>),
    input: Tensor,
    output: Tensor,
}

fn address(y: &Tensor) -> (usize, Vec<i64>, Vec<i64>) {
    (y.data_ptr() as usize, y.size(), y.stride())
}

impl<F: Fn(f64, &Tensor) -> Tensor> TorchRhs<F> {
    pub fn new(f: F, params: Vec<Tensor>) -> Self {
        let n_params = params.iter().map(|p| p.numel() as i64).sum();
        TorchRhs { f, params, n_params, kept: RefCell::new(Vec::new()) }
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
        self.zeros_flat()
    }

    /// A backward pass through the evaluation `eval_for_vjp` kept for this
    /// `(t, y)`, or an evaluation with autograd and its backward pass.
    fn vjp(&self, t: f64, y: &Tensor, a: &Tensor) -> (Tensor, Tensor) {
        let at = address(y);
        let kept = {
            let mut kept = self.kept.borrow_mut();
            let i = kept.iter().position(|k| k.t == t && k.at == at);
            i.map(|i| kept.swap_remove(i))
        };
        match kept {
            Some(k) => tch::with_grad(|| self.backward(&k.input, k.output, a)),
            None => {
                let (_, dy, dp) = self.eval_and_vjp(t, y, a);
                (dy, dp)
            }
        }
    }

    fn eval_and_vjp(&self, t: f64, y: &Tensor, a: &Tensor) -> (Tensor, Tensor, Tensor) {
        tch::with_grad(|| {
            let y = y.detach().set_requires_grad(true);
            let out = (self.f)(t, &y);
            let fy = out.detach();
            let (dy, dp) = self.backward(&y, out, a);
            (fy, dy, dp)
        })
    }

    /// Evaluates with autograd and keeps the graph: ACA's replay of a step
    /// then costs one evaluation per stage instead of two (one to rebuild
    /// the stages, one inside each VJP).
    fn eval_for_vjp(&self, t: f64, y: &Tensor) -> Tensor {
        tch::with_grad(|| {
            let input = y.detach().set_requires_grad(true);
            let output = (self.f)(t, &input);
            let fy = output.detach();
            self.kept.borrow_mut().push(Kept { t, at: address(y), input, output });
            fy
        })
    }

    fn forget_kept(&self) {
        self.kept.borrow_mut().clear();
    }
}

impl<F> TorchRhs<F> {
    /// `(a^T dout/dy, a^T dout/dtheta)` for an output computed from the leaf
    /// `y` with autograd (the graph is freed).
    fn backward(&self, y: &Tensor, out: Tensor, a: &Tensor) -> (Tensor, Tensor) {
        let scalar = (out * a.detach()).sum(Kind::Double);
        let mut inputs: Vec<&Tensor> = Vec::with_capacity(self.params.len() + 1);
        inputs.push(y);
        inputs.extend(self.params.iter());
        let grads = Tensor::run_backward(&[scalar], &inputs, false, false);
        let mut it = grads.into_iter();
        let dy = defined_or_zeros(it.next(), y);
        let flat: Vec<Tensor> =
            self.params.iter().map(|p| defined_or_zeros(it.next(), p).reshape([-1])).collect();
        let dp = if flat.is_empty() { self.zeros_flat() } else { Tensor::cat(&flat, 0) };
        (dy, dp)
    }

    fn zeros_flat(&self) -> Tensor {
        match self.params.first() {
            Some(p) => Tensor::zeros([self.n_params], (p.kind(), p.device())),
            None => Tensor::zeros([0], (Kind::Float, tch::Device::Cpu)),
        }
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

#[cfg(test)]
mod tests {
    use super::*;
    use ode_autodiff::{solve_with_grad, GradientMethod};
    use ode_core::tableau::{DOPRI5, DOPRI8};
    use ode_core::SolveOptions;
    use tch::nn::{self, Module};
    use tch::Device;

    /// `TorchRhs` without its kept evaluations: every VJP evaluates `f`
    /// afresh, as before `eval_for_vjp` existed.
    struct Plain<'a, F>(&'a TorchRhs<F>);

    impl<F: Fn(f64, &Tensor) -> Tensor> Rhs<Tensor> for Plain<'_, F> {
        fn eval(&self, t: f64, y: &Tensor) -> Tensor {
            self.0.eval(t, y)
        }
    }

    impl<F: Fn(f64, &Tensor) -> Tensor> VjpRhs<Tensor> for Plain<'_, F> {
        type Params = Tensor;
        fn zero_params(&self) -> Tensor {
            self.0.zero_params()
        }
        fn vjp(&self, t: f64, y: &Tensor, a: &Tensor) -> (Tensor, Tensor) {
            let (_, dy, dp) = self.0.eval_and_vjp(t, y, a);
            (dy, dp)
        }
    }

    fn same_bits(a: &Tensor, b: &Tensor) -> bool {
        a.size() == b.size() && a.eq_tensor(b).all().int64_value(&[]) == 1
    }

    /// ACA's reverse sweep through kept evaluations gives the same bits as
    /// evaluating afresh inside every VJP, with outputs inside steps (the
    /// interpolation's extra stages for DOP853), error cotangents, and
    /// nothing left kept afterwards.
    #[test]
    fn aca_through_kept_evaluations_is_bitwise_the_plain_sweep() {
        tch::manual_seed(7);
        let vs = nn::VarStore::new(Device::Cpu);
        let net = nn::seq()
            .add(nn::linear(vs.root() / "l1", 3, 16, Default::default()))
            .add_fn(|x| x.tanh())
            .add(nn::linear(vs.root() / "l2", 16, 3, Default::default()));
        let calls = std::rc::Rc::new(std::cell::Cell::new(0usize));
        let counter = calls.clone();
        let f = TorchRhs::new(
            move |t: f64, y: &Tensor| {
                counter.set(counter.get() + 1);
                net.forward(y) * (1.0 + 0.5 * t)
            },
            vs.trainable_variables(),
        );
        // Calls of f during `run`.
        let count = |run: &mut dyn FnMut()| {
            let before = calls.get();
            run();
            calls.get() - before
        };
        let y0 = Tensor::randn([4, 3], (Kind::Float, Device::Cpu));
        let ts: Vec<f64> = (0..=6).map(|i| i as f64 / 6.0).collect();
        for tab in [&DOPRI5, &DOPRI8] {
            let opts = SolveOptions::default().method(tab).tol(1e-4, 1e-4);
            let fwd = solve_with_grad(&f, y0.shallow_clone(), &ts, &opts, &GradientMethod::Aca).unwrap();
            assert!(fwd.steps().len() < ts.len() - 1, "{}: outputs must fall inside steps", tab.name);
            let dys: Vec<Tensor> = ts.iter().map(|_| y0.ones_like()).collect();
            let derrs: Vec<Tensor> = fwd.steps().iter().map(|_| y0.ones_like() * 0.1).collect();
            let (mut kept, mut plain) = (None, None);
            let kept_calls = count(&mut || kept = Some(fwd.backward_with_errors(&f, &dys, &derrs).unwrap()));
            let plain_calls =
                count(&mut || plain = Some(fwd.backward_with_errors(&Plain(&f), &dys, &derrs).unwrap()));
            let (kept, plain) = (kept.unwrap(), plain.unwrap());
            // The kept sweep evaluates f only to replay the stages (and for
            // dL/dt); the plain one again inside every VJP.
            assert_eq!(kept_calls, kept.stats.nfe, "{}", tab.name);
            assert_eq!(plain_calls, plain.stats.nfe + plain.stats.nvjp, "{}", tab.name);
            assert!(same_bits(&kept.dy0, &plain.dy0), "{}", tab.name);
            assert!(same_bits(&kept.dtheta, &plain.dtheta), "{}", tab.name);
            assert_eq!(kept.dts, plain.dts);
            assert_eq!((kept.stats.nfe, kept.stats.nvjp), (plain.stats.nfe, plain.stats.nvjp));
            assert!(f.kept.borrow().is_empty(), "{}: evaluations left kept", tab.name);
            // Without error cotangents the FSAL stage is never asked for a VJP.
            let kept = fwd.backward(&f, &dys).unwrap();
            let plain = fwd.backward(&Plain(&f), &dys).unwrap();
            assert!(same_bits(&kept.dtheta, &plain.dtheta), "{}", tab.name);
            assert!(f.kept.borrow().is_empty(), "{}: evaluations left kept", tab.name);
        }
    }
}
