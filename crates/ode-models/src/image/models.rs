//! ODE-Net, RK-Net and ResNet.

use ode_core::tableau::RK4;
use ode_core::{solve, SolveOptions};
use tch::nn;
use tch::{Device, Tensor};

use super::layers::{Downsample, Head, OdeFunc, ResBlock};
use super::{
    check_batch, loss_and_correct, Downsampling, ImageClassifier, ModelError, Prediction, StepOutput,
};
use super::{ODEFUNC, WIDTH};
use crate::block::{BlockStats, GradMode, OdeBlock};
use crate::dynamics::TorchRhs;
use crate::per_sample::{solve_per_sample, PerSampleStats, Rowwise};

/// ODE-Net: downsampling, an ODE block, head.
#[derive(Debug)]
pub struct OdeNet {
    pub vs: nn::VarStore,
    pub downsampling: Downsampling,
    pub block: OdeBlock,
    /// Step each sample on its own at inference ([`ImageClassifier::predict`]),
    /// whatever the block does in training: each sample's NFE is then its
    /// own ([`Prediction::nfe_per_sample`]). Off by default.
    pub per_sample_inference: bool,
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
        OdeNet {
            vs,
            downsampling,
            block,
            per_sample_inference: false,
            down,
            odefunc,
            head,
            odefunc_params,
            label,
        }
    }

    /// The ODE function with its parameters, for the block.
    pub fn rhs(&self) -> TorchRhs<impl Fn(f64, &Tensor) -> Tensor + '_> {
        TorchRhs::new(
            move |t, y: &Tensor| self.odefunc.forward(t, y),
            self.odefunc_params.iter().map(Tensor::shallow_clone).collect(),
        )
    }

    /// The block's input: the downsampled images, `[B, 64, 6, 6]` for 28x28.
    pub fn encode(&self, images: &Tensor) -> Tensor {
        self.down.forward(images)
    }

    /// The class logits of the block's output.
    pub fn logits(&self, z1: &Tensor) -> Tensor {
        self.head.forward(z1)
    }

    /// The ODE function's parameters (what a regularizer on the dynamics'
    /// weights reads).
    pub fn odefunc_params(&self) -> &[Tensor] {
        &self.odefunc_params
    }

    /// Inference with each sample stepped on its own (per-sample step
    /// sizes, [`crate::per_sample`]), so one hard image does not set the
    /// whole batch's steps: `(z1, per-sample stats)`. The ODE function sees
    /// one time per sample and only the samples still running are
    /// evaluated, so `stats.nfe[b]` is what sample `b` alone costs.
    fn solve_per_sample(&self, z0: &Tensor) -> Result<(Tensor, PerSampleStats), ModelError> {
        let rhs = Rowwise(|t: &Tensor, y: &Tensor| self.odefunc.forward_per_sample(t, y));
        let sol = solve_per_sample(&rhs, z0, &[self.block.t0, self.block.t1], &self.block.opts)
            .map_err(|e| ModelError::Solve(e.to_string()))?;
        let z1 = sol.ys.last().ok_or_else(|| ModelError::Solve("no output state".into()))?.shallow_clone();
        Ok((z1, sol.stats))
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
        Ok(StepOutput { loss, regularizer: 0.0, correct, stats })
    }

    fn predict(&self, images: &Tensor) -> Result<Prediction, ModelError> {
        check_batch(images, None)?;
        tch::no_grad(|| {
            let f = self.rhs();
            let z0 = self.down.forward(images);
            if self.block.per_sample || self.per_sample_inference {
                let (z1, s) = self.solve_per_sample(&z0)?;
                let stats = BlockStats {
                    nfe_forward: s.n_calls,
                    nfe_backward: 0,
                    n_accepted: s.n_accepted.iter().copied().max().unwrap_or(0),
                    n_rejected: s.n_rejected.iter().copied().max().unwrap_or(0),
                };
                return Ok(Prediction { logits: self.head.forward(&z1), stats, nfe_per_sample: Some(s.nfe) });
            }
            let sol = solve(&f, z0, &[self.block.t0, self.block.t1], &self.block.opts)
                .map_err(|e| ModelError::Solve(e.to_string()))?;
            let stats = BlockStats {
                nfe_forward: sol.stats.nfe,
                nfe_backward: 0,
                n_accepted: sol.stats.n_accepted,
                n_rejected: sol.stats.n_rejected,
            };
            let z1 = sol.ys.last().ok_or_else(|| ModelError::Solve("no output state".into()))?;
            Ok(Prediction { logits: self.head.forward(z1), stats, nfe_per_sample: None })
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
        Ok(StepOutput { loss: value, regularizer: 0.0, correct, stats: BlockStats::default() })
    }

    fn predict(&self, images: &Tensor) -> Result<Prediction, ModelError> {
        check_batch(images, None)?;
        Ok(Prediction {
            logits: tch::no_grad(|| self.logits(images)),
            stats: BlockStats::default(),
            nfe_per_sample: None,
        })
    }
}
