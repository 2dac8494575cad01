//! Hand-over of the solution history when `Auto` switches method: Adams
//! keeps a Nordsieck array, BDF backward differences, and both are the same
//! kind of object, a polynomial in time. A switch re-expresses the
//! polynomial the old method holds in the new method's representation, so
//! the new method starts at a higher order with the history it would have
//! built itself, instead of at order 1.
//!
//! # The conversions
//!
//! With the Nordsieck array `z_j` (step `h_a`) the polynomial is
//! `Y(x) = sum_j z_j x^j`, `x = (t - t_n) / h_a`. BDF at order `k` with step
//! `h_b = r h_a` holds `D^j y_n`, `j = 0..=k`, the backward differences of
//! the values at `t_n, t_n - h_b, .., t_n - k h_b`, i.e. of `Y(-i r)`. Its
//! own interpolating polynomial, through those `k + 1` values, is `Y` again
//! when `Y` has degree `<= k`; for a higher degree it is the interpolant
//! of `Y` on BDF's grid. BDF also keeps `D^(k+1) y_n` (the change it
//! compares the next correction with), which needs one more value.
//!
//! The other way, BDF's polynomial `sum_j D^j prod_{m<j} (s + m) / (m + 1)`
//! in `s = (t - t_n) / h_b` is expanded in powers of `s`
//! ([`nordsieck::from_backward_differences`]) and rescaled from `h_b` to
//! the Adams step.

use ndarray::{Array1, Array2, ArrayView2};

use super::bdf;
use super::nordsieck;

/// BDF's differences `D^0 .. D^(k+1)` at the step `r h_a` (in an array of
/// BDF's full height, the rows above `k + 1` zero) of the polynomial whose
/// Nordsieck array at the step `h_a` is `z` (all its rows are used).
pub(crate) fn nordsieck_to_differences(z: ArrayView2<'_, f64>, r: f64, k: usize) -> Array2<f64> {
    let n = z.ncols();
    let mut d = Array2::zeros((bdf::MAX_ORDER + 3, n));
    // Values Y(-i r), i = 0..=k+1, then differences in place: after pass j
    // the entry i holds D^j at the point i, and entry 0 is taken as D^j y_n.
    let mut table: Vec<Array1<f64>> = (0..=k + 1).map(|i| nordsieck::eval(z, -(i as f64) * r)).collect();
    for j in 0..=k + 1 {
        d.row_mut(j).assign(&table[0]);
        for i in 0..table.len() - 1 - j {
            let (lo, hi) = table.split_at_mut(i + 1);
            lo[i] -= &hi[0];
        }
    }
    d
}

/// The Nordsieck array (`rows` rows) at the step `h_a` of BDF's polynomial
/// held as differences `d` (rows `D^0 .. D^k`) at the step `r h_a`.
pub(crate) fn differences_to_nordsieck(d: ArrayView2<'_, f64>, r: f64, rows: usize) -> Array2<f64> {
    let k = d.nrows() - 1;
    let mut z = nordsieck::from_backward_differences(d, rows);
    nordsieck::rescale(&mut z, k.min(rows - 1), 1.0 / r);
    z
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{array, s};

    /// The coefficients (two components) of a test polynomial in `t`.
    fn coef(j: usize) -> [f64; 2] {
        [1.0 / (j as f64 + 1.5), (-0.7f64).powi(j as i32)]
    }

    fn p(q: usize, t: f64) -> Array1<f64> {
        (0..=q).fold(array![0.0, 0.0], |v, j| v + &(array![coef(j)[0], coef(j)[1]] * t.powi(j as i32)))
    }

    const TN: f64 = 0.3;

    /// The Nordsieck array at step `h` around `TN` of the degree-`q` test
    /// polynomial: `z_m = sum_i C(i, m) TN^(i-m) h^m c_i`.
    fn nordsieck_of(q: usize, h: f64, rows: usize) -> Array2<f64> {
        let mut z = Array2::zeros((rows, 2));
        let mut binom = vec![1.0f64];
        for i in 0..=q {
            for (m, b) in binom.iter().enumerate() {
                let w = b * TN.powi((i - m) as i32) * h.powi(m as i32);
                z[[m, 0]] += w * coef(i)[0];
                z[[m, 1]] += w * coef(i)[1];
            }
            // Next row of Pascal's triangle.
            let mut next = vec![1.0; i + 2];
            for m in 1..=i {
                next[m] = binom[m - 1] + binom[m];
            }
            binom = next;
        }
        z
    }

    fn close(a: &Array1<f64>, b: &Array1<f64>, tol: f64) -> bool {
        a.iter().zip(b).all(|(x, y)| (x - y).abs() <= tol * (1.0 + y.abs()))
    }

    #[test]
    fn nordsieck_to_differences_and_back_reproduce_a_polynomial() {
        for q in 1..=bdf::MAX_ORDER {
            for &(h, r) in &[(0.01, 5.0), (-0.02, 12.5), (0.1, 0.5), (1e-4, 1000.0)] {
                let z = nordsieck_of(q, h, nordsieck::MAX_ORDER + 2);
                // The Nordsieck array is the polynomial's Taylor expansion.
                for &x in &[0.0, -1.0, 2.5] {
                    assert!(close(&nordsieck::eval(z.view(), x), &p(q, TN + x * h), 1e-13), "q {q}");
                }
                let d = nordsieck_to_differences(z.view(), r, q);
                // D^0 + .. + D^q extrapolates one BDF step: Y(r).
                let pred = d.slice(s![..=q, ..]).sum_axis(ndarray::Axis(0));
                assert!(close(&pred, &p(q, TN + r * h), 1e-11), "q {q}: {pred} vs {}", p(q, TN + r * h));
                // A degree-q polynomial has D^(q+1) = 0.
                let top = d.row(q + 1).iter().fold(0.0f64, |m, v| m.max(v.abs()));
                assert!(top < 1e-12, "q {q}: D^(q+1) = {top:e}");
                let back = differences_to_nordsieck(d.slice(s![..=q, ..]), r, z.nrows());
                for j in 0..z.nrows() {
                    assert!(close(&back.row(j).to_owned(), &z.row(j).to_owned(), 1e-11), "q {q} row {j}");
                }
            }
        }
    }

    #[test]
    fn differences_to_nordsieck_and_back_reproduce_the_differences() {
        // Differences of arbitrary values are a polynomial of degree k.
        for k in 1..=bdf::MAX_ORDER {
            let vals: Vec<Array1<f64>> = (0..=k)
                .map(|i| array![(i as f64 * 0.37).sin() + 2.0, (i as f64).powi(2) * 0.01 - 1.0])
                .collect();
            let mut d = Array2::zeros((k + 1, 2));
            let mut table = vals.clone();
            for j in 0..=k {
                d.row_mut(j).assign(&table[0]);
                table = table.windows(2).map(|w| &w[0] - &w[1]).collect();
            }
            let r = 3.0;
            let z = differences_to_nordsieck(d.view(), r, nordsieck::MAX_ORDER + 2);
            let d2 = nordsieck_to_differences(z.view(), r, k);
            for j in 0..=k {
                assert!(close(&d2.row(j).to_owned(), &d.row(j).to_owned(), 1e-12), "k {k} row {j}");
            }
        }
    }
}
