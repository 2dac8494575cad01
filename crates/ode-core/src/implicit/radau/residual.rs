//! The vector kernels of a Radau Newton iteration: the change of basis
//! between stage increments `z` and the decoupled unknowns `w`, and the
//! right-hand sides of the real and the complex system.

use std::borrow::Cow;

use ndarray::{Array1, Array2, Zip};
use ndarray_linalg::c64;

use super::super::work::wide::widest;
use super::TI;

/// `sum_j m[i][j] x_j` for a 3x3 matrix over three vectors: the reference
/// the fused kernels are tested against.
#[cfg(test)]
pub(super) fn mix(m: &[[f64; 3]; 3], x: &[Array1<f64>; 3]) -> [Array1<f64>; 3] {
    std::array::from_fn(|i| {
        let mut out = &x[0] * m[i][0];
        out.scaled_add(m[i][1], &x[1]);
        out.scaled_add(m[i][2], &x[2]);
        out
    })
}

/// `out[i] = sum_j m[i][j] x[j]` into existing vectors (the test-only `mix`
/// allocates; same operations per component).
pub(super) fn mix_into(m: &[[f64; 3]; 3], x: &[Array1<f64>; 3], out: &mut [Array1<f64>; 3]) {
    for (o, row) in out.iter_mut().zip(m) {
        Zip::from(o).and(&x[0]).and(&x[1]).and(&x[2]).for_each(|o, &a, &b, &c| {
            *o = a * row[0] + row[1] * b + row[2] * c;
        });
    }
}

/// A vector as a contiguous slice (copied only if it is strided).
fn contiguous(a: &Array1<f64>) -> Cow<'_, [f64]> {
    match a.as_slice() {
        Some(s) => Cow::Borrowed(s),
        None => Cow::Owned(a.to_vec()),
    }
}

widest! {
    /// `TI f - M w` for the stage derivatives `fs` (three vectors of length
    /// `n`) into `f_real` (component `j` of the real system's right-hand side)
    /// and `f_complex` (the complex one's, whose real and imaginary parts are
    /// the last two rows).
    ///
    /// The inputs are cut to `n` before the loop, so that it carries no index
    /// checks: with ndarray's indexing this loop was a visible part of an
    /// iteration at n = 1000.
    pub(super) fn transformed_into(
        fs: &[Array1<f64>],
        w: &[Array1<f64>; 3],
        m_real: f64,
        m_complex: c64,
        f_real: &mut Array1<f64>,
        f_complex: &mut Array1<c64>,
    ) {
        let n = w[0].len();
        if f_real.len() != n || f_real.as_slice().is_none() {
            *f_real = Array1::zeros(n);
        }
        if f_complex.len() != n || f_complex.as_slice().is_none() {
            *f_complex = Array1::zeros(n);
        }
        let (a, b, c) = (contiguous(&fs[0]), contiguous(&fs[1]), contiguous(&fs[2]));
        let (w0, w1, w2) = (contiguous(&w[0]), contiguous(&w[1]), contiguous(&w[2]));
        let (a, b, c, w0, w1, w2) = (&a[..n], &b[..n], &c[..n], &w0[..n], &w1[..n], &w2[..n]);
        let fr = &mut f_real.as_slice_mut().expect("contiguous, checked above")[..n];
        let fc = &mut f_complex.as_slice_mut().expect("contiguous, checked above")[..n];
        for j in 0..n {
            let (a, b, c) = (a[j], b[j], c[j]);
            fr[j] = TI[0][0] * a + TI[0][1] * b + TI[0][2] * c - m_real * w0[j];
            let re = TI[1][0] * a + TI[1][1] * b + TI[1][2] * c;
            let im = TI[2][0] * a + TI[2][1] * b + TI[2][2] * c;
            fc[j] = c64::new(re, im) - m_complex * c64::new(w1[j], w2[j]);
        }
    }
}

widest! {
    /// The stage guesses `out[i] = P(t_i) - y` from the last step's
    /// collocation polynomial `P(t) = y_old + sum_k p_k(t) q_k`, where
    /// `powers[i] = [x_i, x_i^2, x_i^3]` at the stage times: the
    /// operations of [`super::super::dense::radau_eval`] followed by the
    /// subtraction, for the three stages in one pass.
    pub(super) fn predict_into(
        y_old: &Array1<f64>,
        q: &Array2<f64>,
        powers: &[[f64; 3]; 3],
        y: &Array1<f64>,
        out: &mut [Array1<f64>; 3],
    ) {
        let n = y.len();
        let flat = q.as_slice().filter(|f| q.nrows() == 3 && f.len() == 3 * n);
        let slices = (y_old.as_slice(), flat, y.as_slice());
        let (Some(a), Some(flat), Some(yy), true) =
            (slices.0, slices.1, slices.2, out.iter().all(|o| o.len() == n && o.is_standard_layout()))
        else {
            for (o, p) in out.iter_mut().zip(powers) {
                let mut v = y_old.clone();
                for (row, &pk) in q.rows().into_iter().zip(p) {
                    v.scaled_add(pk, &row);
                }
                *o = v - y;
            }
            return;
        };
        let (a, yy) = (&a[..n], &yy[..n]);
        let (q0, q1, q2) = (&flat[..n], &flat[n..2 * n], &flat[2 * n..3 * n]);
        for (o, p) in out.iter_mut().zip(powers) {
            let o = &mut o.as_slice_mut().expect("standard layout, checked")[..n];
            for (((((o, &a), &b), &c), &d), &y) in o.iter_mut().zip(a).zip(q0).zip(q1).zip(q2).zip(yy) {
                *o = a + p[0] * b + p[1] * c + p[2] * d - y;
            }
        }
    }
}

widest! {
    /// `ze = z0 e0 + e1 z1 + e2 z2` (as `z0 * e0` and two `scaled_add`s
    /// compute it) and `out = f + ze`, in one pass: the error estimate's
    /// right-hand side. Outputs of the wrong size are replaced.
    pub(super) fn error_rhs_into(
        z: &[Array1<f64>; 3],
        e: &[f64; 3],
        f: &Array1<f64>,
        ze: &mut Array1<f64>,
        out: &mut Array1<f64>,
    ) {
        let n = f.len();
        for v in [&mut *ze, &mut *out] {
            if v.len() != n || !v.is_standard_layout() {
                *v = Array1::zeros(n);
            }
        }
        let (z0, z1, z2) = (contiguous(&z[0]), contiguous(&z[1]), contiguous(&z[2]));
        let f = contiguous(f);
        let (z0, z1, z2, f) = (&z0[..n], &z1[..n], &z2[..n], &f[..n]);
        let ze = &mut ze.as_slice_mut().expect("standard layout, checked")[..n];
        let out = &mut out.as_slice_mut().expect("standard layout, checked")[..n];
        for (((((o, s), &a), &b), &c), &fj) in out.iter_mut().zip(ze.iter_mut()).zip(z0).zip(z1).zip(z2).zip(f) {
            let v = a * e[0] + e[1] * b + e[2] * c;
            *s = v;
            *o = fj + v;
        }
    }
}

widest! {
    /// `out = y + z` (one stage's state).
    pub(super) fn stage_into(y: &Array1<f64>, z: &Array1<f64>, out: &mut Array1<f64>) {
        match (y.as_slice(), z.as_slice(), out.as_slice_mut()) {
            (Some(y), Some(z), Some(o)) if y.len() == o.len() && z.len() == o.len() => {
                o.iter_mut().zip(y).zip(z).for_each(|((o, &a), &b)| *o = a + b);
            }
            _ => Zip::from(out).and(y).and(z).for_each(|o, &a, &b| *o = a + b),
        }
    }
}

widest! {
    /// Whether every component is finite, without stopping early (the
    /// check vectorizes; the vectors are finite all but never).
    pub(super) fn all_finite(v: &Array1<f64>) -> bool {
        match v.as_slice() {
            Some(s) => s.iter().fold(true, |ok, x| ok & x.is_finite()),
            None => v.iter().all(|x| x.is_finite()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::s;

    #[test]
    fn strided_and_contiguous_inputs_give_the_same_bits() {
        crate::implicit::work::wide::at_every_width(|_| same_bits_at_the_current_width());
    }

    fn same_bits_at_the_current_width() {
        let n = 7;
        let v = |k: f64| Array1::from_shape_fn(n, |j| ((j as f64 + k) * 0.37).sin() * 10f64.powf(k - 1.0));
        let fs = [v(0.0), v(1.0), v(2.0)];
        let w = [v(3.0), v(4.0), v(5.0)];
        let (m_real, m_complex) = (3.6, c64::new(2.7, -3.1));
        let transformed = |fs: &[Array1<f64>], w: &[Array1<f64>; 3]| {
            // Strided and wrongly sized outputs are replaced.
            let (mut r, mut z) = (Array1::zeros(2 * n).slice_move(s![..;2]), Array1::zeros(0));
            transformed_into(fs, w, m_real, m_complex, &mut r, &mut z);
            (r, z)
        };
        let (r, z) = transformed(&fs, &w);
        // Component by component, as the formula reads.
        for j in 0..n {
            let (a, b, c) = (fs[0][j], fs[1][j], fs[2][j]);
            assert_eq!(r[j], TI[0][0] * a + TI[0][1] * b + TI[0][2] * c - m_real * w[0][j]);
            let re = TI[1][0] * a + TI[1][1] * b + TI[1][2] * c;
            let im = TI[2][0] * a + TI[2][1] * b + TI[2][2] * c;
            assert_eq!(z[j], c64::new(re, im) - m_complex * c64::new(w[1][j], w[2][j]));
        }
        // The same numbers as strided owned vectors (every other entry of
        // a longer one) take the copying path.
        let strided = |x: &Array1<f64>| {
            let mut long = Array1::<f64>::zeros(2 * n);
            long.slice_mut(s![..;2]).assign(x);
            long.slice_move(s![..;2])
        };
        let views: Vec<Array1<f64>> = fs.iter().map(strided).collect();
        assert!(views.iter().all(|x| x.as_slice().is_none()));
        let (r2, z2) = transformed(&views, &w);
        assert_eq!(r2, r);
        assert_eq!(z2, z);
    }

    #[test]
    fn predict_into_matches_radau_eval() {
        use super::super::super::dense::radau_eval;
        let n = 77;
        let v = |k: f64| Array1::from_shape_fn(n, |j| ((j as f64 + k) * 0.37).sin() * 10f64.powf(k - 1.0));
        let (y_old, y) = (v(0.0), v(1.0));
        let q = Array2::from_shape_fn((3, n), |(i, j)| ((i * n + j) as f64 * 0.11).cos());
        let (t_old, h_old, t) = (0.3, 0.07, 0.37);
        let ts = [t + 0.01, t + 0.03, t + 0.05];
        let powers = ts.map(|ti| {
            let x = (ti - t_old) / h_old;
            [x, x * x, x * x * x]
        });
        let expected = ts.map(|ti| radau_eval(t_old, h_old, &y_old, &q, ti) - &y);
        crate::implicit::work::wide::at_every_width(|bits| {
            let mut out = [Array1::zeros(n), Array1::zeros(n), Array1::zeros(n)];
            predict_into(&y_old, &q, &powers, &y, &mut out);
            assert_eq!(out, expected, "{bits}");
            // Wrongly sized outputs take the allocating path.
            let mut out = [Array1::zeros(1), Array1::zeros(n), Array1::zeros(n)];
            predict_into(&y_old, &q, &powers, &y, &mut out);
            assert_eq!(out, expected);
        });
    }

    #[test]
    fn error_rhs_matches_the_vector_expressions() {
        let n = 70;
        let v = |k: f64| Array1::from_shape_fn(n, |j| ((j as f64 + k) * 0.53).sin() * 10f64.powf(k - 2.0));
        let z = [v(0.0), v(1.0), v(2.0)];
        let f = v(3.0);
        let e = [-1.7, 0.4, -0.3];
        let mut ze_ref = &z[0] * e[0];
        ze_ref.scaled_add(e[1], &z[1]);
        ze_ref.scaled_add(e[2], &z[2]);
        let out_ref = &f + &ze_ref;
        crate::implicit::work::wide::at_every_width(|bits| {
            let (mut ze, mut out) = (Array1::zeros(0), Array1::zeros(n));
            error_rhs_into(&z, &e, &f, &mut ze, &mut out);
            assert_eq!((&ze, &out), (&ze_ref, &out_ref), "{bits}");
        });
    }

    #[test]
    fn stage_and_finiteness_kernels() {
        let n = 37;
        let y = Array1::from_shape_fn(n, |j| (j as f64 * 0.3).sin());
        let z = Array1::from_shape_fn(n, |j| (j as f64 * 0.7).cos() * 1e-3);
        crate::implicit::work::wide::at_every_width(|_| {
            let mut out = Array1::zeros(n);
            stage_into(&y, &z, &mut out);
            assert_eq!(out, &y + &z);
            let strided = Array1::from_shape_fn(2 * n, |j| z[j / 2]).slice_move(s![..;2]);
            stage_into(&y, &strided, &mut out);
            assert_eq!(out, &y + &z);
            assert!(all_finite(&out));
            for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
                let mut v = out.clone();
                v[0] = bad;
                assert!(!all_finite(&v));
                // Strided: the iterator path.
                assert!(!all_finite(&v.slice_move(s![..;2])));
            }
        });
    }
}
