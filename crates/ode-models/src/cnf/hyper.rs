//! The paper's CNF dynamics: `dz/dt = sum_{m=1..M} u_m tanh(w_m^T z + b_m)`
//! with `(w, u, b)` produced by a small hypernetwork of `t`.
//!
//! The hypernetwork is `t -> tanh(Linear(1, H)) -> tanh(Linear(H, H)) ->
//! Linear(H, 3 M D + M)`, whose output is split into `W` (`M x D`), `U`
//! (`M x D`), a gate `G` (`M x D`) and `b` (`M`). As in the original code the
//! effective `u_m` is `U_m * sigmoid(G_m)`: the gate lets each hidden unit be
//! switched off smoothly, which the paper's formula does not show but which
//! its released implementation uses. We keep it (configurable) and, unlike
//! that code, which averages over the `M` units, we *sum* as the paper's
//! formula says, so a wider model can move points faster from the start.

use tch::nn::{self, Module};
use tch::{Kind, Tensor};

use super::CnfError;

/// Shape of a [`CnfDynamics`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CnfConfig {
    /// Data dimension `D`.
    pub dim: i64,
    /// Number of hidden units `M` of the dynamics.
    pub width: i64,
    /// Hidden size `H` of the hypernetwork.
    pub hidden: i64,
    /// Multiply `U` by `sigmoid(G)` (the original code's gate).
    pub gate: bool,
}

impl CnfConfig {
    /// `D = dim`, `M = width`, hypernetwork hidden size 32, gate on.
    pub fn new(dim: i64, width: i64) -> Self {
        CnfConfig { dim, width, hidden: 32, gate: true }
    }

    pub fn validate(&self) -> Result<(), CnfError> {
        if self.dim < 1 {
            return Err(CnfError::ZeroDim);
        }
        if self.width < 1 {
            return Err(CnfError::ZeroWidth);
        }
        if self.hidden < 1 {
            return Err(CnfError::Arg("the hypernetwork needs at least one hidden unit".into()));
        }
        Ok(())
    }
}

/// The hypernetwork dynamics `f(t, z)`.
#[derive(Debug)]
pub struct CnfDynamics {
    pub config: CnfConfig,
    fc1: nn::Linear,
    fc2: nn::Linear,
    fc3: nn::Linear,
}

/// The parameters the hypernetwork gives at one time.
pub struct UnitParams {
    /// `[M, D]`
    pub w: Tensor,
    /// `[M, D]`, gated.
    pub u: Tensor,
    /// `[M]`
    pub b: Tensor,
    /// `u_m . w_m` (`[M]`), the closed-form trace's weights, when computed
    /// with the parameters (by [`CnfDynamics::unit_params_at`], once per step).
    pub uw: Option<Tensor>,
}

impl CnfDynamics {
    /// Creates the hypernetwork's variables under `p`.
    pub fn new(p: &nn::Path, config: CnfConfig) -> Result<Self, CnfError> {
        config.validate()?;
        let (d, m, h) = (config.dim, config.width, config.hidden);
        let c = Default::default();
        Ok(CnfDynamics {
            config,
            fc1: nn::linear(p / "fc1", 1, h, c),
            fc2: nn::linear(p / "fc2", h, h, c),
            fc3: nn::linear(p / "fc3", h, 3 * m * d + m, c),
        })
    }

    /// `(w, u, b)` at time `t`.
    pub fn unit_params(&self, t: f64, like: &Tensor) -> UnitParams {
        // The time as f32 whatever the kind (as the parameters were trained),
        // made in one op on the right device: this runs at every evaluation,
        // and with tiny tensors each op's dispatch is most of its cost.
        let tt = Tensor::full([1, 1], t as f32 as f64, (like.kind(), like.device()));
        let (w, u, b) = self.params_of(&tt);
        let (d, m) = (self.config.dim, self.config.width);
        UnitParams { w: w.view([m, d]), u: u.view([m, d]), b: b.view([m]), uw: None }
    }

    /// `(w, u, b)` at each of the times `ts`, from one pass of the
    /// hypernetwork over all of them: a Runge-Kutta step knows its stage
    /// times in advance (`ode_core::Rhs::stage_times`), and one pass of
    /// batch `s` costs about what one pass of batch 1 does. Each time's
    /// parameters equal [`CnfDynamics::unit_params`]'s up to rounding.
    pub fn unit_params_at(&self, ts: &[f64], like: &Tensor) -> Vec<UnitParams> {
        let s = ts.len() as i64;
        if s == 0 {
            return Vec::new();
        }
        let times: Vec<f32> = ts.iter().map(|&t| t as f32).collect();
        let tt = Tensor::from_slice(&times).view([s, 1]).to_kind(like.kind()).to_device(like.device());
        let (w, u, b) = self.params_of(&tt);
        let (d, m) = (self.config.dim, self.config.width);
        let (w, u) = (w.view([s, m, d]), u.view([s, m, d]));
        let uw = unit_dots(&u, &w, 2);
        (0..s)
            .map(|i| UnitParams {
                w: w.select(0, i),
                u: u.select(0, i),
                b: b.select(0, i),
                uw: Some(uw.select(0, i)),
            })
            .collect()
    }

    /// The hypernetwork on a column of times `[S, 1]`: `W` and gated `U`
    /// (`[S, M D]` each) and `b` (`[S, M]`).
    fn params_of(&self, tt: &Tensor) -> (Tensor, Tensor, Tensor) {
        let (d, m) = (self.config.dim, self.config.width);
        let out = self.fc3.forward(&self.fc2.forward(&self.fc1.forward(tt).tanh()).tanh());
        // One split (one autograd node) instead of four narrows.
        let parts = out.split_with_sizes([m * d, m * d, m * d, m], 1);
        let u = if self.config.gate { &parts[1] * parts[2].sigmoid() } else { parts[1].shallow_clone() };
        (parts[0].shallow_clone(), u, parts[3].shallow_clone())
    }

    /// `f(t, z)` for `z` of shape `[B, D]`.
    pub fn velocity(&self, t: f64, z: &Tensor) -> Tensor {
        Self::velocity_with(&self.unit_params(t, z), z)
    }

    /// `f(t, z)` with the parameters `p` of time `t`.
    pub fn velocity_with(p: &UnitParams, z: &Tensor) -> Tensor {
        z.matmul(&p.w.tr()).g_add(&p.b).tanh().matmul(&p.u)
    }

    /// `tr(df/dz)` in closed form, `sum_m (1 - h_m^2) u_m . w_m`.
    pub fn analytic_trace(&self, t: f64, z: &Tensor) -> Tensor {
        self.velocity_and_trace(t, z).1
    }

    /// `(f(t, z), tr(df/dz))` from one evaluation of the hypernetwork and one
    /// of the hidden layer: `df/dz = sum_m u_m (1 - h_m^2) w_m^T`, so the
    /// trace costs one more `[B, M] x [M]` product. Differentiable by
    /// ordinary autograd (training needs no double-backward graph).
    pub fn velocity_and_trace(&self, t: f64, z: &Tensor) -> (Tensor, Tensor) {
        Self::velocity_and_trace_with(&self.unit_params(t, z), z)
    }

    /// [`CnfDynamics::velocity_and_trace`] with the parameters `p` of time `t`.
    pub fn velocity_and_trace_with(p: &UnitParams, z: &Tensor) -> (Tensor, Tensor) {
        let h = z.matmul(&p.w.tr()).g_add(&p.b).tanh();
        let uw = match &p.uw {
            Some(uw) => uw.shallow_clone(),
            None => unit_dots(&p.u, &p.w, 1),
        };
        // 1 - h^2 in one op (rsub), the same value as -(h^2) + 1.
        let tr = h.square().rsub_scalar(1.0).matmul(&uw);
        (h.matmul(&p.u), tr)
    }
}

/// `u_m . w_m` for every unit: the sum of `u * w` over dimension `dim` (the
/// data dimension).
fn unit_dots(u: &Tensor, w: &Tensor, dim: i64) -> Tensor {
    (u * w).sum_dim_intlist(&[dim][..], false, Kind::Float)
}
