//! Outputs through each sample's own dense output: a sample's output times
//! inside its accepted step are interpolated with its own `theta`, never
//! reached by shortening the step.

use ode_core::dense::stage_weights;
use ode_core::ButcherTableau;
use tch::Tensor;

use super::step::{self, interpolate};

/// The rows a loop iteration works on. With a row-wise right-hand side
/// ([`super::BatchRhs::rowwise`]) that is the sub-batch of running samples,
/// so finished samples cost nothing; otherwise the whole batch, with the
/// finished samples' rows along at `h = 0` (`live` false).
pub(crate) struct Active {
    /// The batch index of each row.
    pub idx: Vec<usize>,
    /// Whether each row's sample is still running.
    pub live: Vec<bool>,
    tensor: Option<Tensor>,
}

impl Active {
    pub(crate) fn new(running: &[bool], compact: bool, like: &Tensor) -> Self {
        let all = running.iter().all(|&r| r);
        if all || !compact {
            return Active { idx: (0..running.len()).collect(), live: running.to_vec(), tensor: None };
        }
        let idx: Vec<usize> = (0..running.len()).filter(|&i| running[i]).collect();
        let v: Vec<i64> = idx.iter().map(|&i| i as i64).collect();
        let tensor = Some(Tensor::from_slice(&v).to_device(like.device()));
        Active { live: vec![true; idx.len()], idx, tensor }
    }

    /// `(row, sample)` of the running samples.
    pub(crate) fn live_rows(&self) -> impl Iterator<Item = (usize, usize)> + '_ {
        self.idx.iter().enumerate().filter(|(r, _)| self.live[*r]).map(|(r, &i)| (r, i))
    }

    /// Batch indices of the running samples.
    pub(crate) fn live_samples(&self) -> Vec<usize> {
        self.live_rows().map(|(_, i)| i).collect()
    }

    /// The running samples' rows of a batch tensor.
    pub(crate) fn gather(&self, full: &Tensor) -> Tensor {
        match &self.tensor {
            Some(i) => full.index_select(0, i),
            None => full.shallow_clone(),
        }
    }

    /// `full` with the running samples' rows replaced by `sub`
    /// (out of place, so autograd follows).
    pub(crate) fn scatter(&self, full: &Tensor, sub: Tensor) -> Tensor {
        match &self.tensor {
            Some(i) => full.index_copy(0, i, &sub),
            None => sub,
        }
    }
}

/// An output time inside an accepted step of the sub-batch row `row`.
pub(crate) struct Hit {
    pub row: usize,
    pub index: usize,
    pub tq: f64,
    /// The output lies exactly on the step's end: it is `y1` itself.
    pub exact: bool,
}

/// The outputs inside each accepted step, in order; advances `next_out`.
pub(crate) fn hits(
    rows: &[&[f64]],
    act: &Active,
    accepted: &[bool],
    t_new: &[f64],
    dir: &[f64],
    next_out: &mut [usize],
) -> Vec<Hit> {
    let mut out = Vec::new();
    for (row, i) in act.live_rows().filter(|(r, _)| accepted[*r]) {
        let times = rows[i];
        while next_out[i] < times.len() && (times[next_out[i]] - t_new[row]) * dir[i] <= 0.0 {
            let tq = times[next_out[i]];
            out.push(Hit { row, index: next_out[i], tq, exact: tq == t_new[row] });
            next_out[i] += 1;
        }
    }
    out
}

/// The step of the sub-batch whose outputs are written.
pub(crate) struct StepData<'a> {
    pub tab: &'static ButcherTableau,
    pub y: &'a Tensor,
    pub y1: &'a Tensor,
    pub hcol: &'a Tensor,
    pub t: &'a [f64],
    pub h: &'a [f64],
    /// `[k_1 .. k_s, f(t1, y1)]` (`None` where an interpolant needs no f1).
    pub stages: Vec<Option<&'a Tensor>>,
}

/// Writes every hit into `outs` (batch-sized tensors, one per output
/// index): one batched interpolation per output index.
pub(crate) fn write(
    outs: &mut [Option<Tensor>],
    act: &Active,
    hits: &[Hit],
    st: &StepData,
    full_like: &Tensor,
) {
    let m = st.h.len();
    let mut idx: Vec<usize> = hits.iter().map(|x| x.index).collect();
    idx.sort_unstable();
    idx.dedup();
    let mut w = Vec::new();
    for j in idx {
        let mut hit = vec![false; m];
        let mut exact = vec![false; m];
        let mut weights = vec![vec![0.0; m]; st.stages.len()];
        let mut interp_needed = false;
        for x in hits.iter().filter(|x| x.index == j) {
            hit[x.row] = true;
            exact[x.row] = x.exact;
            if !x.exact {
                interp_needed = true;
                stage_weights(st.tab, (x.tq - st.t[x.row]) / st.h[x.row], &mut w);
                for (col, wk) in weights.iter_mut().zip(&w) {
                    col[x.row] = *wk;
                }
            }
        }
        let val = if !interp_needed {
            st.y1.shallow_clone()
        } else {
            let v = interpolate(st.y, st.hcol, &weights, &st.stages);
            if exact.contains(&true) {
                step::select(&step::mask(&exact, st.y), st.y1, &v)
            } else {
                v
            }
        };
        let everyone = act.idx.len() == full_like.size()[0] as usize && hit.iter().all(|&x| x);
        outs[j] = Some(match outs[j].take() {
            None if everyone => val,
            prev => {
                let prev = prev.unwrap_or_else(|| full_like.zeros_like());
                let merged = step::select(&step::mask(&hit, st.y), &val, &act.gather(&prev));
                act.scatter(&prev, merged)
            }
        });
    }
}
