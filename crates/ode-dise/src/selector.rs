//! DISE's auxiliary integrator selector (section 3.2 of the paper): a
//! small network v(h(0)) predicts, for each candidate integrator, the cost
//! of solving the ODE block from h(0) with it; at inference each sample
//! goes to the candidate with the lowest predicted cost.
//!
//! | file | job |
//! |---|---|
//! | `candidate` | [`Candidate`]: a method and its stepping (fixed steps over the block's interval, or adaptive at a tolerance) |
//! | `cost` | [`CostConfig`] (alpha, M, beta) and the labels of Eq. 4 / Eq. 5; [`Outcome`], [`Judge`] |
//! | `net` | [`CostNet`]: [`ImageCostNet`] (Table 2), [`MlpCostNet`] (Tables 4 and 7) |
//! | `solve` | one candidate on a batch, without a graph; [`NfeAccounting`] |
//! | `table` | [`CandidateTable`]: every candidate on every sample; labels; always-X and oracle rows |
//! | `fit` | regression of v on the labels ([`FitOptions`], or batch by batch with [`CostTrainer`]) |
//! | `infer` | the split-solve-reassemble inference ([`Inference`]) and the selector's own cost ([`SelectorOverhead`]) |
//! | `report` | [`SelectionTally`] / [`SelectionReport`]: distribution, NFE with and without the selector, accuracy, time |
//! | `store` | save and load with the model's checkpoint kit |

mod candidate;
mod cost;
mod fit;
mod infer;
mod net;
mod report;
mod solve;
mod store;
mod table;

use ode_core::Rhs;
use ode_models::OdeBlock;
use tch::{Kind, Tensor};

pub use candidate::{Candidate, CandidateSpec, Stepping};
pub use cost::{CostConfig, Judge, Outcome};
pub use fit::{CostTrainer, FitOptions};
pub use infer::{Inference, SelectorOverhead};
pub use net::{Activation, CostNet, ImageCostNet, MlpCostNet, MlpLayer};
pub use report::{SampleRecord, SelectionReport, SelectionTally};
pub use solve::NfeAccounting;
pub use store::{SelectorMeta, SELECTOR_PREFIX};
pub use table::{AnalysisRow, CandidateTable};

use crate::error::DiseError;
use candidate::check_candidates;
use solve::solve_candidate;

/// The auxiliary integrator selector of a trained neural ODE block.
///
/// Workflow: with the target model frozen, [`Self::evaluate`] runs every
/// candidate on batches of training initial states `h(0)` and a [`Judge`]
/// says how each output did; [`CandidateTable::label_tensor`] turns that
/// into the cost labels of Eq. 4 / Eq. 5; [`Self::fit`] regresses v on
/// them; [`Self::infer`] solves a batch with each sample's cheapest
/// predicted candidate.
///
/// The paper says v is trained by regression on the costs (no log); so
/// is this one, on `c` itself with a mean squared error (the exponent
/// alpha already compresses the range: with the MNIST values the labels
/// lie between 1 and `1000^0.3 = 7.9`).
///
/// ```
/// use ode_core::Tolerance;
/// use ode_dise::selector::{Candidate, CostConfig, FitOptions, IntegratorSelector, MlpCostNet, Outcome};
/// use tch::{Device, Kind, Tensor};
///
/// // y' = -|y|^2 y: nearly still for small |y(0)|, fast for large.
/// let f = |_t: f64, y: &Tensor| -(y.square().sum_dim_intlist(1, true, Kind::Float) * y);
/// let candidates = Candidate::paper_defaults(1, Tolerance::new(1e-5, 1e-5))?;
/// let net = MlpCostNet::cnf(Device::Cpu, 2, 3)?;
/// let mut sel = IntegratorSelector::new(candidates, CostConfig::mnist(), Box::new(net), (0.0, 1.0))?;
///
/// let h0 = Tensor::randn([64, 2], (Kind::Float, Device::Cpu));
/// // Right when within 1e-2 of the exact radius r / sqrt(1 + 2 r^2).
/// let r = h0.square().sum_dim_intlist(1, false, Kind::Float).sqrt();
/// let exact = &r / (r.square() * 2.0 + 1.0).sqrt();
/// let judge = |h1: &Tensor| {
///     let r1 = h1.square().sum_dim_intlist(1, false, Kind::Float).sqrt();
///     Outcome::rights(&(r1 - &exact).abs().lt(1e-2))
/// };
/// let table = sel.evaluate(&f, &h0, &judge)?;
/// let labels = table.label_tensor(sel.costs())?;
/// sel.fit(&h0, &labels, &FitOptions { epochs: 5, ..Default::default() })?;
/// let out = sel.infer(&f, &h0)?;
/// assert_eq!(out.h1.size(), [64, 2]);
/// assert_eq!(out.chosen.len(), 64);
/// // Analysis rows from the same table: always-euler, always-rk4, always-dopri5, oracle.
/// let rows = table.analysis_rows(sel.costs())?;
/// assert_eq!(rows[2].accuracy, 1.0);
/// assert!(rows[3].mean_nfe <= rows[2].mean_nfe);
/// # Ok::<(), ode_dise::DiseError>(())
/// ```
pub struct IntegratorSelector {
    candidates: Vec<Candidate>,
    costs: CostConfig,
    net: Box<dyn CostNet>,
    span: (f64, f64),
    /// How adaptive candidates' NFE is counted, in the labels and at
    /// inference.
    pub accounting: NfeAccounting,
}

impl std::fmt::Debug for IntegratorSelector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IntegratorSelector")
            .field("candidates", &self.names())
            .field("costs", &self.costs)
            .field("net", &self.net.architecture())
            .field("span", &self.span)
            .field("accounting", &self.accounting)
            .finish()
    }
}

impl IntegratorSelector {
    /// A selector between `candidates` over the block interval `span`,
    /// labels from `costs`, cost network `net` (one output per candidate).
    pub fn new(
        candidates: Vec<Candidate>,
        costs: CostConfig,
        net: Box<dyn CostNet>,
        span: (f64, f64),
    ) -> Result<Self, DiseError> {
        check_candidates(&candidates)?;
        let costs = CostConfig::new(costs.alpha, costs.penalty, costs.beta)?;
        if net.outputs() != candidates.len() as i64 {
            return Err(DiseError::InvalidSelector(format!(
                "the cost network predicts {} costs for {} candidates",
                net.outputs(),
                candidates.len()
            )));
        }
        if !(span.0.is_finite() && span.1.is_finite() && span.0 != span.1) {
            return Err(DiseError::InvalidSelector(format!("interval [{}, {}]", span.0, span.1)));
        }
        Ok(IntegratorSelector { candidates, costs, net, span, accounting: NfeAccounting::default() })
    }

    /// The paper's candidates for `block`: Euler and RK4 with one step over
    /// its interval, dopri5 at its tolerance.
    pub fn for_block(block: &OdeBlock, costs: CostConfig, net: Box<dyn CostNet>) -> Result<Self, DiseError> {
        let candidates = Candidate::paper_defaults(1, block.opts.tol.clone())?;
        Self::new(candidates, costs, net, (block.t0, block.t1))
    }

    pub fn candidates(&self) -> &[Candidate] {
        &self.candidates
    }

    /// The candidates' names, in column order.
    pub fn names(&self) -> Vec<String> {
        self.candidates.iter().map(|c| c.name.clone()).collect()
    }

    pub fn costs(&self) -> &CostConfig {
        &self.costs
    }

    pub fn span(&self) -> (f64, f64) {
        self.span
    }

    pub fn net(&self) -> &dyn CostNet {
        self.net.as_ref()
    }

    pub fn net_mut(&mut self) -> &mut dyn CostNet {
        self.net.as_mut()
    }

    /// Runs every candidate on `h0` (`[B, ...]`, the block's input, no
    /// graph needed) through `f` and asks `judge` how each output did: one
    /// batch of the table the labels and the analysis rows come from.
    pub fn evaluate<F: Rhs<Tensor>, J: Judge + ?Sized>(
        &self,
        f: &F,
        h0: &Tensor,
        judge: &J,
    ) -> Result<CandidateTable, DiseError> {
        self.check_batch(h0)?;
        let b = h0.size()[0] as usize;
        let mut nfe = vec![Vec::with_capacity(self.candidates.len()); b];
        let mut outcomes = vec![Vec::with_capacity(self.candidates.len()); b];
        for c in &self.candidates {
            let (h1, n) = solve_candidate(c, f, h0, self.span, self.accounting)?;
            let verdicts = tch::no_grad(|| judge.judge(&h1))?;
            if verdicts.len() != b {
                return Err(DiseError::BadBatch {
                    expected: format!("{b} verdicts for candidate {}", c.name),
                    got: verdicts.len().to_string(),
                });
            }
            for s in 0..b {
                nfe[s].push(n[s]);
                outcomes[s].push(verdicts[s]);
            }
        }
        Ok(CandidateTable { names: self.names(), nfe, outcomes })
    }

    /// Checks that `h0` is a non-empty batch `[B, ...]` the cost network
    /// takes (before anything indexes its first dimension).
    pub(crate) fn check_batch(&self, h0: &Tensor) -> Result<(), DiseError> {
        if h0.dim() < 1 || h0.size()[0] == 0 {
            return Err(DiseError::BadBatch {
                expected: "a non-empty batch [B, ...]".into(),
                got: format!("{:?}", h0.size()),
            });
        }
        self.net.check(h0)
    }

    /// v's predicted costs `[B, K]` for `h0`, without a graph, dropout off.
    pub fn predict_costs(&self, h0: &Tensor) -> Result<Tensor, DiseError> {
        self.check_batch(h0)?;
        let device = self.net.var_store().device();
        Ok(tch::no_grad(|| self.net.costs(&h0.to_device(device).to_kind(Kind::Float), false)))
    }

    /// Each sample's candidate: the lowest predicted cost.
    pub fn choose(&self, h0: &Tensor) -> Result<Vec<usize>, DiseError> {
        let best = self.predict_costs(h0)?.argmin(1, false);
        let v = Vec::<i64>::try_from(&best)?;
        Ok(v.into_iter().map(|k| k as usize).collect())
    }
}
