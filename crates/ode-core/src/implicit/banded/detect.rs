//! Finding a narrow band in a Jacobian handed over as a dense matrix.
//!
//! A user who does not declare the structure of `df/dy` (or does not know
//! it) still often has a banded one: method-of-lines discretizations,
//! chains of reactions. A dense LU costs `O(n^3)` where the banded one
//! costs `O(n l (l + u))`, so the solver scans each dense Jacobian (an
//! `O(n^2)` pass, the cost of filling the matrix in the first place) and
//! factorizes in band storage when the band is narrow. The banded LU with
//! partial pivoting picks the same pivots as the dense one (entries outside
//! the band are exact zeros, never candidates), so this changes only the
//! cost and the rounding of the factors, never which matrix is solved.

use ndarray::Array2;

use super::BandMatrix;

/// Up to this order every matrix goes to band storage (with the full
/// band if need be) and our LU: for such tiny systems LAPACK's per-call
/// overhead (OpenBLAS takes a mutex-guarded work buffer in every `getrs`,
/// plus the row-swap and triangular-solve calls) costs more than the
/// arithmetic. Measured on Van der Pol (n = 2) with Auto: 7.5% of the
/// solve in that mutex alone.
const SMALL: usize = 8;

/// Whether band storage pays for `n` unknowns: always for tiny systems,
/// else when the factors' storage, `2 lower + upper + 1` rows (partial
/// pivoting's fill-in), is at most a quarter of `n`. Beyond that, LAPACK's
/// blocked dense LU wins.
fn worth_it(n: usize, lower: usize, upper: usize) -> bool {
    n <= SMALL || 4 * (2 * lower + upper + 1) <= n
}

/// The bandwidths `(lower, upper)` of the square matrix `a` (the largest
/// `i - j` and `j - i` over its non-zero entries; NaN counts as non-zero)
/// when its band is narrow enough to pay for a banded LU or the matrix is
/// tiny ([`SMALL`]), else `None`.
///
/// Each row is scanned from both ends only as far as the band found so far,
/// and the scan stops at the first entry that makes the band too wide, so
/// a full matrix costs a few rows, not `n^2` reads.
pub(crate) fn narrow_band(a: &Array2<f64>) -> Option<(usize, usize)> {
    let n = a.nrows();
    if a.ncols() != n || n == 0 || !worth_it(n, 0, 0) {
        return None;
    }
    let (mut lower, mut upper) = (0usize, 0usize);
    for (i, row) in a.rows().into_iter().enumerate() {
        // Columns left of the current lower band: the first non-zero widens it.
        if let Some(j) = (0..i.saturating_sub(lower)).find(|&j| row[j] != 0.0) {
            lower = i - j;
        }
        // Columns right of the current upper band, from the far end.
        if let Some(j) = (i + upper + 1..n).rev().find(|&j| row[j] != 0.0) {
            upper = j - i;
        }
        if !worth_it(n, lower, upper) {
            return None;
        }
    }
    Some((lower, upper))
}

/// The bandwidths to store a dense Jacobian `a` with, or `None` to keep it
/// dense for LAPACK: tiny systems always go to band storage; larger ones
/// when `detect` is on and their band is narrow.
pub(crate) fn band_storage(a: &Array2<f64>, detect: bool) -> Option<(usize, usize)> {
    if detect || a.nrows() <= SMALL {
        narrow_band(a)
    } else {
        None
    }
}

/// The band part of `a` with the given bandwidths (entries outside are
/// assumed zero, as [`narrow_band`] found them): `O(n (l + u))` work.
pub(crate) fn to_band(a: &Array2<f64>, lower: usize, upper: usize) -> BandMatrix {
    let n = a.nrows();
    let mut m = BandMatrix::zeros(n, lower, upper).expect("narrow_band's bandwidths are below n");
    for j in 0..n {
        for i in j.saturating_sub(upper)..(j + lower + 1).min(n) {
            m.set(i, j, a[[i, j]]);
        }
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A matrix with the given bandwidths, every band entry non-zero.
    fn banded(n: usize, lower: usize, upper: usize) -> Array2<f64> {
        Array2::from_shape_fn((n, n), |(i, j)| {
            if i <= j + lower && j <= i + upper {
                1.0 + (i * n + j) as f64
            } else {
                0.0
            }
        })
    }

    #[test]
    fn finds_the_bandwidths_of_banded_matrices() {
        assert_eq!(narrow_band(&banded(100, 1, 1)), Some((1, 1)));
        assert_eq!(narrow_band(&banded(100, 3, 0)), Some((3, 0)));
        assert_eq!(narrow_band(&banded(100, 0, 5)), Some((0, 5)));
        assert_eq!(narrow_band(&Array2::zeros((40, 40))), Some((0, 0)));
        assert_eq!(narrow_band(&Array2::eye(40)), Some((0, 0)));
    }

    #[test]
    fn one_far_entry_sets_the_width() {
        let mut a = banded(200, 1, 1);
        a[[150, 140]] = 2.0;
        a[[7, 20]] = -1.0;
        assert_eq!(narrow_band(&a), Some((10, 13)));
        a[[150, 140]] = f64::NAN;
        assert_eq!(narrow_band(&a), Some((10, 13)));
    }

    #[test]
    fn wide_bands_and_small_matrices_stay_dense() {
        let mut a = banded(100, 1, 1);
        a[[99, 0]] = 1.0;
        assert_eq!(narrow_band(&a), None);
        assert_eq!(narrow_band(&banded(100, 12, 12)), None);
        assert_eq!(narrow_band(&banded(100, 10, 4)), Some((10, 4)));
        // Tiny systems always go to band storage, a full band included.
        assert_eq!(narrow_band(&Array2::eye(3)), Some((0, 0)));
        assert_eq!(narrow_band(&Array2::ones((8, 8))), Some((7, 7)));
        assert_eq!(narrow_band(&Array2::ones((9, 9))), None);
        assert_eq!(narrow_band(&Array2::zeros((3, 4))), None);
        assert_eq!(narrow_band(&Array2::zeros((0, 0))), None);
    }

    #[test]
    fn band_copy_is_the_matrix() {
        let a = banded(30, 2, 1);
        let (l, u) = narrow_band(&a).unwrap();
        assert_eq!(to_band(&a, l, u).to_dense(), a);
    }
}
