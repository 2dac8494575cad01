//! Inference with the selector: choose, split the batch by choice, solve
//! each group with its candidate, put the outputs back in batch order; and
//! what the selector itself costs.

use std::time::Instant;

use ode_core::Rhs;
use serde::Serialize;
use tch::{Kind, Tensor};

use super::solve::solve_candidate;
use super::IntegratorSelector;
use crate::error::DiseError;

/// The result of [`IntegratorSelector::infer`] on one batch.
#[derive(Debug)]
pub struct Inference {
    /// `h(t1)` of every sample, in the input's order.
    pub h1: Tensor,
    /// Each sample's candidate (column index).
    pub chosen: Vec<usize>,
    /// Each sample's NFE under its candidate (per [`super::NfeAccounting`]).
    pub nfe: Vec<usize>,
    /// Wall-clock of running v and taking the argmin.
    pub select_seconds: f64,
    /// Wall-clock of splitting, solving the groups and reassembling.
    pub solve_seconds: f64,
}

/// What one run of v costs next to one evaluation of the dynamics `f`, on
/// the same batch (the paper's "0.8 NFE" for MNIST).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SelectorOverhead {
    /// Samples in the batch both were timed on.
    pub batch: usize,
    /// Fastest wall-clock of one forward pass of v on the batch.
    pub selector_seconds: f64,
    /// Fastest wall-clock of one evaluation of `f` on the batch.
    pub f_seconds: f64,
    /// `selector_seconds / f_seconds`: v's cost in evaluations of `f`,
    /// added once to every sample's NFE.
    pub nfe_equivalent: f64,
}

impl IntegratorSelector {
    /// Solves `h0` with each sample's lowest-predicted-cost candidate,
    /// through `f`, without a graph.
    pub fn infer<F: Rhs<Tensor>>(&self, f: &F, h0: &Tensor) -> Result<Inference, DiseError> {
        let start = Instant::now();
        let chosen = self.choose(h0)?;
        let select_seconds = start.elapsed().as_secs_f64();
        let start = Instant::now();
        let mut nfe = vec![0; chosen.len()];
        let mut h1: Option<Tensor> = None;
        for (k, c) in self.candidates.iter().enumerate() {
            let rows: Vec<i64> = (0..chosen.len()).filter(|&s| chosen[s] == k).map(|s| s as i64).collect();
            if rows.is_empty() {
                continue;
            }
            let idx = Tensor::from_slice(&rows).to_device(h0.device());
            let (group_h1, group_nfe) =
                solve_candidate(c, f, &h0.index_select(0, &idx), self.span, self.accounting)?;
            for (&s, n) in rows.iter().zip(group_nfe) {
                nfe[s as usize] = n;
            }
            // The output buffer takes the solution's shape and kind (an
            // ODE block's output is shaped like its input, but the kind
            // follows the dynamics).
            let out = match h1.take() {
                Some(out) => out,
                None => {
                    let mut size = group_h1.size();
                    size[0] = chosen.len() as i64;
                    Tensor::zeros(size.as_slice(), (group_h1.kind(), group_h1.device()))
                }
            };
            if out.size()[1..] != group_h1.size()[1..] {
                return Err(DiseError::BadBatch {
                    expected: format!("candidate outputs of shape [_, {:?}]", &out.size()[1..]),
                    got: format!("{:?} from {}", group_h1.size(), c.name),
                });
            }
            h1 = Some(tch::no_grad(|| out.index_copy(0, &idx, &group_h1.to_kind(out.kind()))));
        }
        let h1 = h1.ok_or_else(|| DiseError::BadBatch {
            expected: "a non-empty batch".into(),
            got: "0 samples".into(),
        })?;
        Ok(Inference { h1, chosen, nfe, select_seconds, solve_seconds: start.elapsed().as_secs_f64() })
    }

    /// Times v and one evaluation of `f` (at the interval's start) on the
    /// same batch `h0`, `repeats` times each, interleaved, after a warm-up,
    /// and compares the fastest of each.
    pub fn measure_overhead<F: Rhs<Tensor>>(
        &self,
        f: &F,
        h0: &Tensor,
        repeats: usize,
    ) -> Result<SelectorOverhead, DiseError> {
        self.check_batch(h0)?;
        if repeats == 0 {
            return Err(DiseError::InvalidSelector("overhead measurement with zero repeats".into()));
        }
        let device = self.net.var_store().device();
        let x = h0.to_device(device).to_kind(Kind::Float);
        // Reading one element waits for the work (a GPU runs
        // asynchronously).
        let time = |run: &dyn Fn() -> Tensor| -> f64 {
            let t = Instant::now();
            let _ = run().flatten(0, -1).double_value(&[0]);
            t.elapsed().as_secs_f64()
        };
        let v = || self.net.costs(&x, false).argmin(1, false).to_kind(Kind::Float);
        let e = || f.eval(self.span.0, h0);
        let (selector_seconds, f_seconds) = tch::no_grad(|| {
            let _ = (time(&v), time(&e));
            // Interleaved, and the fastest of each: other work on the
            // machine only ever adds time, and hits both alike.
            (0..repeats).fold((f64::INFINITY, f64::INFINITY), |(a, b), _| (a.min(time(&v)), b.min(time(&e))))
        });
        Ok(SelectorOverhead {
            batch: h0.size()[0] as usize,
            selector_seconds,
            f_seconds,
            nfe_equivalent: selector_seconds / f_seconds.max(f64::MIN_POSITIVE),
        })
    }
}
