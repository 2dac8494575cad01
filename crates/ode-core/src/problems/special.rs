//! Functions the exact solutions are made of: matrix exponentials,
//! Kepler's equation and Jacobi's elliptic functions.

use ndarray::{Array1, Array2};

/// The 1-norm (largest column sum of absolute values) of a matrix.
pub fn norm1(a: &Array2<f64>) -> f64 {
    a.columns().into_iter().map(|c| c.iter().map(|x| x.abs()).sum::<f64>()).fold(0.0, f64::max)
}

/// The matrix exponential `exp(A)` of a square matrix, by scaling and
/// squaring with a Taylor polynomial: `A` is scaled by `2^-s` until its
/// 1-norm is at most 1/2, `exp` of the scaled matrix is summed to degree 18
/// (truncation error below `1e-21` relative), and the result is squared `s`
/// times. Accurate to a modest multiple of machine precision times the
/// condition of the problem; no eigen-decomposition needed. A matrix with a
/// non-finite entry gives a matrix of NaN. Returns an empty matrix for a
/// non-square input.
pub fn expm(a: &Array2<f64>) -> Array2<f64> {
    let n = a.nrows();
    if a.ncols() != n {
        return Array2::zeros((0, 0));
    }
    let nrm = norm1(a);
    if !nrm.is_finite() {
        return Array2::from_elem((n, n), f64::NAN);
    }
    let mut s: i32 = 0;
    if nrm > 0.5 {
        s = (nrm / 0.5).log2().ceil() as i32;
        // log2 rounding can leave the scaled norm a hair above 1/2.
        while nrm / 2f64.powi(s) > 0.5 {
            s += 1;
        }
    }
    let x = a / 2f64.powi(s);
    // Horner: I + X/1 (I + X/2 (I + ... (I + X/m))).
    const DEGREE: usize = 18;
    let eye = Array2::<f64>::eye(n);
    let mut p = eye.clone();
    for k in (1..=DEGREE).rev() {
        p = &eye + &(x.dot(&p) / k as f64);
    }
    for _ in 0..s {
        p = p.dot(&p);
    }
    p
}

/// `exp(A t) y0`, the solution of `y' = A y`, `y(0) = y0`.
pub fn linear_solution(a: &Array2<f64>, y0: &Array1<f64>, t: f64) -> Array1<f64> {
    expm(&(a * t)).dot(y0)
}

// ---------------------------------------------------------------------------
// Special functions for the closed-form solutions.
// ---------------------------------------------------------------------------

/// The eccentric anomaly `u` with `u - e sin u = m` (Kepler's equation),
/// `0 <= e < 1`: bisection on the bracket `[m - e, m + e]` (the left side is
/// strictly increasing) finished by Newton steps.
pub fn kepler_eccentric_anomaly(m: f64, e: f64) -> f64 {
    let g = |u: f64| u - e * u.sin() - m;
    let (mut lo, mut hi) = (m - e, m + e);
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if mid <= lo || mid >= hi {
            break;
        }
        if g(mid) > 0.0 {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    let mut u = 0.5 * (lo + hi);
    for _ in 0..2 {
        let d = 1.0 - e * u.cos();
        if d > 0.0 {
            u -= g(u) / d;
        }
    }
    u
}

/// Jacobi elliptic functions `(sn, cn, dn)(u | m)` for parameter
/// `0 <= m < 1`, by the arithmetic-geometric mean (Abramowitz and Stegun
/// 16.4), with `dn = sqrt(1 - m sn^2)`.
pub fn jacobi_sn_cn_dn(u: f64, m: f64) -> (f64, f64, f64) {
    if m == 0.0 {
        return (u.sin(), u.cos(), 1.0);
    }
    let mut a = vec![1.0f64];
    let mut c = vec![m.sqrt()];
    let mut b = (1.0 - m).sqrt();
    while c.len() < 32 && c[c.len() - 1].abs() > 1e-17 {
        let an = a[a.len() - 1];
        let next_a = 0.5 * (an + b);
        let next_c = 0.5 * (an - b);
        b = (an * b).sqrt();
        a.push(next_a);
        c.push(next_c);
    }
    let n = a.len() - 1;
    let mut phi = 2f64.powi(n as i32) * a[n] * u;
    for k in (1..=n).rev() {
        phi = 0.5 * (phi + (c[k] / a[k] * phi.sin()).asin());
    }
    let (sn, cn) = phi.sin_cos();
    // dn > 0 for m < 1; this form keeps full accuracy near cn = 0, where
    // A&S's `cn / cos(phi_1 - phi_0)` is 0/0.
    let dn = (1.0 - m * sn * sn).sqrt();
    (sn, cn, dn)
}
