//! The Nordsieck form of implicit Adams methods: coefficients, prediction,
//! order changes and conversions from other polynomial histories.
//!
//! # Derivation
//!
//! The history at `t_n` is the Nordsieck array `z_j = h^j y^(j)(t_n) / j!`,
//! `j = 0..=q`: the coefficients of a polynomial `Y(x)` of degree `q` in
//! the scaled time `x = (t - t_n) / h`. For Adams of order `q` this
//! polynomial is the one with `Y(0) = y_n` whose derivative interpolates
//! `f` at the `q` points `t_n, t_n - h, .., t_n - (q - 1) h`.
//!
//! *Prediction* re-expands the same polynomial around `t_{n+1}`, i.e.
//! `x -> x + 1`: `z_j <- sum_{i >= j} C(i, j) z_i` (the Pascal matrix).
//! Its value at `t_{n+1}` is the Adams-Bashforth predictor of order `q`.
//!
//! *Correction* adds `e * L(x)` where `L` is the degree-`q` polynomial that
//! leaves the old information alone and imposes the new derivative:
//! `L(-1) = 0` (the value `y_n` is kept), `L'(-i) = 0` for `i = 1..q-1` (the
//! old derivative values are kept) and `L'(0) = 1`. Hence
//! `L'(x) = prod_{i=1}^{q-1} (x + i) / i` and `L(x) = int_{-1}^x L'`, whose
//! coefficients are the method's `l_j` (`l_1 = 1`). The corrector equation
//! `h f(t_{n+1}, y_pred + l_0 e) = z_1^pred + e` is solved for `e` by
//! functional iteration; `y_{n+1} = y_n + int_{t_n}^{t_{n+1}} Y'` is then the
//! Adams-Moulton formula of order `q` (order 1 is backward Euler, order 2
//! the trapezoidal rule). `l_0` equals the Adams-Bashforth constant
//! `gamma_{q-1}`.
//!
//! *Error estimate*: the top coefficient `l_q = 1/q!`, and `z_q` jumps by
//! `e / q!` per step, so `e ~ h^{q+1} y^(q+1)`. The local error of
//! Adams-Moulton of order `q` is `gamma*_q h^{q+1} y^(q+1)` with
//! `sum_j gamma*_j s^j = -s / ln(1 - s)` (`gamma*_1 = -1/2`,
//! `gamma*_2 = -1/12`, ...), so the estimates are
//! `|gamma*_q| |e|` at order `q`, `|gamma*_{q-1}| q! |z_q|` at order `q - 1`
//! and `|gamma*_{q+1}| |e_n - e_{n-1}|` at order `q + 1` (after steps of
//! equal size). Raising the order appends `z_{q+1} = e / (q + 1)!`.
//!
//! *Lowering the order* subtracts `z_q D(x)` with `D` of degree `q`,
//! leading coefficient 1, `D(0) = 0` and `D'(-i) = 0` for `i = 0..q-2`:
//! `D(x) = int_0^x q u (u + 1) .. (u + q - 2) du`. The result has degree
//! `q - 1` and still meets the order-`(q-1)` conditions.

use ndarray::{s, Array1, Array2, ArrayView2};

/// Highest Adams order.
pub(crate) const MAX_ORDER: usize = 12;

/// Largest `h |lambda|` for which Adams-Moulton of order `q` (index `q`)
/// is stable on `y' = lambda y` with real `lambda < 0`: the largest `x`
/// such that every root of `z^(q-1) (z - 1) = -x sum_j beta_j z^(q-j)`
/// has modulus at most 1 (found by scanning `x` and computing the roots,
/// done once offline). Orders 1 and 2 are A-stable.
const AM_STABILITY: [f64; MAX_ORDER + 1] =
    [0.0, f64::INFINITY, f64::INFINITY, 6.0, 3.0, 1.837, 1.185, 0.769, 0.493, 0.310, 0.191, 0.115, 0.068];

/// The fraction of the stability bound Adams's steps are held to in
/// `Auto`. At the bound itself the stiff components are barely damped and
/// the partly converged iteration leaves them in the error estimate, which
/// then hides how smooth the solution is and delays the switch to BDF
/// (HIRES at rtol 1e-8: 3138 Adams steps before switching at the full
/// bound, 511 at half of it; 884 steps in all instead of 3397).
pub(crate) const STABILITY_SAFETY: f64 = 0.5;

/// The coefficients of the Adams family, orders 1..=MAX_ORDER.
#[derive(Clone, Debug)]
pub(crate) struct AdamsCoeffs {
    /// `l[q][j]`, `j = 0..=q`: the correction polynomial `L` of order `q`.
    pub l: [[f64; MAX_ORDER + 2]; MAX_ORDER + 1],
    /// `|gamma*_q|`, the Adams-Moulton error constants, `q = 0..=MAX_ORDER + 1`.
    pub gstar: [f64; MAX_ORDER + 2],
    /// `q!`.
    pub fact: [f64; MAX_ORDER + 2],
    /// `d[q][j]`: the polynomial `D` subtracted (times `z_q`) when lowering
    /// the order from `q`.
    pub d: [[f64; MAX_ORDER + 1]; MAX_ORDER + 1],
}

/// `p(x) * (x + a)` for coefficients in increasing powers.
fn mul_linear(p: &[f64], a: f64) -> Vec<f64> {
    let mut out = vec![0.0; p.len() + 1];
    for (k, &c) in p.iter().enumerate() {
        out[k] += a * c;
        out[k + 1] += c;
    }
    out
}

impl AdamsCoeffs {
    /// The coefficients, computed once per process: they are constants,
    /// and computing them was a few percent of a short Auto solve (heat100).
    pub fn shared() -> Self {
        static COEFFS: std::sync::OnceLock<AdamsCoeffs> = std::sync::OnceLock::new();
        COEFFS.get_or_init(AdamsCoeffs::new).clone()
    }

    pub fn new() -> Self {
        let mut l = [[0.0; MAX_ORDER + 2]; MAX_ORDER + 1];
        let mut d = [[0.0; MAX_ORDER + 1]; MAX_ORDER + 1];
        for q in 1..=MAX_ORDER {
            // L'(x) = prod_{i=1}^{q-1} (1 + x / i).
            let mut p = vec![1.0];
            for i in 1..q {
                p = mul_linear(&p, i as f64).iter().map(|c| c / i as f64).collect();
            }
            // L(x) = int_{-1}^x L'.
            let mut l0 = 0.0;
            for (k, &c) in p.iter().enumerate() {
                l[q][k + 1] = c / (k + 1) as f64;
                l0 -= c * (-1f64).powi(k as i32 + 1) / (k + 1) as f64;
            }
            l[q][0] = l0;
            // D'(x) = q x (x + 1) .. (x + q - 2); D = int_0^x D'.
            let mut dp = vec![0.0, q as f64];
            for i in 1..q.saturating_sub(1) {
                dp = mul_linear(&dp, i as f64);
            }
            for (k, &c) in dp.iter().enumerate() {
                if k < q {
                    d[q][k + 1] = c / (k + 1) as f64;
                }
            }
        }
        let mut g = [0.0; MAX_ORDER + 2];
        g[0] = 1.0;
        for j in 1..MAX_ORDER + 2 {
            g[j] = -(1..=j).map(|i| g[j - i] / (i + 1) as f64).sum::<f64>();
        }
        let gstar = g.map(f64::abs);
        let mut fact = [1.0; MAX_ORDER + 2];
        for k in 1..MAX_ORDER + 2 {
            fact[k] = fact[k - 1] * k as f64;
        }
        AdamsCoeffs { l, gstar, fact, d }
    }

    /// The largest `h |lambda|` at order `q` for which the corrector is
    /// stable and its functional iteration contracts at rate 1/2 or better
    /// (`h l_0 |lambda| <= 1/2`), times [`STABILITY_SAFETY`]: the bound a
    /// stiff component puts on the Adams step.
    pub fn stability_bound(&self, q: usize) -> f64 {
        STABILITY_SAFETY * AM_STABILITY[q].min(0.5 / self.l[q][0])
    }
}

/// `z <- P z` for the rows `0..=q` (Pascal matrix: the same polynomial
/// re-expanded one step ahead).
pub(crate) fn predict(z: &mut Array2<f64>, q: usize) {
    for k in 0..q {
        for j in (k..q).rev() {
            let (mut lo, hi) = z.multi_slice_mut((s![j, ..], s![j + 1, ..]));
            lo += &hi;
        }
    }
}

/// Rescales the rows `0..=q` from step `h` to `r h`.
pub(crate) fn rescale(z: &mut Array2<f64>, q: usize, r: f64) {
    let mut f = 1.0;
    for j in 1..=q {
        f *= r;
        z.row_mut(j).mapv_inplace(|v| v * f);
    }
}

/// The polynomial `sum_j z_j x^j` at `x`.
pub(crate) fn eval(z: ArrayView2<'_, f64>, x: f64) -> Array1<f64> {
    let q = z.nrows() - 1;
    let mut y = z.row(q).to_owned();
    for j in (0..q).rev() {
        y *= x;
        y += &z.row(j);
    }
    y
}

/// The Nordsieck array (same step `h`) of the polynomial
/// `sum_j D^j prod_{m<j} (x + m) / (m + 1)` in which the BDF stepper keeps
/// its history (`d` has rows `D^0 .. D^k`).
pub(crate) fn from_backward_differences(d: ArrayView2<'_, f64>, rows: usize) -> Array2<f64> {
    let k = d.nrows() - 1;
    let mut z = Array2::zeros((rows, d.ncols()));
    let mut basis = vec![1.0];
    for j in 0..=k {
        for (i, &c) in basis.iter().enumerate() {
            if i < rows {
                z.row_mut(i).scaled_add(c, &d.row(j));
            }
        }
        let m = j as f64;
        basis = mul_linear(&basis, m).iter().map(|c| c / (m + 1.0)).collect();
    }
    z
}

/// The Nordsieck array at `x = 0` of order `q = fs.len()` of the
/// polynomial with `Y(0) = y0` and `h Y'(i) = h fs[i]` at `x = i`,
/// `i = 0..q-1` (Newton's divided differences, expanded in powers of `x`).
pub(crate) fn from_derivatives(y0: &Array1<f64>, fs: &[Array1<f64>], h: f64, rows: usize) -> Array2<f64> {
    let q = fs.len();
    let n = y0.len();
    // Divided differences at the nodes 0, 1, .., q-1.
    let mut table: Vec<Array1<f64>> = fs.to_vec();
    let mut coef: Vec<Array1<f64>> = vec![table[0].clone()];
    for k in 1..q {
        for i in 0..q - k {
            table[i] = (&table[i + 1] - &table[i]) / k as f64;
        }
        coef.push(table[0].clone());
    }
    // Y'(x) = sum_k coef_k prod_{m<k} (x - m), in powers of x.
    let mut dy = Array2::<f64>::zeros((q, n));
    let mut basis = vec![1.0];
    for (k, c) in coef.iter().enumerate() {
        for (i, &b) in basis.iter().enumerate() {
            dy.row_mut(i).scaled_add(b, c);
        }
        basis = mul_linear(&basis, -(k as f64));
    }
    let mut z = Array2::zeros((rows, n));
    z.row_mut(0).assign(y0);
    for i in 0..q.min(rows - 1) {
        z.row_mut(i + 1).assign(&(&dy.row(i) * (h / (i + 1) as f64)));
    }
    z
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn low_order_coefficients() {
        let c = AdamsCoeffs::new();
        assert_eq!(&c.l[1][..2], &[1.0, 1.0]);
        assert!((c.l[2][0] - 0.5).abs() < 1e-15 && (c.l[2][2] - 0.5).abs() < 1e-15);
        // l_0 is the Adams-Bashforth constant gamma_{q-1}; l_q = 1/q!.
        assert!((c.l[3][0] - 5.0 / 12.0).abs() < 1e-15);
        assert!((c.l[5][0] - 251.0 / 720.0).abs() < 1e-15);
        for q in 1..=MAX_ORDER {
            assert!((c.l[q][q] * c.fact[q] - 1.0).abs() < 1e-12, "q = {q}");
            assert!((c.l[q][1] - 1.0).abs() < 1e-12);
        }
        assert!((c.gstar[1] - 0.5).abs() < 1e-15 && (c.gstar[2] - 1.0 / 12.0).abs() < 1e-15);
        assert!((c.gstar[4] - 19.0 / 720.0).abs() < 1e-15);
    }

    #[test]
    fn order_decrease_keeps_the_lower_order_conditions() {
        let c = AdamsCoeffs::new();
        for q in 2..=MAX_ORDER {
            // D(0) = 0, D'(0) = 0, leading coefficient 1, D'(-i) = 0.
            let dcoef = &c.d[q];
            assert_eq!(dcoef[0], 0.0);
            assert_eq!(dcoef[1], 0.0);
            assert!((dcoef[q] - 1.0).abs() < 1e-12);
            for i in 1..q - 1 {
                let x = -(i as f64);
                let dd: f64 = (1..=q).map(|j| j as f64 * dcoef[j] * x.powi(j as i32 - 1)).sum();
                assert!(dd.abs() < 1e-9, "q = {q}, i = {i}: {dd}");
            }
        }
    }

    #[test]
    fn conversions_reproduce_polynomials() {
        // y = 1 + 2x + 3x^2 (x in units of h = 1): backward differences at
        // x = 0, -1, -2 are y = 1, then 1 - 2 = ..., check through eval.
        let p = |x: f64| 1.0 + 2.0 * x + 3.0 * x * x;
        let (y0, y1, y2) = (p(0.0), p(-1.0), p(-2.0));
        let d = array![[y0], [y0 - y1], [y0 - 2.0 * y1 + y2]];
        let z = from_backward_differences(d.view(), 4);
        assert!((eval(z.view(), 0.7)[0] - p(0.7)).abs() < 1e-12);
        // From derivative values p'(0), p'(1) with h = 1.
        let dp = |x: f64| 2.0 + 6.0 * x;
        let z = from_derivatives(&array![1.0], &[array![dp(0.0)], array![dp(1.0)]], 1.0, 4);
        assert!((eval(z.view(), -0.4)[0] - p(-0.4)).abs() < 1e-12);
        let mut zz = z.clone();
        predict(&mut zz, 2);
        assert!((zz[[0, 0]] - p(1.0)).abs() < 1e-12);
    }
}
