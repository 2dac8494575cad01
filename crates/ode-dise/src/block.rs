//! [`RegularizedBlock`]: an `OdeBlock` whose solve also computes what a
//! set of regularizers needs, and whose loss is the task loss plus
//! `sum_k lambda_k R_k`.

use ode_models::{BlockStats, OdeBlock, PerSampleStats, TorchRhs};
use tch::Tensor;

use crate::augment::Layout;
use crate::error::DiseError;
use crate::regularizer::{RegularizerValues, Regularizers, SolveTerms};

/// An [`OdeBlock`] with regularizers.
///
/// One solve gives `y(t1)` and everything the regularizers read: the step
/// error sums (the block's own option, [`OdeBlock::step_errors`]) and the
/// integrals of the kinetic and Jacobian regularizers (extra state
/// channels, see the `augment` module: they do not change the steps
/// taken). `forward` / `backward` follow the block's protocol (in modes
/// other than `Direct`, call `backward` after `loss.backward()`);
/// `train_step` does all of it.
///
/// ```
/// use ode_core::SolveOptions;
/// use ode_dise::{ErrorSum, JacobianFrobenius, Kinetic, RegularizedBlock, Regularizers, L2};
/// use ode_models::{GradMode, OdeBlock, TorchRhs};
/// use tch::{nn, nn::Module, nn::OptimizerConfig, Device, Kind, Tensor};
///
/// let vs = nn::VarStore::new(Device::Cpu);
/// let (l1, l2) = (nn::linear(vs.root(), 2, 16, Default::default()), nn::linear(vs.root(), 16, 2, Default::default()));
/// let f = TorchRhs::new(|_t, y: &Tensor| l2.forward(&l1.forward(y).tanh()), vs.trainable_variables());
/// let regs = Regularizers::new()
///     .with(ErrorSum::new(0.005)?)
///     .with(Kinetic::new(0.01)?)
///     .with(JacobianFrobenius::new(0.01)?)
///     .with(L2::new(1e-4)?);
/// let block = RegularizedBlock::new(OdeBlock::new(SolveOptions::default().tol(1e-4, 1e-6), GradMode::Aca), regs);
/// let mut opt = nn::Adam::default().build(&vs, 1e-2).unwrap();
/// let x = Tensor::randn([32, 2], (Kind::Float, Device::Cpu));
/// opt.zero_grad();
/// let step = block.train_step(&f, &x, |y1| (y1 - &x).square().mean(Kind::Float))?;
/// opt.step();
/// for (name, value) in &step.regularizers {
///     println!("{name}: {value}");
/// }
/// assert_eq!(step.regularizers.len(), 4);
/// # Ok::<(), ode_dise::DiseError>(())
/// ```
pub struct RegularizedBlock {
    pub block: OdeBlock,
    pub regularizers: Regularizers,
}

/// How one forward pass was set up: the backward pass rebuilds the same
/// augmented dynamics from it.
struct Setup {
    block: OdeBlock,
    layout: Option<Layout>,
    /// Hutchinson's probes, `[B, N]`, fixed for the solve.
    noise: Option<Tensor>,
}

/// The result of [`RegularizedBlock::forward`].
pub struct RegularizedForward {
    /// `y(t1)` in the input's shape. For modes other than `Direct` it
    /// depends on a fresh leaf whose gradient the backward pass reads.
    pub y1: Tensor,
    /// Each regularizer's value and the weighted total to add to the loss.
    pub values: RegularizerValues,
    /// The solve's counters (of the augmented solve, when augmented).
    pub stats: BlockStats,
    pub per_sample: Option<PerSampleStats>,
    inner: ode_models::BlockForward,
    setup: Setup,
}

/// What [`RegularizedBlock::train_step`] reports.
#[derive(Clone, Debug)]
pub struct RegularizedStep {
    /// The task loss.
    pub loss: f64,
    /// `(name, R)` of every regularizer (unweighted).
    pub regularizers: Vec<(String, f64)>,
    /// Task loss plus `sum_k lambda_k R_k`: what was differentiated.
    pub total: f64,
    pub stats: BlockStats,
}

impl RegularizedBlock {
    pub fn new(block: OdeBlock, regularizers: Regularizers) -> Self {
        RegularizedBlock { block, regularizers }
    }

    fn setup(&self, y0: &Tensor) -> Result<Setup, DiseError> {
        let needs = self.regularizers.needs()?;
        let mut block = self.block.clone().step_errors(needs.step_errors);
        let layout = Layout::new(y0, &needs)?;
        let noise = match (&layout, needs.jacobian) {
            (Some(l), Some(noise)) => Some(noise.draw(&l.flat(y0))),
            _ => None,
        };
        if let Some(l) = &layout {
            block.opts.tol = l.tolerance(&block.opts.tol, y0.size()[0], block.per_sample)?;
        }
        Ok(Setup { block, layout, noise })
    }

    /// Solves from `y0` (`[B, ...]`) and evaluates the regularizers.
    pub fn forward<F>(&self, f: &TorchRhs<F>, y0: &Tensor) -> Result<RegularizedForward, DiseError>
    where
        F: Fn(f64, &Tensor) -> Tensor,
    {
        let setup = self.setup(y0)?;
        let (inner, y1, kinetic, jacobian) = match &setup.layout {
            None => {
                let inner = setup.block.forward(f, y0)?;
                let y1 = inner.y1.shallow_clone();
                (inner, y1, None, None)
            }
            Some(layout) => {
                let rhs = layout.rhs(f, setup.noise.as_ref().map(Tensor::shallow_clone));
                let inner = setup.block.forward(&rhs, &layout.pack(y0))?;
                let y1 = layout.state(&inner.y1);
                // The channels start at zero; integrating backwards in time
                // (t1 < t0) would give minus the integral.
                let sign = (setup.block.t1 - setup.block.t0).signum();
                let channel = |c: Option<i64>| c.map(|c| layout.channel(&inner.y1, c) * sign);
                let (k, j) = (channel(layout.kinetic), channel(layout.jacobian));
                (inner, y1, k, j)
            }
        };
        let terms = SolveTerms {
            error_sums: inner.error_sums.as_ref(),
            kinetic: kinetic.as_ref(),
            jacobian: jacobian.as_ref(),
            params: f.params(),
        };
        let values = self.regularizers.evaluate(&terms, &y1)?;
        Ok(RegularizedForward {
            y1,
            values,
            stats: inner.stats,
            per_sample: inner.per_sample.clone(),
            inner,
            setup,
        })
    }

    /// After `(task + fwd.values.total).backward()`: the block's backward
    /// (nothing to do in `Direct` mode). Returns the statistics with the
    /// backward evaluations.
    pub fn backward<F>(&self, f: &TorchRhs<F>, fwd: RegularizedForward) -> Result<BlockStats, DiseError>
    where
        F: Fn(f64, &Tensor) -> Tensor,
    {
        let setup = fwd.setup;
        let stats = match &setup.layout {
            None => setup.block.backward(f, fwd.inner)?,
            Some(layout) => {
                let rhs = layout.rhs(f, setup.noise.as_ref().map(Tensor::shallow_clone));
                setup.block.backward(&rhs, fwd.inner)?
            }
        };
        Ok(stats)
    }

    /// Forward, `(loss_of(y1) + sum_k lambda_k R_k).backward()`, backward:
    /// the gradients of every parameter before, inside and after the block
    /// are accumulated (call the optimizer's `zero_grad` before and `step`
    /// after).
    pub fn train_step<F>(
        &self,
        f: &TorchRhs<F>,
        y0: &Tensor,
        loss_of: impl FnOnce(&Tensor) -> Tensor,
    ) -> Result<RegularizedStep, DiseError>
    where
        F: Fn(f64, &Tensor) -> Tensor,
    {
        let fwd = self.forward(f, y0)?;
        let task = loss_of(&fwd.y1);
        let total = &task + fwd.values.total.to_kind(task.kind());
        let (loss, total_value) = (task.double_value(&[]), total.double_value(&[]));
        let regularizers = fwd.values.logged();
        total.backward();
        let stats = self.backward(f, fwd)?;
        Ok(RegularizedStep { loss, regularizers, total: total_value, stats })
    }
}
