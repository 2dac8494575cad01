//! The latent ODE of the neural ODE paper (section 5): a recognition RNN run
//! backwards over the observations gives `q(z0 | x) = N(mean, exp(logvar))`,
//! `z0` is sampled by reparameterization, the latent dynamics
//! `dz/dt = f(z)` are solved to every observation time, and a decoder maps
//! `z(t_i)` to the mean of `p(x_i | z(t_i)) = N(dec(z(t_i)), 0.3^2 I)`. The
//! loss is the negative ELBO, `-(sum_i log p(x_i | z(t_i))) + KL(q || N(0, I))`
//! (the KL in closed form), averaged over the batch.
//!
//! Sizes (the paper's): encoder 25 hidden units, latent 4, dynamics 4-20-4
//! with ELU, decoder 4-20-2. The encoder's input at every observation is the
//! point and its time relative to `z0`'s time: without the time, points of
//! an irregular sample could not be placed (a point at t = 0.04 and one at
//! 0.4 would look alike).
//!
//! With [`LatentOdeConfig::poisson`] the observation times themselves are
//! also modelled as events of an inhomogeneous Poisson process with
//! intensity `lambda(z(t))` (see [`super::poisson`]).
//!
//! ```no_run
//! use ode_models::latent::{LatentOde, LatentOdeConfig, SequenceModel, SpiralConfig, Spirals};
//! use tch::{nn::OptimizerConfig, Device, Kind};
//! let data = Spirals::generate(&SpiralConfig { n_spirals: 64, ..Default::default() }).unwrap();
//! let obs = data.subsample(30, 0).unwrap();
//! let batch = data.batch(&obs, &(0..32).collect::<Vec<_>>(), Kind::Float, Device::Cpu).unwrap();
//! let model = LatentOde::new(LatentOdeConfig::default(), Device::Cpu).unwrap();
//! let mut opt = tch::nn::Adam::default().build(model.var_store(), 0.01).unwrap();
//! opt.zero_grad();
//! let out = model.train_step(&batch, 0.0, data.times[99]).unwrap();
//! opt.step();
//! println!("negative ELBO {:.3}, NFE {}", out.loss, out.nfe_forward);
//! ```

use ode_core::SolveOptions;
use serde::{Deserialize, Serialize};
use tch::nn::{self, Module};
use tch::{Device, Kind, Tensor};

use super::batch::IrregularBatch;
use super::poisson::PoissonHead;
use super::{gaussian_log_density, kl_standard_normal, Prediction, SequenceModel, StepOutput};
use super::{output_times, LatentError};
use crate::{GradMode, OdeBlock, TorchRhs};

/// Sizes, likelihood, solver and gradient mode of a [`LatentOde`].
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct LatentOdeConfig {
    pub obs_dim: i64,
    pub latent_dim: i64,
    pub rec_hidden: i64,
    pub dyn_hidden: i64,
    pub dec_hidden: i64,
    /// Standard deviation of the Gaussian likelihood.
    pub obs_std: f64,
    pub rtol: f64,
    pub atol: f64,
    /// `direct`, `adjoint`, `aca` or `mali`.
    pub grad: String,
    /// Add the Poisson-process likelihood of the observation times.
    pub poisson: bool,
    /// Use f64 weights (tests); f32 otherwise.
    pub double: bool,
}

impl Default for LatentOdeConfig {
    fn default() -> Self {
        LatentOdeConfig {
            obs_dim: 2,
            latent_dim: 4,
            rec_hidden: 25,
            dyn_hidden: 20,
            dec_hidden: 20,
            obs_std: 0.3,
            rtol: 1e-3,
            atol: 1e-4,
            grad: "direct".into(),
            poisson: false,
            double: false,
        }
    }
}

/// Parses a gradient mode name (`direct`, `adjoint`, `aca`, `mali`).
pub fn grad_mode(name: &str) -> Result<GradMode, LatentError> {
    match name {
        "direct" => Ok(GradMode::Direct),
        "adjoint" => Ok(GradMode::Adjoint(Default::default())),
        "aca" => Ok(GradMode::Aca),
        "mali" => Ok(GradMode::Mali(Default::default())),
        other => Err(LatentError::InvalidArgument {
            name: "grad",
            reason: format!("unknown gradient mode `{other}`; use direct, adjoint, aca or mali"),
        }),
    }
}

/// The latent ODE model; one `VarStore` (dynamics variables under `dyn.`,
/// the intensity net under `lambda.`).
pub struct LatentOde {
    pub config: LatentOdeConfig,
    vs: nn::VarStore,
    enc_i2h: nn::Linear,
    enc_h2o: nn::Linear,
    dyn1: nn::Linear,
    dyn2: nn::Linear,
    dec1: nn::Linear,
    dec2: nn::Linear,
    poisson: Option<PoissonHead>,
    block: OdeBlock,
}

impl LatentOde {
    /// A freshly initialised model on `device` (seed with `tch::manual_seed`).
    pub fn new(config: LatentOdeConfig, device: Device) -> Result<Self, LatentError> {
        let c = &config;
        for (name, v) in [
            ("obs_dim", c.obs_dim),
            ("latent_dim", c.latent_dim),
            ("rec_hidden", c.rec_hidden),
            ("dyn_hidden", c.dyn_hidden),
            ("dec_hidden", c.dec_hidden),
        ] {
            if v < 1 {
                return Err(LatentError::InvalidArgument { name, reason: format!("{v} must be at least 1") });
            }
        }
        if !(c.obs_std.is_finite() && c.obs_std > 0.0) {
            return Err(LatentError::InvalidArgument {
                name: "obs_std",
                reason: format!("{} is not a positive number", c.obs_std),
            });
        }
        if !(c.rtol.is_finite() && c.rtol > 0.0 && c.atol.is_finite() && c.atol > 0.0) {
            return Err(LatentError::InvalidArgument {
                name: "rtol/atol",
                reason: format!("{} / {} must be positive", c.rtol, c.atol),
            });
        }
        let mode = grad_mode(&c.grad)?;
        let mut vs = nn::VarStore::new(device);
        let root = vs.root();
        let (l, d) = (c.latent_dim, c.obs_dim);
        let enc_i2h =
            nn::linear(&root / "enc" / "i2h", d + 1 + c.rec_hidden, c.rec_hidden, Default::default());
        let enc_h2o = nn::linear(&root / "enc" / "h2o", c.rec_hidden, 2 * l, Default::default());
        let dyn1 = nn::linear(&root / "dyn" / "l1", l, c.dyn_hidden, Default::default());
        let dyn2 = nn::linear(&root / "dyn" / "l2", c.dyn_hidden, l, Default::default());
        let dec1 = nn::linear(&root / "dec" / "l1", l, c.dec_hidden, Default::default());
        let dec2 = nn::linear(&root / "dec" / "l2", c.dec_hidden, d, Default::default());
        let poisson = c.poisson.then(|| PoissonHead::new(&root / "lambda", l, c.dyn_hidden));
        if c.double {
            vs.double();
        }
        let opts = SolveOptions::default().tol(c.rtol, c.atol);
        let block = OdeBlock::new(opts, mode);
        Ok(LatentOde { config, vs, enc_i2h, enc_h2o, dyn1, dyn2, dec1, dec2, poisson, block })
    }

    fn kind(&self) -> Kind {
        if self.config.double {
            Kind::Double
        } else {
            Kind::Float
        }
    }

    /// The latent dynamics `f(z)` (autonomous, as in the paper).
    pub fn dynamics(&self, z: &Tensor) -> Tensor {
        self.dyn2.forward(&self.dyn1.forward(z).elu())
    }

    /// The right-hand side of the solved state: `z`, plus the running
    /// integral of the intensity when the Poisson likelihood is on.
    fn rhs(&self, y: &Tensor) -> Tensor {
        match &self.poisson {
            None => self.dynamics(y),
            Some(p) => {
                let z = y.narrow(1, 0, self.config.latent_dim);
                Tensor::cat(&[self.dynamics(&z), p.intensity(&z)], 1)
            }
        }
    }

    /// The variables the ODE solve differentiates (dynamics and intensity).
    fn ode_params(&self) -> Vec<Tensor> {
        let mut v: Vec<(String, Tensor)> = self
            .vs
            .variables()
            .into_iter()
            .filter(|(n, _)| n.starts_with("dyn.") || n.starts_with("lambda."))
            .collect();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v.into_iter().map(|(_, t)| t).collect()
    }

    /// Solves the latent state from `z0 [B, L]` at `ts[0]` to every time of
    /// `ts` without gradients; with the Poisson likelihood each state has
    /// one more column, the intensity integral `Lambda(t)` from `ts[0]`.
    pub fn solve_latent(&self, z0: &Tensor, ts: &[f64]) -> Result<Vec<Tensor>, LatentError> {
        tch::no_grad(|| {
            let f = TorchRhs::new(|_t, y: &Tensor| self.rhs(y), self.ode_params());
            Ok(ode_core::solve(&f, self.initial_state(z0), ts, &self.block.opts)?.ys)
        })
    }

    /// The Poisson intensity `lambda(z)` (`[..., L] -> [..., 1]`), when the
    /// model has one.
    pub fn intensity(&self, z: &Tensor) -> Option<Tensor> {
        self.poisson.as_ref().map(|p| p.intensity(z))
    }

    /// Decodes latent states `[..., L]` to observation means `[..., D]`.
    pub fn decode(&self, z: &Tensor) -> Tensor {
        self.dec2.forward(&self.dec1.forward(z).relu())
    }

    /// `q(z0 | x)`: mean and log-variance `[B, L]` from the recognition RNN
    /// run backwards over each sequence's own observations (the hidden
    /// state moves only where the mask is 1).
    pub fn encode(&self, batch: &IrregularBatch, t0: f64) -> (Tensor, Tensor) {
        let b = batch.batch_size();
        let mut h = Tensor::zeros([b, self.config.rec_hidden], (self.kind(), self.vs.device()));
        for k in (0..batch.times.len() as i64).rev() {
            let m = batch.mask_at(k);
            let x = batch.values.select(1, k);
            let t = Tensor::full([b, 1], batch.times[k as usize] - t0, (self.kind(), self.vs.device()));
            let h_new = self.enc_i2h.forward(&Tensor::cat(&[&x, &t, &h], 1)).tanh();
            h = &m * h_new + (1.0 - &m) * h;
        }
        let out = self.enc_h2o.forward(&h);
        let l = self.config.latent_dim;
        (out.narrow(1, 0, l), out.narrow(1, l, l))
    }

    /// The initial state of the solve: `z0`, plus a zero intensity integral.
    fn initial_state(&self, z0: &Tensor) -> Tensor {
        match self.poisson {
            None => z0.shallow_clone(),
            Some(_) => Tensor::cat(&[z0, &z0.zeros_like().narrow(1, 0, 1)], 1),
        }
    }

    /// The negative ELBO of `batch` (averaged over sequences) and its parts,
    /// from a solve whose outputs `ys` (aligned with `batch.times`) are given.
    fn elbo_parts(
        &self,
        batch: &IrregularBatch,
        ys: &[Tensor],
        end: &Tensor,
        q: &(Tensor, Tensor),
    ) -> Tensor {
        let l = self.config.latent_dim;
        let states = Tensor::stack(ys, 1); // [B, U, L(+1)]
        let z = states.narrow(2, 0, l);
        let pred = self.decode(&z);
        let logvar = (2.0 * self.config.obs_std.ln()) * pred.ones_like();
        let logpx =
            (gaussian_log_density(&batch.values, &pred, &logvar).sum_dim_intlist(2, false, self.kind())
                * &batch.mask)
                .sum_dim_intlist(1, false, self.kind());
        let kl = kl_standard_normal(&q.0, &q.1);
        let nll = kl - logpx;
        // Not `-=`: that is an in-place op on a tensor in the autograd graph.
        let nll = match &self.poisson {
            Some(p) => nll - p.log_likelihood(&z, &batch.mask, &end.narrow(1, l, 1).squeeze_dim(1)),
            None => nll,
        };
        nll.mean(self.kind())
    }
}

impl SequenceModel for LatentOde {
    fn name(&self) -> &'static str {
        "latent-ode"
    }

    fn var_store(&self) -> &nn::VarStore {
        &self.vs
    }

    fn var_store_mut(&mut self) -> &mut nn::VarStore {
        &mut self.vs
    }

    fn train_step(&self, batch: &IrregularBatch, t0: f64, t_end: f64) -> Result<StepOutput, LatentError> {
        let b = batch.batch_size();
        let eps = Tensor::randn([b, self.config.latent_dim], (self.kind(), self.vs.device()));
        self.train_step_with_noise(batch, t0, t_end, &eps)
    }

    fn loss(&self, batch: &IrregularBatch, t0: f64, t_end: f64) -> Result<f64, LatentError> {
        self.eval_loss(batch, t0, t_end)
    }

    fn continuous_time(&self) -> bool {
        true
    }

    fn predict(&self, batch: &IrregularBatch, t0: f64, query: &[f64]) -> Result<Prediction, LatentError> {
        self.predict_at(batch, t0, query)
    }
}

impl LatentOde {
    /// [`SequenceModel::train_step`] with the reparameterization noise
    /// `eps [B, L]` given (`z0 = mean + exp(logvar / 2) eps`), so that runs
    /// can be compared on the same sample.
    pub fn train_step_with_noise(
        &self,
        batch: &IrregularBatch,
        t0: f64,
        t_end: f64,
        eps: &Tensor,
    ) -> Result<StepOutput, LatentError> {
        let (ts, first) = output_times(t0, &batch.times, Some(t_end))?;
        let q = self.encode(batch, t0);
        if eps.size() != q.0.size() {
            return Err(LatentError::Shape(format!("noise {:?} for z0 {:?}", eps.size(), q.0.size())));
        }
        let z0 = &q.0 + eps * (&q.1 * 0.5).exp();
        let f = TorchRhs::new(|_t, y: &Tensor| self.rhs(y), self.ode_params());
        let fwd = self.block.forward_at(&f, &self.initial_state(&z0), &ts)?;
        let obs_ys = &fwd.ys[first..first + batch.times.len()];
        let end = fwd.ys.last().ok_or_else(|| LatentError::Shape("no output".into()))?;
        let loss = self.elbo_parts(batch, obs_ys, end, &q);
        let value = loss.double_value(&[]);
        if !value.is_finite() {
            return Err(LatentError::NonFiniteLoss(value));
        }
        // The KL term reaches the encoder without the solve: one backward
        // pass over the loss plus the block's surrogate keeps that shared
        // graph walked once (see `OdeBlock::surrogate_at`).
        let stats = if matches!(self.block.mode, GradMode::Direct) {
            loss.backward();
            fwd.stats
        } else {
            let cot = Tensor::run_backward(&[&loss], &fwd.ys, true, false);
            let (sur, stats) = self.block.surrogate_at(&f, fwd, &cot)?;
            match sur {
                Some(s) => (loss.to_kind(Kind::Double) + s).backward(),
                None => loss.backward(),
            }
            stats
        };
        Ok(StepOutput { loss: value, nfe_forward: stats.nfe_forward, nfe_backward: stats.nfe_backward })
    }

    fn eval_loss(&self, batch: &IrregularBatch, t0: f64, t_end: f64) -> Result<f64, LatentError> {
        tch::no_grad(|| {
            let (ts, first) = output_times(t0, &batch.times, Some(t_end))?;
            let q = self.encode(batch, t0);
            let f = TorchRhs::new(|_t, y: &Tensor| self.rhs(y), self.ode_params());
            let sol = ode_core::solve(&f, self.initial_state(&q.0), &ts, &self.block.opts)?;
            let end = sol.ys.last().ok_or_else(|| LatentError::Shape("no output".into()))?;
            let loss = self.elbo_parts(batch, &sol.ys[first..first + batch.times.len()], end, &q);
            Ok(loss.double_value(&[]))
        })
    }

    fn predict_at(&self, batch: &IrregularBatch, t0: f64, query: &[f64]) -> Result<Prediction, LatentError> {
        tch::no_grad(|| {
            let (mean, _) = self.encode(batch, t0);
            let f = TorchRhs::new(|_t, y: &Tensor| self.rhs(y), self.ode_params());
            let l = self.config.latent_dim;
            let (ts_obs, first) = output_times(t0, &batch.times, None)?;
            let sol = ode_core::solve(&f, self.initial_state(&mean), &ts_obs, &self.block.opts)?;
            let z_obs = Tensor::stack(&sol.ys[first..], 1).narrow(2, 0, l);
            let (ts_q, first_q) = output_times(t0, query, None)?;
            let sol_q = ode_core::solve(&f, self.initial_state(&mean), &ts_q, &self.block.opts)?;
            let z_q = Tensor::stack(&sol_q.ys[first_q..], 1).narrow(2, 0, l);
            Ok(Prediction {
                at_obs: self.decode(&z_obs),
                at_query: self.decode(&z_q),
                latent_query: Some(z_q),
                nfe: sol.stats.nfe + sol_q.stats.nfe,
            })
        })
    }
}
