//! The tridiagonal solves with fused multiply-adds, taken when the
//! processor has FMA.
//!
//! Each solve is two dependency chains through all `n` components (the
//! forward and the backward substitution), and their latency, not the
//! arithmetic, is its time. The plain chains are a multiply and a subtract
//! per component forward, and a multiply, a subtract and a multiply
//! backward. Here the forward step is one `fma`; backward, the multiplier
//! `U[j][j+1] / U[j][j]` is formed once per factorization and `x_j /
//! U[j][j]` off the chain, leaving one `fma` on it. That more than halves
//! the solve on 1000 components (4.6 to 2.1 us measured).
//!
//! The price is rounding: a fused operation rounds once where the plain
//! code rounds twice, and the prescaled multipliers round differently, so
//! the solutions differ from the general band LU's in the last bits
//! (they are no less accurate). The solvers' step counts on the benchmark
//! problems do not move; the tests bound the difference.

use super::BandScalar;

/// Whether the fused kernels can run here (checked once and cached by the
/// standard library's feature detection).
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

/// Makes this thread's factorizations take the plain kernels (tests that
/// compare bits with the general LU, or the fused kernels with the plain).
#[cfg(test)]
pub(super) fn force_plain(on: bool) {
    PLAIN.with(|p| p.set(on));
}

/// Solves `L U x = b` in place, where `sub[j] = L[j + 1][j]`, `scaled[j] =
/// U[j][j + 1] / U[j][j]` and `inv[j] = 1 / U[j][j]`. Only call when
/// [`available`] says so (elsewhere `mul_add` is a slow library call).
pub(super) fn solve<T: BandScalar>(sub: &[T], scaled: &[T], inv: &[T], x: &mut [T]) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: callers check `available()`, i.e. that the CPU has FMA.
    unsafe {
        solve_x86(sub, scaled, inv, x)
    }
    #[cfg(not(target_arch = "x86_64"))]
    solve_body(sub, scaled, inv, x)
}

/// Two independent solves interleaved, so that their chains overlap
/// (Radau's real and complex systems); both of length `x.len()`.
pub(super) fn solve_pair<T: BandScalar, S: BandScalar>(
    a: Factors<'_, T>,
    x: &mut [T],
    b: Factors<'_, S>,
    y: &mut [S],
) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: as in `solve`.
    unsafe {
        solve_pair_x86(a, x, b, y)
    }
    #[cfg(not(target_arch = "x86_64"))]
    solve_pair_body(a, x, b, y)
}

/// The slices [`solve`] takes, for one system of a pair.
#[derive(Clone, Copy)]
pub(super) struct Factors<'a, T> {
    pub sub: &'a [T],
    pub scaled: &'a [T],
    pub inv: &'a [T],
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "fma")]
unsafe fn solve_x86<T: BandScalar>(sub: &[T], scaled: &[T], inv: &[T], x: &mut [T]) {
    solve_body(sub, scaled, inv, x)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "fma")]
unsafe fn solve_pair_x86<T: BandScalar, S: BandScalar>(
    a: Factors<'_, T>,
    x: &mut [T],
    b: Factors<'_, S>,
    y: &mut [S],
) {
    solve_pair_body(a, x, b, y)
}

#[inline(always)]
fn solve_body<T: BandScalar>(sub: &[T], scaled: &[T], inv: &[T], x: &mut [T]) {
    let n = x.len();
    if n == 0 {
        return;
    }
    let (sub, scaled, inv) = (&sub[..n - 1], &scaled[..n - 1], &inv[..n]);
    let mut prev = x[0];
    for (xi, &l) in x[1..].iter_mut().zip(sub) {
        prev = xi.fused_mul_sub(l, prev);
        *xi = prev;
    }
    let mut next = x[n - 1] * inv[n - 1];
    x[n - 1] = next;
    for ((xi, &w), &iv) in x[..n - 1].iter_mut().zip(scaled).zip(&inv[..n - 1]).rev() {
        next = (*xi * iv).fused_mul_sub(w, next);
        *xi = next;
    }
}

#[inline(always)]
fn solve_pair_body<T: BandScalar, S: BandScalar>(
    a: Factors<'_, T>,
    x: &mut [T],
    b: Factors<'_, S>,
    y: &mut [S],
) {
    let n = x.len();
    if n == 0 || y.len() != n {
        solve_body(a.sub, a.scaled, a.inv, x);
        solve_body(b.sub, b.scaled, b.inv, y);
        return;
    }
    let (asub, ascaled, ainv) = (&a.sub[..n - 1], &a.scaled[..n - 1], &a.inv[..n]);
    let (bsub, bscaled, binv) = (&b.sub[..n - 1], &b.scaled[..n - 1], &b.inv[..n]);
    let (mut px, mut py) = (x[0], y[0]);
    for j in 1..n {
        px = x[j].fused_mul_sub(asub[j - 1], px);
        py = y[j].fused_mul_sub(bsub[j - 1], py);
        x[j] = px;
        y[j] = py;
    }
    let (mut nx, mut ny) = (x[n - 1] * ainv[n - 1], y[n - 1] * binv[n - 1]);
    (x[n - 1], y[n - 1]) = (nx, ny);
    for j in (0..n - 1).rev() {
        nx = (x[j] * ainv[j]).fused_mul_sub(ascaled[j], nx);
        ny = (y[j] * binv[j]).fused_mul_sub(bscaled[j], ny);
        x[j] = nx;
        y[j] = ny;
    }
}

#[cfg(test)]
mod tests {
    use super::super::{BandLu, BandMatrix};
    use super::*;
    use ndarray::Array1;
    use ndarray_linalg::c64;

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

    /// On the Newton matrices of BDF (`I - c J`) and Radau (`mu/h I - J`,
    /// complex mu) of the heat equation the fused solves agree with the
    /// plain ones to within a few roundings times the condition number
    /// (the matrices are symmetric with eigenvalues in `[d, d + 4k |s|]`),
    /// and the interleaved pair gives the single solves' bits.
    #[test]
    fn fused_solves_agree_with_the_plain_ones() {
        if !available() {
            return;
        }
        for n in [2usize, 3, 64, 1000] {
            let a = laplacian(n);
            let k = ((n + 1) * (n + 1)) as f64;
            let b = Array1::from_shape_fn(n, |j| ((j as f64) * 0.37).sin() + 0.1);
            let bc = b.mapv(|v| c64::new(v, 0.5 - v));
            for c in [1e-8, 1e-5, 1e-3, 1e-1] {
                let (fused, plain) = (factor(&a, 1.0, -c, false), factor(&a, 1.0, -c, true));
                assert!(fused.tri.as_ref().is_some_and(|t| t.scaled.len() + 1 == n));
                assert!(plain.tri.as_ref().is_some_and(|t| t.scaled.is_empty()));
                let (x, y) = (fused.solve(b.clone()).unwrap(), plain.solve(b.clone()).unwrap());
                let cond = 1.0 + 4.0 * k * c;
                let bound = 8.0 * f64::EPSILON * cond * y.iter().fold(0.0f64, |m, v| m.max(v.abs()));
                let diff = x.iter().zip(&y).fold(0.0f64, |m, (p, q)| m.max((p - q).abs()));
                assert!(diff <= bound, "n {n} c {c}: {diff:e} > {bound:e}");
                assert!(diff > 0.0 || n < 64, "n {n} c {c}: the fused kernel did not run");

                // Radau's complex system, alone and in a pair.
                let mu = c64::new(2.68, -3.05) / c;
                let (zf, zp) = (factor(&a, mu, -1.0, false), factor(&a, mu, -1.0, true));
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
}
