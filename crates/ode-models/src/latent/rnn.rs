//! The RNN baselines of the latent ODE experiment: a tanh RNN that reads
//! each sequence's own observations in order and predicts the next one.
//!
//! - [`RnnKind::Plain`]: the input is the previous observation only; the
//!   model cannot know how far apart observations are, which is the
//!   weakness the paper's comparison shows.
//! - [`RnnKind::TimeGap`] ("time concatenation"): the input also holds the
//!   time gap to the point being predicted.
//!
//! Training is teacher-forced one-step-ahead prediction with the same
//! Gaussian likelihood as the latent ODE (std 0.3): at each observation
//! `t_i` the cell reads `x_{i-1}` (zeros before the first, at `t0`), the
//! output layer predicts `x_i`. Extrapolation continues from the last
//! observation feeding back its own predictions, one cell step per query
//! time. Sequences are batched on the union of their times with a mask
//! (see [`super::batch`]): a sequence's state moves only at its own
//! observations.
//!
//! The hidden size is chosen so that the parameter count matches the
//! latent ODE's ([`RnnBaseline::hidden_for_budget`]).

use serde::{Deserialize, Serialize};
use tch::nn::{self, Module};
use tch::{Device, Kind, Tensor};

use super::batch::IrregularBatch;
use super::{gaussian_log_density, LatentError, Prediction, SequenceModel, StepOutput};

/// Which baseline.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum RnnKind {
    Plain,
    TimeGap,
}

impl RnnKind {
    fn extra_inputs(self) -> i64 {
        match self {
            RnnKind::Plain => 0,
            RnnKind::TimeGap => 1,
        }
    }
}

/// A tanh RNN with a linear read-out.
pub struct RnnBaseline {
    pub kind: RnnKind,
    pub hidden: i64,
    obs_dim: i64,
    obs_std: f64,
    double: bool,
    vs: nn::VarStore,
    cell: nn::Linear,
    out: nn::Linear,
}

impl RnnBaseline {
    /// Parameters of a baseline with `hidden` units for `obs_dim`-dimensional data.
    pub fn parameter_count_for(kind: RnnKind, obs_dim: i64, hidden: i64) -> i64 {
        let input = obs_dim + kind.extra_inputs();
        (input + hidden) * hidden + hidden + hidden * obs_dim + obs_dim
    }

    /// The hidden size whose parameter count is closest to `budget`.
    pub fn hidden_for_budget(kind: RnnKind, obs_dim: i64, budget: i64) -> i64 {
        (1..=4096).min_by_key(|&h| (Self::parameter_count_for(kind, obs_dim, h) - budget).abs()).unwrap_or(1)
    }

    /// A fresh model; `obs_std` is the likelihood's standard deviation.
    pub fn new(
        kind: RnnKind,
        obs_dim: i64,
        hidden: i64,
        obs_std: f64,
        double: bool,
        device: Device,
    ) -> Result<Self, LatentError> {
        if obs_dim < 1 || hidden < 1 {
            return Err(LatentError::InvalidArgument {
                name: "hidden",
                reason: format!("obs_dim {obs_dim} and hidden {hidden} must be at least 1"),
            });
        }
        if !(obs_std.is_finite() && obs_std > 0.0) {
            return Err(LatentError::InvalidArgument {
                name: "obs_std",
                reason: format!("{obs_std} is not a positive number"),
            });
        }
        let mut vs = nn::VarStore::new(device);
        let input = obs_dim + kind.extra_inputs();
        let cell = nn::linear(vs.root() / "rnn" / "cell", input + hidden, hidden, Default::default());
        let out = nn::linear(vs.root() / "rnn" / "out", hidden, obs_dim, Default::default());
        if double {
            vs.double();
        }
        Ok(RnnBaseline { kind, hidden, obs_dim, obs_std, double, vs, cell, out })
    }

    fn kind_t(&self) -> Kind {
        if self.double {
            Kind::Double
        } else {
            Kind::Float
        }
    }

    fn step(&self, h: &Tensor, x_prev: &Tensor, gap: &Tensor) -> Tensor {
        let input = match self.kind {
            RnnKind::Plain => Tensor::cat(&[x_prev, h], 1),
            RnnKind::TimeGap => Tensor::cat(&[x_prev, gap, h], 1),
        };
        self.cell.forward(&input).tanh()
    }

    /// Walks the batch: returns the one-step predictions `[B, U, D]` and the
    /// state after each sequence's last observation (hidden, last value,
    /// last time).
    fn walk(&self, batch: &IrregularBatch, t0: f64) -> (Tensor, Tensor, Tensor, Tensor) {
        self.walk_over(batch, t0, &batch.times)
    }

    /// [`Self::walk`] with predictions at every time of `times` (increasing,
    /// a superset of the batch's times): at a time a sequence did not
    /// observe, the prediction is made from its state after its last
    /// earlier observation with the gap to that time, and the state does
    /// not move.
    fn walk_over(&self, batch: &IrregularBatch, t0: f64, times: &[f64]) -> (Tensor, Tensor, Tensor, Tensor) {
        let b = batch.batch_size();
        let opts = (self.kind_t(), self.vs.device());
        let mut h = Tensor::zeros([b, self.hidden], opts);
        let mut x_prev = Tensor::zeros([b, self.obs_dim], opts);
        let mut t_prev = Tensor::full([b, 1], t0, opts);
        let mut preds = Vec::with_capacity(times.len());
        let mut k = 0;
        for &t in times {
            let gap = -&t_prev + t;
            let h_new = self.step(&h, &x_prev, &gap);
            preds.push(self.out.forward(&h_new));
            // Both lists are increasing: the batch time at `k`, if equal, is this one.
            if batch.times.get(k) == Some(&t) {
                let m = batch.mask_at(k as i64);
                let x = batch.values.select(1, k as i64);
                h = &m * h_new + (1.0 - &m) * h;
                x_prev = &m * x + (1.0 - &m) * x_prev;
                t_prev = &m * t + (1.0 - &m) * t_prev;
                k += 1;
            }
        }
        (Tensor::stack(&preds, 1), h, x_prev, t_prev)
    }

    fn nll(&self, batch: &IrregularBatch, preds: &Tensor) -> Tensor {
        let logvar = (2.0 * self.obs_std.ln()) * preds.ones_like();
        let lp = gaussian_log_density(&batch.values, preds, &logvar).sum_dim_intlist(2, false, self.kind_t());
        -(lp * &batch.mask).sum_dim_intlist(1, false, self.kind_t()).mean(self.kind_t())
    }
}

impl SequenceModel for RnnBaseline {
    fn name(&self) -> &'static str {
        match self.kind {
            RnnKind::Plain => "rnn",
            RnnKind::TimeGap => "rnn-dt",
        }
    }

    fn var_store(&self) -> &nn::VarStore {
        &self.vs
    }

    fn var_store_mut(&mut self) -> &mut nn::VarStore {
        &mut self.vs
    }

    fn train_step(&self, batch: &IrregularBatch, t0: f64, _t_end: f64) -> Result<StepOutput, LatentError> {
        let (preds, ..) = self.walk(batch, t0);
        let loss = self.nll(batch, &preds);
        let value = loss.double_value(&[]);
        if !value.is_finite() {
            return Err(LatentError::NonFiniteLoss(value));
        }
        loss.backward();
        Ok(StepOutput { loss: value, nfe_forward: 0, nfe_backward: 0 })
    }

    fn loss(&self, batch: &IrregularBatch, t0: f64, _t_end: f64) -> Result<f64, LatentError> {
        tch::no_grad(|| {
            let (preds, ..) = self.walk(batch, t0);
            Ok(self.nll(batch, &preds).double_value(&[]))
        })
    }

    /// Each time's prediction comes from the observations before it (an
    /// RNN reads forward): at an observed time it is the one-step-ahead
    /// prediction, at an unobserved one the prediction for a next
    /// observation at that time (the plain RNN cannot tell the two apart).
    fn predict_window(&self, batch: &IrregularBatch, t0: f64, times: &[f64]) -> Result<Tensor, LatentError> {
        super::check_window_times(batch, t0, times)?;
        Ok(tch::no_grad(|| self.walk_over(batch, t0, times).0))
    }

    /// `query` must be strictly increasing and after every observation:
    /// an RNN can only run forward from its last input.
    fn predict(&self, batch: &IrregularBatch, t0: f64, query: &[f64]) -> Result<Prediction, LatentError> {
        let last = batch.times.last().copied().unwrap_or(t0);
        if query.first().is_none_or(|&q| q <= last) || query.windows(2).any(|w| w[1] <= w[0]) {
            return Err(LatentError::InvalidArgument {
                name: "query",
                reason: format!("RNN query times must be increasing and after the last observation ({last})"),
            });
        }
        tch::no_grad(|| {
            let (at_obs, mut h, mut x_prev, mut t_prev) = self.walk(batch, t0);
            let mut out = Vec::with_capacity(query.len());
            for &t in query {
                let gap = -&t_prev + t;
                h = self.step(&h, &x_prev, &gap);
                x_prev = self.out.forward(&h);
                t_prev = t_prev.full_like(t);
                out.push(x_prev.shallow_clone());
            }
            Ok(Prediction { at_obs, at_query: Tensor::stack(&out, 1), latent_query: None, nfe: 0 })
        })
    }
}
