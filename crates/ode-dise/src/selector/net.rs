//! The auxiliary network v(h(0)) that predicts each candidate's cost: the
//! image network of the paper's Table 2 and the MLPs of Tables 4 and 7,
//! behind one trait so that a task can plug in its own.

use tch::nn::{self, Module};
use tch::{Device, Tensor};

use crate::error::DiseError;

/// A cost network: `[B, ...]` initial states to `[B, K]` predicted costs,
/// one column per candidate, with its own `VarStore`.
pub trait CostNet {
    /// Predicted costs; `train` switches dropout on.
    fn costs(&self, h0: &Tensor, train: bool) -> Tensor;
    /// Checks that `h0` is a batch this network takes.
    fn check(&self, h0: &Tensor) -> Result<(), DiseError>;
    /// `K`, the number of costs predicted per sample.
    fn outputs(&self) -> i64;
    /// A description of the architecture, recorded in checkpoints and
    /// compared on load.
    fn architecture(&self) -> String;
    fn var_store(&self) -> &nn::VarStore;
    fn var_store_mut(&mut self) -> &mut nn::VarStore;
}

fn bad_input(expected: String, h0: &Tensor) -> DiseError {
    DiseError::BadBatch { expected, got: format!("{:?}", h0.size()) }
}

/// The standard residual block (He et al. 2016): conv3x3-GN-ReLU-conv3x3-GN
/// plus the input, same width and size.
#[derive(Debug)]
struct Residual {
    conv1: nn::Conv2D,
    norm1: nn::GroupNorm,
    conv2: nn::Conv2D,
    norm2: nn::GroupNorm,
}

impl Residual {
    fn new(p: nn::Path, c: i64) -> Self {
        let cfg = nn::ConvConfig { padding: 1, bias: false, ..Default::default() };
        let groups = c.min(32);
        Residual {
            conv1: nn::conv2d(&p / "conv1", c, c, 3, cfg),
            norm1: nn::group_norm(&p / "norm1", groups, c, Default::default()),
            conv2: nn::conv2d(&p / "conv2", c, c, 3, cfg),
            norm2: nn::group_norm(&p / "norm2", groups, c, Default::default()),
        }
    }

    fn forward(&self, x: &Tensor) -> Tensor {
        let h = self.norm1.forward(&self.conv1.forward(x)).relu();
        self.norm2.forward(&self.conv2.forward(&h)) + x
    }
}

/// Table 2 (MNIST), on the ODE block's `[B, C, H, W]` state (`64 x 6 x 6`
/// for ODE-Net):
///
/// | layer | design | out |
/// |---|---|---|
/// | 1 | ReLU(residual block) | C x H x W |
/// | 2 | AvgPool(ReLU(GN(residual block))) | C x 1 x 1 |
/// | 3 | FC after flattening | 32 |
/// | 4 | FC | K |
///
/// The table puts no activation between the two fully connected layers,
/// and neither does this network.
#[derive(Debug)]
pub struct ImageCostNet {
    vs: nn::VarStore,
    channels: i64,
    outputs: i64,
    res1: Residual,
    res2: Residual,
    norm: nn::GroupNorm,
    fc1: nn::Linear,
    fc2: nn::Linear,
}

impl ImageCostNet {
    /// On `device`, for states with `channels` channels and `outputs`
    /// candidates.
    pub fn new(device: Device, channels: i64, outputs: i64) -> Result<Self, DiseError> {
        if channels <= 0 || outputs <= 0 {
            return Err(DiseError::InvalidSelector(format!(
                "image cost network: {channels} channels, {outputs} outputs"
            )));
        }
        let vs = nn::VarStore::new(device);
        let root = vs.root();
        let res1 = Residual::new(&root / "res1", channels);
        let res2 = Residual::new(&root / "res2", channels);
        let norm = nn::group_norm(&root / "norm", channels.min(32), channels, Default::default());
        let fc1 = nn::linear(&root / "fc1", channels, 32, Default::default());
        let fc2 = nn::linear(&root / "fc2", 32, outputs, Default::default());
        Ok(ImageCostNet { vs, channels, outputs, res1, res2, norm, fc1, fc2 })
    }
}

impl CostNet for ImageCostNet {
    fn costs(&self, h0: &Tensor, _train: bool) -> Tensor {
        let h = self.res1.forward(h0).relu();
        let h = self.norm.forward(&self.res2.forward(&h)).relu().adaptive_avg_pool2d([1, 1]).flatten(1, -1);
        self.fc2.forward(&self.fc1.forward(&h))
    }

    fn check(&self, h0: &Tensor) -> Result<(), DiseError> {
        let s = h0.size();
        if s.len() != 4 || s[1] != self.channels || s[0] == 0 {
            return Err(bad_input(format!("[B > 0, {}, H, W]", self.channels), h0));
        }
        Ok(())
    }

    fn outputs(&self) -> i64 {
        self.outputs
    }

    fn architecture(&self) -> String {
        format!("image-residual-c{}-k{}", self.channels, self.outputs)
    }

    fn var_store(&self) -> &nn::VarStore {
        &self.vs
    }

    fn var_store_mut(&mut self) -> &mut nn::VarStore {
        &mut self.vs
    }
}

/// An activation of an [`MlpLayer`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Activation {
    Identity,
    Relu,
    Tanh,
}

/// One fully connected layer of an [`MlpCostNet`]: `out` units, then the
/// activation, then dropout with probability `dropout` in training.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MlpLayer {
    pub out: i64,
    pub activation: Activation,
    pub dropout: f64,
}

impl MlpLayer {
    pub fn new(out: i64, activation: Activation) -> Self {
        MlpLayer { out, activation, dropout: 0.0 }
    }

    pub fn dropout(mut self, p: f64) -> Self {
        self.dropout = p;
        self
    }
}

/// A multilayer perceptron on the flattened state `[B, input]`, for vector
/// states (latent ODE, CNF); the last layer's width is the number of
/// candidates.
#[derive(Debug)]
pub struct MlpCostNet {
    vs: nn::VarStore,
    input: i64,
    spec: Vec<MlpLayer>,
    layers: Vec<nn::Linear>,
}

impl MlpCostNet {
    /// On `device`, `input` features in, the given layers in order.
    pub fn new(device: Device, input: i64, spec: &[MlpLayer]) -> Result<Self, DiseError> {
        if input <= 0 || spec.is_empty() {
            return Err(DiseError::InvalidSelector(format!(
                "MLP cost network: input {input}, {} layers",
                spec.len()
            )));
        }
        if let Some(l) = spec.iter().find(|l| l.out <= 0 || !(0.0..1.0).contains(&l.dropout)) {
            return Err(DiseError::InvalidSelector(format!("MLP cost network: layer {l:?}")));
        }
        let vs = nn::VarStore::new(device);
        let mut width = input;
        let layers = spec
            .iter()
            .enumerate()
            .map(|(i, l)| {
                let lin = nn::linear(vs.root() / format!("fc{i}"), width, l.out, Default::default());
                width = l.out;
                lin
            })
            .collect();
        Ok(MlpCostNet { vs, input, spec: spec.to_vec(), layers })
    }

    /// Table 4 (PhysioNet): FC `input`->10, 10->10, 10->5, 5->5 with ReLU,
    /// dropout `dropout` after the fourth (the paper: 0 or 0.25), FC
    /// 5->`outputs`.
    pub fn physionet(device: Device, input: i64, outputs: i64, dropout: f64) -> Result<Self, DiseError> {
        use Activation::*;
        let spec = [
            MlpLayer::new(10, Relu),
            MlpLayer::new(10, Relu),
            MlpLayer::new(5, Relu),
            MlpLayer::new(5, Relu).dropout(dropout),
            MlpLayer::new(outputs, Identity),
        ];
        Self::new(device, input, &spec)
    }

    /// Table 7 (CNF): FC `input`->32, tanh FC 32->64, tanh FC 64->32, FC
    /// 32->`outputs`. The table also puts tanh on the output layer; that
    /// would cap the predicted costs at 1 while every label is at least
    /// `1^alpha = 1` (and `M^alpha = 1.23` for alpha 0.03), so the output
    /// here is linear.
    pub fn cnf(device: Device, input: i64, outputs: i64) -> Result<Self, DiseError> {
        use Activation::*;
        let spec = [
            MlpLayer::new(32, Identity),
            MlpLayer::new(64, Tanh),
            MlpLayer::new(32, Tanh),
            MlpLayer::new(outputs, Identity),
        ];
        Self::new(device, input, &spec)
    }
}

impl CostNet for MlpCostNet {
    fn costs(&self, h0: &Tensor, train: bool) -> Tensor {
        let mut h = h0.flatten(1, -1);
        for (lin, l) in self.layers.iter().zip(&self.spec) {
            h = lin.forward(&h);
            h = match l.activation {
                Activation::Identity => h,
                Activation::Relu => h.relu(),
                Activation::Tanh => h.tanh(),
            };
            if l.dropout > 0.0 {
                h = h.dropout(l.dropout, train);
            }
        }
        h
    }

    fn check(&self, h0: &Tensor) -> Result<(), DiseError> {
        let s = h0.size();
        let features: i64 = s.iter().skip(1).product();
        if s.len() < 2 || s[0] == 0 || features != self.input {
            return Err(bad_input(format!("[B > 0, ...] with {} features per sample", self.input), h0));
        }
        Ok(())
    }

    fn outputs(&self) -> i64 {
        self.spec.last().map_or(0, |l| l.out)
    }

    fn architecture(&self) -> String {
        let layers: Vec<String> = self
            .spec
            .iter()
            .map(|l| format!("{}{:?}{}", l.out, l.activation, if l.dropout > 0.0 { "+dropout" } else { "" }))
            .collect();
        format!("mlp-{}-{}", self.input, layers.join("-"))
    }

    fn var_store(&self) -> &nn::VarStore {
        &self.vs
    }

    fn var_store_mut(&mut self) -> &mut nn::VarStore {
        &mut self.vs
    }
}
