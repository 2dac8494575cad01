//! The host side of a per-sample solve: output times, validated options and
//! each sample's time, step size, status and controller memory.

use ode_core::control::ControllerState;
use ode_core::{Controller, SolveOptions, StepSize};
use tch::Tensor;

use super::error::PerSampleError;

/// Where the outputs are wanted.
#[derive(Debug)]
pub enum OutputTimes {
    /// The same times for every sample; `ts[0]` is the initial time.
    Shared(Vec<f64>),
    /// One row of times per sample (`[B][T]`, every row of the same
    /// length); `ts[b][0]` is sample `b`'s initial time.
    PerSample(Vec<Vec<f64>>),
}

impl From<&[f64]> for OutputTimes {
    fn from(ts: &[f64]) -> Self {
        OutputTimes::Shared(ts.to_vec())
    }
}

impl From<Vec<f64>> for OutputTimes {
    fn from(ts: Vec<f64>) -> Self {
        OutputTimes::Shared(ts)
    }
}

impl<const N: usize> From<&[f64; N]> for OutputTimes {
    fn from(ts: &[f64; N]) -> Self {
        OutputTimes::Shared(ts.to_vec())
    }
}

impl From<Vec<Vec<f64>>> for OutputTimes {
    fn from(ts: Vec<Vec<f64>>) -> Self {
        OutputTimes::PerSample(ts)
    }
}

impl OutputTimes {
    /// Reads a `[T]` (shared) or `[B, T]` (per-sample) tensor of times.
    pub fn from_tensor(ts: &Tensor) -> Result<Self, PerSampleError> {
        let bad = |reason: String| PerSampleError::InvalidTimes { reason };
        let size = ts.size();
        let flat: Vec<f64> = Vec::<f64>::try_from(&ts.to_kind(tch::Kind::Double).reshape([-1]))
            .map_err(|e| bad(format!("cannot read the times: {e}")))?;
        match size.as_slice() {
            [_] => Ok(OutputTimes::Shared(flat)),
            [_, t] if *t > 0 => {
                Ok(OutputTimes::PerSample(flat.chunks(*t as usize).map(<[f64]>::to_vec).collect()))
            }
            _ => Err(bad(format!("need a [T] or [B, T] tensor of times, got shape {size:?}"))),
        }
    }

    /// One row per sample, checked: `batch` rows of one length >= 1, each
    /// finite and strictly monotonic. Returns the rows and each sample's
    /// direction of integration.
    pub(crate) fn rows(&self, batch: usize) -> Result<(Vec<&[f64]>, Vec<f64>), PerSampleError> {
        let bad = |reason: String| PerSampleError::InvalidTimes { reason };
        let rows: Vec<&[f64]> = match self {
            OutputTimes::Shared(ts) => vec![ts.as_slice(); batch],
            OutputTimes::PerSample(rows) => {
                if rows.len() != batch {
                    return Err(bad(format!("{} rows of times for a batch of {batch}", rows.len())));
                }
                rows.iter().map(Vec::as_slice).collect()
            }
        };
        let len = rows.first().map_or(0, |r| r.len());
        let mut dirs = Vec::with_capacity(batch);
        for (b, r) in rows.iter().enumerate() {
            if r.len() != len {
                return Err(bad(format!("row {b} has {} times, row 0 has {len}", r.len())));
            }
            dirs.push(direction(r).map_err(|e| bad(format!("sample {b}: {e}")))?);
        }
        Ok((rows, dirs))
    }
}

/// ode-core's rule: non-empty, finite, strictly monotonic; decreasing
/// times integrate backwards.
fn direction(ts: &[f64]) -> Result<f64, String> {
    if ts.is_empty() {
        return Err("no output times given; ts[0] must be the initial time".into());
    }
    if let Some(t) = ts.iter().find(|t| !t.is_finite()) {
        return Err(format!("output time {t} is not finite"));
    }
    let d = if ts.len() > 1 && ts[1] < ts[0] { -1.0 } else { 1.0 };
    if let Some(w) = ts.windows(2).find(|w| (w[1] - w[0]) * d <= 0.0) {
        return Err(format!("output times must be strictly monotonic; found {} followed by {}", w[0], w[1]));
    }
    Ok(d)
}

/// Checks that `opts` describe adaptive stepping this solver supports and
/// returns its controller (the same checks as ode-core's `solve`).
pub(crate) fn validate_options(opts: &SolveOptions) -> Result<Controller, PerSampleError> {
    let option = |name: &'static str, reason: String| PerSampleError::InvalidOption { name, reason };
    let c = match &opts.step {
        StepSize::Adaptive(c) => *c,
        _ => return Err(option("step", "per-sample stepping is adaptive: use StepSize::Adaptive".into())),
    };
    if !opts.method.is_adaptive() {
        return Err(PerSampleError::UnsupportedMethod {
            method: opts.method.name,
            reason: "has no error estimator, so it cannot step adaptively per sample".into(),
        });
    }
    let coeffs = [c.beta1, c.beta2, c.beta3, c.safety, c.ifactor, c.dfactor];
    if coeffs.iter().any(|x| !x.is_finite())
        || !(c.safety > 0.0 && c.dfactor > 0.0 && c.dfactor <= 1.0 && c.ifactor >= 1.0 && c.beta1 > 0.0)
    {
        return Err(option(
            "controller",
            format!(
                "need finite coefficients, safety > 0, 0 < dfactor <= 1 <= ifactor, beta1 > 0; got {c:?}"
            ),
        ));
    }
    if !(opts.min_step.is_finite() && opts.min_step >= 0.0) {
        return Err(option("min_step", format!("must be finite and >= 0, got {}", opts.min_step)));
    }
    if opts.max_step.is_nan() || opts.max_step <= 0.0 || opts.max_step < opts.min_step {
        return Err(option("max_step", format!("must be > 0 and >= min_step, got {}", opts.max_step)));
    }
    if opts.max_steps == 0 {
        return Err(option("max_steps", "must be at least 1".into()));
    }
    if let Some(h) = opts.first_step {
        if !(h.is_finite() && h != 0.0) {
            return Err(option("first_step", format!("must be finite and non-zero, got {h}")));
        }
    }
    let unsupported = |name: &'static str| option(name, "not supported with per-sample stepping".into());
    if !opts.step_t.is_empty() {
        return Err(unsupported("step_t"));
    }
    if !opts.jump_t.is_empty() {
        return Err(unsupported("jump_t"));
    }
    if opts.dense {
        return Err(unsupported("dense"));
    }
    if opts.checkpoints {
        return Err(unsupported("checkpoints"));
    }
    Ok(c)
}

/// Where a sample is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SampleStatus {
    /// Still integrating.
    Running,
    /// Reached its last output time; its step size is 0 from now on.
    Done,
}

/// Each sample's progress, on the host: the controller runs here on plain
/// numbers, exactly as ode-core's does for one state.
pub(crate) struct Samples {
    pub t: Vec<f64>,
    pub h_abs: Vec<f64>,
    pub dir: Vec<f64>,
    pub t_end: Vec<f64>,
    /// Index of each sample's next output time.
    pub next_out: Vec<usize>,
    pub status: Vec<SampleStatus>,
    pub ctrl: Vec<ControllerState>,
}

impl Samples {
    pub(crate) fn new(rows: &[&[f64]], dir: Vec<f64>) -> Self {
        let b = rows.len();
        Samples {
            t: rows.iter().map(|r| r[0]).collect(),
            h_abs: vec![0.0; b],
            dir,
            t_end: rows.iter().map(|r| r[r.len() - 1]).collect(),
            next_out: vec![1; b],
            status: rows
                .iter()
                .map(|r| if r.len() > 1 { SampleStatus::Running } else { SampleStatus::Done })
                .collect(),
            ctrl: vec![ControllerState::default(); b],
        }
    }

    pub(crate) fn running(&self, b: usize) -> bool {
        self.status[b] == SampleStatus::Running
    }

    pub(crate) fn any_running(&self) -> bool {
        self.status.contains(&SampleStatus::Running)
    }
}

/// Steps below ten ulps of `t` cannot be resolved (ode-core's and scipy's
/// threshold).
pub(crate) fn min_resolvable_step(t: f64) -> f64 {
    10.0 * (t.abs().next_up() - t.abs())
}
