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
//! same bits (up to the sign of an exact zero), so solver step counts do
//! not move. When a pivot would need an interchange (or is zero or not
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
