//! Stochastic gradient descent with momentum, as torch.optim.SGD computes it.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use tch::nn::VarStore;
use tch::Tensor;

use super::params::Params;
use super::state::{split, state_name, step_tensor};
use super::{check_lr, OptimError, Optimizer};

/// SGD's hyperparameters; the defaults are torch's (plain SGD, lr 0.01).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct SgdConfig {
    pub lr: f64,
    pub momentum: f64,
    pub dampening: f64,
    /// L2 penalty added to the gradient.
    pub weight_decay: f64,
    /// Nesterov momentum (needs `momentum > 0` and `dampening == 0`, as in torch).
    pub nesterov: bool,
}

impl Default for SgdConfig {
    fn default() -> Self {
        SgdConfig { lr: 0.01, momentum: 0.0, dampening: 0.0, weight_decay: 0.0, nesterov: false }
    }
}

impl SgdConfig {
    fn validate(&self) -> Result<(), OptimError> {
        check_lr(self.lr)?;
        let bad = |name, reason: String| Err(OptimError::InvalidArgument { name, reason });
        if !(self.momentum.is_finite() && self.momentum >= 0.0) {
            return bad("momentum", format!("{} is not finite and >= 0", self.momentum));
        }
        if !self.dampening.is_finite() {
            return bad("dampening", format!("{} is not finite", self.dampening));
        }
        if !(self.weight_decay.is_finite() && self.weight_decay >= 0.0) {
            return bad("weight_decay", format!("{} is not finite and >= 0", self.weight_decay));
        }
        if self.nesterov && (self.momentum <= 0.0 || self.dampening != 0.0) {
            return bad("nesterov", "Nesterov momentum needs momentum > 0 and zero dampening".into());
        }
        Ok(())
    }
}

/// One variable's state: updates received and the momentum buffer (with
/// momentum, once there was an update).
struct Slot {
    step: u64,
    buffer: Option<Tensor>,
}

/// SGD over the trainable variables of a `VarStore`.
pub struct Sgd {
    cfg: SgdConfig,
    params: Params,
    slots: Vec<Slot>,
}

const FIELDS: [&str; 2] = ["step", "momentum_buffer"];

impl Sgd {
    /// SGD over the variables of `vs` that require gradients now.
    pub fn new(vs: &VarStore, cfg: SgdConfig) -> Result<Sgd, OptimError> {
        cfg.validate()?;
        let params = Params::from_var_store(vs)?;
        let slots = params.names.iter().map(|_| Slot { step: 0, buffer: None }).collect();
        Ok(Sgd { cfg, params, slots })
    }

    pub fn config(&self) -> SgdConfig {
        self.cfg
    }

    fn update(&mut self, grads: Vec<Option<Tensor>>) -> Result<(), OptimError> {
        let SgdConfig { lr, momentum, dampening, weight_decay, nesterov } = self.cfg;
        for ((p, slot), g) in self.params.tensors.iter_mut().zip(&mut self.slots).zip(grads) {
            let Some(mut d) = g else { continue };
            if weight_decay != 0.0 {
                d = d.f_add(&p.f_mul_scalar(weight_decay)?)?;
            }
            if momentum != 0.0 {
                let buf = match slot.buffer.as_mut() {
                    // The first buffer is the gradient itself, undamped (torch).
                    None => slot.buffer.insert(d.copy()),
                    Some(b) => {
                        let _ = b.f_mul_scalar_(momentum)?;
                        let _ = if dampening == 0.0 {
                            b.f_add_(&d)?
                        } else {
                            b.f_add_(&d.f_mul_scalar(1.0 - dampening)?)?
                        };
                        b
                    }
                };
                d = if nesterov { d.f_add(&buf.f_mul_scalar(momentum)?)? } else { buf.shallow_clone() };
            }
            let _ = p.f_sub_(&d.f_mul_scalar(lr)?)?;
            slot.step += 1;
        }
        Ok(())
    }
}

impl Optimizer for Sgd {
    fn kind(&self) -> &'static str {
        "sgd"
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
            out.push((state_name("sgd", "step", name), step_tensor(slot.step)));
            if let Some(b) = &slot.buffer {
                out.push((state_name("sgd", "momentum_buffer", name), b.shallow_clone()));
            }
        }
        Ok(out)
    }

    fn load_state(&mut self, named: &HashMap<String, Tensor>) -> Result<(), OptimError> {
        let entries = split(named, "sgd", &FIELDS, &self.params.names)?;
        let mut slots = Vec::with_capacity(entries.len());
        for (mut e, p) in entries.into_iter().zip(&self.params.tensors) {
            let step = e.step()?;
            let buffer =
                if step > 0 && self.cfg.momentum != 0.0 { Some(e.like("momentum_buffer", p)?) } else { None };
            e.finish()?;
            slots.push(Slot { step, buffer });
        }
        self.slots = slots;
        Ok(())
    }
}
