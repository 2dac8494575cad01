//! The low-order methods and Dormand-Prince 5(4).

use super::{ButcherTableau, DenseOutput, ErrorEstimator};

pub static EULER: ButcherTableau = ButcherTableau {
    name: "euler",
    c: &[0.0],
    a: &[&[]],
    b: &[1.0],
    error: ErrorEstimator::None,
    order: 1,
    error_order: 0,
    fsal: false,
    dense: DenseOutput::Hermite,
};

pub static MIDPOINT: ButcherTableau = ButcherTableau {
    name: "midpoint",
    c: &[0.0, 0.5],
    a: &[&[], &[0.5]],
    b: &[0.0, 1.0],
    error: ErrorEstimator::None,
    order: 2,
    error_order: 0,
    fsal: false,
    dense: DenseOutput::Hermite,
};

pub static HEUN2: ButcherTableau = ButcherTableau {
    name: "heun2",
    c: &[0.0, 1.0],
    a: &[&[], &[1.0]],
    b: &[0.5, 0.5],
    error: ErrorEstimator::None,
    order: 2,
    error_order: 0,
    fsal: false,
    dense: DenseOutput::Hermite,
};

pub static HEUN3: ButcherTableau = ButcherTableau {
    name: "heun3",
    c: &[0.0, 1.0 / 3.0, 2.0 / 3.0],
    a: &[&[], &[1.0 / 3.0], &[0.0, 2.0 / 3.0]],
    b: &[0.25, 0.0, 0.75],
    error: ErrorEstimator::None,
    order: 3,
    error_order: 0,
    fsal: false,
    dense: DenseOutput::Hermite,
};

/// The classic fourth-order Runge-Kutta method.
pub static RK4: ButcherTableau = ButcherTableau {
    name: "rk4",
    c: &[0.0, 0.5, 0.5, 1.0],
    a: &[&[], &[0.5], &[0.0, 0.5], &[0.0, 0.0, 1.0]],
    b: &[1.0 / 6.0, 1.0 / 3.0, 1.0 / 3.0, 1.0 / 6.0],
    error: ErrorEstimator::None,
    order: 4,
    error_order: 0,
    fsal: false,
    dense: DenseOutput::Hermite,
};

/// Kutta's 3/8 rule (what torchdiffeq calls `rk4`).
pub static RK4_38: ButcherTableau = ButcherTableau {
    name: "rk4_38",
    c: &[0.0, 1.0 / 3.0, 2.0 / 3.0, 1.0],
    a: &[&[], &[1.0 / 3.0], &[-1.0 / 3.0, 1.0], &[1.0, -1.0, 1.0]],
    b: &[0.125, 0.375, 0.375, 0.125],
    error: ErrorEstimator::None,
    order: 4,
    error_order: 0,
    fsal: false,
    dense: DenseOutput::Hermite,
};

/// Heun's method with an embedded Euler step: 2(1).
pub static ADAPTIVE_HEUN: ButcherTableau = ButcherTableau {
    name: "adaptive_heun",
    c: &[0.0, 1.0],
    a: &[&[], &[1.0]],
    b: &[0.5, 0.5],
    error: ErrorEstimator::Embedded(&[-0.5, 0.5]),
    order: 2,
    error_order: 1,
    fsal: false,
    dense: DenseOutput::Hermite,
};

/// Fehlberg's RKF1(2), propagating the second-order solution.
pub static FEHLBERG2: ButcherTableau = ButcherTableau {
    name: "fehlberg2",
    c: &[0.0, 0.5, 1.0],
    a: &[&[], &[0.5], &[1.0 / 256.0, 255.0 / 256.0]],
    b: &[1.0 / 512.0, 255.0 / 256.0, 1.0 / 512.0],
    error: ErrorEstimator::Embedded(&[-1.0 / 512.0, 0.0, 1.0 / 512.0]),
    order: 2,
    error_order: 1,
    fsal: false,
    dense: DenseOutput::Hermite,
};

/// Bogacki-Shampine 3(2), FSAL.
pub static BOSH3: ButcherTableau = ButcherTableau {
    name: "bosh3",
    c: &[0.0, 0.5, 0.75, 1.0],
    a: &[&[], &[0.5], &[0.0, 0.75], &[2.0 / 9.0, 1.0 / 3.0, 4.0 / 9.0]],
    b: &[2.0 / 9.0, 1.0 / 3.0, 4.0 / 9.0, 0.0],
    error: ErrorEstimator::Embedded(&[-5.0 / 72.0, 1.0 / 12.0, 1.0 / 9.0, -1.0 / 8.0]),
    order: 3,
    error_order: 2,
    fsal: true,
    dense: DenseOutput::Hermite,
};

/// Dormand-Prince 5(4) with Hairer's embedded weights, FSAL, and the quartic
/// dense output through the 5th-order midpoint.
pub static DOPRI5: ButcherTableau = ButcherTableau {
    name: "dopri5",
    c: &[0.0, 0.2, 0.3, 0.8, 8.0 / 9.0, 1.0, 1.0],
    a: &[
        &[],
        &[0.2],
        &[3.0 / 40.0, 9.0 / 40.0],
        &[44.0 / 45.0, -56.0 / 15.0, 32.0 / 9.0],
        &[19372.0 / 6561.0, -25360.0 / 2187.0, 64448.0 / 6561.0, -212.0 / 729.0],
        &[9017.0 / 3168.0, -355.0 / 33.0, 46732.0 / 5247.0, 49.0 / 176.0, -5103.0 / 18656.0],
        &[35.0 / 384.0, 0.0, 500.0 / 1113.0, 125.0 / 192.0, -2187.0 / 6784.0, 11.0 / 84.0],
    ],
    b: &[35.0 / 384.0, 0.0, 500.0 / 1113.0, 125.0 / 192.0, -2187.0 / 6784.0, 11.0 / 84.0, 0.0],
    error: ErrorEstimator::Embedded(&[
        71.0 / 57600.0,
        0.0,
        -71.0 / 16695.0,
        71.0 / 1920.0,
        -17253.0 / 339200.0,
        22.0 / 525.0,
        -1.0 / 40.0,
    ]),
    order: 5,
    error_order: 4,
    fsal: true,
    dense: DenseOutput::QuarticMidpoint {
        c_mid: &[
            6025192743.0 / 30085553152.0 / 2.0,
            0.0,
            51252292925.0 / 65400821598.0 / 2.0,
            -2691868925.0 / 45128329728.0 / 2.0,
            187940372067.0 / 1594534317056.0 / 2.0,
            -1776094331.0 / 19743644256.0 / 2.0,
            11237099.0 / 235043384.0 / 2.0,
        ],
    },
};
