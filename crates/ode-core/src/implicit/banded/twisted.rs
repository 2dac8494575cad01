//! A twisted factorization of tridiagonal matrices for processors with
//! fused multiply-add: the solves of the heat benchmarks' Newton systems
//! in half the time of the LU's.
//!
//! A tridiagonal solve is two dependency chains through all `n`
//! components, and their latency, not the arithmetic, is its time. Here
//! the top half is eliminated downwards (as LU does) and the bottom half
//! upwards (UL) at the same time, the halves meet at the middle row `m`,
//! and the back substitution runs outwards from it: four chains of `n/2`
//! that the processor overlaps pairwise. Each step of a chain is one
//! `fma` (the backward multipliers `U[i][i+1] / U[i][i]` are formed once,
//! and `y_i / U[i][i]` is off the chain), where the plain LU's steps were
//! a multiply and a subtract forward and a multiply, a subtract and a
//! multiply backward. On 1000 components: 4.6 us per solve with the plain
//! LU, 2.1 us with fused LU chains, about 1.1 us here.
//!
//! The price is rounding: the numbers differ from the general band LU's
//! in the last bits (they are no less accurate; the tests bound the
//! difference). The factorization is used only where neither half would
//! interchange rows under partial pivoting (diagonally dominant matrices
//! such as `I - c J` of diffusion) and every pivot is finite and nonzero;
//! elsewhere the caller takes the LU path, which decides pivots and
//! reports singular matrices as before.

use super::BandScalar;

mod kernels;

#[cfg(not(target_arch = "x86_64"))]
use kernels::{solve_body, solve_pair_body};
#[cfg(target_arch = "x86_64")]
use kernels::{solve_pair_x86, solve_x86};

/// Whether the fused kernels can run here. Elsewhere `mul_add` would be a
/// slow library call, and the plain LU kernels are used.
#[inline]
pub(super) fn available() -> bool {
    #[cfg(test)]
    if PLAIN.with(|p| p.get()) {
        return false;
    }
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("fma")
    }
    #[cfg(target_arch = "aarch64")]
    {
        // Fused multiply-add is part of the base instruction set.
        true
    }
    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
    {
        false
    }
}

#[cfg(test)]
thread_local! {
    static PLAIN: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Makes this thread's factorizations take the LU path (tests that compare
/// bits with the general LU, or the twisted solves with the LU's).
#[cfg(test)]
pub(super) fn force_plain(on: bool) {
    PLAIN.with(|p| p.set(on));
}

/// The twisted factors of an `n x n` tridiagonal matrix (`n >= 2`) with
/// diagonal `a`, subdiagonal `b` (`b[i] = A[i+1][i]`) and superdiagonal
/// `c` (`c[i] = A[i][i+1]`).
#[derive(Clone, Debug)]
pub(super) struct Twisted<T> {
    /// The twist row, `n / 2`.
    m: usize,
    /// `l[i]` (`1 <= i <= m`): row `i` minus `l[i]` times row `i - 1`.
    l: Vec<T>,
    /// `u[i]` (`m <= i <= n - 2`): row `i` minus `u[i]` times row `i + 1`.
    u: Vec<T>,
    /// One over the pivots: top half, twist, bottom half.
    inv: Vec<T>,
    /// The back substitution's multipliers over the pivots: `c[i] / d[i]`
    /// above the twist, `b[i-1] / e[i]` below it.
    w: Vec<T>,
}

impl<T: BandScalar> Twisted<T> {
    /// Factorizes, or `None` where a half would interchange rows or a
    /// pivot is zero or not finite.
    pub fn factorize(a: &[T], b: &[T], c: &[T]) -> Option<Self> {
        let n = a.len();
        if n < 2 || b.len() + 1 != n || c.len() + 1 != n {
            return None;
        }
        let m = n / 2;
        let zero = T::zero();
        let (mut l, mut u, mut piv) = (vec![zero; n], vec![zero; n], a.to_vec());
        // A pivot that partial pivoting keeps (the general code swaps only
        // for a strictly larger candidate) and that can be divided by.
        let keeps = |p: T, other: T| {
            let s = p.pivot_size();
            s > 0.0 && s.is_finite() && other.pivot_size() <= s
        };
        // Top: rows 1..=m against the row above (the twist row too);
        // bottom: rows n-2 down to m against the row below. Interleaved,
        // with the last pivot of each in a register: two chains through
        // a division each, which the processor overlaps.
        let (top, bottom) = (m, n - 1 - m);
        let (mut dt, mut db) = (a[0], a[n - 1]);
        for k in 0..top.max(bottom) {
            if k < top {
                let i = 1 + k;
                if !keeps(dt, b[i - 1]) {
                    return None;
                }
                l[i] = b[i - 1] / dt;
                if i < m {
                    dt = a[i] - l[i] * c[i - 1];
                    piv[i] = dt;
                }
            }
            if k < bottom {
                let i = n - 2 - k;
                if !keeps(db, c[i]) {
                    return None;
                }
                u[i] = c[i] / db;
                if i > m {
                    db = a[i] - u[i] * b[i];
                    piv[i] = db;
                }
            }
        }
        let mut gamma = piv[m] - l[m] * c[m - 1];
        if m + 1 < n {
            gamma = gamma - u[m] * b[m];
        }
        if !(gamma.pivot_size() > 0.0 && gamma.pivot_size().is_finite()) {
            return None;
        }
        piv[m] = gamma;
        let one = T::one();
        let inv: Vec<T> = piv.iter().map(|&p| one / p).collect();
        let w = (0..n)
            .map(|i| match i.cmp(&m) {
                std::cmp::Ordering::Less => c[i] * inv[i],
                std::cmp::Ordering::Equal => zero,
                std::cmp::Ordering::Greater => b[i - 1] * inv[i],
            })
            .collect();
        Some(Twisted { m, l, u, inv, w })
    }

    pub fn n(&self) -> usize {
        self.inv.len()
    }

    /// Solves `A x = b` in place (`x.len()` must be `n`).
    pub fn solve(&self, x: &mut [T]) {
        debug_assert_eq!(x.len(), self.n());
        #[cfg(target_arch = "x86_64")]
        // SAFETY: a `Twisted` is built only when `available()`, i.e. the
        // CPU has FMA.
        unsafe {
            solve_x86(self, x)
        }
        #[cfg(not(target_arch = "x86_64"))]
        solve_body(self, x)
    }

    /// Solves `A x = b` with these factors and `B y = c` with `other`,
    /// their chains interleaved (Radau's real and complex systems).
    pub fn solve_pair<S: BandScalar>(&self, x: &mut [T], other: &Twisted<S>, y: &mut [S]) {
        if other.n() != self.n() {
            self.solve(x);
            other.solve(y);
            return;
        }
        #[cfg(target_arch = "x86_64")]
        // SAFETY: as in `solve`.
        unsafe {
            solve_pair_x86(self, x, other, y)
        }
        #[cfg(not(target_arch = "x86_64"))]
        solve_pair_body(self, x, other, y)
    }
}

#[cfg(test)]
mod tests {
    use super::super::{BandLu, BandMatrix};
    use super::*;
    use ndarray::Array1;
    use ndarray_linalg::c64;
    use proptest::prelude::*;

    /// The method-of-lines Laplacian on `n` interior points of `[0, 1]`
    /// (the heat benchmark's Jacobian).
    fn laplacian(n: usize) -> BandMatrix {
        let k = ((n + 1) * (n + 1)) as f64;
        let mut a = BandMatrix::zeros(n, 1, 1).unwrap();
        for i in 0..n {
            a.set(i, i, -2.0 * k);
            if i > 0 {
                a.set(i, i - 1, k);
                a.set(i - 1, i, k);
            }
        }
        a
    }

    fn factor<T: BandScalar + From<f64>>(a: &BandMatrix, diag: T, scale: f64, plain: bool) -> BandLu<T> {
        force_plain(plain);
        let lu = BandLu::shifted(a, diag, scale).unwrap();
        force_plain(false);
        lu
    }

    fn max_abs<'a>(v: impl Iterator<Item = &'a f64>) -> f64 {
        v.fold(0.0f64, |m, x| m.max(x.abs()))
    }

    /// On the Newton matrices of BDF (`I - c J`) and Radau (`mu/h I - J`,
    /// complex mu) of the heat equation the twisted solves agree with the
    /// LU's to within a few roundings times the condition number (the
    /// matrices are symmetric with eigenvalues in `[d, d + 4k |s|]`), and
    /// the interleaved pair gives the single solves' bits.
    #[test]
    fn twisted_solves_agree_with_the_lu_ones() {
        if !available() {
            return;
        }
        for n in [2usize, 3, 4, 5, 64, 1000] {
            let a = laplacian(n);
            let k = ((n + 1) * (n + 1)) as f64;
            let b = Array1::from_shape_fn(n, |j| ((j as f64) * 0.37).sin() + 0.1);
            let bc = b.mapv(|v| c64::new(v, 0.5 - v));
            for c in [1e-8, 1e-5, 1e-3, 1e-1] {
                let (fused, plain) = (factor(&a, 1.0, -c, false), factor(&a, 1.0, -c, true));
                assert!(fused.twisted.is_some() && fused.tri.is_none());
                assert!(plain.twisted.is_none() && plain.tri.is_some());
                let (x, y) = (fused.solve(b.clone()).unwrap(), plain.solve(b.clone()).unwrap());
                let cond = 1.0 + 4.0 * k * c;
                let bound = 8.0 * f64::EPSILON * cond * max_abs(y.iter());
                let diff = max_abs(x.iter().zip(&y).map(|(p, q)| p - q).collect::<Vec<_>>().iter());
                assert!(diff <= bound, "n {n} c {c}: {diff:e} > {bound:e}");

                // Radau's complex system, alone and in a pair.
                let mu = c64::new(2.68, -3.05) / c;
                let (zf, zp) = (factor(&a, mu, -1.0, false), factor(&a, mu, -1.0, true));
                assert!(zf.twisted.is_some());
                let (u, v) = (zf.solve(bc.clone()).unwrap(), zp.solve(bc.clone()).unwrap());
                let cond = (mu.norm() + 4.0 * k) / mu.norm();
                let size = v.iter().fold(0.0f64, |m, z| m.max(z.norm()));
                let diff = u.iter().zip(&v).fold(0.0f64, |m, (p, q)| m.max((p - q).norm()));
                assert!(diff <= 16.0 * f64::EPSILON * cond * size, "complex n {n} c {c}: {diff:e}");
                let (xp, up) = fused.solve_pair(b.clone(), &zf, bc.clone()).unwrap();
                assert_eq!(xp, x);
                assert_eq!(up, u);
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]

        /// On random tridiagonal matrices the twisted factors are built
        /// only when neither half would swap rows; then `A x` gives back
        /// the right-hand side to rounding. Otherwise the LU path runs.
        #[test]
        fn twisted_factors_solve_or_step_aside(
            n in 2usize..30,
            v in proptest::collection::vec(-1.0f64..1.0, 90),
            dominance in prop_oneof![Just(0.5), Just(2.0), Just(3.0), Just(20.0)],
        ) {
            let mut a = BandMatrix::zeros(n, 1, 1).unwrap();
            for i in 0..n {
                a.set(i, i, dominance * (1.0 + v[3 * i].abs()).copysign(v[3 * i]));
                if i > 0 {
                    a.set(i, i - 1, v[3 * i + 1]);
                    a.set(i - 1, i, v[3 * i + 2]);
                }
            }
            let diag: Vec<f64> = (0..n).map(|i| a.get(i, i)).collect();
            let sub: Vec<f64> = (0..n - 1).map(|i| a.get(i + 1, i)).collect();
            let sup: Vec<f64> = (0..n - 1).map(|i| a.get(i, i + 1)).collect();
            let t = Twisted::factorize(&diag, &sub, &sup);
            if dominance >= 3.0 {
                // |pivot| >= 3 - 2 > |off-diagonal| in both halves.
                prop_assert!(t.is_some());
            }
            let x_true = Array1::from_shape_fn(n, |j| (j as f64 * 0.61).cos());
            let rhs = a.dot(&x_true);
            if available() {
                if let Some(t) = t {
                    let mut x = rhs.to_vec();
                    t.solve(&mut x);
                    let err = x.iter().zip(&x_true).fold(0.0f64, |m, (p, q)| m.max((p - q).abs()));
                    prop_assert!(err < 1e-12, "error {err:e}");
                }
            }
            // Through BandLu, whichever path it takes.
            let x = BandLu::new(&a).unwrap().solve(rhs).unwrap();
            let err = x.iter().zip(&x_true).fold(0.0f64, |m, (p, q)| m.max((p - q).abs()));
            prop_assert!(err < 1e-9, "error {err:e}");
        }
    }

    #[test]
    fn bad_pivots_and_sizes_are_refused() {
        // A zero top-left pivot with a zero below it.
        assert!(Twisted::factorize(&[0.0, 1.0, 1.0], &[0.0, 1.0], &[1.0, 0.5]).is_none());
        // An off-diagonal larger than the pivot it would be divided by.
        assert!(Twisted::factorize(&[1.0, 1.0, 1.0, 1.0], &[3.0, 0.1, 0.1], &[0.1, 0.1, 0.1]).is_none());
        assert!(Twisted::factorize(&[1.0, 1.0, 1.0, 1.0], &[0.1, 0.1, 0.1], &[0.1, 0.1, 3.0]).is_none());
        // A NaN, wrong lengths, too small.
        assert!(Twisted::factorize(&[1.0, f64::NAN], &[0.1], &[0.1]).is_none());
        assert!(Twisted::factorize(&[1.0, 1.0], &[0.1, 0.1], &[0.1]).is_none());
        assert!(Twisted::factorize(&[1.0], &[], &[]).is_none());
        // A singular twist row.
        assert!(Twisted::factorize(&[1.0, 1.0], &[1.0], &[1.0]).is_none());
    }
}
