//! Regularizers by name, for command lines and experiment tables.

use std::fmt;
use std::str::FromStr;

use crate::error::DiseError;
use crate::{BatchReduction, ErrorSum, JacobianFrobenius, Kinetic, Regularizers, L1, L2};

/// One regularizer (or none) chosen by name: `none`, `error-sum`,
/// `kinetic`, `jacobian`, `l1`, `l2`.
///
/// ```
/// use ode_dise::RegularizerChoice;
/// let c: RegularizerChoice = "error-sum".parse().unwrap();
/// assert_eq!(c.mnist_lambda(), 0.005);
/// assert_eq!(c.build(0.005)?.names(), ["error_sum"]);
/// assert!("nope".parse::<RegularizerChoice>().is_err());
/// # Ok::<(), ode_dise::DiseError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RegularizerChoice {
    None,
    ErrorSum,
    Kinetic,
    Jacobian,
    L1,
    L2,
}

impl RegularizerChoice {
    pub const ALL: [RegularizerChoice; 6] = [
        RegularizerChoice::None,
        RegularizerChoice::Kinetic,
        RegularizerChoice::Jacobian,
        RegularizerChoice::L1,
        RegularizerChoice::L2,
        RegularizerChoice::ErrorSum,
    ];

    /// The DISE paper's coefficient for its MNIST ODE-Net (section 4.1:
    /// kinetic 0.01, L1 1e-4, L2 1e-4, error 0.005). The paper has no
    /// Jacobian row; RNODE pairs it with kinetic at the same weight.
    pub fn mnist_lambda(self) -> f64 {
        match self {
            RegularizerChoice::None => 0.0,
            RegularizerChoice::ErrorSum => 0.005,
            RegularizerChoice::Kinetic | RegularizerChoice::Jacobian => 0.01,
            RegularizerChoice::L1 | RegularizerChoice::L2 => 1e-4,
        }
    }

    /// The regularizer with coefficient `lambda` (an empty set for `None`).
    pub fn build(self, lambda: f64) -> Result<Regularizers, DiseError> {
        let set = Regularizers::new();
        Ok(match self {
            RegularizerChoice::None => set,
            // Summed over the batch, as the paper's Eq. 2 writes R_err: the
            // paper's lambda 0.005 was chosen for that scale.
            RegularizerChoice::ErrorSum => set.with(ErrorSum::new(lambda)?.reduction(BatchReduction::Sum)),
            RegularizerChoice::Kinetic => set.with(Kinetic::new(lambda)?),
            RegularizerChoice::Jacobian => set.with(JacobianFrobenius::new(lambda)?),
            RegularizerChoice::L1 => set.with(L1::new(lambda)?),
            RegularizerChoice::L2 => set.with(L2::new(lambda)?),
        })
    }
}

impl fmt::Display for RegularizerChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RegularizerChoice::None => "none",
            RegularizerChoice::ErrorSum => "error-sum",
            RegularizerChoice::Kinetic => "kinetic",
            RegularizerChoice::Jacobian => "jacobian",
            RegularizerChoice::L1 => "l1",
            RegularizerChoice::L2 => "l2",
        })
    }
}

/// The error is the message (a plain `String`, so that command-line parsers
/// can show it).
impl FromStr for RegularizerChoice {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        RegularizerChoice::ALL.into_iter().find(|c| c.to_string() == s).ok_or_else(|| {
            let names: Vec<String> = RegularizerChoice::ALL.iter().map(ToString::to_string).collect();
            format!("unknown regularizer `{s}`; known: {}", names.join(", "))
        })
    }
}
