//! The continuous normalizing flow: samples and log-densities by solving
//! the augmented state `(z, l)` with `d/dt (z, l) = (f(t, z), -tr(df/dz))`.
//!
//! Sampling runs from `t = 0` (`z(0) ~ N(0, I)`, `l(0) = 0`) to `T`:
//! `log q(z(T)) = log N(z(0)) + l(T)`. Density evaluation runs the same
//! ODE backwards from the data at `T` (`l(T) = 0`) to `0`:
//! `log q(x) = log N(z(0)) - l(0)`. The two are inverses up to the solver's
//! tolerance.
//!
//! The state is the tuple `(z [B, D], l [B, 1])` (ode-core's tuple states),
//! so `z` and `l` share one error norm and step-size control. Gradients
//! are by direct autograd through the solver (`ode_core::solve` keeps the
//! graph of the accepted steps).

use std::cell::RefCell;

use ode_core::{solve, Rhs, SolveOptions};
use tch::{Kind, Tensor};

use super::hyper::{CnfDynamics, UnitParams};
use super::trace::{exact_trace, hutchinson_trace, sample_noise, TraceMethod};
use super::CnfError;

/// What a flow pass gives back.
#[derive(Debug)]
pub struct FlowOutput {
    /// The other end of the flow: data for sampling, base points for density evaluation.
    pub z: Tensor,
    /// `log q(x)` of the data points, `[B]`.
    pub log_q: Tensor,
    /// Evaluations of the dynamics (0 for closed-form flows).
    pub nfe: usize,
}

/// `log N(z; 0, I)` per row.
pub fn standard_normal_log_density(z: &Tensor) -> Tensor {
    let d = z.size()[1] as f64;
    z.square().sum_dim_intlist(&[1i64][..], false, Kind::Float) * -0.5 - 0.5 * d * std::f64::consts::TAU.ln()
}

/// A continuous normalizing flow on `[0, t1]`.
///
/// ```no_run
/// use ode_models::cnf::{Cnf, CnfConfig, CnfDynamics, TraceMethod};
/// use tch::{nn, Device, Kind, Tensor};
///
/// let vs = nn::VarStore::new(Device::Cpu);
/// let dynamics = CnfDynamics::new(&vs.root(), CnfConfig::new(2, 32)).unwrap();
/// let cnf = Cnf::new(dynamics, TraceMethod::Exact);
/// let x = Tensor::randn([16, 2], (Kind::Float, Device::Cpu));
/// let out = cnf.log_density(&x, false).unwrap();
/// println!("mean log q = {}, NFE {}", out.log_q.mean(Kind::Float).double_value(&[]), out.nfe);
/// ```
pub struct Cnf {
    pub dynamics: CnfDynamics,
    pub trace: TraceMethod,
    pub t1: f64,
    pub opts: SolveOptions,
}

impl Cnf {
    /// `T = 1`, dopri5 at rtol = atol = 1e-5.
    pub fn new(dynamics: CnfDynamics, trace: TraceMethod) -> Self {
        Cnf { dynamics, trace, t1: 1.0, opts: SolveOptions::default().tol(1e-5, 1e-5) }
    }

    pub fn dim(&self) -> i64 {
        self.dynamics.config.dim
    }

    /// Solves the augmented ODE from `z` at `from` to `to` with `l = 0` at
    /// the start; returns `(z(to), l(to), nfe)`. With `train` the result
    /// carries the autograd graph (the trace is differentiable); otherwise
    /// everything is detached and no graph is kept.
    pub fn integrate(
        &self,
        z: &Tensor,
        from: f64,
        to: f64,
        train: bool,
    ) -> Result<(Tensor, Tensor, usize), CnfError> {
        super::check_batch(z, self.dim())?;
        super::check_finite(z, "flow input")?;
        if !(from.is_finite() && to.is_finite()) {
            return Err(CnfError::Arg(format!("times must be finite (got {from} -> {to})")));
        }
        let b = z.size()[0];
        let l0 = Tensor::zeros([b, 1], (z.kind(), z.device()));
        if from == to {
            return Ok((z.shallow_clone(), l0, 0));
        }
        let probe = match self.trace {
            TraceMethod::Hutchinson(noise) => Some(sample_noise(noise, z)),
            TraceMethod::Exact | TraceMethod::ClosedForm => None,
        };
        let rhs = FlowRhs {
            cnf: self,
            probe,
            train,
            like: z.shallow_clone(),
            stages: RefCell::new(Vec::new()),
            failed: RefCell::new(None),
        };
        let y0 = (z.shallow_clone(), l0);
        let run = || solve(&rhs, y0, &[from, to], &self.opts);
        let sol = if train { run() } else { tch::no_grad(run) };
        if let Some(e) = rhs.failed.into_inner() {
            return Err(e);
        }
        let sol = sol.map_err(|e| CnfError::Solve(e.to_string()))?;
        let nfe = sol.stats.nfe;
        let (zt, lt) = sol.ys.into_iter().next_back().ok_or_else(|| CnfError::Solve("no output".into()))?;
        Ok((zt, lt, nfe))
    }

    /// `(f(t, z), tr(df/dz))` with this flow's trace method. With
    /// `keep_graph` both carry the autograd graph to the parameters (and to
    /// `z`, if it has one), with the trace differentiable; otherwise they
    /// are detached.
    pub(crate) fn rates(
        &self,
        t: f64,
        z: &Tensor,
        probe: Option<&Tensor>,
        keep_graph: bool,
    ) -> Result<(Tensor, Tensor), CnfError> {
        self.rates_with(t, None, z, probe, keep_graph)
    }

    /// [`Cnf::rates`] with the hypernetwork's parameters at `t` given
    /// (computed here when `None`).
    fn rates_with(
        &self,
        t: f64,
        params: Option<&UnitParams>,
        z: &Tensor,
        probe: Option<&Tensor>,
        keep_graph: bool,
    ) -> Result<(Tensor, Tensor), CnfError> {
        let velocity = |z: &Tensor| match params {
            Some(p) => CnfDynamics::velocity_with(p, z),
            None => self.dynamics.velocity(t, z),
        };
        if self.trace == TraceMethod::ClosedForm {
            // No backward pass inside the dynamics: ordinary autograd (or none) suffices.
            let run = || match params {
                Some(p) => CnfDynamics::velocity_and_trace_with(p, z),
                None => self.dynamics.velocity_and_trace(t, z),
            };
            return Ok(if keep_graph { tch::with_grad(run) } else { tch::no_grad(run) });
        }
        tch::with_grad(|| {
            let zz = if keep_graph && z.requires_grad() {
                z.shallow_clone()
            } else {
                z.detach().set_requires_grad(true)
            };
            let dz = velocity(&zz);
            let tr = match (self.trace, probe) {
                (TraceMethod::Hutchinson(_), Some(e)) => hutchinson_trace(&dz, &zz, e, keep_graph)?,
                (TraceMethod::Hutchinson(_), None) => {
                    return Err(CnfError::Arg("Hutchinson's estimator needs a probe vector".into()))
                }
                _ => exact_trace(&dz, &zz, keep_graph)?,
            };
            Ok(if keep_graph { (dz, tr) } else { (dz.detach(), tr.detach()) })
        })
    }

    /// `log q(x)` of data `x` (`[B, D]`) and the base points `z(0)`.
    pub fn log_density(&self, x: &Tensor, train: bool) -> Result<FlowOutput, CnfError> {
        self.log_density_at(x, self.t1, train)
    }

    /// `log p_t(x)`: the density of the flow's marginal at time `t` (`t = T`
    /// is the model; `t = 0` the base), by solving from `t` back to 0.
    pub fn log_density_at(&self, x: &Tensor, t: f64, train: bool) -> Result<FlowOutput, CnfError> {
        let (z0, l0, nfe) = self.integrate(x, t, 0.0, train)?;
        let log_q = standard_normal_log_density(&z0) - l0.squeeze_dim(1);
        Ok(FlowOutput { z: z0, log_q, nfe })
    }

    /// Pushes base points `z0` (`[B, D]`) to `z(T)`, with `log q(z(T))`.
    pub fn sample_from(&self, z0: &Tensor, train: bool) -> Result<FlowOutput, CnfError> {
        self.sample_to(z0, self.t1, train)
    }

    /// Pushes base points to time `t`, with the log-density of `p_t` there.
    pub fn sample_to(&self, z0: &Tensor, t: f64, train: bool) -> Result<FlowOutput, CnfError> {
        let (zt, lt, nfe) = self.integrate(z0, 0.0, t, train)?;
        let log_q = standard_normal_log_density(z0) + lt.squeeze_dim(1);
        Ok(FlowOutput { z: zt, log_q, nfe })
    }
}

/// The augmented dynamics of one [`Cnf::integrate`] call, as an
/// `ode_core::Rhs`. The hypernetwork depends on `t` alone, so the stage
/// times announced before each Runge-Kutta step get their parameters from
/// one batched pass ([`CnfDynamics::unit_params_at`]); evaluations at other
/// times (the first one, dense output) compute their own.
struct FlowRhs<'a> {
    cnf: &'a Cnf,
    probe: Option<Tensor>,
    train: bool,
    /// Kind and device of the state.
    like: Tensor,
    stages: RefCell<Vec<(f64, UnitParams)>>,
    /// The first error of the dynamics: `Rhs::eval` cannot return one, so it
    /// returns NaN (which stops the solver) and keeps the cause here.
    failed: RefCell<Option<CnfError>>,
}

impl Rhs<(Tensor, Tensor)> for FlowRhs<'_> {
    fn eval(&self, t: f64, s: &(Tensor, Tensor)) -> (Tensor, Tensor) {
        let stages = self.stages.borrow();
        let params = stages.iter().find(|(ts, _)| *ts == t).map(|(_, p)| p);
        match self.cnf.rates_with(t, params, &s.0, self.probe.as_ref(), self.train) {
            Ok((dz, tr)) => (dz, -tr.unsqueeze(1)),
            Err(e) => {
                self.failed.borrow_mut().get_or_insert(e);
                (s.0.detach() * f64::NAN, s.1.detach() * f64::NAN)
            }
        }
    }

    fn stage_times(&self, ts: &[f64]) {
        let run = || self.cnf.dynamics.unit_params_at(ts, &self.like);
        let params = if self.train { tch::with_grad(run) } else { tch::no_grad(run) };
        *self.stages.borrow_mut() = ts.iter().copied().zip(params).collect();
    }
}
