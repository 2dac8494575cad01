//! Model sizes, and the baselines' hidden sizes matched to the ODE-RNN's
//! parameter count.

use std::str::FromStr;

use serde::{Deserialize, Serialize};
use tch::Device;

use super::baselines::{GruClassifier, GruVariant};
use super::latent_classifier::{LatentOdeClassifier, LatentSizes};
use super::ode_rnn_classifier::OdeRnnClassifier;
use super::{SeriesClassifier, TsModelError};
use crate::latent::model::grad_mode;
use crate::{GradMode, OdeBlock};

/// Which classifier.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ModelKind {
    OdeRnn,
    LatentOde,
    Gru(GruVariant),
}

impl ModelKind {
    pub const ALL: [ModelKind; 5] = [
        ModelKind::OdeRnn,
        ModelKind::LatentOde,
        ModelKind::Gru(GruVariant::TimeGap),
        ModelKind::Gru(GruVariant::Decay),
        ModelKind::Gru(GruVariant::Plain),
    ];

    pub fn name(self) -> &'static str {
        match self {
            ModelKind::OdeRnn => "ode-rnn",
            ModelKind::LatentOde => "latent-ode",
            ModelKind::Gru(v) => v.name(),
        }
    }

    /// Whether the model solves ODEs (and so has a gradient mode and NFE).
    pub fn is_ode(self) -> bool {
        !matches!(self, ModelKind::Gru(_))
    }
}

impl FromStr for ModelKind {
    type Err = TsModelError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "ode-rnn" => Ok(ModelKind::OdeRnn),
            "latent-ode" => Ok(ModelKind::LatentOde),
            other => {
                other.parse::<GruVariant>().map(ModelKind::Gru).map_err(|_| TsModelError::InvalidArgument {
                    name: "model",
                    reason: format!("unknown model `{other}`; use ode-rnn, latent-ode, gru-dt, gru-d or gru"),
                })
            }
        }
    }
}

/// Sizes, solver and gradient mode of the classifiers.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ModelSizes {
    pub channels: i64,
    pub classes: i64,
    /// ODE-RNN hidden state; the reference for the parameter budget.
    pub hidden: i64,
    /// Hidden units of the ODE-RNN's dynamics MLP.
    pub units: i64,
    /// Latent ODE: latent size and hidden units of the latent dynamics (its
    /// encoder's hidden size is matched to the budget, units = hidden).
    pub latent: i64,
    pub latent_units: i64,
    /// Weight of the KL term in the Latent ODE classifier's loss.
    pub kl_weight: f64,
    pub rtol: f64,
    pub atol: f64,
    /// `direct`, `adjoint`, `aca` or `mali`.
    pub grad: String,
}

impl ModelSizes {
    /// Hidden 32, dynamics 32 units; latent 16 with 32 units; KL weight
    /// 0.01; dopri5 at rtol 1e-3, atol 1e-4 (Rubanova et al.'s defaults).
    pub fn new(channels: i64, classes: i64) -> ModelSizes {
        ModelSizes {
            channels,
            classes,
            hidden: 32,
            units: 32,
            latent: 16,
            latent_units: 32,
            kl_weight: 0.01,
            rtol: 1e-3,
            atol: 1e-4,
            grad: "aca".into(),
        }
    }

    /// The ODE-RNN classifier's parameter count: every model's budget.
    pub fn budget(&self) -> i64 {
        OdeRnnClassifier::parameter_count_for(self.channels, self.classes, self.hidden, self.units)
    }

    fn latent_sizes(&self, enc_hidden: i64) -> LatentSizes {
        LatentSizes {
            channels: self.channels,
            classes: self.classes,
            enc_hidden,
            enc_units: enc_hidden,
            latent: self.latent,
            latent_units: self.latent_units,
        }
    }

    /// The hidden size a model gets: the ODE-RNN's own, else the one whose
    /// parameter count is closest to [`ModelSizes::budget`].
    pub fn hidden_for(&self, kind: ModelKind) -> i64 {
        let target = self.budget();
        match kind {
            ModelKind::OdeRnn => self.hidden,
            ModelKind::LatentOde => matched_hidden(target, |h| self.latent_sizes(h).parameter_count()),
            ModelKind::Gru(v) => {
                matched_hidden(target, |h| v.parameter_count(self.channels, self.classes, h))
            }
        }
    }

    /// The parameter count `kind` has at [`ModelSizes::hidden_for`].
    pub fn parameter_count(&self, kind: ModelKind) -> i64 {
        let h = self.hidden_for(kind);
        match kind {
            ModelKind::OdeRnn => self.budget(),
            ModelKind::LatentOde => self.latent_sizes(h).parameter_count(),
            ModelKind::Gru(v) => v.parameter_count(self.channels, self.classes, h),
        }
    }

    fn check(&self) -> Result<GradMode, TsModelError> {
        for (name, v) in [
            ("channels", self.channels),
            ("classes", self.classes),
            ("hidden", self.hidden),
            ("units", self.units),
            ("latent", self.latent),
            ("latent_units", self.latent_units),
        ] {
            if v < 1 {
                return Err(TsModelError::InvalidArgument {
                    name,
                    reason: format!("{v} must be at least 1"),
                });
            }
        }
        if !(self.rtol.is_finite() && self.rtol > 0.0 && self.atol.is_finite() && self.atol > 0.0) {
            return Err(TsModelError::InvalidArgument {
                name: "rtol/atol",
                reason: format!("{} / {} must be positive", self.rtol, self.atol),
            });
        }
        if !(self.kl_weight.is_finite() && self.kl_weight >= 0.0) {
            return Err(TsModelError::InvalidArgument {
                name: "kl_weight",
                reason: format!("{} is not a number >= 0", self.kl_weight),
            });
        }
        grad_mode(&self.grad)
            .map_err(|e| TsModelError::InvalidArgument { name: "grad", reason: e.to_string() })
    }
}

/// The `h` in `1..=4096` whose `count(h)` is closest to `target`.
pub fn matched_hidden(target: i64, count: impl Fn(i64) -> i64) -> i64 {
    (1..=4096).min_by_key(|&h| (count(h) - target).abs()).unwrap_or(1)
}

/// A freshly initialised classifier (seed with `tch::manual_seed` first).
pub fn build_classifier(
    kind: ModelKind,
    sizes: &ModelSizes,
    device: Device,
) -> Result<Box<dyn SeriesClassifier>, TsModelError> {
    let mode = sizes.check()?;
    let block = OdeBlock::new(super::chain::solve_options(sizes.rtol, sizes.atol), mode);
    let h = sizes.hidden_for(kind);
    let (c, k) = (sizes.channels, sizes.classes);
    Ok(match kind {
        ModelKind::OdeRnn => Box::new(OdeRnnClassifier::new(c, k, h, sizes.units, block, device)),
        ModelKind::LatentOde => {
            Box::new(LatentOdeClassifier::new(sizes.latent_sizes(h), sizes.kl_weight, block, device))
        }
        ModelKind::Gru(v) => Box::new(GruClassifier::new(v, c, k, h, device)),
    })
}
