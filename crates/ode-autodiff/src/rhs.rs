//! Right-hand sides that can also give vector-Jacobian products.

use ode_core::{OdeState, Rhs};

/// A right-hand side `f(t, y; theta)` with vector-Jacobian products: what
/// every gradient method needs. For ndarray problems the VJP is written by
/// hand; for tch modules it will be autograd on one evaluation of `f`.
pub trait VjpRhs<S: OdeState>: Rhs<S> {
    /// The parameter gradient's type (a flat array, or a tuple of arrays).
    type Params: OdeState + std::fmt::Debug;

    /// A zero parameter gradient.
    fn zero_params(&self) -> Self::Params;

    /// `(a^T df/dy, a^T df/dtheta)` at `(t, y)`.
    fn vjp(&self, t: f64, y: &S, a: &S) -> (S, Self::Params);

    /// `(f(t, y), a^T df/dy, a^T df/dtheta)`: what the adjoint's augmented
    /// dynamics need at every stage. Override it when the VJP evaluates `f`
    /// anyway (autograd does), so each backward stage costs one evaluation
    /// instead of two.
    fn eval_and_vjp(&self, t: f64, y: &S, a: &S) -> (S, S, Self::Params) {
        let fy = self.eval(t, y);
        let (dy, dp) = self.vjp(t, y, a);
        (fy, dy, dp)
    }

    /// `f(t, y)` at a point whose VJP the caller asks for next, with this
    /// `t` and this very `y` (ACA replays a step's stages with it, then
    /// sweeps them in reverse). Override it when the VJP evaluates `f`
    /// anyway (autograd does): keep that evaluation here, and the VJP
    /// becomes a backward pass alone. Results must equal `eval`'s and
    /// `vjp`'s. The default is `eval`.
    fn eval_for_vjp(&self, t: f64, y: &S) -> S {
        self.eval(t, y)
    }

    /// Drops what [`VjpRhs::eval_for_vjp`] kept for VJPs that were not
    /// asked for (ACA calls it after every replayed step). The default does
    /// nothing.
    fn forget_kept(&self) {}
}
