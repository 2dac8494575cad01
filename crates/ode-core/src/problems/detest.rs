//! The non-stiff DETEST problems (Hull, Enright, Fellen and Sedgwick,
//! "Comparing numerical methods for ordinary differential equations", SIAM
//! J. Numer. Anal. 9(4), 1972), classes A-E, all on `t` in `[0, 20]`.
//!
//! Exact solutions are attached where they exist in closed form or can be
//! computed to round-off: A1-A5 (A5 through its logarithmic-spiral
//! solution), B2 and C1-C4 (matrix exponentials), B4, B5 (Jacobi elliptic
//! functions with `m = 0.51`), D1-D5 (Kepler's equation), E1 (Bessel
//! `J_1/2`), E4, E5. B1, B3, C5, E2 and E3 have none (B1, B3 and D carry
//! invariants).
//!
//! Two published ports differ from the paper and are *not* followed here:
//! torchdiffeq's E4 uses `0.32` for `0.032`, and its C5 drops the factor
//! `k2` and flips the sign of the indirect term.

use super::*;

/// The 25 names, in order.
pub const NAMES: [&str; 25] = [
    "A1", "A2", "A3", "A4", "A5", "B1", "B2", "B3", "B4", "B5", "C1", "C2", "C3", "C4", "C5", "D1", "D2",
    "D3", "D4", "D5", "E1", "E2", "E3", "E4", "E5",
];

const T1: f64 = 20.0;

fn scalar(
    name: &str,
    y0: f64,
    f: impl Fn(f64, f64) -> f64 + Send + Sync + 'static,
    exact: impl Fn(f64) -> f64 + Send + Sync + 'static,
) -> Problem {
    Problem::new(name, 0.0, T1, array![y0], move |t, y: &Array1<f64>| y.mapv(|yi| f(t, yi)))
        .with_exact(move |t| array![exact(t)])
}

/// A1: `y' = -y`, `y(0) = 1`; exact `e^-t`.
pub fn a1() -> Problem {
    scalar("A1", 1.0, |_t, y| -y, |t| (-t).exp())
}

/// A2: `y' = -y^3 / 2`, `y(0) = 1`; exact `1 / sqrt(t + 1)`.
pub fn a2() -> Problem {
    scalar("A2", 1.0, |_t, y| -0.5 * y * y * y, |t| 1.0 / (t + 1.0).sqrt())
}

/// A3: `y' = y cos t`, `y(0) = 1`; exact `exp(sin t)`.
pub fn a3() -> Problem {
    scalar("A3", 1.0, |t, y| y * t.cos(), |t| t.sin().exp())
}

/// A4: `y' = y/4 (1 - y/20)`, `y(0) = 1`; exact `20 / (1 + 19 e^(-t/4))`.
pub fn a4() -> Problem {
    scalar("A4", 1.0, |_t, y| 0.25 * y * (1.0 - y / 20.0), |t| 20.0 / (1.0 + 19.0 * (-t / 4.0).exp()))
}

/// The solution of A5. In polar coordinates `(t, y) = r (cos th, sin th)`
/// the equation becomes `dr/dth = -r`, so the solution through `(0, 4)`
/// is the spiral `r = 4 e^(pi/2 - th)`; for a given t, `th` in
/// `(-pi/4, 3pi/4)` solves `4 e^(pi/2 - th) cos th = t` (decreasing in
/// th there; defined for t in about `[-1.28, 29.8]`).
pub fn a5_exact(t: f64) -> f64 {
    let g = |th: f64| 4.0 * (FRAC_PI_2 - th).exp() * th.cos() - t;
    let (mut lo, mut hi) = (-FRAC_PI_4, 3.0 * FRAC_PI_4);
    if !(g(lo) >= 0.0 && g(hi) <= 0.0) {
        return f64::NAN;
    }
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if mid <= lo || mid >= hi {
            break;
        }
        if g(mid) > 0.0 {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    let th = 0.5 * (lo + hi);
    4.0 * (FRAC_PI_2 - th).exp() * th.sin()
}

/// A5: `y' = (y - t) / (y + t)`, `y(0) = 4`; exact via [`a5_exact`].
pub fn a5() -> Problem {
    scalar("A5", 4.0, |t, y| (y - t) / (y + t), a5_exact)
}

/// B1: `y1' = 2 (y1 - y1 y2)`, `y2' = -(y2 - y1 y2)`, `y(0) = (1, 3)`
/// (Lotka-Volterra). Invariant `y1 - ln y1 + 2 (y2 - ln y2)`.
pub fn b1() -> Problem {
    Problem::new("B1", 0.0, T1, array![1.0, 3.0], |_t, y: &Array1<f64>| {
        array![2.0 * (y[0] - y[0] * y[1]), -(y[1] - y[0] * y[1])]
    })
    .with_invariant(|y| y[0] - y[0].ln() + 2.0 * (y[1] - y[1].ln()))
}

fn linear_problem(name: &str, a: Array2<f64>, y0: Array1<f64>) -> Problem {
    let a_rhs = a.clone();
    let y0_exact = y0.clone();
    Problem::new(name, 0.0, T1, y0, move |_t, y: &Array1<f64>| a_rhs.dot(y))
        .with_exact(move |t| linear_solution(&a, &y0_exact, t))
}

/// B2: `y' = A y` with `A = [[-1, 1, 0], [1, -2, 1], [0, 1, -1]]`,
/// `y(0) = (2, 0, 1)`; exact `exp(A t) y0`. The sum is invariant.
pub fn b2() -> Problem {
    let a = array![[-1.0, 1.0, 0.0], [1.0, -2.0, 1.0], [0.0, 1.0, -1.0]];
    linear_problem("B2", a, array![2.0, 0.0, 1.0]).with_invariant(|y| y.sum())
}

/// B3: `y1' = -y1`, `y2' = y1 - y2^2`, `y3' = y2^2`, `y(0) = (1, 0, 0)`.
/// `y1 = e^-t` and the sum (= 1) are known; no closed form for y2.
pub fn b3() -> Problem {
    Problem::new("B3", 0.0, T1, array![1.0, 0.0, 0.0], |_t, y: &Array1<f64>| {
        array![-y[0], y[0] - y[1] * y[1], y[1] * y[1]]
    })
    .with_invariant(|y| y.sum())
}

/// B4: `y1' = -y2 - y1 y3 / r`, `y2' = y1 - y2 y3 / r`, `y3' = y1 / r`
/// with `r = sqrt(y1^2 + y2^2)`, `y(0) = (3, 0, 0)`. In polar form the
/// angle is t and `r' = -y3`, so the exact solution is
/// `((2 + cos t) cos t, (2 + cos t) sin t, sin t)`.
pub fn b4() -> Problem {
    Problem::new("B4", 0.0, T1, array![3.0, 0.0, 0.0], |_t, y: &Array1<f64>| {
        let r = (y[0] * y[0] + y[1] * y[1]).sqrt();
        array![-y[1] - y[0] * y[2] / r, y[0] - y[1] * y[2] / r, y[0] / r]
    })
    .with_exact(|t| {
        let (s, c) = t.sin_cos();
        array![(2.0 + c) * c, (2.0 + c) * s, s]
    })
}

/// B5 (Euler's equations of a rigid body): `y1' = y2 y3`,
/// `y2' = -y1 y3`, `y3' = -0.51 y1 y2`, `y(0) = (0, 1, 1)`; exact
/// `(sn, cn, dn)(t | m = 0.51)`. Invariants `y1^2 + y2^2` and
/// `0.51 y1^2 + y3^2`.
pub fn b5() -> Problem {
    Problem::new("B5", 0.0, T1, array![0.0, 1.0, 1.0], |_t, y: &Array1<f64>| {
        array![y[1] * y[2], -y[0] * y[2], -0.51 * y[0] * y[1]]
    })
    .with_exact(|t| {
        let (sn, cn, dn) = jacobi_sn_cn_dn(t, 0.51);
        array![sn, cn, dn]
    })
    .with_invariant(|y| y[0] * y[0] + y[1] * y[1])
}

fn unit_first(n: usize) -> Array1<f64> {
    let mut y = Array1::zeros(n);
    y[0] = 1.0;
    y
}

/// C1: `y1' = -y1`, `yi' = y(i-1) - yi` (i = 2..9), `y10' = y9`,
/// `y(0) = e1` (radioactive decay chain); exact `exp(A t) y0`. The sum
/// is invariant.
pub fn c1() -> Problem {
    let mut a = Array2::zeros((10, 10));
    for i in 0..10 {
        if i < 9 {
            a[[i, i]] = -1.0;
        }
        if i > 0 {
            a[[i, i - 1]] = 1.0;
        }
    }
    linear_problem("C1", a, unit_first(10)).with_invariant(|y| y.sum())
}

/// C2: `yi' = (i-1) y(i-1) - i yi` (i = 1..9, `y0 = 0`), `y10' = 9 y9`,
/// `y(0) = e1`; exact `exp(A t) y0`. The sum is invariant.
pub fn c2() -> Problem {
    let mut a = Array2::zeros((10, 10));
    for i in 0..10 {
        if i < 9 {
            a[[i, i]] = -((i + 1) as f64);
        }
        if i > 0 {
            a[[i, i - 1]] = i as f64;
        }
    }
    linear_problem("C2", a, unit_first(10)).with_invariant(|y| y.sum())
}

fn tridiagonal(n: usize) -> Array2<f64> {
    let mut a = Array2::zeros((n, n));
    for i in 0..n {
        a[[i, i]] = -2.0;
        if i > 0 {
            a[[i, i - 1]] = 1.0;
        }
        if i + 1 < n {
            a[[i, i + 1]] = 1.0;
        }
    }
    a
}

/// C3: `y' = A y` with `A` tridiagonal `(1, -2, 1)` of size 10,
/// `y(0) = e1`; exact `exp(A t) y0`.
pub fn c3() -> Problem {
    linear_problem("C3", tridiagonal(10), unit_first(10))
}

/// C4: as C3 with 51 equations.
pub fn c4() -> Problem {
    linear_problem("C4", tridiagonal(51), unit_first(51))
}

/// C5: the five outer planets around the sun (30 equations), heliocentric
/// coordinates, `k2 = 2.95912208286` (time in units of 100 days),
/// `m0 = 1.00000597682` (sun plus inner planets):
/// `y_ij'' = k2 (-(m0 + m_i) y_ij / r_i^3 + sum_{k != i} m_k
/// ((y_kj - y_ij) / d_ik^3 - y_kj / r_k^3))`. State: the 15 positions
/// (body-major: `x, y, z` of Jupiter, Saturn, Uranus, Neptune, Pluto),
/// then the 15 velocities. No closed form.
pub fn c5() -> Problem {
    const K2: f64 = 2.959_122_082_86;
    const M0: f64 = 1.000_005_976_82;
    const M: [f64; 5] = [
        0.000_954_786_104_043,
        0.000_285_583_733_151,
        0.000_043_727_316_454_6,
        0.000_051_775_913_844_9,
        0.000_002_777_777_777_78,
    ];
    #[rustfmt::skip]
    let pos = [
        3.42947415189, 3.35386959711, 1.35494901715,
        6.64145542550, 5.97156957878, 2.18231499728,
        11.2630437207, 14.6952576794, 6.27960525067,
        -30.1552268759, 1.65699966404, 1.43785752721,
        -21.1238353380, 28.4465098142, 15.3882659679,
    ];
    #[rustfmt::skip]
    let vel = [
        -0.557160570446, 0.505696783289, 0.230578543901,
        -0.415570776342, 0.365682722812, 0.169143213293,
        -0.325325669158, 0.189706021964, 0.0877265322780,
        -0.0240476254170, -0.287659532608, -0.117219543175,
        -0.176860753121, -0.216393453025, -0.0148647893090,
    ];
    let y0: Array1<f64> = pos.iter().chain(vel.iter()).copied().collect();
    Problem::new("C5", 0.0, T1, y0, |_t, y: &Array1<f64>| {
        let mut dy = Array1::zeros(30);
        let p = |i: usize, j: usize| y[3 * i + j];
        let r3: Vec<f64> =
            (0..5).map(|i| (p(i, 0).powi(2) + p(i, 1).powi(2) + p(i, 2).powi(2)).powf(1.5)).collect();
        for i in 0..5 {
            for j in 0..3 {
                dy[3 * i + j] = y[15 + 3 * i + j];
            }
            let mut d3 = [0.0; 5];
            for (k, d) in d3.iter_mut().enumerate() {
                if k != i {
                    *d = ((p(i, 0) - p(k, 0)).powi(2)
                        + (p(i, 1) - p(k, 1)).powi(2)
                        + (p(i, 2) - p(k, 2)).powi(2))
                    .powf(1.5);
                }
            }
            for j in 0..3 {
                let mut acc = -(M0 + M[i]) * p(i, j) / r3[i];
                for k in (0..5).filter(|&k| k != i) {
                    acc += M[k] * ((p(k, j) - p(i, j)) / d3[k] - p(k, j) / r3[k]);
                }
                dy[15 + 3 * i + j] = K2 * acc;
            }
        }
        dy
    })
}

/// The exact solution of the Kepler orbit of class D with eccentricity
/// `e`: `(cos u - e, sqrt(1 - e^2) sin u, -sin u / (1 - e cos u),
/// sqrt(1 - e^2) cos u / (1 - e cos u))` with `u - e sin u = t`.
pub fn kepler_orbit(e: f64, t: f64) -> Array1<f64> {
    let u = kepler_eccentric_anomaly(t, e);
    let (s, c) = u.sin_cos();
    let q = (1.0 - e * e).sqrt();
    let den = 1.0 - e * c;
    array![c - e, q * s, -s / den, q * c / den]
}

fn orbit(name: &str, e: f64) -> Problem {
    let y0 = array![1.0 - e, 0.0, 0.0, ((1.0 + e) / (1.0 - e)).sqrt()];
    Problem::new(name, 0.0, T1, y0, |_t, y: &Array1<f64>| {
        let r3 = (y[0] * y[0] + y[1] * y[1]).powf(1.5);
        array![y[2], y[3], -y[0] / r3, -y[1] / r3]
    })
    .with_exact(move |t| kepler_orbit(e, t))
    // Energy (= -1/2 for every eccentricity).
    .with_invariant(|y| 0.5 * (y[2] * y[2] + y[3] * y[3]) - 1.0 / (y[0] * y[0] + y[1] * y[1]).sqrt())
}

/// D1: Kepler orbit `y1'' = -y1 / r^3`, `y2'' = -y2 / r^3`, state
/// `(y1, y2, y1', y2')`, `y(0) = (1 - e, 0, 0, sqrt((1 + e) / (1 - e)))`,
/// eccentricity `e = 0.1`; exact through Kepler's equation.
pub fn d1() -> Problem {
    orbit("D1", 0.1)
}
/// D2: as D1 with `e = 0.3`.
pub fn d2() -> Problem {
    orbit("D2", 0.3)
}
/// D3: as D1 with `e = 0.5`.
pub fn d3() -> Problem {
    orbit("D3", 0.5)
}
/// D4: as D1 with `e = 0.7`.
pub fn d4() -> Problem {
    orbit("D4", 0.7)
}
/// D5: as D1 with `e = 0.9`.
pub fn d5() -> Problem {
    orbit("D5", 0.9)
}

/// E1: `y'' + y' / (t + 1) + (1 - 0.25 / (t + 1)^2) y = 0` (Bessel's
/// equation of order 1/2 in `x = t + 1`), `y(0) = 0.6713967071418030`,
/// `y'(0) = 0.09540051444747446`; exact `J_1/2(x) = sqrt(2 / (pi x)) sin x`.
pub fn e1() -> Problem {
    Problem::new(
        "E1",
        0.0,
        T1,
        array![0.671_396_707_141_803, 0.095_400_514_447_474_46],
        |t, y: &Array1<f64>| {
            let x = t + 1.0;
            array![y[1], -(y[1] / x + (1.0 - 0.25 / (x * x)) * y[0])]
        },
    )
    .with_exact(|t| {
        let x = t + 1.0;
        let k = (2.0 / PI).sqrt();
        let (s, c) = x.sin_cos();
        array![k * s / x.sqrt(), k * (c / x.sqrt() - 0.5 * s / (x * x.sqrt()))]
    })
}

/// E2 (Van der Pol, `mu = 1`): `y'' = (1 - y^2) y' - y`, `y(0) = 2`,
/// `y'(0) = 0`. No closed form.
pub fn e2() -> Problem {
    Problem::new("E2", 0.0, T1, array![2.0, 0.0], |_t, y: &Array1<f64>| {
        array![y[1], (1.0 - y[0] * y[0]) * y[1] - y[0]]
    })
}

/// E3 (forced Duffing): `y'' = y^3 / 6 - y + 2 sin(2.78535 t)`,
/// `y(0) = y'(0) = 0`. No closed form.
pub fn e3() -> Problem {
    Problem::new("E3", 0.0, T1, array![0.0, 0.0], |t, y: &Array1<f64>| {
        array![y[1], y[0].powi(3) / 6.0 - y[0] + 2.0 * (2.78535 * t).sin()]
    })
}

/// E4: `y'' = 0.032 - 0.4 (y')^2`, `y(0) = 30`, `y'(0) = 0`; exact
/// `y = 30 + 2.5 ln cosh(sqrt(0.0128) t)`, `y' = sqrt(0.08) tanh(sqrt(0.0128) t)`.
pub fn e4() -> Problem {
    Problem::new("E4", 0.0, T1, array![30.0, 0.0], |_t, y: &Array1<f64>| {
        array![y[1], 0.032 - 0.4 * y[1] * y[1]]
    })
    .with_exact(|t| {
        let w = 0.0128f64.sqrt() * t;
        array![30.0 + 2.5 * w.cosh().ln(), 0.08f64.sqrt() * w.tanh()]
    })
}

/// E5: `y'' = sqrt(1 + (y')^2) / (25 - t)`, `y(0) = y'(0) = 0`; exact
/// `y' = (q - 1/q) / 2` with `q = 25 / (25 - t)`, `y = 12.5 ln q +
/// ((25 - t)^2 - 625) / 100`.
pub fn e5() -> Problem {
    Problem::new("E5", 0.0, T1, array![0.0, 0.0], |t, y: &Array1<f64>| {
        array![y[1], (1.0 + y[1] * y[1]).sqrt() / (25.0 - t)]
    })
    .with_exact(|t| {
        let q = 25.0 / (25.0 - t);
        array![12.5 * q.ln() + ((25.0 - t).powi(2) - 625.0) / 100.0, 0.5 * (q - 1.0 / q)]
    })
}

/// The problem named `name` (`"A1"` ... `"E5"`, case-insensitive).
pub fn by_name(name: &str) -> Option<Problem> {
    let p = match name.to_ascii_uppercase().as_str() {
        "A1" => a1(),
        "A2" => a2(),
        "A3" => a3(),
        "A4" => a4(),
        "A5" => a5(),
        "B1" => b1(),
        "B2" => b2(),
        "B3" => b3(),
        "B4" => b4(),
        "B5" => b5(),
        "C1" => c1(),
        "C2" => c2(),
        "C3" => c3(),
        "C4" => c4(),
        "C5" => c5(),
        "D1" => d1(),
        "D2" => d2(),
        "D3" => d3(),
        "D4" => d4(),
        "D5" => d5(),
        "E1" => e1(),
        "E2" => e2(),
        "E3" => e3(),
        "E4" => e4(),
        "E5" => e5(),
        _ => return None,
    };
    Some(p)
}

/// All 25 problems, in the order of [`NAMES`].
pub fn all() -> Vec<Problem> {
    NAMES.iter().filter_map(|n| by_name(n)).collect()
}

/// The problems of one class (`'A'` ... `'E'`).
pub fn class(c: char) -> Vec<Problem> {
    let c = c.to_ascii_uppercase();
    NAMES.iter().filter(|n| n.starts_with(c)).filter_map(|n| by_name(n)).collect()
}
