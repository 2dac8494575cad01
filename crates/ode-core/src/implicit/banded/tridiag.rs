//! The tridiagonal case of [`super::BandLu`] (`lower = upper = 1`, the
//! method-of-lines Jacobians of 1-D problems) when partial pivoting
//! interchanges no rows, which is always so for the diagonally dominant
//! Newton matrices `I - c J` of a diffusion operator.
//!
//! The general band solve is bound by latency, not arithmetic: each
//! component waits for the previous one, and the general loops add a
//! store-to-load round trip through memory, a zero test and the slice
//! bookkeeping of a column to that chain. Here the running component stays
//! in a register and the factors sit in two contiguous vectors.
//!
//! Both the factorization and the solves do exactly the floating-point
//! operations of the general code, in the same order: the results are the
//! same bits (up to the sign of an exact zero). Where the processor has
//! FMA, `twisted` is tried first (faster, but rounds differently). When a pivot would need an interchange (or is zero or not
//! finite) the caller falls back to the general factorization, which
//! decides pivots and reports singular matrices as before.

use super::BandScalar;

/// `L` and `U` of an unpivoted tridiagonal LU: `sub[j] = L[j + 1][j]` and
/// `sup[j] = U[j][j + 1]`; the diagonal of `U` is kept inverted by the
/// caller.
#[derive(Clone, Debug)]
pub(super) struct Tridiagonal<T> {
    sub: Vec<T>,
    sup: Vec<T>,
}

impl<T: BandScalar> Tridiagonal<T> {
    /// Factorizes the matrix with diagonals `diag` (length `n`), `lower`
    /// and `upper` (length `n - 1`), or returns `None` where the general
    /// LU would interchange rows or stop on a singular pivot. `diag` is
    /// overwritten with the diagonal of `U`.
    pub fn factorize(diag: &mut [T], mut lower: Vec<T>, upper: Vec<T>) -> Option<Self> {
        let n = diag.len();
        debug_assert!(lower.len() + 1 == n.max(1) && upper.len() == lower.len());
        for j in 0..n {
            let s0 = diag[j].pivot_size();
            // The general code keeps the first candidate unless a later
            // one is strictly larger; NaN never wins.
            let swap = j + 1 < n && lower[j].pivot_size() > s0;
            if swap || !(s0 > 0.0 && s0.is_finite()) {
                return None;
            }
            if j + 1 < n {
                let l = lower[j] / diag[j];
                lower[j] = l;
                // As the general elimination, which skips zero entries of
                // the pivot row.
                if upper[j] != T::zero() {
                    diag[j + 1] = diag[j + 1] - l * upper[j];
                }
            }
        }
        Some(Tridiagonal { sub: lower, sup: upper })
    }

    /// Solves `L U x = b` in place; `inv_diag[j] = 1 / U[j][j]`.
    pub fn solve_in_place(&self, inv_diag: &[T], x: &mut [T]) {
        let n = x.len();
        if n == 0 {
            return;
        }
        debug_assert!(inv_diag.len() == n && self.sub.len() == n - 1);
        let mut prev = x[0];
        for (xi, &l) in x[1..].iter_mut().zip(&self.sub) {
            prev = *xi - l * prev;
            *xi = prev;
        }
        let mut next = x[n - 1] * inv_diag[n - 1];
        x[n - 1] = next;
        for ((xi, &u), &inv) in x[..n - 1].iter_mut().zip(&self.sup).zip(&inv_diag[..n - 1]).rev() {
            next = (*xi - u * next) * inv;
            *xi = next;
        }
    }

    /// Solves two systems at once, `A x = b` with this factorization and
    /// `B y = c` with `other`: the two dependency chains are independent,
    /// so the processor overlaps them (Radau's real and complex systems).
    pub fn solve_pair_in_place<S: BandScalar>(
        &self,
        inv_diag: &[T],
        x: &mut [T],
        other: &Tridiagonal<S>,
        other_inv_diag: &[S],
        y: &mut [S],
    ) {
        let n = x.len();
        if n == 0 || y.len() != n {
            self.solve_in_place(inv_diag, x);
            other.solve_in_place(other_inv_diag, y);
            return;
        }
        debug_assert!(other_inv_diag.len() == n && other.sub.len() == n - 1);
        let (mut px, mut py) = (x[0], y[0]);
        for j in 1..n {
            px = x[j] - self.sub[j - 1] * px;
            py = y[j] - other.sub[j - 1] * py;
            x[j] = px;
            y[j] = py;
        }
        let (mut nx, mut ny) = (x[n - 1] * inv_diag[n - 1], y[n - 1] * other_inv_diag[n - 1]);
        (x[n - 1], y[n - 1]) = (nx, ny);
        for j in (0..n - 1).rev() {
            nx = (x[j] - self.sup[j] * nx) * inv_diag[j];
            ny = (y[j] - other.sup[j] * ny) * other_inv_diag[j];
            x[j] = nx;
            y[j] = ny;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::{BandLu, BandMatrix};
    use ndarray::Array1;
    use ndarray_linalg::c64;
    use proptest::prelude::*;

    /// A tridiagonal matrix with off-diagonal values in `[-1, 1]` and
    /// diagonal magnitudes in `[dominance, 2 dominance]` (large: no
    /// interchange; small: partial pivoting has to swap rows).
    fn band(n: usize, v: &[f64], dominance: f64) -> BandMatrix {
        let mut a = BandMatrix::zeros(n, 1, 1).unwrap();
        for i in 0..n {
            a.set(i, i, dominance * (1.0 + v[3 * i].abs()).copysign(v[3 * i]));
            if i > 0 {
                a.set(i, i - 1, v[3 * i + 1]);
            }
            if i + 1 < n {
                a.set(i, i + 1, v[3 * i + 2]);
            }
        }
        a
    }

    /// Equal as numbers (so `-0.0 == 0.0`, the one freedom the fast path
    /// takes), and NaN where the other is NaN.
    fn same(a: f64, b: f64) -> bool {
        a == b || a.is_nan() && b.is_nan()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]

        /// The fast path gives the general LU's numbers exactly, or hands
        /// the matrix to it (then nothing changes at all), for real and
        /// complex shifts, with and without interchanges.
        #[test]
        fn fast_path_matches_the_general_band_lu(
            n in 2usize..40,
            v in proptest::collection::vec(-1.0f64..1.0, 120),
            b in proptest::collection::vec(-1.0f64..1.0, 40),
            dominance in prop_oneof![Just(0.0), Just(1e-3), Just(1.0), Just(3.0), Just(50.0)],
            shift in -2.0f64..2.0,
            im in -2.0f64..2.0,
        ) {
            // The LU path: the twisted one rounds differently (its own
            // tests bound the difference).
            super::super::twisted::force_plain(true);
            let a = band(n, &v, dominance);
            let rhs = Array1::from_vec(b[..n].to_vec());
            let fast = BandLu::shifted(&a, shift, -0.7);
            let general = BandLu::general(&a, shift, -0.7);
            match (&fast, &general) {
                (Ok(f), Ok(g)) => {
                    prop_assert!(g.tri.is_none());
                    if dominance >= 50.0 {
                        // `shift - 0.7 A`: diagonally dominant columns,
                        // which never need a swap.
                        prop_assert!(f.tri.is_some());
                    }
                    let (x, y) = (f.solve(rhs.clone()).unwrap(), g.solve(rhs.clone()).unwrap());
                    for (p, q) in x.iter().zip(&y) {
                        prop_assert!(same(*p, *q), "{p} vs {q}");
                    }
                    for (p, q) in f.inv_diag.iter().zip(&g.inv_diag) {
                        prop_assert!(same(*p, *q));
                    }
                }
                (Err(e), Err(h)) => prop_assert_eq!(e, h),
                _ => prop_assert!(false, "one path failed: {:?} vs {:?}", fast.is_ok(), general.is_ok()),
            }

            // Radau's complex system and the interleaved pair of solves.
            let z = c64::new(shift, im);
            let (cf, cg) = (BandLu::shifted(&a, z, -1.0), BandLu::general(&a, z, -1.0));
            prop_assert_eq!(cf.is_ok(), cg.is_ok());
            if let (Ok(cf), Ok(cg), Ok(f)) = (cf, cg, fast) {
                let c = rhs.mapv(|x| c64::new(x, 0.3 - x));
                let z_general = cg.solve(c.clone()).unwrap();
                let (x_pair, z_pair) = f.solve_pair(rhs.clone(), &cf, c).unwrap();
                let x_alone = f.solve(rhs).unwrap();
                for (p, q) in z_pair.iter().zip(&z_general) {
                    prop_assert!(same(p.re, q.re) && same(p.im, q.im), "{p} vs {q}");
                }
                for (p, q) in x_pair.iter().zip(&x_alone) {
                    prop_assert!(same(*p, *q));
                }
            }
        }
    }

    #[test]
    fn interchanges_and_zero_pivots_take_the_general_path() {
        // The first column's largest entry is below the diagonal.
        let mut a = BandMatrix::zeros(3, 1, 1).unwrap();
        for (i, j, v) in
            [(0, 0, 1.0), (1, 0, 4.0), (0, 1, 2.0), (1, 1, 1.0), (2, 1, 1.0), (1, 2, 1.0), (2, 2, 3.0)]
        {
            a.set(i, j, v);
        }
        let lu = BandLu::new(&a).unwrap();
        assert!(lu.tri.is_none());
        assert_eq!(lu.pivots[0], 1);
        let x = lu.solve(a.dot(&Array1::from_vec(vec![1.0, -2.0, 0.5]))).unwrap();
        assert!((x - Array1::from_vec(vec![1.0, -2.0, 0.5])).iter().all(|e| e.abs() < 1e-14));
        // A zero column: the general code names the column.
        let mut s = BandMatrix::<f64>::zeros(3, 1, 1).unwrap();
        s.set(0, 0, 1.0);
        s.set(2, 2, 1.0);
        s.set(1, 2, 1.0);
        assert_eq!(BandLu::new(&s).unwrap_err(), super::super::BandError::Singular { col: 1 });
        // Wrong lengths in a pair are a typed error, not a panic.
        let lu =
            BandLu::new(&BandMatrix::from_dense(&ndarray::Array2::<f64>::eye(4), 1, 1).unwrap()).unwrap();
        assert!(lu.tri.is_some() || lu.twisted.is_some());
        assert!(lu.solve_pair(Array1::zeros(4), &lu, Array1::zeros(3)).is_err());
    }
}
