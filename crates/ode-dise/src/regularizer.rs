//! The [`Regularizer`] trait, what a regularizer reads from a solve
//! ([`SolveTerms`]), and sets of regularizers ([`Regularizers`]).

use ode_models::block::ErrorWeighting;
use tch::{Kind, Tensor};

use crate::error::DiseError;
use crate::jacobian::Noise;

/// What a regularizer asks the solve to compute besides `y(t1)`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Needs {
    /// Each sample's sum of step error estimates, weighted so
    /// ([`ode_models::OdeBlock::step_errors`]).
    pub step_errors: Option<ErrorWeighting>,
    /// Each sample's `int |f|^2 dt` (an extra state channel).
    pub kinetic: bool,
    /// Each sample's `int |eps^T df/dy|^2 dt` with noise of this kind (an
    /// extra state channel).
    pub jacobian: Option<Noise>,
}

impl Needs {
    /// What two regularizers need together; an error when they ask for the
    /// same quantity in two ways.
    pub fn merge(self, other: Needs) -> Result<Needs, DiseError> {
        fn one<T: PartialEq + std::fmt::Debug>(
            a: Option<T>,
            b: Option<T>,
            what: &str,
        ) -> Result<Option<T>, DiseError> {
            match (a, b) {
                (Some(x), Some(y)) if x != y => Err(DiseError::Conflict(format!("{what}: {x:?} and {y:?}"))),
                (x, y) => Ok(x.or(y)),
            }
        }
        Ok(Needs {
            step_errors: one(self.step_errors, other.step_errors, "two step error weightings")?,
            kinetic: self.kinetic || other.kinetic,
            jacobian: one(self.jacobian, other.jacobian, "two Hutchinson noise kinds")?,
        })
    }

    /// Whether the state must carry integral channels.
    pub fn augments_state(&self) -> bool {
        self.kinetic || self.jacobian.is_some()
    }
}

/// The quantities of one solve that regularizers read. Per-sample tensors
/// are `[B]` and carry the graph (or, for modes other than `Direct`, are
/// leaves whose gradients the block's backward reads).
pub struct SolveTerms<'a> {
    /// `R_s = sum_n w_n r_{s,n}` ([`ode_models::block::ErrorWeighting`]).
    pub error_sums: Option<&'a Tensor>,
    /// `int_{t0}^{t1} |f(t, y_s)|^2 dt` per sample.
    pub kinetic: Option<&'a Tensor>,
    /// `int_{t0}^{t1} |eps_s^T df/dy(t, y_s)|^2 dt` per sample.
    pub jacobian: Option<&'a Tensor>,
    /// The dynamics' parameters.
    pub params: &'a [Tensor],
}

/// How a per-sample quantity becomes one number for the batch.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum BatchReduction {
    /// The batch mean: an unbiased estimate of the training-set mean, so
    /// that lambda does not depend on the batch size (RNODE's choice).
    #[default]
    Mean,
    /// The batch sum, as the DISE paper's Eq. 2 writes `R_err` (a sum over
    /// the training set).
    Sum,
}

impl BatchReduction {
    pub(crate) fn reduce(self, per_sample: &Tensor) -> Tensor {
        match self {
            BatchReduction::Mean => per_sample.mean(per_sample.kind()),
            BatchReduction::Sum => per_sample.sum(per_sample.kind()),
        }
    }
}

/// A penalty `lambda R` added to a task loss: `R` is a scalar tensor that
/// carries the graph back to the dynamics' parameters (and, for the solve
/// terms, to the block's input).
///
/// A new regularizer is one small file: say what it needs from the solve,
/// and how it turns [`SolveTerms`] into `R`. (A trait rather than an enum
/// for that reason: adding one touches no other file, and a user's own
/// penalty joins a [`Regularizers`] set like the built-in ones.)
///
/// ```
/// use ode_dise::{DiseError, Regularizer, SolveTerms};
/// use tch::{Kind, Tensor};
///
/// /// The largest absolute parameter, as a (toy) regularizer.
/// struct MaxAbs(f64);
/// impl Regularizer for MaxAbs {
///     fn name(&self) -> &str { "max_abs" }
///     fn lambda(&self) -> f64 { self.0 }
///     fn value(&self, terms: &SolveTerms<'_>) -> Result<Tensor, DiseError> {
///         let maxima: Vec<Tensor> = terms.params.iter().map(|p| p.abs().max()).collect();
///         Ok(Tensor::stack(&maxima, 0).max())
///     }
/// }
/// let p = Tensor::from_slice(&[1.0f64, -3.0]);
/// let params = [p];
/// let terms = SolveTerms { error_sums: None, kinetic: None, jacobian: None, params: &params };
/// assert_eq!(MaxAbs(0.1).weighted(&terms)?.double_value(&[]), 0.1 * 3.0);
/// # Ok::<(), DiseError>(())
/// ```
pub trait Regularizer {
    /// A short name for logs and metrics (`error_sum`, `kinetic`, ...).
    fn name(&self) -> &str;

    /// The coefficient `lambda`.
    fn lambda(&self) -> f64;

    /// What the solve must compute for [`Regularizer::value`]. Nothing by
    /// default (a penalty on the parameters alone).
    fn needs(&self) -> Needs {
        Needs::default()
    }

    /// The unweighted `R` as a scalar tensor.
    fn value(&self, terms: &SolveTerms<'_>) -> Result<Tensor, DiseError>;

    /// `lambda R`, the term that joins the task loss.
    fn weighted(&self, terms: &SolveTerms<'_>) -> Result<Tensor, DiseError> {
        Ok(self.value(terms)? * self.lambda())
    }
}

/// A per-sample term of the solve, or the typed error naming who needed it.
pub(crate) fn required<'a>(
    term: Option<&'a Tensor>,
    regularizer: &str,
    what: &'static str,
) -> Result<&'a Tensor, DiseError> {
    term.ok_or_else(|| DiseError::MissingTerm { regularizer: regularizer.to_string(), term: what })
}

/// Checks a coefficient: finite and non-negative.
pub(crate) fn check_lambda(lambda: f64) -> Result<f64, DiseError> {
    if lambda.is_finite() && lambda >= 0.0 {
        Ok(lambda)
    } else {
        Err(DiseError::Invalid(format!("lambda must be finite and >= 0, got {lambda}")))
    }
}

/// One regularizer's share of a loss.
pub struct RegularizerTerm {
    pub name: String,
    pub lambda: f64,
    /// The unweighted `R` (scalar, with the graph).
    pub value: Tensor,
}

/// The regularizers' values for one solve.
pub struct RegularizerValues {
    /// `sum_k lambda_k R_k` (a scalar; zero without regularizers): add it
    /// to the task loss.
    pub total: Tensor,
    pub terms: Vec<RegularizerTerm>,
}

impl RegularizerValues {
    /// `(name, R)` of every term, as host numbers for logging.
    pub fn logged(&self) -> Vec<(String, f64)> {
        self.terms.iter().map(|t| (t.name.clone(), t.value.double_value(&[]))).collect()
    }
}

/// A set of regularizers whose weighted values add up.
///
/// ```
/// use ode_dise::{ErrorSum, Kinetic, Regularizers, L2};
/// let regs = Regularizers::new().with(ErrorSum::new(0.005)?).with(Kinetic::new(0.01)?).with(L2::new(1e-4)?);
/// assert_eq!(regs.names(), ["error_sum", "kinetic", "l2"]);
/// let needs = regs.needs()?;
/// assert!(needs.step_errors.is_some() && needs.kinetic && needs.jacobian.is_none());
/// # Ok::<(), ode_dise::DiseError>(())
/// ```
#[derive(Default)]
pub struct Regularizers {
    items: Vec<Box<dyn Regularizer>>,
}

impl Regularizers {
    /// No regularizer: the task loss alone.
    pub fn new() -> Self {
        Regularizers::default()
    }

    pub fn with(mut self, r: impl Regularizer + 'static) -> Self {
        self.items.push(Box::new(r));
        self
    }

    pub fn push(&mut self, r: Box<dyn Regularizer>) {
        self.items.push(r);
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    pub fn names(&self) -> Vec<&str> {
        self.items.iter().map(|r| r.name()).collect()
    }

    /// What the solve must compute for all of them.
    pub fn needs(&self) -> Result<Needs, DiseError> {
        self.items.iter().try_fold(Needs::default(), |acc, r| acc.merge(r.needs()))
    }

    /// Every regularizer's value and the weighted total. `like` gives the
    /// total's kind and device when the set is empty.
    pub fn evaluate(&self, terms: &SolveTerms<'_>, like: &Tensor) -> Result<RegularizerValues, DiseError> {
        let mut out = Vec::with_capacity(self.items.len());
        for r in &self.items {
            let value = r.value(terms)?;
            out.push(RegularizerTerm { name: r.name().to_string(), lambda: r.lambda(), value });
        }
        // Out of place (tch's `+=` is the in-place `add_`).
        let total = out.iter().fold(Tensor::zeros([], (like.kind(), like.device())), |acc, t| {
            acc + (&t.value * t.lambda).to_kind(like.kind())
        });
        Ok(RegularizerValues { total, terms: out })
    }
}

/// `sum_p sum_i term(p)_i` over the parameters, in the first parameter's
/// kind and device (a zero without parameters).
pub(crate) fn param_sum(params: &[Tensor], term: impl Fn(&Tensor) -> Tensor) -> Tensor {
    let kind = params.first().map_or(Kind::Float, Tensor::kind);
    let device = params.first().map_or(tch::Device::Cpu, Tensor::device);
    params.iter().fold(Tensor::zeros([], (kind, device)), |acc, p| acc + term(p).sum(kind))
}
