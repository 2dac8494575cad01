//! Image classifiers of the neural ODE paper's MNIST experiment, as in
//! torchdiffeq's `odenet_mnist.py` example (REFERENCE.md §5):
//!
//! - [`OdeNet`]: downsampling, one [`OdeBlock`] over `[0, 1]` (dopri5 at
//!   `tol` = rtol = atol, default 1e-3) with a configurable [`GradMode`], head.
//! - [`ResNet`]: the same downsampling and head with 6 residual blocks in
//!   place of the ODE block.
//! - [`RkNet`]: the ODE-Net with backprop (`Direct`) through a fixed RK4 grid.
//!
//! Downsampling is either `conv` — Conv(1,64,3,1), GN, ReLU,
//! Conv(64,64,4,2,1), GN, ReLU, Conv(64,64,4,2,1) — or `res` — Conv(1,64,3,1)
//! and two residual blocks of stride 2 with 1x1 strided shortcuts. The ODE
//! function is GN-ReLU-ConcatConv(64,64,3,1,1)-GN-ReLU-ConcatConv-GN, where
//! ConcatConv prepends a channel filled with t; GroupNorm(min(32, C), C)
//! with affine parameters; the head is GN-ReLU-AdaptiveAvgPool-Flatten-
//! Linear(64,10). Residual blocks are norm-relu-conv-norm-relu-conv (3x3
//! convolutions without bias) plus the shortcut.
//!
//! Parameter counts (trainable, GroupNorm affine parameters and biases
//! included): ODE-Net 208,266 / 232,970 (conv / res downsampling), ResNet
//! 576,778 / 601,482, as in the paper's code.
//!
//! Each model owns one `nn::VarStore` on the device it was created on; the
//! ODE function's parameters live under the `odefunc` path so that
//! [`TorchRhs`] differentiates exactly those.

use std::fmt;
use std::str::FromStr;

use ode_core::tableau::RK4;
use ode_core::{solve, SolveOptions};
use tch::nn::{self, Module};
use tch::{Device, Kind, Tensor};

use crate::block::{BlockError, BlockStats, GradMode, OdeBlock};
use crate::dynamics::TorchRhs;

/// Feature width of every model.
pub const WIDTH: i64 = 64;
/// Number of classes.
pub const CLASSES: i64 = 10;
/// The paper's solver tolerance (rtol = atol).
pub const DEFAULT_TOL: f64 = 1e-3;
/// Steps of RK-Net's fixed RK4 grid over `[0, 1]`.
pub const DEFAULT_RK_STEPS: usize = 4;
/// Prefix of the ODE function's variables in an [`OdeNet`]'s VarStore.
const ODEFUNC: &str = "odefunc";

/// Errors of an image model.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error(transparent)]
    Block(#[from] BlockError),
    #[error("ODE solve failed: {0}")]
    Solve(String),
    #[error("bad input: {0}")]
    Input(String),
    #[error("non-finite loss {0}: training diverged (lower the learning rate?)")]
    Diverged(f64),
}

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

fn group_norm(p: nn::Path, c: i64) -> nn::GroupNorm {
    nn::group_norm(p, c.min(32), c, Default::default())
}

fn conv(p: nn::Path, cin: i64, cout: i64, k: i64, stride: i64, padding: i64, bias: bool) -> nn::Conv2D {
    nn::conv2d(p, cin, cout, k, nn::ConvConfig { stride, padding, bias, ..Default::default() })
}

/// torchdiffeq's `ResBlock`: pre-activation, 3x3 convolutions without bias,
/// an optional 1x1 strided shortcut applied to the activated input.
#[derive(Debug)]
struct ResBlock {
    norm1: nn::GroupNorm,
    conv1: nn::Conv2D,
    norm2: nn::GroupNorm,
    conv2: nn::Conv2D,
    downsample: Option<nn::Conv2D>,
}

impl ResBlock {
    fn new(p: nn::Path, c: i64, stride: i64) -> Self {
        let downsample = (stride != 1).then(|| conv(&p / "downsample", c, c, 1, stride, 0, false));
        ResBlock {
            norm1: group_norm(&p / "norm1", c),
            conv1: conv(&p / "conv1", c, c, 3, stride, 1, false),
            norm2: group_norm(&p / "norm2", c),
            conv2: conv(&p / "conv2", c, c, 3, 1, 1, false),
            downsample,
        }
    }

    fn forward(&self, x: &Tensor) -> Tensor {
        let out = self.norm1.forward(x).relu();
        let shortcut = match &self.downsample {
            Some(d) => d.forward(&out),
            None => x.shallow_clone(),
        };
        let out = self.conv1.forward(&out);
        let out = self.norm2.forward(&out).relu();
        self.conv2.forward(&out) + shortcut
    }
}

/// The layers before the feature block (one per model: the size difference
/// of the variants does not matter).
#[derive(Debug)]
#[allow(clippy::large_enum_variant)]
enum Downsample {
    Conv { c1: nn::Conv2D, n1: nn::GroupNorm, c2: nn::Conv2D, n2: nn::GroupNorm, c3: nn::Conv2D },
    Res { c1: nn::Conv2D, r1: ResBlock, r2: ResBlock },
}

impl Downsample {
    fn new(p: nn::Path, kind: Downsampling) -> Self {
        match kind {
            Downsampling::Conv => Downsample::Conv {
                c1: conv(&p / "conv1", 1, WIDTH, 3, 1, 0, true),
                n1: group_norm(&p / "norm1", WIDTH),
                c2: conv(&p / "conv2", WIDTH, WIDTH, 4, 2, 1, true),
                n2: group_norm(&p / "norm2", WIDTH),
                c3: conv(&p / "conv3", WIDTH, WIDTH, 4, 2, 1, true),
            },
            Downsampling::Res => Downsample::Res {
                c1: conv(&p / "conv1", 1, WIDTH, 3, 1, 0, true),
                r1: ResBlock::new(&p / "res1", WIDTH, 2),
                r2: ResBlock::new(&p / "res2", WIDTH, 2),
            },
        }
    }

    fn forward(&self, x: &Tensor) -> Tensor {
        match self {
            Downsample::Conv { c1, n1, c2, n2, c3 } => {
                let h = n1.forward(&c1.forward(x)).relu();
                let h = n2.forward(&c2.forward(&h)).relu();
                c3.forward(&h)
            }
            Downsample::Res { c1, r1, r2 } => r2.forward(&r1.forward(&c1.forward(x))),
        }
    }
}

/// GN-ReLU-AdaptiveAvgPool-Flatten-Linear(64, 10).
#[derive(Debug)]
struct Head {
    norm: nn::GroupNorm,
    fc: nn::Linear,
}

impl Head {
    fn new(p: nn::Path) -> Self {
        Head {
            norm: group_norm(&p / "norm", WIDTH),
            fc: nn::linear(&p / "fc", WIDTH, CLASSES, Default::default()),
        }
    }

    fn forward(&self, x: &Tensor) -> Tensor {
        let h = self.norm.forward(x).relu().adaptive_avg_pool2d([1, 1]).flatten(1, -1);
        self.fc.forward(&h)
    }
}

/// A 3x3 convolution whose input gets one extra leading channel filled with t.
#[derive(Debug)]
struct ConcatConv {
    conv: nn::Conv2D,
}

impl ConcatConv {
    fn new(p: nn::Path, cin: i64, cout: i64) -> Self {
        ConcatConv { conv: conv(p, cin + 1, cout, 3, 1, 1, true) }
    }

    fn forward(&self, t: f64, x: &Tensor) -> Tensor {
        let tt = x.narrow(1, 0, 1).full_like(t);
        self.conv.forward(&Tensor::cat(&[tt, x.shallow_clone()], 1))
    }
}

/// The ODE function GN-ReLU-ConcatConv-GN-ReLU-ConcatConv-GN.
#[derive(Debug)]
struct OdeFunc {
    norm1: nn::GroupNorm,
    conv1: ConcatConv,
    norm2: nn::GroupNorm,
    conv2: ConcatConv,
    norm3: nn::GroupNorm,
}

impl OdeFunc {
    fn new(p: nn::Path) -> Self {
        OdeFunc {
            norm1: group_norm(&p / "norm1", WIDTH),
            conv1: ConcatConv::new(&p / "conv1", WIDTH, WIDTH),
            norm2: group_norm(&p / "norm2", WIDTH),
            conv2: ConcatConv::new(&p / "conv2", WIDTH, WIDTH),
            norm3: group_norm(&p / "norm3", WIDTH),
        }
    }

    fn forward(&self, t: f64, x: &Tensor) -> Tensor {
        let h = self.norm1.forward(x).relu();
        let h = self.conv1.forward(t, &h);
        let h = self.norm2.forward(&h).relu();
        let h = self.conv2.forward(t, &h);
        self.norm3.forward(&h)
    }
}

/// What one training step reports.
#[derive(Clone, Copy, Debug, Default)]
pub struct StepOutput {
    /// Mean cross-entropy of the batch.
    pub loss: f64,
    /// Correctly classified samples of the batch.
    pub correct: i64,
    /// ODE block evaluation counts (zeros for the ResNet).
    pub stats: BlockStats,
}

/// Logits and the block's evaluation counts of an evaluation pass.
pub struct Prediction {
    pub logits: Tensor,
    pub stats: BlockStats,
}

/// What the training library needs of a model.
pub trait ImageClassifier {
    /// A short name, e.g. `odenet-aca-conv`.
    fn name(&self) -> String;
    fn var_store(&self) -> &nn::VarStore;
    fn var_store_mut(&mut self) -> &mut nn::VarStore;
    /// Forward pass with cross-entropy loss against `labels` and the
    /// backward pass: gradients of every parameter are accumulated (zero
    /// them before, step the optimizer after).
    fn train_step(&self, images: &Tensor, labels: &Tensor) -> Result<StepOutput, ModelError>;
    /// Logits without autograd.
    fn predict(&self, images: &Tensor) -> Result<Prediction, ModelError>;

    /// Number of trainable scalars.
    fn parameter_count(&self) -> i64 {
        self.var_store().trainable_variables().iter().map(Tensor::numel).sum::<usize>() as i64
    }
    fn device(&self) -> Device {
        self.var_store().device()
    }
}

/// Checks `[B, 1, H, W]` floating-point images and `[B]` int64 labels.
pub fn check_batch(images: &Tensor, labels: Option<&Tensor>) -> Result<(), ModelError> {
    let size = images.size();
    if size.len() != 4 || size[1] != 1 || size[0] == 0 {
        return Err(ModelError::Input(format!("images must be [B, 1, H, W] with B > 0, got {size:?}")));
    }
    if size[2] < 8 || size[3] < 8 {
        return Err(ModelError::Input(format!("images are too small for the downsampling: {size:?}")));
    }
    if !matches!(images.kind(), Kind::Float | Kind::Double | Kind::Half | Kind::BFloat16) {
        return Err(ModelError::Input(format!("images must be floating point, got {:?}", images.kind())));
    }
    if let Some(l) = labels {
        if l.size() != [size[0]] {
            return Err(ModelError::Input(format!(
                "labels must be [{}] to match the images, got {:?}",
                size[0],
                l.size()
            )));
        }
        if l.kind() != Kind::Int64 {
            return Err(ModelError::Input(format!("labels must be int64, got {:?}", l.kind())));
        }
        let (lo, hi) = (l.min().int64_value(&[]), l.max().int64_value(&[]));
        if lo < 0 || hi >= CLASSES {
            return Err(ModelError::Input(format!("labels must lie in 0..{CLASSES}, got {lo}..={hi}")));
        }
    }
    Ok(())
}

fn loss_and_correct(logits: &Tensor, labels: &Tensor) -> (Tensor, i64) {
    let loss = logits.cross_entropy_for_logits(labels);
    let correct = logits.argmax(-1, false).eq_tensor(labels).sum(Kind::Int64).int64_value(&[]);
    (loss, correct)
}

/// ODE-Net: downsampling, an ODE block, head.
#[derive(Debug)]
pub struct OdeNet {
    pub vs: nn::VarStore,
    pub downsampling: Downsampling,
    pub block: OdeBlock,
    down: Downsample,
    odefunc: OdeFunc,
    head: Head,
    odefunc_params: Vec<Tensor>,
    label: String,
}

impl OdeNet {
    /// An ODE-Net on `device` whose block runs dopri5 at rtol = atol = `tol`
    /// with gradient mode `mode`.
    pub fn new(device: Device, downsampling: Downsampling, mode: GradMode, tol: f64) -> Self {
        let opts = SolveOptions::default().tol(tol, tol);
        let label = format!("odenet-{}-{downsampling}", mode.name());
        Self::with_block(device, downsampling, OdeBlock::new(opts, mode), label)
    }

    /// An ODE-Net with any block (solver, grid, gradient mode).
    pub fn with_block(device: Device, downsampling: Downsampling, block: OdeBlock, label: String) -> Self {
        let vs = nn::VarStore::new(device);
        let root = vs.root();
        let down = Downsample::new(&root / "down", downsampling);
        let odefunc = OdeFunc::new(&root / ODEFUNC);
        let head = Head::new(&root / "head");
        let mut named: Vec<(String, Tensor)> =
            vs.variables().into_iter().filter(|(n, _)| n.starts_with(&format!("{ODEFUNC}."))).collect();
        named.sort_by(|a, b| a.0.cmp(&b.0));
        let odefunc_params = named.into_iter().map(|(_, t)| t).collect();
        OdeNet { vs, downsampling, block, down, odefunc, head, odefunc_params, label }
    }

    fn rhs(&self) -> TorchRhs<impl Fn(f64, &Tensor) -> Tensor + '_> {
        TorchRhs::new(
            move |t, y: &Tensor| self.odefunc.forward(t, y),
            self.odefunc_params.iter().map(Tensor::shallow_clone).collect(),
        )
    }
}

impl ImageClassifier for OdeNet {
    fn name(&self) -> String {
        self.label.clone()
    }
    fn var_store(&self) -> &nn::VarStore {
        &self.vs
    }
    fn var_store_mut(&mut self) -> &mut nn::VarStore {
        &mut self.vs
    }

    fn train_step(&self, images: &Tensor, labels: &Tensor) -> Result<StepOutput, ModelError> {
        check_batch(images, Some(labels))?;
        let f = self.rhs();
        let z0 = self.down.forward(images);
        let mut correct = 0;
        let (loss, stats) = self.block.train_step(&f, &z0, |z1| {
            let (loss, c) = loss_and_correct(&self.head.forward(z1), labels);
            correct = c;
            loss
        })?;
        if !loss.is_finite() {
            return Err(ModelError::Diverged(loss));
        }
        Ok(StepOutput { loss, correct, stats })
    }

    fn predict(&self, images: &Tensor) -> Result<Prediction, ModelError> {
        check_batch(images, None)?;
        tch::no_grad(|| {
            let f = self.rhs();
            let z0 = self.down.forward(images);
            let sol = solve(&f, z0, &[self.block.t0, self.block.t1], &self.block.opts)
                .map_err(|e| ModelError::Solve(e.to_string()))?;
            let stats = BlockStats {
                nfe_forward: sol.stats.nfe,
                nfe_backward: 0,
                n_accepted: sol.stats.n_accepted,
                n_rejected: sol.stats.n_rejected,
            };
            let z1 = sol.ys.last().ok_or_else(|| ModelError::Solve("no output state".into()))?;
            Ok(Prediction { logits: self.head.forward(z1), stats })
        })
    }
}

/// RK-Net: the ODE-Net architecture, backprop through a fixed RK4 grid.
#[derive(Debug)]
pub struct RkNet(pub OdeNet);

impl RkNet {
    /// `steps` classic RK4 steps over `[0, 1]`, gradients by autograd.
    pub fn new(device: Device, downsampling: Downsampling, steps: usize) -> Self {
        let steps = steps.max(1);
        let opts = SolveOptions::default().method(&RK4).fixed_step(1.0 / steps as f64);
        let block = OdeBlock::new(opts, GradMode::Direct);
        RkNet(OdeNet::with_block(device, downsampling, block, format!("rknet-{downsampling}")))
    }
}

impl ImageClassifier for RkNet {
    fn name(&self) -> String {
        self.0.name()
    }
    fn var_store(&self) -> &nn::VarStore {
        &self.0.vs
    }
    fn var_store_mut(&mut self) -> &mut nn::VarStore {
        &mut self.0.vs
    }
    fn train_step(&self, images: &Tensor, labels: &Tensor) -> Result<StepOutput, ModelError> {
        self.0.train_step(images, labels)
    }
    fn predict(&self, images: &Tensor) -> Result<Prediction, ModelError> {
        self.0.predict(images)
    }
}

/// ResNet: downsampling, 6 residual blocks, head.
#[derive(Debug)]
pub struct ResNet {
    pub vs: nn::VarStore,
    pub downsampling: Downsampling,
    down: Downsample,
    blocks: Vec<ResBlock>,
    head: Head,
}

impl ResNet {
    /// Number of residual blocks in place of the ODE block.
    pub const BLOCKS: usize = 6;

    pub fn new(device: Device, downsampling: Downsampling) -> Self {
        let vs = nn::VarStore::new(device);
        let root = vs.root();
        let down = Downsample::new(&root / "down", downsampling);
        let blocks = (0..Self::BLOCKS).map(|i| ResBlock::new(&root / "features" / i, WIDTH, 1)).collect();
        let head = Head::new(&root / "head");
        ResNet { vs, downsampling, down, blocks, head }
    }

    fn logits(&self, images: &Tensor) -> Tensor {
        let h = self.blocks.iter().fold(self.down.forward(images), |h, b| b.forward(&h));
        self.head.forward(&h)
    }
}

impl ImageClassifier for ResNet {
    fn name(&self) -> String {
        format!("resnet-{}", self.downsampling)
    }
    fn var_store(&self) -> &nn::VarStore {
        &self.vs
    }
    fn var_store_mut(&mut self) -> &mut nn::VarStore {
        &mut self.vs
    }

    fn train_step(&self, images: &Tensor, labels: &Tensor) -> Result<StepOutput, ModelError> {
        check_batch(images, Some(labels))?;
        let (loss, correct) = loss_and_correct(&self.logits(images), labels);
        let value = loss.double_value(&[]);
        if !value.is_finite() {
            return Err(ModelError::Diverged(value));
        }
        loss.backward();
        Ok(StepOutput { loss: value, correct, stats: BlockStats::default() })
    }

    fn predict(&self, images: &Tensor) -> Result<Prediction, ModelError> {
        check_batch(images, None)?;
        Ok(Prediction { logits: tch::no_grad(|| self.logits(images)), stats: BlockStats::default() })
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
