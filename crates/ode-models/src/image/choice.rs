//! The command line's choice of model and downsampling.

use std::fmt;
use std::str::FromStr;

use tch::Device;

use super::{ImageClassifier, OdeNet, ResNet, RkNet};
use crate::block::GradMode;

/// The two downsampling variants of torchdiffeq's example.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Downsampling {
    /// Three convolutions (the example's `conv` option).
    Conv,
    /// A convolution and two strided residual blocks (`res`).
    Res,
}

impl FromStr for Downsampling {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "conv" => Ok(Downsampling::Conv),
            "res" => Ok(Downsampling::Res),
            _ => Err(format!("unknown downsampling `{s}`; use conv or res")),
        }
    }
}

impl fmt::Display for Downsampling {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Downsampling::Conv => "conv",
            Downsampling::Res => "res",
        })
    }
}

/// Which model the command line asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ModelKind {
    OdeNet,
    ResNet,
    RkNet,
}

impl FromStr for ModelKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "odenet" => Ok(ModelKind::OdeNet),
            "resnet" => Ok(ModelKind::ResNet),
            "rknet" => Ok(ModelKind::RkNet),
            _ => Err(format!("unknown model `{s}`; use odenet, resnet or rknet")),
        }
    }
}

impl fmt::Display for ModelKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ModelKind::OdeNet => "odenet",
            ModelKind::ResNet => "resnet",
            ModelKind::RkNet => "rknet",
        })
    }
}

/// Builds a model from command-line choices. `mode` and `tol` matter for
/// the ODE-Net only, `rk_steps` for the RK-Net only.
pub fn build(
    kind: ModelKind,
    device: Device,
    downsampling: Downsampling,
    mode: GradMode,
    tol: f64,
    rk_steps: usize,
) -> Box<dyn ImageClassifier> {
    match kind {
        ModelKind::OdeNet => Box::new(OdeNet::new(device, downsampling, mode, tol)),
        ModelKind::ResNet => Box::new(ResNet::new(device, downsampling)),
        ModelKind::RkNet => Box::new(RkNet::new(device, downsampling, rk_steps)),
    }
}
