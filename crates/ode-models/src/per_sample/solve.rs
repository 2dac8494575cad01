//! The per-sample loop: every sample has its own time, step size, controller
//! memory and accept/reject decision; the right-hand side is still called
//! once on the whole batch per stage.

use ode_core::dense::StepInterpolant;
use ode_core::tableau::ErrorEstimator;
use ode_core::{ButcherTableau, Controller, SolveOptions};
use tch::{Device, Tensor};

use super::error::PerSampleError;
use super::output::{self, Active, StepData};
use super::rhs::BatchRhs;
use super::state::{min_resolvable_step, validate_options, OutputTimes, SampleStatus, Samples};
use super::stats::PerSampleStats;
use super::step::{self, advance, column, error_ratios, finite_rows, Scale};
use crate::block::{embedded_weights, sample_error_norms, ErrorWeighting};

/// The result of [`solve_per_sample`].
#[derive(Debug)]
pub struct PerSampleSolution {
    /// `ys[i]` is `[B, ...]`: sample `b` at its `i`-th output time.
    pub ys: Vec<Tensor>,
    pub stats: PerSampleStats,
    /// From [`solve_per_sample_with_errors`]: `[B]`, sample `b`'s sum over
    /// its own accepted steps of `w_n r_{b,n}`, its scaled error norm
    /// (definition in [`crate::block::step_errors`]), with
    /// the graph of its stages under autograd.
    pub error_sums: Option<Tensor>,
}

impl PerSampleSolution {
    /// The outputs as one `[T, B, ...]` tensor (torchdiffeq's layout).
    pub fn stacked(&self) -> Tensor {
        Tensor::stack(&self.ys, 0)
    }
}

/// Solves a batch `y0 = [B, ...]` of independent problems `dy/dt = f(t, y)`
/// with one adaptive step size per sample, and returns every sample's state
/// at its output times.
///
/// Each sample takes exactly the steps ode-core's [`ode_core::solve()`] would
/// take on it alone (same tableau, tolerances, controller, initial step,
/// output times), so an easy sample is not dragged to the step size of the
/// hardest one. The tolerances apply per sample: a per-component `atol`
/// has one sample's number of components. Output times are reached through
/// each sample's dense output, never by shortening steps. Under autograd
/// the outputs carry the graph of the accepted steps (Direct mode); step
/// sizes are plain numbers.
///
/// A trial step in which some sample's stages are NaN/inf (rejected for
/// that sample) shares its batch calls with the samples that accept it; in
/// Direct mode the backward of those non-finite rows multiplies zero by
/// NaN, so such a solve can give NaN gradients.
///
/// Supported: every adaptive tableau of ode-core (DOP853 included), with
/// `StepSize::Adaptive`, `first_step`, `min_step`, `max_step`,
/// `max_steps`. Not supported (typed errors): `step_t`, `jump_t`, `dense`,
/// `checkpoints`.
///
/// ```
/// use ode_core::SolveOptions;
/// use ode_models::per_sample::solve_per_sample;
/// use tch::{Kind, Tensor};
///
/// // y' = -k_b y with rates spread over three orders of magnitude.
/// let k = Tensor::from_slice(&[0.1f64, 1.0, 10.0, 100.0]).unsqueeze(1);
/// let f = |_t: &Tensor, y: &Tensor| -(y * &k);
/// let y0 = Tensor::ones([4, 1], (Kind::Double, k.device()));
/// let sol = solve_per_sample(&f, &y0, &[0.0, 1.0], &SolveOptions::default().tol(1e-6, 1e-9)).unwrap();
/// let exact = (-&k).exp();
/// assert!((&sol.ys[1] - exact).abs().max().double_value(&[]) < 1e-5);
/// // The slow sample took far fewer evaluations than the fast one.
/// assert!(sol.stats.nfe[0] < sol.stats.nfe[3]);
/// ```
pub fn solve_per_sample<F: BatchRhs + ?Sized>(
    f: &F,
    y0: &Tensor,
    ts: impl Into<OutputTimes>,
    opts: &SolveOptions,
) -> Result<PerSampleSolution, PerSampleError> {
    solve_impl(f, y0, ts.into(), opts, None)
}

/// [`solve_per_sample`], and each sample's sum of the error estimates of
/// its accepted steps in [`PerSampleSolution::error_sums`] (differentiable
/// under autograd: DISE's error regularizer with per-sample stepping). The
/// steps taken are exactly those of [`solve_per_sample`]. The method needs
/// one embedded error estimate (not DOP853: `UnsupportedMethod`).
///
/// ```
/// use ode_core::SolveOptions;
/// use ode_models::block::ErrorWeighting;
/// use ode_models::per_sample::solve_per_sample_with_errors;
/// use tch::{Kind, Tensor};
///
/// let k = Tensor::from_slice(&[0.5f64, 5.0]).unsqueeze(1).set_requires_grad(true);
/// let f = |_t: &Tensor, y: &Tensor| -(y * &k);
/// let y0 = Tensor::ones([2, 1], (Kind::Double, k.device()));
/// let opts = SolveOptions::default().tol(1e-6, 1e-9);
/// let sol = solve_per_sample_with_errors(&f, &y0, &[0.0, 1.0], &opts, ErrorWeighting::PerStep).unwrap();
/// let sums = sol.error_sums.unwrap();
/// sums.sum(Kind::Double).backward();
/// // Every accepted step's norm is at most 1, and each sample has its own sum.
/// let per_sample: Vec<f64> = Vec::try_from(&sums).unwrap();
/// assert!(per_sample[0] <= sol.stats.n_accepted[0] as f64);
/// assert!(k.grad().defined());
/// ```
pub fn solve_per_sample_with_errors<F: BatchRhs + ?Sized>(
    f: &F,
    y0: &Tensor,
    ts: impl Into<OutputTimes>,
    opts: &SolveOptions,
    weighting: ErrorWeighting,
) -> Result<PerSampleSolution, PerSampleError> {
    embedded_weights(opts.method)
        .map_err(|reason| PerSampleError::UnsupportedMethod { method: opts.method.name, reason })?;
    solve_impl(f, y0, ts.into(), opts, Some(weighting))
}

fn solve_impl<F: BatchRhs + ?Sized>(
    f: &F,
    y0: &Tensor,
    ts: OutputTimes,
    opts: &SolveOptions,
    errors: Option<ErrorWeighting>,
) -> Result<PerSampleSolution, PerSampleError> {
    let ctrl = validate_options(opts)?;
    let size = y0.size();
    if size.is_empty() || size[0] < 1 || !y0.is_floating_point() {
        return Err(PerSampleError::InvalidState {
            reason: format!(
                "need a floating-point [B, ...] tensor with B >= 1, got {size:?} {:?}",
                y0.kind()
            ),
        });
    }
    let b = size[0] as usize;
    let n = y0.numel() / b;
    if n == 0 {
        return Err(PerSampleError::InvalidState { reason: format!("samples have no components: {size:?}") });
    }
    let (rows, dirs) = ts.rows(b)?;
    opts.tol.validate(n).map_err(|reason| PerSampleError::InvalidTolerance { reason })?;
    let bad: Vec<usize> =
        finite_rows(y0).iter().enumerate().filter(|(_, ok)| !**ok).map(|(i, _)| i).collect();
    if !bad.is_empty() {
        return Err(PerSampleError::NonFiniteState { samples: bad });
    }
    let n_out = rows[0].len();
    let mut run = Run {
        f,
        device: y0.device(),
        s: Samples::new(&rows, dirs),
        stats: PerSampleStats::new(b),
        scale: Scale::new(&opts.tol, y0),
        outs: (0..n_out).map(|_| None).collect(),
        errors: errors.map(|weighting| ErrorSums {
            weighting,
            sums: Tensor::zeros([b as i64], (y0.kind(), y0.device())),
        }),
    };
    run.outs[0] = Some(y0.shallow_clone());
    if n_out > 1 {
        run.integrate(y0, &rows, opts, &ctrl, n as f64)?;
    }
    let ys = run.outs.into_iter().map(|o| o.unwrap_or_else(|| y0.zeros_like())).collect();
    Ok(PerSampleSolution { ys, stats: run.stats, error_sums: run.errors.map(|e| e.sums) })
}

/// The running per-sample error sums of [`solve_per_sample_with_errors`].
struct ErrorSums {
    weighting: ErrorWeighting,
    /// `[B]`, with the graph of the accepted steps' stages.
    sums: Tensor,
}

pub(super) struct Run<'a, F: ?Sized> {
    f: &'a F,
    device: Device,
    pub(super) s: Samples,
    stats: PerSampleStats,
    pub(super) scale: Scale,
    outs: Vec<Option<Tensor>>,
    errors: Option<ErrorSums>,
}

fn which(flags: impl IntoIterator<Item = bool>) -> Vec<usize> {
    flags.into_iter().enumerate().filter(|(_, x)| *x).map(|(i, _)| i).collect()
}

impl<F: BatchRhs + ?Sized> Run<'_, F> {
    /// One call of `f` on the (sub-)batch, counted for the samples `who`.
    pub(super) fn call(&mut self, t: &[f64], y: &Tensor, who: &[usize]) -> Result<Tensor, PerSampleError> {
        let k = self.f.eval(&step::times(t, self.device), y);
        self.stats.n_calls += 1;
        for &i in who {
            self.stats.nfe[i] += 1;
        }
        if k.size() != y.size() || k.kind() != y.kind() || k.device() != y.device() {
            let desc = |x: &Tensor| format!("{:?} {:?} on {:?}", x.size(), x.kind(), x.device());
            return Err(PerSampleError::ShapeMismatch { expected: desc(y), found: desc(&k) });
        }
        Ok(k)
    }

    fn integrate(
        &mut self,
        y0: &Tensor,
        rows: &[&[f64]],
        opts: &SolveOptions,
        ctrl: &Controller,
        n: f64,
    ) -> Result<(), PerSampleError> {
        let tab = opts.method;
        let b = rows.len();
        let st = tab.stages();
        let everyone: Vec<usize> = (0..b).collect();
        let t0 = self.s.t.clone();
        let f0 = self.call(&t0, y0, &everyone)?;
        let f0_ok = finite_rows(&f0);
        let bad = which(f0_ok.iter().map(|ok| !ok));
        if !bad.is_empty() {
            let t = bad.iter().map(|&i| t0[i]).collect();
            return Err(PerSampleError::NonFiniteRhs { samples: bad, t });
        }
        let h_init = match opts.first_step {
            Some(h) => vec![h.abs(); b],
            None => self.initial_steps(y0, &f0, tab.error_order)?,
        };
        for (h_abs, h) in self.s.h_abs.iter_mut().zip(h_init) {
            *h_abs = h.clamp(opts.min_step, opts.max_step);
        }
        let mut y = y0.shallow_clone();
        let mut k1 = f0;
        while self.s.any_running() {
            let running: Vec<bool> = (0..b).map(|i| self.s.running(i)).collect();
            let act = Active::new(&running, self.f.rowwise(), &y);
            let live = act.live_samples();
            let over: Vec<usize> =
                live.iter().copied().filter(|&i| self.stats.n_steps(i) >= opts.max_steps).collect();
            if !over.is_empty() {
                return Err(PerSampleError::MaxStepsExceeded {
                    t: over.iter().map(|&i| self.s.t[i]).collect(),
                    samples: over,
                    max_steps: opts.max_steps,
                    stats: Box::new(self.stats.clone()),
                });
            }
            // Each running sample's trial step (rows of the sub-batch).
            let t: Vec<f64> = act.idx.iter().map(|&i| self.s.t[i]).collect();
            let mut t_new = t.clone();
            let mut h = vec![0.0; t.len()];
            for (r, i) in act.live_rows() {
                let (d, te) = (self.s.dir[i], self.s.t_end[i]);
                let dist = (te - t[r]).abs();
                let lands =
                    self.s.h_abs[i] >= dist * (1.0 - 4.0 * f64::EPSILON) || dist <= min_resolvable_step(t[r]);
                t_new[r] = if lands { te } else { t[r] + d * self.s.h_abs[i] };
                h[r] = t_new[r] - t[r];
            }
            let stuck: Vec<usize> =
                act.live_rows().filter(|(r, _)| t_new[*r] == t[*r]).map(|(_, i)| i).collect();
            if !stuck.is_empty() {
                let signed: Vec<f64> = (0..b).map(|i| self.s.dir[i] * self.s.h_abs[i]).collect();
                return Err(self.underflow(stuck, &signed));
            }
            let ya = act.gather(&y);
            let hcol = column(&h, &ya);
            let mut ks: Vec<Tensor> = Vec::with_capacity(st + 1);
            ks.push(act.gather(&k1));
            let mut last_state = None;
            for i in 1..st {
                let yi = advance(&ya, &hcol, tab.a[i], &ks);
                let c = tab.c[i];
                // Stages at c = 1 sit exactly on the step's end, as in ode-core.
                let ti: Vec<f64> =
                    (0..t.len()).map(|r| if c == 1.0 { t_new[r] } else { t[r] + c * h[r] }).collect();
                ks.push(self.call(&ti, &yi, &live)?);
                if i == st - 1 {
                    last_state = Some(yi);
                }
            }
            let y1 = match last_state {
                Some(yl) if tab.fsal => yl,
                _ => advance(&ya, &hcol, tab.b, &ks),
            };
            let (ratios, fin) = error_ratios(tab, &hcol, &ks, &ya, &y1, &self.scale, n);

            let mut accepted = vec![false; t.len()];
            let (mut nonfinite, mut tiny) = (Vec::new(), Vec::new());
            for (r, i) in act.live_rows() {
                let ratio = ratios[r];
                let finite = ratio.is_finite() && fin[r];
                if finite && ratio <= 1.0 {
                    accepted[r] = true;
                    self.stats.n_accepted[i] += 1;
                    let factor = ctrl.factor(&mut self.s.ctrl[i], ratio, tab.error_order, true);
                    self.s.h_abs[i] = (h[r].abs() * factor).clamp(opts.min_step, opts.max_step);
                    continue;
                }
                self.stats.n_rejected[i] += 1;
                let factor = ctrl.factor(&mut self.s.ctrl[i], ratio, tab.error_order, false);
                self.s.h_abs[i] = h[r].abs() * factor;
                if self.s.h_abs[i] < opts.min_step || self.s.h_abs[i] < min_resolvable_step(t[r]) {
                    if finite {
                        tiny.push(i);
                    } else {
                        nonfinite.push(r);
                    }
                }
            }
            if !nonfinite.is_empty() {
                return Err(self.diagnose(&act.idx, nonfinite, &ks));
            }
            if !tiny.is_empty() {
                let signed: Vec<f64> = (0..b).map(|i| self.s.dir[i] * self.s.h_abs[i]).collect();
                return Err(self.underflow(tiny, &signed));
            }
            if !accepted.contains(&true) {
                continue;
            }
            self.add_step_errors(tab, &act, &accepted, &hcol, &h, &ks, &ya, &y1);
            let at_end: Vec<bool> = act
                .idx
                .iter()
                .enumerate()
                .map(|(r, &i)| accepted[r] && t_new[r] == self.s.t_end[i])
                .collect();
            let hits = output::hits(rows, &act, &accepted, &t_new, &self.s.dir, &mut self.s.next_out);
            // f(t1, y1): the FSAL stage, or for other methods one more call,
            // needed by samples that go on (their next first stage) or that
            // interpolate with an f1-based interpolant.
            let f1 = if tab.fsal {
                Some(ks[st - 1].shallow_clone())
            } else {
                let needs_f1 = StepInterpolant::<Tensor>::needs_f1(tab);
                let interp = |r: usize| hits.iter().any(|x| x.row == r && !x.exact);
                let who: Vec<usize> = act
                    .live_rows()
                    .filter(|(r, _)| accepted[*r] && (!at_end[*r] || (needs_f1 && interp(*r))))
                    .map(|(_, i)| i)
                    .collect();
                if who.is_empty() {
                    None
                } else {
                    let te: Vec<f64> =
                        (0..t.len()).map(|r| if accepted[r] { t_new[r] } else { t[r] }).collect();
                    Some(self.call(&te, &y1, &who)?)
                }
            };
            let extras = match f1.as_ref() {
                Some(f1) => self.extra_stages(tab, &act, &hits, &ya, &hcol, &t, &h, &ks, f1)?,
                None => Vec::new(),
            };
            let mut stages: Vec<Option<&Tensor>> = ks.iter().map(Some).collect();
            stages.push(f1.as_ref());
            stages.extend(extras.iter().map(Some));
            let data = StepData { tab, y: &ya, y1: &y1, hcol: &hcol, t: &t, h: &h, stages };
            output::write(&mut self.outs, &act, &hits, &data, &y);
            let all = accepted.iter().all(|&a| a);
            let am = step::mask(&accepted, &ya);
            let y_next = if all { y1 } else { step::select(&am, &y1, &ya) };
            y = act.scatter(&y, y_next);
            if let Some(f1) = f1 {
                let k_next = if all { f1 } else { step::select(&am, &f1, &ks[0]) };
                k1 = act.scatter(&k1, k_next);
            }
            for (r, i) in act.live_rows().filter(|(r, _)| accepted[*r]) {
                self.s.t[i] = t_new[r];
                if at_end[r] {
                    self.s.status[i] = SampleStatus::Done;
                    self.s.h_abs[i] = 0.0;
                }
            }
        }
        Ok(())
    }

    /// Adds `w_n r_{b,n}` of the accepted rows to their samples' error sums
    /// (nothing unless the solve collects them). Only accepted rows enter
    /// the norm, so a rejected row's non-finite trial does not reach the
    /// sums' values.
    #[allow(clippy::too_many_arguments)]
    fn add_step_errors(
        &mut self,
        tab: &ButcherTableau,
        act: &Active,
        accepted: &[bool],
        hcol: &Tensor,
        h: &[f64],
        ks: &[Tensor],
        ya: &Tensor,
        y1: &Tensor,
    ) {
        let Some(acc) = self.errors.as_mut() else {
            return;
        };
        // Checked by `solve_per_sample_with_errors`.
        let ErrorEstimator::Embedded(e) = tab.error else {
            return;
        };
        let rows: Vec<i64> = (0..accepted.len()).filter(|&r| accepted[r]).map(|r| r as i64).collect();
        let samples: Vec<i64> = rows.iter().map(|&r| act.idx[r as usize] as i64).collect();
        let weights: Vec<f64> = rows.iter().map(|&r| acc.weighting.weight(h[r as usize])).collect();
        let device = ya.device();
        let rows = Tensor::from_slice(&rows).to_device(device);
        let err = match step::comb(e, ks) {
            Some(s) => hcol * s,
            None => ya.zeros_like(),
        };
        let scale = tch::no_grad(|| self.scale.of(ya, y1)).detach();
        let r = sample_error_norms(&err.index_select(0, &rows), &scale.index_select(0, &rows));
        let w = Tensor::from_slice(&weights).to_device(device).to_kind(r.kind());
        let samples = Tensor::from_slice(&samples).to_device(device);
        acc.sums = acc.sums.index_add(0, &samples, &(r * w));
    }

    /// Names the samples whose step sizes underflowed.
    fn underflow(&self, samples: Vec<usize>, h: &[f64]) -> PerSampleError {
        PerSampleError::StepSizeUnderflow {
            t: samples.iter().map(|&i| self.s.t[i]).collect(),
            h: samples.iter().map(|&i| h[i]).collect(),
            samples,
            stats: Box::new(self.stats.clone()),
        }
    }

    /// Samples whose trials stayed non-finite down to the smallest step: `f`
    /// returned NaN/inf for some (a stage is not finite), or their state
    /// overflowed.
    fn diagnose(&self, idx: &[usize], rows: Vec<usize>, ks: &[Tensor]) -> PerSampleError {
        let mut stage_ok = vec![true; idx.len()];
        for k in ks {
            for (ok, fine) in stage_ok.iter_mut().zip(finite_rows(k)) {
                *ok &= fine;
            }
        }
        let (rhs, state): (Vec<usize>, Vec<usize>) = rows.into_iter().partition(|&r| !stage_ok[r]);
        let (rhs, state): (Vec<usize>, Vec<usize>) =
            (rhs.iter().map(|&r| idx[r]).collect(), state.iter().map(|&r| idx[r]).collect());
        if rhs.is_empty() {
            PerSampleError::StateOverflow { t: state.iter().map(|&i| self.s.t[i]).collect(), samples: state }
        } else {
            PerSampleError::NonFiniteRhs { t: rhs.iter().map(|&i| self.s.t[i]).collect(), samples: rhs }
        }
    }
}
