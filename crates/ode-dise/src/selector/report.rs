//! What inference with the selector did on a test set: per-sample records
//! gathered batch by batch, then the totals, the selector's own cost
//! included.

use serde::Serialize;

use super::cost::{CostConfig, Outcome};
use super::infer::{Inference, SelectorOverhead};
use crate::error::DiseError;

/// One test sample: its candidate, its NFE under it (without the
/// selector), and whether the outcome was acceptable.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct SampleRecord {
    pub chosen: usize,
    pub nfe: usize,
    pub acceptable: bool,
}

/// Collects [`Inference`]s and their outcomes batch by batch.
#[derive(Clone, Debug, Default)]
pub struct SelectionTally {
    names: Vec<String>,
    records: Vec<SampleRecord>,
    seconds: f64,
    select_seconds: f64,
}

/// The selector on a test set (the paper's "& DISE" rows and Tables 3, 6,
/// 9).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SelectionReport {
    pub candidates: Vec<String>,
    pub samples: usize,
    /// Fraction of samples sent to each candidate.
    pub selection: Vec<f64>,
    /// Fraction of samples whose outcome was acceptable.
    pub accuracy: f64,
    /// Mean NFE of the integrators alone.
    pub mean_nfe_solvers: f64,
    /// v's cost per sample in evaluations of `f` ([`SelectorOverhead`]).
    pub selector_nfe: f64,
    /// `mean_nfe_solvers + selector_nfe`: the honest total.
    pub mean_nfe_total: f64,
    /// Wall-clock per sample of selection, split, solves and reassembly.
    pub time_per_sample_s: f64,
    /// The part of it spent running v.
    pub selector_time_per_sample_s: f64,
    pub overhead: SelectorOverhead,
    pub per_sample: Vec<SampleRecord>,
}

impl SelectionTally {
    pub fn new(names: Vec<String>) -> Self {
        SelectionTally { names, ..Default::default() }
    }

    /// Adds a batch: its inference and how each output did.
    pub fn add(
        &mut self,
        inference: &Inference,
        outcomes: &[Outcome],
        cfg: &CostConfig,
    ) -> Result<(), DiseError> {
        let b = inference.chosen.len();
        if outcomes.len() != b
            || inference.nfe.len() != b
            || inference.chosen.iter().any(|&c| c >= self.names.len())
        {
            return Err(DiseError::BadBatch {
                expected: format!("{b} outcomes and choices below {}", self.names.len()),
                got: format!("{} outcomes", outcomes.len()),
            });
        }
        for ((&chosen, &nfe), &outcome) in inference.chosen.iter().zip(&inference.nfe).zip(outcomes) {
            self.records.push(SampleRecord { chosen, nfe, acceptable: cfg.acceptable(outcome)? });
        }
        self.seconds += inference.select_seconds + inference.solve_seconds;
        self.select_seconds += inference.select_seconds;
        Ok(())
    }

    /// The totals, with v's measured cost added to every sample's NFE.
    pub fn report(&self, overhead: &SelectorOverhead) -> Result<SelectionReport, DiseError> {
        let n = self.records.len();
        if n == 0 {
            return Err(DiseError::BadBatch { expected: "at least one sample".into(), got: "0".into() });
        }
        let nf = n as f64;
        let mut selection = vec![0.0; self.names.len()];
        for r in &self.records {
            selection[r.chosen] += 1.0 / nf;
        }
        let mean_nfe_solvers = self.records.iter().map(|r| r.nfe as f64).sum::<f64>() / nf;
        Ok(SelectionReport {
            candidates: self.names.clone(),
            samples: n,
            selection,
            accuracy: self.records.iter().filter(|r| r.acceptable).count() as f64 / nf,
            mean_nfe_solvers,
            selector_nfe: overhead.nfe_equivalent,
            mean_nfe_total: mean_nfe_solvers + overhead.nfe_equivalent,
            time_per_sample_s: self.seconds / nf,
            selector_time_per_sample_s: self.select_seconds / nf,
            overhead: overhead.clone(),
            per_sample: self.records.clone(),
        })
    }
}
