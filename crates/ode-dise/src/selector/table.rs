//! Every candidate run on every sample: the table the cost labels come
//! from, and the analysis rows (always one candidate, the oracle) read off
//! the same table.

use serde::Serialize;
use tch::{Kind, Tensor};

use super::cost::{CostConfig, Outcome};
use crate::error::DiseError;

/// Per sample and per candidate: the NFE it took and how its output did.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CandidateTable {
    /// The candidates' names, in column order.
    pub names: Vec<String>,
    /// `nfe[s][k]`: evaluations of `f` candidate `k` spent on sample `s`.
    pub nfe: Vec<Vec<usize>>,
    /// `outcomes[s][k]`: how candidate `k`'s output did on sample `s`.
    pub outcomes: Vec<Vec<Outcome>>,
}

/// One row of the analysis: a policy (always one candidate, the oracle,
/// the selector's choices) evaluated on a [`CandidateTable`].
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AnalysisRow {
    pub policy: String,
    /// Fraction of samples whose chosen candidate's outcome is acceptable.
    pub accuracy: f64,
    /// Mean NFE of the chosen candidates (no selector cost: a policy read
    /// off the table costs nothing to run).
    pub mean_nfe: f64,
    /// Fraction of samples sent to each candidate, in column order.
    pub selection: Vec<f64>,
    /// The chosen candidate of each sample.
    pub chosen: Vec<usize>,
}

impl CandidateTable {
    /// An empty table for these candidates.
    pub fn new(names: Vec<String>) -> Self {
        CandidateTable { names, nfe: Vec::new(), outcomes: Vec::new() }
    }

    pub fn len(&self) -> usize {
        self.nfe.len()
    }

    pub fn is_empty(&self) -> bool {
        self.nfe.is_empty()
    }

    /// Appends another batch's rows (same candidates).
    pub fn extend(&mut self, other: CandidateTable) -> Result<(), DiseError> {
        if other.names != self.names {
            return Err(DiseError::BadBatch {
                expected: format!("a table of candidates {:?}", self.names),
                got: format!("{:?}", other.names),
            });
        }
        self.nfe.extend(other.nfe);
        self.outcomes.extend(other.outcomes);
        Ok(())
    }

    /// The cost labels `[N][K]` (Eq. 4 / Eq. 5).
    pub fn labels(&self, cfg: &CostConfig) -> Result<Vec<Vec<f64>>, DiseError> {
        self.nfe
            .iter()
            .zip(&self.outcomes)
            .map(|(nfe, out)| nfe.iter().zip(out).map(|(&n, &o)| cfg.cost(n, o)).collect())
            .collect()
    }

    /// [`Self::labels`] as a `[N, K]` float tensor, the regression target.
    pub fn label_tensor(&self, cfg: &CostConfig) -> Result<Tensor, DiseError> {
        let labels = self.labels(cfg)?;
        let flat: Vec<f32> = labels.iter().flatten().map(|&c| c as f32).collect();
        Ok(Tensor::from_slice(&flat)
            .reshape([labels.len() as i64, self.names.len() as i64])
            .to_kind(Kind::Float))
    }

    /// Whether each sample's outcome under each candidate is acceptable.
    fn acceptable(&self, cfg: &CostConfig) -> Result<Vec<Vec<bool>>, DiseError> {
        self.outcomes.iter().map(|row| row.iter().map(|&o| cfg.acceptable(o)).collect()).collect()
    }

    /// Evaluates a policy that sent sample `s` to candidate `chosen[s]`.
    pub fn policy(&self, name: &str, chosen: Vec<usize>, cfg: &CostConfig) -> Result<AnalysisRow, DiseError> {
        let k = self.names.len();
        if chosen.len() != self.len() || chosen.iter().any(|&c| c >= k) {
            return Err(DiseError::BadBatch {
                expected: format!("{} choices below {k}", self.len()),
                got: format!("{} choices, largest {:?}", chosen.len(), chosen.iter().max()),
            });
        }
        let ok = self.acceptable(cfg)?;
        let n = self.len().max(1) as f64;
        let right = chosen.iter().enumerate().filter(|&(s, &c)| ok[s][c]).count();
        let nfe: usize = chosen.iter().enumerate().map(|(s, &c)| self.nfe[s][c]).sum();
        let mut selection = vec![0.0; k];
        for &c in &chosen {
            selection[c] += 1.0 / n;
        }
        Ok(AnalysisRow {
            policy: name.to_string(),
            accuracy: right as f64 / n,
            mean_nfe: nfe as f64 / n,
            selection,
            chosen,
        })
    }

    /// Every sample to candidate `k`: the `always-<name>` row.
    pub fn always(&self, k: usize, cfg: &CostConfig) -> Result<AnalysisRow, DiseError> {
        let name = self.names.get(k).ok_or_else(|| DiseError::BadBatch {
            expected: format!("a candidate index below {}", self.names.len()),
            got: k.to_string(),
        })?;
        self.policy(&format!("always-{name}"), vec![k; self.len()], cfg)
    }

    /// The oracle: each sample's cheapest (fewest NFE, the earlier column on
    /// a tie) acceptable candidate in hindsight; a sample no candidate gets
    /// right goes to the most accurate candidate on this table (the later
    /// column on a tie, so dopri5 with the default, cheapest-first list).
    pub fn oracle(&self, cfg: &CostConfig) -> Result<AnalysisRow, DiseError> {
        let ok = self.acceptable(cfg)?;
        let k = self.names.len();
        let rights: Vec<usize> = (0..k).map(|c| ok.iter().filter(|row| row[c]).count()).collect();
        let best = (0..k).max_by_key(|&c| rights[c]).unwrap_or(0);
        let chosen = (0..self.len())
            .map(|s| (0..k).filter(|&c| ok[s][c]).min_by_key(|&c| (self.nfe[s][c], c)).unwrap_or(best))
            .collect();
        self.policy("oracle", chosen, cfg)
    }

    /// `always-<name>` for every candidate, then the oracle.
    pub fn analysis_rows(&self, cfg: &CostConfig) -> Result<Vec<AnalysisRow>, DiseError> {
        let mut rows = (0..self.names.len()).map(|k| self.always(k, cfg)).collect::<Result<Vec<_>, _>>()?;
        rows.push(self.oracle(cfg)?);
        Ok(rows)
    }
}
