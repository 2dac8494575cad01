//! Differentiable step error estimates of a solve: the quantity DISE's
//! error regularizer (the paper's `R_err`, Eq. 2) shrinks.
//!
//! # The quantity
//!
//! An embedded Runge-Kutta pair (dopri5, bosh3, tsit5, ...) estimates the
//! local error of accepted step `n` from `(t_n, y_n)` with size `h_n` as
//!
//! ```text
//! err_n = h_n sum_i e_i k_i            (e = b - b_hat, k_i the stages)
//! ```
//!
//! and the controller accepts the step when the scaled RMS norm of `err_n`
//! is at most 1. For sample `s` of a batch (index `s` along dimension 0 of
//! the state) the block's share of that norm is
//!
//! ```text
//! r_{s,n} = sqrt( (1/N_s) sum_{j in s} (err_{n,j} / sc_{n,j})^2 ),
//! sc_{n,j} = atol_j + rtol max(|y_{n,j}|, |y_{n+1,j}|),
//! ```
//!
//! with `N_s` the sample's number of components: the controller's own norm
//! restricted to one sample. With full-batch stepping the controller sees
//! `sqrt(mean_s r_{s,n}^2)` (every sample has as many components), with
//! per-sample stepping ([`crate::per_sample`]) it sees `r_{s,n}` itself.
//! The block returns, per sample, the sum over its accepted steps
//!
//! ```text
//! R_s = sum_n w_n r_{s,n},   w_n = 1 (ErrorWeighting::PerStep)
//!                            w_n = |h_n| (ErrorWeighting::StepSize),
//! ```
//!
//! as a `[B]` tensor; `R_err = sum_s R_s` over a training set is the
//! paper's Eq. 2, `sum_{x in T} sum_i err_{x,i}`, with `err_{x,i}` read as
//! the controller's scaled norm. The paper's text does not say which norm
//! of the estimate it sums; the controller's is the one whose size sets the
//! step: the next step grows by `r^(-1/(order+1))`, so shrinking `r` is
//! what lets steps grow. The `StepSize` weighting is the `err x |dt|` form
//! of Pal et al. 2021 ("Opening the blackbox", ERNODE), which weighs each
//! step by its length, so that the regularizer approximates an integral
//! over time and does not reward merely having fewer, larger-error steps.
//!
//! # Why the scale is a constant
//!
//! `sc` is detached: gradients flow through `err_n` (the stages, hence the
//! dynamics' parameters and the block input) but not through the
//! `max(|y_n|, |y_{n+1}|)` of the scale. With `rtol > 0` a differentiable
//! scale would let the regularizer shrink `r` by inflating the state, which
//! says nothing about how hard the dynamics are to integrate, and the
//! `max` is not smooth. It also keeps ACA exact: ode-autodiff's
//! `backward_with_errors` takes cotangents of `err_n` alone, so the
//! derivative through a detached scale is the whole derivative there and
//! Direct and ACA differentiate the same function. The step sizes `h_n`
//! are constants too (as everywhere in the block: the controller is not
//! differentiated), so `w_n` is a constant weight.
//!
//! # How the estimates are found
//!
//! ode-core's solver does not return its stages. The block wraps the
//! dynamics in a `Recorder` that logs every evaluation (time, input,
//! output) and every trial step's stage times (`Rhs::stage_times`, which
//! the solver calls before each trial). After the solve, each accepted
//! step's stages are the evaluations right after the trial whose stage
//! times are that step's, and its first stage is the last evaluation at
//! `t_n` on the step's start state (the FSAL stage of the step before, or a
//! fresh evaluation). No evaluation is repeated: in Direct mode the
//! recorded outputs carry the graph, in ACA mode they are plain values and
//! the cotangents go to `GradSolve::backward_with_errors`.

use std::cell::RefCell;
use std::collections::HashMap;

use ode_autodiff::VjpRhs;
use ode_core::rk::weighted_stages;
use ode_core::tableau::ErrorEstimator;
use ode_core::{Atol, ButcherTableau, Rhs, StepRecord, Tolerance};
use tch::{Kind, Tensor};

/// How each accepted step's error norm `r_{s,n}` enters the per-sample
/// sum the block returns ([module docs](self)).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum ErrorWeighting {
    /// `R_s = sum_n r_{s,n}`: the DISE paper's Eq. 2 with the controller's
    /// norm.
    #[default]
    PerStep,
    /// `R_s = sum_n r_{s,n} |h_n|`: the `err x |dt|` form of Pal et al.
    /// 2021 (ERNODE).
    StepSize,
}

impl ErrorWeighting {
    /// The constant weight `w_n` of a step of size `h`.
    pub fn weight(self, h: f64) -> f64 {
        match self {
            ErrorWeighting::PerStep => 1.0,
            ErrorWeighting::StepSize => h.abs(),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            ErrorWeighting::PerStep => "per-step",
            ErrorWeighting::StepSize => "step-size",
        }
    }
}

/// The embedded weights `e = b - b_hat` of a method, or why its estimate
/// cannot be returned.
pub(crate) fn embedded_weights(tab: &ButcherTableau) -> Result<&'static [f64], String> {
    match tab.error {
        ErrorEstimator::Embedded(e) => Ok(e),
        ErrorEstimator::None => Err("has no error estimator".into()),
        // Its controller ratio mixes two estimates; `r` above is defined
        // for one embedded estimate only.
        ErrorEstimator::Dop853 { .. } => {
            Err("combines two error estimates (5th and 3rd order); use an embedded pair such as dopri5"
                .into())
        }
    }
}

/// `r_s = sqrt(mean_{j in s} (err_j / scale_j)^2)` for every sample `s`
/// (dimension 0), differentiable in `err`; `scale` must be detached. A
/// sample whose error is exactly zero gets `r = 0` and a zero gradient
/// (the plain `sqrt` would give `0 * inf = NaN` there).
pub(crate) fn sample_error_norms(err: &Tensor, scale: &Tensor) -> Tensor {
    let b = err.size().first().copied().unwrap_or(1);
    let mean_sq =
        (err / scale).square().reshape([b, -1]).mean_dim(Some([1i64].as_slice()), false, err.kind());
    let positive = mean_sq.gt(0.0);
    let safe = mean_sq.where_self(&positive, &mean_sq.ones_like());
    safe.sqrt().where_self(&positive, &mean_sq.zeros_like())
}

/// The error scale `atol + rtol max(|y0|, |y1|)` as a detached tensor of
/// the state's shape (a per-component `atol` has one entry per component
/// of the whole state, in row-major order, as in ode-core).
pub(crate) fn full_batch_scale(tol: &Tolerance, y0: &Tensor, y1: &Tensor) -> Tensor {
    tch::no_grad(|| {
        let big = y0.abs().maximum(&y1.abs());
        match &tol.atol {
            Atol::Scalar(a) => big * tol.rtol + *a,
            Atol::PerComponent(v) => {
                let atol = Tensor::from_slice(v).to_device(y0.device()).to_kind(y0.kind()).view_as(y0);
                big * tol.rtol + atol
            }
        }
    })
}

/// One evaluation or one trial step announced by the solver.
enum Event {
    Trial(Vec<f64>),
    /// `input` is kept so its storage cannot be reused by another tensor
    /// while the log identifies inputs by address.
    Eval {
        t: f64,
        input: Tensor,
        output: Tensor,
    },
}

/// Wraps a right-hand side and logs its evaluations and trial steps, so
/// that the accepted steps' stages can be found after a solve.
pub(crate) struct Recorder<'a, R: ?Sized> {
    inner: &'a R,
    log: RefCell<Vec<Event>>,
}

impl<'a, R: ?Sized> Recorder<'a, R> {
    pub(crate) fn new(inner: &'a R) -> Self {
        Recorder { inner, log: RefCell::new(Vec::new()) }
    }
}

impl<R: Rhs<Tensor> + ?Sized> Rhs<Tensor> for Recorder<'_, R> {
    fn eval(&self, t: f64, y: &Tensor) -> Tensor {
        let output = self.inner.eval(t, y);
        self.log.borrow_mut().push(Event::Eval {
            t,
            input: y.shallow_clone(),
            output: output.shallow_clone(),
        });
        output
    }

    fn stage_times(&self, ts: &[f64]) {
        self.inner.stage_times(ts);
        self.log.borrow_mut().push(Event::Trial(ts.to_vec()));
    }
}

/// ACA's forward needs a `VjpRhs`; everything but the logging is the
/// wrapped right-hand side's.
impl<R: VjpRhs<Tensor> + ?Sized> VjpRhs<Tensor> for Recorder<'_, R> {
    type Params = R::Params;

    fn zero_params(&self) -> Self::Params {
        self.inner.zero_params()
    }

    fn vjp(&self, t: f64, y: &Tensor, a: &Tensor) -> (Tensor, Self::Params) {
        self.inner.vjp(t, y, a)
    }

    fn eval_and_vjp(&self, t: f64, y: &Tensor, a: &Tensor) -> (Tensor, Tensor, Self::Params) {
        self.inner.eval_and_vjp(t, y, a)
    }

    fn eval_for_vjp(&self, t: f64, y: &Tensor) -> Tensor {
        self.inner.eval_for_vjp(t, y)
    }

    fn forget_kept(&self) {
        self.inner.forget_kept()
    }
}

fn same_storage(a: &Tensor, b: &Tensor) -> bool {
    a.data_ptr() == b.data_ptr() && a.size() == b.size() && a.stride() == b.stride() && a.kind() == b.kind()
}

/// Each accepted step's error estimate, its (detached) error scale and its
/// size: what the per-sample sums and their cotangents are computed from.
pub(crate) struct StepErrorTape {
    pub weighting: ErrorWeighting,
    pub errs: Vec<Tensor>,
    pub scales: Vec<Tensor>,
    pub h: Vec<f64>,
}

/// What a solve's accepted steps are, for [`Recorder::into_tape`].
pub(crate) struct AcceptedSteps<'s> {
    pub tab: &'static ButcherTableau,
    pub tol: &'s Tolerance,
    pub steps: &'s [StepRecord],
    /// The state at the start of every accepted step.
    pub checkpoints: &'s [Tensor],
    /// The state at the end of the last step, and its time.
    pub y_end: &'s Tensor,
    pub t_end: f64,
}

impl<R: ?Sized> Recorder<'_, R> {
    /// Finds every accepted step's stages in the log and returns the step
    /// errors. `Err` names the step whose stages are missing (a solver that
    /// does not announce its trials, or an option such as `jump_t` that
    /// moves stage times; the block rejects those beforehand).
    pub(crate) fn into_tape(
        self,
        acc: AcceptedSteps<'_>,
        weighting: ErrorWeighting,
    ) -> Result<StepErrorTape, String> {
        let e = embedded_weights(acc.tab)?;
        let log = self.log.into_inner();
        let s = acc.tab.stages();
        if acc.checkpoints.len() != acc.steps.len() {
            return Err(format!(
                "{} checkpoints for {} accepted steps",
                acc.checkpoints.len(),
                acc.steps.len()
            ));
        }
        // The last trial with the given stage times (a rejected trial with
        // the same times would have computed the same values).
        let mut trials: HashMap<Vec<u64>, usize> = HashMap::new();
        for (i, ev) in log.iter().enumerate() {
            if let Event::Trial(ts) = ev {
                trials.insert(ts.iter().map(|t| t.to_bits()).collect(), i);
            }
        }
        let mut tape = StepErrorTape { weighting, errs: Vec::new(), scales: Vec::new(), h: Vec::new() };
        for (n, step) in acc.steps.iter().enumerate() {
            let t_next = acc.steps.get(n + 1).map_or(acc.t_end, |next| next.t);
            let y_n = &acc.checkpoints[n];
            let y_next = acc.checkpoints.get(n + 1).unwrap_or(acc.y_end);
            // ode-core's stage times: c = 1 stages at the step's end.
            let times: Vec<f64> =
                acc.tab.c[1..].iter().map(|&c| if c == 1.0 { t_next } else { step.t + c * step.h }).collect();
            let key: Vec<u64> = times.iter().map(|t| t.to_bits()).collect();
            let missing = || format!("the stages of accepted step {n} (t = {}) are not in the log", step.t);
            let &trial = trials.get(&key).ok_or_else(missing)?;
            let mut ks: Vec<Tensor> = Vec::with_capacity(s);
            let first = log[..trial].iter().rev().find_map(|ev| match ev {
                Event::Eval { t, input, output } if *t == step.t && same_storage(input, y_n) => {
                    Some(output.shallow_clone())
                }
                _ => None,
            });
            ks.push(first.ok_or_else(missing)?);
            for (i, &ti) in times.iter().enumerate() {
                match log.get(trial + 1 + i) {
                    Some(Event::Eval { t, output, .. }) if *t == ti => ks.push(output.shallow_clone()),
                    _ => return Err(missing()),
                }
            }
            tape.errs.push(weighted_stages(y_n, step.h, e, &ks));
            tape.scales.push(full_batch_scale(acc.tol, y_n, y_next));
            tape.h.push(step.h);
        }
        Ok(tape)
    }
}

impl StepErrorTape {
    /// `R_s = sum_n w_n r_{s,n}` as a `[B]` tensor (with the graph of the
    /// error estimates, if they have one). A solve without steps gives
    /// zeros shaped like `like`'s batch.
    pub(crate) fn sums(&self, like: &Tensor) -> Tensor {
        let b = like.size().first().copied().unwrap_or(1);
        // Out of place (tch's `+=` is the in-place `add_`).
        self.errs
            .iter()
            .zip(&self.scales)
            .zip(&self.h)
            .fold(Tensor::zeros([b], (like.kind(), like.device())), |total, ((err, sc), h)| {
                total + sample_error_norms(err, sc) * self.weighting.weight(*h)
            })
    }

    /// `dL/d err_n` for every accepted step, given `dL/dR` (`[B]`): what
    /// ACA's `backward_with_errors` takes. The same function as
    /// [`StepErrorTape::sums`], differentiated step by step.
    pub(crate) fn cotangents(&self, d_sums: &Tensor) -> Vec<Tensor> {
        let d_sums = d_sums.detach();
        tch::with_grad(|| {
            self.errs
                .iter()
                .zip(&self.scales)
                .zip(&self.h)
                .map(|((err, sc), h)| {
                    let leaf = err.detach().set_requires_grad(true);
                    let r = sample_error_norms(&leaf, sc);
                    let s = (r * &d_sums).sum(Kind::Double) * self.weighting.weight(*h);
                    let mut g = Tensor::run_backward(&[s], &[&leaf], false, false);
                    match g.pop() {
                        Some(g) if g.defined() => g,
                        _ => err.zeros_like().detach(),
                    }
                })
                .collect()
        })
    }
}
