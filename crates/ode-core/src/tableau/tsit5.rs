//! Tsitouras 5(4), the default method of OrdinaryDiffEq.jl and diffrax.
//!
//! Ch. Tsitouras, "Runge-Kutta pairs of order 5(4) satisfying only the first
//! column simplifying assumption", Comput. Math. Appl. 62 (2011) 770-775.
//!
//! Most coefficients are irrational: they are the published ~85-digit values
//! rounded to the nearest `f64` (shortest round-trip literal). Rational ones
//! are written as exact decimals or quotients.

use super::{ButcherTableau, DenseOutput, ErrorEstimator};

/// Tsitouras 5(4): 7 stages, FSAL, local extrapolation (propagates the
/// 5th-order solution), 4th-order embedded solution and a free 4th-order
/// interpolant.
pub static TSIT5: ButcherTableau = ButcherTableau {
    name: "tsit5",
    c: &[0.0, 0.161, 0.327, 0.9, 0.9800255409045097, 1.0, 1.0],
    a: &[
        &[],
        &[0.161],
        &[-0.008480655492356989, 0.335480655492357],
        &[2.8971530571054935, -6.359448489975075, 4.3622954328695815],
        &[5.325864828439257, -11.748883564062828, 7.4955393428898365, -0.09249506636175525],
        &[5.86145544294642, -12.92096931784711, 8.159367898576159, -0.071584973281401, -0.028269050394068383],
        // FSAL: the last stage is evaluated at y1, so this row is `b`.
        &[
            0.09646076681806523,
            0.01,
            0.4798896504144996,
            1.379008574103742,
            -3.290069515436081,
            2.324710524099774,
        ],
    ],
    b: &[
        0.09646076681806523,
        0.01,
        0.4798896504144996,
        1.379008574103742,
        -3.290069515436081,
        2.324710524099774,
        0.0,
    ],
    // e = b - b_hat, with the paper's 4th-order weights
    // b_hat = [0.0946807557658394..., 0.00918356554034325..., 0.487770528424761...,
    //          1.23429756693047898..., -2.70771234998352545..., 1.86662841817058703..., 1/66],
    // subtracted in high precision before rounding. (OrdinaryDiffEq.jl's
    // `btilde` is the negative of this.)
    error: ErrorEstimator::Embedded(&[
        0.0017800110522257714,
        0.0008164344596567469,
        -0.007880878010261995,
        0.1447110071732629,
        -0.5823571654525552,
        0.45808210592918697,
        -1.0 / 66.0,
    ]),
    order: 5,
    error_order: 4,
    fsal: true,
    // w_i(theta) = sum_m coeffs[i][m] theta^(m+1): Tsitouras' interpolant in
    // expanded form. The family of quartic interpolants satisfying the
    // order-4 conditions with w(1) = b has three free parameters; the paper
    // fixes them by w_i = O(theta^2) for i >= 2 and
    // w_7 = 2.5 theta^2 (theta - 1)(theta - 0.6). The values below are that
    // member solved in 60-digit arithmetic; they agree with the paper's
    // factored polynomials (as expanded in OrdinaryDiffEq.jl's `Tsit5Interp`)
    // to < 1e-16, and the f64 literals coincide except for w_2's theta^2
    // coefficient, which is exactly 0.1317 (0.01 + 0.2234 - 0.1017).
    dense: DenseOutput::StagePolynomial {
        coeffs: &[
            &[1.0, -2.763706197274826, 2.9132554618219126, -1.0530884977290216],
            &[0.0, 0.1317, -0.2234, 0.1017],
            &[0.0, 3.9302962368947516, -5.941033872131505, 2.490627285651253],
            &[0.0, -12.411077166933676, 30.33818863028232, -16.548102889244902],
            &[0.0, 37.50931341651104, -88.1789048947664, 47.37952196281928],
            &[0.0, -27.896526289197286, 65.09189467479366, -34.87065786149661],
            &[0.0, 1.5, -4.0, 2.5],
        ],
    },
};
