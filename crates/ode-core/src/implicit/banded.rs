//! Banded matrices and their LU factorization with partial pivoting, for
//! Jacobians whose entries vanish outside a band (method-of-lines
//! discretizations, chains of reactions): `O(n (l + u))` storage and
//! `O(n l (l + u))` work instead of `O(n^2)` and `O(n^3)`.
//!
//! The factorization follows LAPACK's `gbtf2`/`gbtrs`: columns are stored
//! with `l` extra rows above the band, because row interchanges widen the
//! upper triangle `U` to `l + u` diagonals. It is written here, rather than
//! called through LAPACK, so that the real and the complex (Radau's)
//! systems share one generic implementation and no band copy is needed.

use std::fmt::Debug;
use std::ops::{Add, Div, Mul, Neg, Sub};

use ndarray::{Array1, Array2};
use ndarray_linalg::c64;

pub(crate) mod detect;
mod lu;
mod tridiag;
mod twisted;

pub use lu::BandLu;

/// The scalars a [`BandLu`] works on: `f64` and complex `c64`.
pub trait BandScalar:
    Copy
    + Debug
    + PartialEq
    + Add<Output = Self>
    + Sub<Output = Self>
    + Mul<Output = Self>
    + Div<Output = Self>
    + Neg<Output = Self>
    + Send
    + Sync
    + 'static
{
    fn zero() -> Self;
    fn one() -> Self;
    /// The magnitude used to choose pivots (`|re| + |im|` for complex
    /// numbers, as LAPACK's `cabs1`: no square root per candidate).
    fn pivot_size(self) -> f64;
    fn is_finite(self) -> bool;
    /// `self - a b` with fused multiply-adds (one rounding per real
    /// `fma`): the step of the twisted tridiagonal solves. The default
    /// rounds the product and the difference separately, so that a scalar
    /// type from outside keeps compiling; `f64` and `c64` fuse.
    fn fused_mul_sub(self, a: Self, b: Self) -> Self {
        self - a * b
    }
}

impl BandScalar for f64 {
    fn zero() -> Self {
        0.0
    }
    fn one() -> Self {
        1.0
    }
    fn pivot_size(self) -> f64 {
        self.abs()
    }
    fn is_finite(self) -> bool {
        f64::is_finite(self)
    }
    #[inline(always)]
    fn fused_mul_sub(self, a: Self, b: Self) -> Self {
        (-a).mul_add(b, self)
    }
}

impl BandScalar for c64 {
    fn zero() -> Self {
        c64::new(0.0, 0.0)
    }
    fn one() -> Self {
        c64::new(1.0, 0.0)
    }
    fn pivot_size(self) -> f64 {
        self.re.abs() + self.im.abs()
    }
    fn is_finite(self) -> bool {
        self.re.is_finite() && self.im.is_finite()
    }
    #[inline(always)]
    fn fused_mul_sub(self, a: Self, b: Self) -> Self {
        // re: c - (a.re b.re - a.im b.im), im: c - (a.re b.im + a.im b.re),
        // each as two chained fmas.
        let re = a.im.mul_add(b.im, (-a.re).mul_add(b.re, self.re));
        let im = (-a.im).mul_add(b.re, (-a.re).mul_add(b.im, self.im));
        c64::new(re, im)
    }
}

/// Why a banded matrix or factorization could not be built.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum BandError {
    /// A bandwidth is not smaller than the dimension (use a dense matrix).
    #[error("bandwidths (lower {lower}, upper {upper}) must be smaller than the dimension {n}")]
    Bandwidth { n: usize, lower: usize, upper: usize },
    /// A non-zero entry lies outside the declared band.
    #[error("entry ({row}, {col}) is non-zero but outside the band (lower {lower}, upper {upper})")]
    OutsideBand { row: usize, col: usize, lower: usize, upper: usize },
    /// A vector or matrix has the wrong size.
    #[error("dimension mismatch: expected {expected}, found {found}")]
    Dimension { expected: usize, found: usize },
    /// A zero pivot: the matrix is singular to working precision.
    #[error("the matrix is singular (zero pivot in column {col})")]
    Singular { col: usize },
}

/// An `n x n` matrix with `lower` diagonals below and `upper` above the
/// main one, stored by columns (`(lower + upper + 1) n` numbers).
///
/// Filled by [`crate::implicit::StiffRhs::banded_jacobian`]. A write outside
/// the band is not stored; if its value is non-zero it is remembered, and
/// the solver reports it as [`crate::SolveError::JacobianNotBanded`].
///
/// ```
/// use ode_core::implicit::banded::BandMatrix;
/// let mut a = BandMatrix::<f64>::zeros(4, 1, 1).unwrap();
/// for i in 0..4 {
///     a.set(i, i, -2.0);
///     if i > 0 {
///         a.set(i, i - 1, 1.0);
///     }
/// }
/// assert_eq!(a.get(1, 0), 1.0);
/// assert_eq!(a.get(3, 0), 0.0); // outside the band
/// assert!(a.outside_band().is_none());
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct BandMatrix<T: BandScalar = f64> {
    n: usize,
    lower: usize,
    upper: usize,
    /// Column `j` holds rows `j - upper ..= j + lower` at offsets `0..`.
    data: Vec<T>,
    outside: Option<(usize, usize)>,
}

impl<T: BandScalar> BandMatrix<T> {
    /// The zero matrix; bandwidths must be below `n` (a `1 x 1` matrix has
    /// both bandwidths 0).
    pub fn zeros(n: usize, lower: usize, upper: usize) -> Result<Self, BandError> {
        if n > 0 && (lower >= n || upper >= n) || n == 0 && (lower > 0 || upper > 0) {
            return Err(BandError::Bandwidth { n, lower, upper });
        }
        Ok(BandMatrix { n, lower, upper, data: vec![T::zero(); (lower + upper + 1) * n], outside: None })
    }

    /// The banded part of a dense matrix; non-zero entries outside the band
    /// are an error.
    pub fn from_dense(a: &Array2<T>, lower: usize, upper: usize) -> Result<Self, BandError> {
        let n = a.nrows();
        if a.ncols() != n {
            return Err(BandError::Dimension { expected: n, found: a.ncols() });
        }
        let mut m = Self::zeros(n, lower, upper)?;
        for ((i, j), &v) in a.indexed_iter() {
            if m.in_band(i, j) {
                m.set(i, j, v);
            } else if v != T::zero() {
                return Err(BandError::OutsideBand { row: i, col: j, lower, upper });
            }
        }
        Ok(m)
    }

    pub fn n(&self) -> usize {
        self.n
    }
    pub fn lower(&self) -> usize {
        self.lower
    }
    pub fn upper(&self) -> usize {
        self.upper
    }

    /// Whether `(i, j)` lies inside the band (and the matrix).
    pub fn in_band(&self, i: usize, j: usize) -> bool {
        i < self.n && j < self.n && i + self.upper >= j && j + self.lower >= i
    }

    fn index(&self, i: usize, j: usize) -> usize {
        j * (self.lower + self.upper + 1) + self.upper + i - j
    }

    /// Entry `(i, j)`; zero outside the band.
    pub fn get(&self, i: usize, j: usize) -> T {
        if self.in_band(i, j) {
            self.data[self.index(i, j)]
        } else {
            T::zero()
        }
    }

    /// Sets entry `(i, j)`. Outside the band nothing is stored; a non-zero
    /// value there is remembered (see [`BandMatrix::outside_band`]).
    pub fn set(&mut self, i: usize, j: usize, v: T) {
        if self.in_band(i, j) {
            let k = self.index(i, j);
            self.data[k] = v;
        } else if v != T::zero() && self.outside.is_none() {
            self.outside = Some((i, j));
        }
    }

    /// The first non-zero entry written outside the band, if any.
    pub fn outside_band(&self) -> Option<(usize, usize)> {
        self.outside
    }

    /// Sets every entry to zero and forgets writes outside the band.
    pub fn clear(&mut self) {
        self.data.fill(T::zero());
        self.outside = None;
    }

    /// Whether every stored entry is finite.
    pub fn all_finite(&self) -> bool {
        self.data.iter().all(|v| v.is_finite())
    }

    /// The dense copy (for tests and small problems).
    pub fn to_dense(&self) -> Array2<T> {
        Array2::from_shape_fn((self.n, self.n), |(i, j)| self.get(i, j))
    }

    /// `A v`.
    pub fn dot(&self, v: &Array1<T>) -> Array1<T> {
        if let Some(x) = v.as_slice() {
            return self.dot_rows(x);
        }
        let mut out = Array1::from_elem(self.n, T::zero());
        for j in 0..self.n.min(v.len()) {
            let vj = v[j];
            for i in j.saturating_sub(self.upper)..(j + self.lower + 1).min(self.n) {
                out[i] = out[i] + self.data[self.index(i, j)] * vj;
            }
        }
        out
    }

    /// `A x` a row at a time, each sum in a register: the same additions
    /// in the same order as the column loop of [`BandMatrix::dot`] (from
    /// zero, columns increasing), without its read-modify-write of every
    /// output once per column.
    fn dot_rows(&self, x: &[T]) -> Array1<T> {
        let mut out = Array1::from_elem(self.n, T::zero());
        self.dot_rows_into(x, out.as_slice_mut().expect("a fresh vector is contiguous"));
        out
    }

    /// [`BandMatrix::dot_rows`] into `out` (its first `n` entries).
    pub(crate) fn dot_rows_into(&self, x: &[T], out: &mut [T]) {
        let (n, lower, width) = (self.n, self.lower, self.lower + self.upper + 1);
        let cols = n.min(x.len());
        let edge_row = |i: usize| {
            let (first, end) = (i.saturating_sub(lower), (i + self.upper + 1).min(cols));
            let mut acc = T::zero();
            for (j, &xj) in (first..).zip(x.get(first..end).unwrap_or(&[])) {
                acc = acc + self.data[j * width + self.upper + i - j] * xj;
            }
            acc
        };
        // Rows whose whole band is inside the matrix: row i's entries are
        // `data[(i - lower) width + w1 + m w1]` (w1 = width - 1, m =
        // 0..width) against `x[i - lower + m]`. Without the per-entry index
        // arithmetic of the edge rows (the power iteration of `Auto` spent
        // 50 us in this product at n = 1000); the same sums in the same
        // order.
        let start = lower.min(n);
        let end = cols.saturating_sub(self.upper).max(start);
        for i in (0..start).chain(end..n) {
            out[i] = edge_row(i);
        }
        let w1 = width - 1;
        let rows = out[start..end].iter_mut().zip(x.windows(width));
        for (r, (o, xs)) in rows.enumerate() {
            let d = &self.data[r * width + w1..][..w1 * w1 + 1];
            *o = if let ([x0, x1, x2], [d0, _, d1, _, d2]) = (xs, d) {
                T::zero() + *d0 * *x0 + *d1 * *x1 + *d2 * *x2
            } else {
                xs.iter().enumerate().fold(T::zero(), |acc, (m, &xm)| acc + d[m * w1] * xm)
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::s;

    /// The row-wise product (contiguous vectors) gives the column loop's
    /// bits (strided vectors), for several bandwidths and short vectors.
    #[test]
    fn row_and_column_products_agree() {
        for (n, lower, upper) in
            [(1, 0, 0), (2, 1, 1), (3, 2, 2), (5, 1, 1), (64, 1, 1), (9, 2, 1), (9, 0, 3), (40, 3, 2)]
        {
            let mut a = BandMatrix::<f64>::zeros(n, lower, upper).unwrap();
            for i in 0..n {
                for j in 0..n {
                    a.set(i, j, ((i * 31 + j * 17) as f64 * 0.41).sin() * 10f64.powi((i % 5) as i32 - 2));
                }
            }
            for len in [n, n.saturating_sub(2)] {
                let x =
                    Array1::from_shape_fn(len, |j| ((j as f64) * 0.77).cos() * 1e3f64.powi(j as i32 % 3 - 1));
                let mut long = Array1::<f64>::zeros(2 * len);
                long.slice_mut(s![..;2]).assign(&x);
                let strided = long.slice_move(s![..;2]);
                assert!(strided.as_slice().is_none() || len <= 1);
                let (rows, cols) = (a.dot(&x), a.dot(&strided));
                assert_eq!(rows, cols, "n {n} l {lower} u {upper} len {len}");
                if len == n {
                    let dense = a.to_dense().dot(&x);
                    assert!(
                        (&rows - &dense)
                            .iter()
                            .all(|e| e.abs()
                                <= 1e-12 * (1.0 + dense.iter().fold(0.0f64, |m, v| m.max(v.abs()))))
                    );
                }
            }
        }
    }
}
