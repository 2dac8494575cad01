//! The unnormalized 2-D target densities of the density-matching task.
//!
//! The neural ODE paper (Figure 4) fits CNFs and planar flows to three
//! targets by minimizing KL(q || p) but does not print their formulas. We
//! use these definitions (log of the unnormalized density, `z = (z1, z2)`,
//! `r = |z|`):
//!
//! - `ring` (the paper's "Target"): `-((r - 2) / 0.4)^2 / 2`, a ring of
//!   radius 2.
//! - `two-circles`: `log(exp(-((r - 1) / 0.2)^2 / 2) + exp(-((r - 2.5) / 0.2)^2 / 2))`,
//!   two concentric rings.
//! - `two-moons`: Rezende & Mohamed's first potential,
//!   `-((r - 2) / 0.4)^2 / 2 + log(exp(-((z1 - 2) / 0.6)^2 / 2) + exp(-((z1 + 2) / 0.6)^2 / 2))`,
//!   a ring cut into two crescents.

use std::str::FromStr;

use tch::{Kind, Tensor};

use super::CnfError;

/// A density-matching target.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    Ring,
    TwoCircles,
    TwoMoons,
}

impl Target {
    pub const ALL: [Target; 3] = [Target::Ring, Target::TwoCircles, Target::TwoMoons];

    pub fn name(self) -> &'static str {
        match self {
            Target::Ring => "ring",
            Target::TwoCircles => "two-circles",
            Target::TwoMoons => "two-moons",
        }
    }

    /// log of the unnormalized density at the rows of `z` (`[B, 2]`), `[B]`.
    pub fn log_density(self, z: &Tensor) -> Result<Tensor, CnfError> {
        super::check_batch(z, 2)?;
        let r = z.square().sum_dim_intlist(&[1i64][..], false, Kind::Float).sqrt();
        let bump = |x: Tensor, s: f64| -(x / s).square() * 0.5;
        Ok(match self {
            Target::Ring => bump(&r - 2.0, 0.4),
            Target::TwoCircles => {
                Tensor::stack(&[bump(&r - 1.0, 0.2), bump(&r - 2.5, 0.2)], 0).logsumexp([0i64], false)
            }
            Target::TwoMoons => {
                let z1 = z.select(1, 0);
                let lobes =
                    Tensor::stack(&[bump(&z1 - 2.0, 0.6), bump(&z1 + 2.0, 0.6)], 0).logsumexp([0i64], false);
                bump(&r - 2.0, 0.4) + lobes
            }
        })
    }
}

impl FromStr for Target {
    type Err = CnfError;
    fn from_str(s: &str) -> Result<Self, CnfError> {
        Target::ALL.into_iter().find(|t| t.name() == s).ok_or_else(|| {
            CnfError::Arg(format!(
                "unknown target `{s}`; known: {}",
                Target::ALL.map(Target::name).join(", ")
            ))
        })
    }
}
