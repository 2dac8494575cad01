//! The augmented state `(y, E_kin, E_jac)`: integral regularizers computed
//! by the same solve as `y`.
//!
//! A `[B, ...]` state is flattened to `[B, N]` and extended by one column
//! per integral, `[B, N + k]`; the augmented right-hand side returns
//! `[f(y), |f|^2, |eps^T df/dy|^2]`. The extra channels never feed back
//! into `f`, so their explicit Runge-Kutta update is exactly the solver's
//! quadrature `h sum_i b_i g(k_i)` over the accepted steps' stages, and
//! because they are ordinary state components every gradient mode
//! (Direct, ACA, adjoint, MALI) differentiates them.
//!
//! # Keeping the extra channels out of the step control
//!
//! ode-core's error norm is the RMS of `err_j / sc_j` over all components,
//! `sc_j = atol_j + rtol max(|y0_j|, |y1_j|)`. The channels get an
//! absolute tolerance of [`IGNORED_ATOL`], so their terms are zero (or
//! below rounding), but they still count in the mean: `N` components
//! would become `N + k`, and the norm would shrink by `sqrt(N / (N + k))`
//! (for a 2-D toy problem with two channels, by 0.71: longer steps than
//! without the regularizer). So `y`'s tolerances are scaled by
//! `c = sqrt(N / (N + k))`: `rtol' = c rtol`, `atol'_j = c atol_j`, which
//! gives back exactly `y`'s norm, in the step controller and in Hairer's
//! initial-step heuristic (which uses the same norm). The steps are then
//! those of the solve without the channels up to rounding (the scaled
//! tolerances and the longer reduction are not bit-identical), and the
//! step error estimates `r_{s,n}` of the error regularizer are `y`'s own.
//! The price: with full-batch stepping the tolerance is a per-component
//! `atol` of `B (N + k)` entries, which ode-core turns into a tensor at
//! every error norm (one host-to-device copy per step on a GPU).
//!
//! # Why not the recorded stages
//!
//! In `Direct` mode the block already finds every accepted step's stages
//! (for the error sums), and `h sum_i b_i |k_i|^2` over them is the same
//! number as the kinetic channel. But it would exist in `Direct` mode only
//! (ACA's recorded stages carry no graph, and the adjoint and MALI keep
//! none), and the Jacobian term needs a vector-Jacobian product at every
//! stage anyway. The channels cost one reduction per evaluation for the
//! kinetic term and one VJP per evaluation for the Jacobian term, and work
//! with every gradient mode and with per-sample stepping.

use ode_core::{Atol, Rhs, Tolerance};
use ode_models::TorchRhs;
use tch::{Device, Kind, Tensor};

use crate::error::DiseError;
use crate::regularizer::Needs;

/// The absolute tolerance of the integral channels: large enough that
/// their scaled errors vanish in the norm, small enough to stay finite in
/// f32.
pub const IGNORED_ATOL: f64 = 1e30;

/// The dynamics of the augmented state, borrowing the user's dynamics.
pub(crate) type AugmentedRhs<'a> = TorchRhs<Box<dyn Fn(f64, &Tensor) -> Tensor + 'a>>;

/// Where `y` and the integral channels sit in the augmented state.
#[derive(Clone, Debug)]
pub(crate) struct Layout {
    /// `y`'s shape without the batch dimension.
    sample_shape: Vec<i64>,
    /// `y`'s components per sample.
    n: i64,
    /// Columns of the integral channels.
    pub kinetic: Option<i64>,
    pub jacobian: Option<i64>,
    extra: i64,
}

impl Layout {
    /// The layout for a `[B, ...]` state and what the regularizers need;
    /// `None` when they need no integral channel.
    pub(crate) fn new(y0: &Tensor, needs: &Needs) -> Result<Option<Self>, DiseError> {
        if !needs.augments_state() {
            return Ok(None);
        }
        let size = y0.size();
        let Some((&b, rest)) = size.split_first() else {
            return Err(DiseError::Invalid("the state needs a batch dimension: [B, ...]".into()));
        };
        let n: i64 = rest.iter().product();
        if b < 1 || n < 1 || !y0.is_floating_point() {
            return Err(DiseError::Invalid(format!(
                "need a floating-point [B, ...] state with B >= 1 and components, got {size:?} {:?}",
                y0.kind()
            )));
        }
        let kinetic = needs.kinetic.then_some(n);
        let jacobian = needs.jacobian.map(|_| n + i64::from(needs.kinetic));
        let extra = i64::from(needs.kinetic) + i64::from(needs.jacobian.is_some());
        Ok(Some(Layout { sample_shape: rest.to_vec(), n, kinetic, jacobian, extra }))
    }

    /// `[B, N + k]`: the flattened state and zero channels.
    pub(crate) fn pack(&self, y0: &Tensor) -> Tensor {
        let b = y0.size()[0];
        let zeros = Tensor::zeros([b, self.extra], (y0.kind(), y0.device()));
        Tensor::cat(&[y0.reshape([b, self.n]), zeros], 1)
    }

    /// `y` in its own shape, as a view of the augmented state.
    pub(crate) fn state(&self, z: &Tensor) -> Tensor {
        let mut shape = vec![z.size()[0]];
        shape.extend(&self.sample_shape);
        z.narrow(1, 0, self.n).reshape(&shape)
    }

    /// One integral channel, `[B]`.
    pub(crate) fn channel(&self, z: &Tensor, column: i64) -> Tensor {
        z.select(1, column)
    }

    /// `y` flattened to `[B, N]` (the shape of the Jacobian probes).
    pub(crate) fn flat(&self, y: &Tensor) -> Tensor {
        y.reshape([y.size()[0], self.n])
    }

    /// The tolerance of the augmented state that steps `y` as `tol` steps
    /// it alone (module docs). `per_sample`: `tol`'s per-component `atol`
    /// has one sample's components (per-sample stepping), otherwise the
    /// whole batch's.
    pub(crate) fn tolerance(
        &self,
        tol: &Tolerance,
        batch: i64,
        per_sample: bool,
    ) -> Result<Tolerance, DiseError> {
        let (n, k) = (self.n as usize, self.extra as usize);
        let c = (n as f64 / (n + k) as f64).sqrt();
        let rows = if per_sample { 1 } else { batch as usize };
        let atol = match &tol.atol {
            Atol::Scalar(a) => vec![*a; rows * n],
            Atol::PerComponent(v) if v.len() == rows * n => v.clone(),
            Atol::PerComponent(v) => {
                return Err(DiseError::Invalid(format!(
                    "per-component atol has {} entries, the state has {} components",
                    v.len(),
                    rows * n
                )))
            }
        };
        let mut out = Vec::with_capacity(rows * (n + k));
        for row in atol.chunks(n) {
            out.extend(row.iter().map(|a| a * c));
            out.extend(std::iter::repeat_n(IGNORED_ATOL, k));
        }
        Ok(Tolerance::new(tol.rtol * c, out))
    }

    /// `[f(y), |f|^2, |eps^T df/dy|^2]` as a right-hand side with `f`'s
    /// parameters. `noise` is `Some` exactly when the layout has a Jacobian
    /// channel.
    pub(crate) fn rhs<'a, F>(&self, f: &'a TorchRhs<F>, noise: Option<Tensor>) -> AugmentedRhs<'a>
    where
        F: Fn(f64, &Tensor) -> Tensor + 'a,
    {
        let layout = self.clone();
        let params: Vec<Tensor> = f.params().iter().map(Tensor::shallow_clone).collect();
        let eval = move |t: f64, z: &Tensor| {
            let b = z.size()[0];
            let y = layout.state(z);
            let (fy, jacobian) = match &noise {
                None => (f.eval(t, &y), None),
                Some(eps) => {
                    let (fy, rate) = with_jacobian_rate(f, t, &y, eps);
                    (fy, Some(rate))
                }
            };
            let fy = fy.reshape([b, layout.n]);
            let mut parts = vec![fy.shallow_clone()];
            if layout.kinetic.is_some() {
                parts.push(fy.square().sum_dim_intlist(1, true, fy.kind()));
            }
            parts.extend(jacobian);
            Tensor::cat(&parts, 1)
        };
        TorchRhs::new(Box::new(eval) as Box<dyn Fn(f64, &Tensor) -> Tensor + 'a>, params)
    }
}

/// Whether autograd is recording (tch has no query for it).
fn grad_enabled() -> bool {
    let probe = Tensor::zeros([], (Kind::Float, Device::Cpu)).set_requires_grad(true);
    (&probe * 1.0).requires_grad()
}

/// `f(t, y)` and `|eps^T df/dy|^2` per sample (`[B, 1]`). When autograd is
/// recording, both keep their graph and the vector-Jacobian product is
/// built with `create_graph`, so the rate is differentiable (Direct mode,
/// and the VJPs of ACA, the adjoint and MALI, which evaluate under
/// autograd); otherwise (their forward solves) both are plain values.
fn with_jacobian_rate<F>(f: &TorchRhs<F>, t: f64, y: &Tensor, eps: &Tensor) -> (Tensor, Tensor)
where
    F: Fn(f64, &Tensor) -> Tensor,
{
    let record = grad_enabled();
    tch::with_grad(|| {
        let b = y.size()[0];
        let y_in = if y.requires_grad() { y.shallow_clone() } else { y.detach().set_requires_grad(true) };
        let fy = f.eval(t, &y_in);
        let rate = if fy.requires_grad() {
            let probe = (fy.reshape([b, -1]) * eps).sum(fy.kind());
            let mut g = Tensor::run_backward(&[probe], &[&y_in], record, record);
            match g.pop() {
                Some(v) if v.defined() => v.reshape([b, -1]).square().sum_dim_intlist(1, true, fy.kind()),
                _ => Tensor::zeros([b, 1], (fy.kind(), fy.device())),
            }
        } else {
            // f depends neither on y nor on anything trainable: J = 0.
            Tensor::zeros([b, 1], (fy.kind(), fy.device()))
        };
        if record {
            (fy, rate)
        } else {
            (fy.detach(), rate.detach())
        }
    })
}
