//! The per-sample loop: every sample has its own time, step size, controller
//! memory and accept/reject decision; the right-hand side is still called
//! once on the whole batch per stage.

use ode_core::dense::{stage_weights, StepInterpolant};
use ode_core::tableau::{DenseOutput, ErrorEstimator};
use ode_core::{ButcherTableau, Controller, SolveOptions};
use tch::{Device, Tensor};

use super::error::PerSampleError;
use super::rhs::BatchRhs;
use super::state::{min_resolvable_step, validate_options, OutputTimes, SampleStatus, Samples};
use super::stats::PerSampleStats;
use super::step::{self, advance, column, error_sums, finite_rows, initial_norms, interpolate, Scale};

/// The result of [`solve_per_sample`].
#[derive(Debug)]
pub struct PerSampleSolution {
    /// `ys[i]` is `[B, ...]`: sample `b` at its `i`-th output time.
    pub ys: Vec<Tensor>,
    pub stats: PerSampleStats,
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
/// Each sample takes exactly the steps ode-core's [`ode_core::solve`] would
/// take on it alone (same tableau, tolerances, controller, initial step,
/// output times), so an easy sample is not dragged to the step size of the
/// hardest one. The tolerances apply per sample: a per-component `atol`
/// has one sample's number of components. Output times are reached through
/// each sample's dense output, never by shortening steps. Under autograd
/// the outputs carry the graph of the accepted steps (Direct mode); step
/// sizes are plain numbers.
///
/// Supported: every adaptive tableau of ode-core except DOP853, with
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
    let ts: OutputTimes = ts.into();
    let ctrl = validate_options(opts)?;
    let tab = opts.method;
    let e = match tab.error {
        ErrorEstimator::Embedded(e) if !matches!(tab.dense, DenseOutput::Dop853 { .. }) => e,
        _ => {
            return Err(PerSampleError::UnsupportedMethod {
                method: tab.name,
                reason: "is not supported by per-sample stepping (DOP853's estimator and extra stages)".into(),
            })
        }
    };
    let size = y0.size();
    if size.is_empty() || size[0] < 1 || !y0.is_floating_point() {
        return Err(PerSampleError::InvalidState {
            reason: format!("need a floating-point [B, ...] tensor with B >= 1, got {size:?} {:?}", y0.kind()),
        });
    }
    let b = size[0] as usize;
    let n = y0.numel() / b;
    if n == 0 {
        return Err(PerSampleError::InvalidState { reason: format!("samples have no components: {size:?}") });
    }
    let (rows, dirs) = ts.rows(b)?;
    opts.tol.validate(n).map_err(|reason| PerSampleError::InvalidTolerance { reason })?;
    let bad: Vec<usize> = finite_rows(y0).iter().enumerate().filter(|(_, ok)| !**ok).map(|(i, _)| i).collect();
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
    };
    run.outs[0] = Some(y0.shallow_clone());
    if n_out > 1 {
        run.integrate(y0, &rows, opts, &ctrl, e, n as f64)?;
    }
    let ys = run.outs.into_iter().map(|o| o.unwrap_or_else(|| y0.zeros_like())).collect();
    Ok(PerSampleSolution { ys, stats: run.stats })
}

struct Run<'a, F: ?Sized> {
    f: &'a F,
    device: Device,
    s: Samples,
    stats: PerSampleStats,
    scale: Scale,
    outs: Vec<Option<Tensor>>,
}

fn which(flags: impl IntoIterator<Item = bool>) -> Vec<usize> {
    flags.into_iter().enumerate().filter(|(_, x)| *x).map(|(i, _)| i).collect()
}

impl<F: BatchRhs + ?Sized> Run<'_, F> {
    /// One call of `f` on the batch, counted for the samples in `counts`.
    fn call(&mut self, t: &[f64], y: &Tensor, counts: &[bool]) -> Result<Tensor, PerSampleError> {
        let k = self.f.eval(&step::times(t, self.device), y);
        self.stats.n_calls += 1;
        for (nfe, _) in self.stats.nfe.iter_mut().zip(counts).filter(|(_, c)| **c) {
            *nfe += 1;
        }
        if k.size() != y.size() || k.kind() != y.kind() || k.device() != y.device() {
            let desc = |x: &Tensor| format!("{:?} {:?} on {:?}", x.size(), x.kind(), x.device());
            return Err(PerSampleError::ShapeMismatch { expected: desc(y), found: desc(&k) });
        }
        Ok(k)
    }

    fn running(&self) -> Vec<bool> {
        (0..self.s.t.len()).map(|i| self.s.running(i)).collect()
    }

    /// Hairer's starting step (ode-core's `initial_step`), per sample.
    fn initial_steps(&mut self, y0: &Tensor, f0: &Tensor, order: u32) -> Result<Vec<f64>, PerSampleError> {
        let d = initial_norms(&[y0, f0], y0, &self.scale);
        let (d0, d1) = (&d[0], &d[1]);
        let h0: Vec<f64> =
            d0.iter().zip(d1).map(|(&a, &b)| if a < 1e-5 || b < 1e-5 { 1e-6 } else { 0.01 * a / b }).collect();
        let signed: Vec<f64> = h0.iter().zip(&self.s.dir).map(|(h, d)| d * h).collect();
        let y1 = y0 + f0 * column(&signed, y0);
        let t1: Vec<f64> = self.s.t.iter().zip(&signed).map(|(t, h)| t + h).collect();
        let running = self.running();
        let f1 = self.call(&t1, &y1, &running)?;
        let d2 = initial_norms(&[&(f1 + f0 * -1.0)], y0, &self.scale).remove(0);
        Ok((0..h0.len())
            .map(|i| {
                let d2 = d2[i] / h0[i];
                let m = d1[i].max(d2);
                let h1 = if m <= 1e-15 || !d2.is_finite() {
                    (1e-6f64).max(h0[i] * 1e-3)
                } else {
                    (0.01 / m).powf(1.0 / (order as f64 + 1.0))
                };
                let h = (100.0 * h0[i]).min(h1);
                if h.is_finite() && h > 0.0 {
                    h
                } else {
                    1e-6
                }
            })
            .collect())
    }

    fn integrate(
        &mut self,
        y0: &Tensor,
        rows: &[&[f64]],
        opts: &SolveOptions,
        ctrl: &Controller,
        e: &[f64],
        n: f64,
    ) -> Result<(), PerSampleError> {
        let tab = opts.method;
        let b = rows.len();
        let st = tab.stages();
        let running = self.running();
        let t0 = self.s.t.clone();
        let f0 = self.call(&t0, y0, &running)?;
        let f0_ok = finite_rows(&f0);
        let bad = which((0..b).map(|i| running[i] && !f0_ok[i]));
        if !bad.is_empty() {
            let t = bad.iter().map(|&i| t0[i]).collect();
            return Err(PerSampleError::NonFiniteRhs { samples: bad, t });
        }
        let h_init = match opts.first_step {
            Some(h) => vec![h.abs(); b],
            None => self.initial_steps(y0, &f0, tab.error_order)?,
        };
        for i in 0..b {
            self.s.h_abs[i] = if running[i] { h_init[i].clamp(opts.min_step, opts.max_step) } else { 0.0 };
        }
        let mut y = y0.shallow_clone();
        let mut k1 = f0;
        while self.s.any_running() {
            let active = self.running();
            let over = which((0..b).map(|i| active[i] && self.stats.n_steps(i) >= opts.max_steps));
            if !over.is_empty() {
                return Err(PerSampleError::MaxStepsExceeded {
                    t: over.iter().map(|&i| self.s.t[i]).collect(),
                    samples: over,
                    max_steps: opts.max_steps,
                    stats: Box::new(self.stats.clone()),
                });
            }
            // Each sample's trial step; finished samples get h = 0.
            let mut t_new = self.s.t.clone();
            let mut h = vec![0.0; b];
            for i in (0..b).filter(|&i| active[i]) {
                let (t, d, te) = (self.s.t[i], self.s.dir[i], self.s.t_end[i]);
                let dist = (te - t).abs();
                let lands = self.s.h_abs[i] >= dist * (1.0 - 4.0 * f64::EPSILON) || dist <= min_resolvable_step(t);
                t_new[i] = if lands { te } else { t + d * self.s.h_abs[i] };
                h[i] = t_new[i] - t;
            }
            let stuck = which((0..b).map(|i| active[i] && t_new[i] == self.s.t[i]));
            if !stuck.is_empty() {
                return Err(self.underflow(stuck, &h));
            }
            let hcol = column(&h, &y);
            let mut ks: Vec<Tensor> = Vec::with_capacity(st + 1);
            ks.push(k1.shallow_clone());
            let mut last_state = None;
            for i in 1..st {
                let yi = advance(&y, &hcol, tab.a[i], &ks);
                let c = tab.c[i];
                // Stages at c = 1 sit exactly on the step's end, as in ode-core.
                let ti: Vec<f64> =
                    (0..b).map(|j| if c == 1.0 { t_new[j] } else { self.s.t[j] + c * h[j] }).collect();
                ks.push(self.call(&ti, &yi, &active)?);
                if i == st - 1 {
                    last_state = Some(yi);
                }
            }
            let y1 = match last_state {
                Some(yl) if tab.fsal => yl,
                _ => advance(&y, &hcol, tab.b, &ks),
            };
            let err = match step::comb(e, &ks) {
                Some(s) => &hcol * s,
                None => y.zeros_like(),
            };
            let (sq, fin) = error_sums(&err, &y, &y1, &self.scale);

            let mut accepted = vec![false; b];
            let (mut nonfinite, mut tiny) = (Vec::new(), Vec::new());
            for i in (0..b).filter(|&i| active[i]) {
                let ratio = (sq[i] / n).sqrt();
                let finite = ratio.is_finite() && fin[i];
                if finite && ratio <= 1.0 {
                    accepted[i] = true;
                    self.stats.n_accepted[i] += 1;
                    let factor = ctrl.factor(&mut self.s.ctrl[i], ratio, tab.error_order, true);
                    self.s.h_abs[i] = (h[i].abs() * factor).clamp(opts.min_step, opts.max_step);
                    continue;
                }
                self.stats.n_rejected[i] += 1;
                let factor = ctrl.factor(&mut self.s.ctrl[i], ratio, tab.error_order, false);
                self.s.h_abs[i] = h[i].abs() * factor;
                if self.s.h_abs[i] < opts.min_step || self.s.h_abs[i] < min_resolvable_step(self.s.t[i]) {
                    if finite {
                        tiny.push(i);
                    } else {
                        nonfinite.push(i);
                    }
                }
            }
            if !nonfinite.is_empty() {
                return Err(self.diagnose(nonfinite, &ks));
            }
            if !tiny.is_empty() {
                let signed: Vec<f64> = (0..b).map(|i| self.s.dir[i] * self.s.h_abs[i]).collect();
                return Err(self.underflow(tiny, &signed));
            }
            if !accepted.contains(&true) {
                continue;
            }
            let at_end: Vec<bool> = (0..b).map(|i| accepted[i] && t_new[i] == self.s.t_end[i]).collect();
            let hits = self.output_hits(rows, &accepted, &t_new);
            // f(t1, y1): the FSAL stage, or for other methods one more call,
            // needed by samples that go on (their next first stage) or that
            // interpolate with an f1-based interpolant.
            let f1 = if tab.fsal {
                Some(ks[st - 1].shallow_clone())
            } else {
                let needs_f1 = StepInterpolant::<Tensor>::needs_f1(tab);
                let interp = |i: usize| hits.iter().any(|x| x.sample == i && !x.exact);
                let counts: Vec<bool> =
                    (0..b).map(|i| accepted[i] && (!at_end[i] || (needs_f1 && interp(i)))).collect();
                if counts.contains(&true) {
                    let te: Vec<f64> = (0..b).map(|i| if accepted[i] { t_new[i] } else { self.s.t[i] }).collect();
                    Some(self.call(&te, &y1, &counts)?)
                } else {
                    None
                }
            };
            self.write_outputs(tab, &hits, &y, &y1, &hcol, &h, &ks, f1.as_ref());
            let all = accepted.iter().all(|&a| a);
            let am = step::mask(&accepted, &y);
            y = if all { y1 } else { step::select(&am, &y1, &y) };
            if let Some(f1) = f1 {
                k1 = if all { f1 } else { step::select(&am, &f1, &k1) };
            }
            for i in (0..b).filter(|&i| accepted[i]) {
                self.s.t[i] = t_new[i];
                if at_end[i] {
                    self.s.status[i] = SampleStatus::Done;
                    self.s.h_abs[i] = 0.0;
                }
            }
        }
        Ok(())
    }

    /// The outputs inside each accepted step, in order. Advances each
    /// sample's next output.
    fn output_hits(&mut self, rows: &[&[f64]], accepted: &[bool], t_new: &[f64]) -> Vec<Hit> {
        let mut hits = Vec::new();
        for i in (0..rows.len()).filter(|&i| accepted[i]) {
            let d = self.s.dir[i];
            while self.s.next_out[i] < rows[i].len() && (rows[i][self.s.next_out[i]] - t_new[i]) * d <= 0.0 {
                let j = self.s.next_out[i];
                let tq = rows[i][j];
                hits.push(Hit { sample: i, index: j, tq, exact: tq == t_new[i] });
                self.s.next_out[i] += 1;
            }
        }
        hits
    }

    /// Evaluates every sample's outputs inside its step on its own
    /// interpolant: one batched interpolation per output index, the step's
    /// end state itself where an output lies exactly on it (as ode-core).
    #[allow(clippy::too_many_arguments)]
    fn write_outputs(
        &mut self,
        tab: &'static ButcherTableau,
        hits: &[Hit],
        y: &Tensor,
        y1: &Tensor,
        hcol: &Tensor,
        h: &[f64],
        ks: &[Tensor],
        f1: Option<&Tensor>,
    ) {
        let b = h.len();
        let mut stages: Vec<Option<&Tensor>> = ks.iter().map(Some).collect();
        stages.push(f1);
        let mut idx: Vec<usize> = hits.iter().map(|x| x.index).collect();
        idx.sort_unstable();
        idx.dedup();
        let mut w = Vec::new();
        for j in idx {
            let mut hit = vec![false; b];
            let mut exact = vec![false; b];
            let mut weights = vec![vec![0.0; b]; stages.len()];
            let mut interp_needed = false;
            for x in hits.iter().filter(|x| x.index == j) {
                hit[x.sample] = true;
                exact[x.sample] = x.exact;
                if !x.exact {
                    interp_needed = true;
                    stage_weights(tab, (x.tq - self.s.t[x.sample]) / h[x.sample], &mut w);
                    for (row, wk) in weights.iter_mut().zip(&w) {
                        row[x.sample] = *wk;
                    }
                }
            }
            let val = if !interp_needed {
                y1.shallow_clone()
            } else {
                let v = interpolate(y, hcol, &weights, &stages);
                if exact.contains(&true) {
                    step::select(&step::mask(&exact, y), y1, &v)
                } else {
                    v
                }
            };
            let hit_all = hit.iter().all(|&x| x);
            self.outs[j] = Some(match self.outs[j].take() {
                None if hit_all => val,
                None => step::select(&step::mask(&hit, y), &val, &y.zeros_like()),
                Some(p) => step::select(&step::mask(&hit, y), &val, &p),
            });
        }
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
    fn diagnose(&self, samples: Vec<usize>, ks: &[Tensor]) -> PerSampleError {
        let b = self.s.t.len();
        let mut stage_ok = vec![true; b];
        for k in ks {
            for (ok, fine) in stage_ok.iter_mut().zip(finite_rows(k)) {
                *ok &= fine;
            }
        }
        let (rhs, state): (Vec<usize>, Vec<usize>) = samples.into_iter().partition(|&i| !stage_ok[i]);
        if rhs.is_empty() {
            PerSampleError::StateOverflow { t: state.iter().map(|&i| self.s.t[i]).collect(), samples: state }
        } else {
            PerSampleError::NonFiniteRhs { t: rhs.iter().map(|&i| self.s.t[i]).collect(), samples: rhs }
        }
    }
}

/// An output time inside a sample's accepted step.
struct Hit {
    sample: usize,
    index: usize,
    tq: f64,
    exact: bool,
}
