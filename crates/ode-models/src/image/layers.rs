//! The layers the image models are built from: torchdiffeq's example,
//! layer for layer.

use tch::nn::{self, Module};
use tch::Tensor;

use super::{Downsampling, CLASSES, WIDTH};

fn group_norm(p: nn::Path, c: i64) -> nn::GroupNorm {
    nn::group_norm(p, c.min(32), c, Default::default())
}

fn conv(p: nn::Path, cin: i64, cout: i64, k: i64, stride: i64, padding: i64, bias: bool) -> nn::Conv2D {
    nn::conv2d(p, cin, cout, k, nn::ConvConfig { stride, padding, bias, ..Default::default() })
}

/// torchdiffeq's `ResBlock`: pre-activation, 3x3 convolutions without bias,
/// an optional 1x1 strided shortcut applied to the activated input.
#[derive(Debug)]
pub(super) struct ResBlock {
    norm1: nn::GroupNorm,
    conv1: nn::Conv2D,
    norm2: nn::GroupNorm,
    conv2: nn::Conv2D,
    downsample: Option<nn::Conv2D>,
}

impl ResBlock {
    pub(super) fn new(p: nn::Path, c: i64, stride: i64) -> Self {
        let downsample = (stride != 1).then(|| conv(&p / "downsample", c, c, 1, stride, 0, false));
        ResBlock {
            norm1: group_norm(&p / "norm1", c),
            conv1: conv(&p / "conv1", c, c, 3, stride, 1, false),
            norm2: group_norm(&p / "norm2", c),
            conv2: conv(&p / "conv2", c, c, 3, 1, 1, false),
            downsample,
        }
    }

    pub(super) fn forward(&self, x: &Tensor) -> Tensor {
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
pub(super) enum Downsample {
    Conv { c1: nn::Conv2D, n1: nn::GroupNorm, c2: nn::Conv2D, n2: nn::GroupNorm, c3: nn::Conv2D },
    Res { c1: nn::Conv2D, r1: ResBlock, r2: ResBlock },
}

impl Downsample {
    pub(super) fn new(p: nn::Path, kind: Downsampling) -> Self {
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

    pub(super) fn forward(&self, x: &Tensor) -> Tensor {
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
pub(super) struct Head {
    norm: nn::GroupNorm,
    fc: nn::Linear,
}

impl Head {
    pub(super) fn new(p: nn::Path) -> Self {
        Head {
            norm: group_norm(&p / "norm", WIDTH),
            fc: nn::linear(&p / "fc", WIDTH, CLASSES, Default::default()),
        }
    }

    pub(super) fn forward(&self, x: &Tensor) -> Tensor {
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
    pub(super) fn new(p: nn::Path, cin: i64, cout: i64) -> Self {
        ConcatConv { conv: conv(p, cin + 1, cout, 3, 1, 1, true) }
    }

    pub(super) fn forward(&self, t: f64, x: &Tensor) -> Tensor {
        let tt = x.narrow(1, 0, 1).full_like(t);
        self.conv.forward(&Tensor::cat(&[tt, x.shallow_clone()], 1))
    }

    /// With one time per sample: `t` is `[B]`, row `b` sees `t[b]`.
    pub(super) fn forward_per_sample(&self, t: &Tensor, x: &Tensor) -> Tensor {
        let size = x.size();
        let tt = t.to_kind(x.kind()).view([size[0], 1, 1, 1]).expand([size[0], 1, size[2], size[3]], false);
        self.conv.forward(&Tensor::cat(&[tt, x.shallow_clone()], 1))
    }
}

/// The ODE function GN-ReLU-ConcatConv-GN-ReLU-ConcatConv-GN.
#[derive(Debug)]
pub(super) struct OdeFunc {
    norm1: nn::GroupNorm,
    conv1: ConcatConv,
    norm2: nn::GroupNorm,
    conv2: ConcatConv,
    norm3: nn::GroupNorm,
}

impl OdeFunc {
    pub(super) fn new(p: nn::Path) -> Self {
        OdeFunc {
            norm1: group_norm(&p / "norm1", WIDTH),
            conv1: ConcatConv::new(&p / "conv1", WIDTH, WIDTH),
            norm2: group_norm(&p / "norm2", WIDTH),
            conv2: ConcatConv::new(&p / "conv2", WIDTH, WIDTH),
            norm3: group_norm(&p / "norm3", WIDTH),
        }
    }

    pub(super) fn forward(&self, t: f64, x: &Tensor) -> Tensor {
        let h = self.norm1.forward(x).relu();
        let h = self.conv1.forward(t, &h);
        let h = self.norm2.forward(&h).relu();
        let h = self.conv2.forward(t, &h);
        self.norm3.forward(&h)
    }

    /// [`OdeFunc::forward`] with one time per sample (`t` is `[B]`), for
    /// per-sample stepping. GroupNorm normalizes each sample on its own, so
    /// row `b` of the result depends only on row `b` of `x` and `t[b]`.
    pub(super) fn forward_per_sample(&self, t: &Tensor, x: &Tensor) -> Tensor {
        let h = self.norm1.forward(x).relu();
        let h = self.conv1.forward_per_sample(t, &h);
        let h = self.norm2.forward(&h).relu();
        let h = self.conv2.forward_per_sample(t, &h);
        self.norm3.forward(&h)
    }
}
