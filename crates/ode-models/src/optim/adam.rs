//! Adam (Kingma & Ba), as torch.optim.Adam computes it.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use tch::nn::VarStore;
use tch::Tensor;

use super::params::Params;
use super::state::{split, state_name, step_tensor};
use super::{check_lr, OptimError, Optimizer};

/// Adam's hyperparameters; the defaults are torch's (and tch's).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct AdamConfig {
    pub lr: f64,
    pub beta1: f64,
    pub beta2: f64,
    /// Added after the square root of the bias-corrected second moment.
    pub eps: f64,
    /// L2 penalty added to the gradient (torch's `weight_decay`, not AdamW's
    /// decoupled decay).
    pub weight_decay: f64,
}

impl Default for AdamConfig {
    fn default() -> Self {
        AdamConfig { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weight_decay: 0.0 }
    }
}

impl AdamConfig {
    fn validate(&self) -> Result<(), OptimError> {
        check_lr(self.lr)?;
        let bad =
            |name, v: f64| Err(OptimError::InvalidArgument { name, reason: format!("{v} is out of range") });
        for (name, b) in [("beta1", self.beta1), ("beta2", self.beta2)] {
            if !(0.0..1.0).contains(&b) {
                return bad(name, b);
            }
        }
        if !(self.eps.is_finite() && self.eps >= 0.0) {
            return bad("eps", self.eps);
        }
        if !(self.weight_decay.is_finite() && self.weight_decay >= 0.0) {
            return bad("weight_decay", self.weight_decay);
        }
        Ok(())
    }
}

/// One variable's state: updates received and, once there was one, the
/// first and second moment estimates.
struct Slot {
    step: u64,
    moments: Option<(Tensor, Tensor)>,
}

/// Adam over the trainable variables of a `VarStore`.
pub struct Adam {
    cfg: AdamConfig,
    params: Params,
    slots: Vec<Slot>,
}

const FIELDS: [&str; 3] = ["step", "exp_avg", "exp_avg_sq"];

impl Adam {
    /// Adam over the variables of `vs` that require gradients now.
    pub fn new(vs: &VarStore, cfg: AdamConfig) -> Result<Adam, OptimError> {
        cfg.validate()?;
        let params = Params::from_var_store(vs)?;
        let slots = params.names.iter().map(|_| Slot { step: 0, moments: None }).collect();
        Ok(Adam { cfg, params, slots })
    }

    pub fn config(&self) -> AdamConfig {
        self.cfg
    }

    fn update(&mut self, grads: Vec<Option<Tensor>>) -> Result<(), OptimError> {
        let AdamConfig { lr, beta1, beta2, eps, weight_decay } = self.cfg;
        for ((p, slot), g) in self.params.tensors.iter_mut().zip(&mut self.slots).zip(grads) {
            let Some(mut g) = g else { continue };
            if weight_decay != 0.0 {
                g = g.f_add(&p.f_mul_scalar(weight_decay)?)?;
            }
            slot.step += 1;
            let (m, v) = slot.moments.get_or_insert_with(|| (p.zeros_like(), p.zeros_like()));
            // torch.optim.Adam's single-tensor path, operation for operation.
            let _ = m.f_lerp_(&g, 1.0 - beta1)?;
            let _ = v.f_mul_scalar_(beta2)?;
            let _ = v.f_addcmul_(&g.f_mul_scalar(1.0 - beta2)?, &g)?;
            let t = slot.step as f64;
            let bias1 = 1.0 - beta1.powf(t);
            let bias2_sqrt = (1.0 - beta2.powf(t)).sqrt();
            let denom = v.f_sqrt()?.f_div_scalar(bias2_sqrt)?.f_add_scalar_(eps)?;
            let _ = p.f_addcdiv_(&m.f_mul_scalar(-lr / bias1)?, &denom)?;
        }
        Ok(())
    }
}

impl Optimizer for Adam {
    fn kind(&self) -> &'static str {
        "adam"
    }

    fn zero_grad(&mut self) {
        self.params.zero_grad();
    }

    fn step(&mut self) -> Result<(), OptimError> {
        let grads = self.params.gradients()?;
        tch::no_grad(|| self.update(grads))
    }

    fn lr(&self) -> f64 {
        self.cfg.lr
    }

    fn set_lr(&mut self, lr: f64) -> Result<(), OptimError> {
        check_lr(lr)?;
        self.cfg.lr = lr;
        Ok(())
    }

    fn state_tensors(&self) -> Result<Vec<(String, Tensor)>, OptimError> {
        let mut out = Vec::new();
        for (name, slot) in self.params.names.iter().zip(&self.slots) {
            out.push((state_name("adam", "step", name), step_tensor(slot.step)));
            if let Some((m, v)) = &slot.moments {
                out.push((state_name("adam", "exp_avg", name), m.shallow_clone()));
                out.push((state_name("adam", "exp_avg_sq", name), v.shallow_clone()));
            }
        }
        Ok(out)
    }

    fn load_state(&mut self, named: &HashMap<String, Tensor>) -> Result<(), OptimError> {
        let entries = split(named, "adam", &FIELDS, &self.params.names)?;
        let mut slots = Vec::with_capacity(entries.len());
        for (mut e, p) in entries.into_iter().zip(&self.params.tensors) {
            let step = e.step()?;
            let moments =
                if step > 0 { Some((e.like("exp_avg", p)?, e.like("exp_avg_sq", p)?)) } else { None };
            e.finish()?;
            slots.push(Slot { step, moments });
        }
        self.slots = slots;
        Ok(())
    }
}
