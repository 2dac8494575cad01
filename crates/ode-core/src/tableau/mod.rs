//! Butcher tableaus as static data.
//!
//! A new explicit method is a new [`ButcherTableau`] value, never a new
//! solver: the step ([`crate::rk`]), the controllers and the dense output
//! read everything they need from here.

mod classic;
mod dop853;
mod tsit5;

pub use classic::*;
pub use dop853::DOPRI8;
pub use tsit5::TSIT5;

/// How a method estimates its local error.
#[derive(Debug, Clone, Copy)]
pub enum ErrorEstimator {
    /// No embedded method: fixed steps only.
    None,
    /// `err = h * sum_i e_i k_i` with `e = b - b_hat`.
    Embedded(&'static [f64]),
    /// DOP853's combination of a 5th- and a 3rd-order estimate (Hairer):
    /// `ratio = E5^2 / sqrt(n * (E5^2 + 0.01 E3^2))` with `E` the weighted
    /// square sums of `h * sum_i e_i k_i`.
    Dop853 { e5: &'static [f64], e3: &'static [f64] },
}

/// A stage evaluated only when dense output is needed inside a step
/// (DOP853's three extra stages). Its state is
/// `y0 + h * sum_j a_j K_j` over the extended stage list
/// `[k_1 .. k_s, f(t1, y1), earlier extra stages]`.
#[derive(Debug, Clone, Copy)]
pub struct ExtraStage {
    pub c: f64,
    pub a: &'static [f64],
}

/// The continuous extension of a method: `y(t0 + theta h) = y0 + h *
/// sum_j w_j(theta) K_j` over the extended stage list
/// `[k_1 .. k_s, f(t1, y1), extra stages]`.
#[derive(Debug, Clone, Copy)]
pub enum DenseOutput {
    /// Cubic Hermite through y0, y1, f(t0, y0), f(t1, y1): third order.
    Hermite,
    /// Quartic through y0, y1, f0, f1 and the 5th-order midpoint
    /// `y0 + h sum_i c_mid_i k_i` (Dormand-Prince / Shampine).
    QuarticMidpoint { c_mid: &'static [f64] },
    /// `w_i(theta) = sum_m coeffs[i][m] theta^(m+1)` for the s stages
    /// (Tsitouras' interpolant; f1 is not used).
    StagePolynomial { coeffs: &'static [&'static [f64]] },
    /// DOP853's 7th-order interpolant from the stages, f1 and three extra
    /// stages; `d` holds the 4 rows of stage weights of the correction terms.
    Dop853 { extra: &'static [ExtraStage], d: &'static [&'static [f64]] },
}

static ALL: &[&ButcherTableau] = &[
    &EULER,
    &MIDPOINT,
    &HEUN2,
    &HEUN3,
    &RK4,
    &RK4_38,
    &ADAPTIVE_HEUN,
    &FEHLBERG2,
    &BOSH3,
    &DOPRI5,
    &TSIT5,
    &DOPRI8,
];

/// An explicit Runge-Kutta method.
#[derive(Debug)]
pub struct ButcherTableau {
    /// Short name, as used on command lines (`dopri5`, `tsit5`, ...).
    pub name: &'static str,
    /// Nodes; `c[0]` must be 0.
    pub c: &'static [f64],
    /// Strictly lower-triangular coefficients: row `i` has `i` entries.
    pub a: &'static [&'static [f64]],
    /// Weights of the propagated solution.
    pub b: &'static [f64],
    /// Local error estimator.
    pub error: ErrorEstimator,
    /// Order of the propagated solution.
    pub order: u32,
    /// Order of the error estimator's lower-order solution; the controller
    /// exponent is `1 / (error_order + 1)`.
    pub error_order: u32,
    /// First Same As Last: the last stage is `f(t1, y1)`.
    pub fsal: bool,
    pub dense: DenseOutput,
}

impl ButcherTableau {
    /// Number of stages evaluated per step (including an FSAL stage).
    pub fn stages(&self) -> usize {
        self.c.len()
    }

    /// Whether the method can run with adaptive step-size control.
    pub fn is_adaptive(&self) -> bool {
        !matches!(self.error, ErrorEstimator::None)
    }

    /// Every method this crate ships, in order of increasing cost.
    pub fn all() -> &'static [&'static ButcherTableau] {
        ALL
    }

    /// Looks a method up by its name (`"dopri5"`, `"rk4"`, ...).
    pub fn by_name(name: &str) -> Option<&'static ButcherTableau> {
        Self::all().iter().copied().find(|t| t.name.eq_ignore_ascii_case(name))
    }
}
