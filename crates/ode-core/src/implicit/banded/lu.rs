//! [`BandLu`]: the LU factorization with partial pivoting of a
//! [`BandMatrix`], in LAPACK's `gbtrf` layout, with the unpivoted
//! tridiagonal case handed to `tridiag`.

use ndarray::Array1;

use super::tridiag::Tridiagonal;
use super::twisted::{self, Twisted};
use super::{BandError, BandMatrix, BandScalar};

/// The LU factorization `P A = L U` of a banded matrix, with partial
/// pivoting (LAPACK `gbtrf` layout).
///
/// ```
/// use ndarray::array;
/// use ode_core::implicit::banded::{BandLu, BandMatrix};
/// let a = array![[4.0, 1.0, 0.0], [1.0, 4.0, 1.0], [0.0, 1.0, 4.0]];
/// let lu = BandLu::new(&BandMatrix::from_dense(&a, 1, 1).unwrap()).unwrap();
/// let x = lu.solve(array![5.0, 6.0, 5.0]).unwrap();
/// assert!((&x - &array![1.0, 1.0, 1.0]).iter().all(|e| e.abs() < 1e-14));
/// ```
#[derive(Clone, Debug)]
pub struct BandLu<T: BandScalar = f64> {
    n: usize,
    lower: usize,
    /// `lower + upper`: the upper bandwidth of `U`.
    kv: usize,
    /// Column `j` holds rows `j - kv ..= j + lower` (`ldab = kv + lower + 1`).
    ab: Vec<T>,
    pub(super) pivots: Vec<usize>,
    /// `1 / U[j][j]`: the back substitution is a chain through every
    /// component, and a multiplication has a fraction of a division's
    /// latency.
    pub(super) inv_diag: Vec<T>,
    /// The factors of a tridiagonal matrix that needed no interchange
    /// (then `ab` and `pivots` are empty): the same numbers, solved by
    /// faster loops.
    pub(super) tri: Option<Tridiagonal<T>>,
    /// The twisted factors of a tridiagonal matrix, where the processor
    /// has FMA and neither half needs an interchange (then `ab`,
    /// `pivots`, `inv_diag` are empty and `tri` is `None`).
    pub(super) twisted: Option<Twisted<T>>,
}

impl<T: BandScalar> BandLu<T> {
    /// Factorizes `a`.
    pub fn new(a: &BandMatrix<T>) -> Result<Self, BandError> {
        Self::shifted(a, T::zero(), T::one())
    }

    /// Factorizes `diag I + scale A` for a real banded `A`: the iteration
    /// matrices of the implicit methods (`I - c J`, `mu/h I - J`) without
    /// building them first.
    pub fn shifted<R: BandScalar>(a: &BandMatrix<R>, diag: T, scale: R) -> Result<Self, BandError>
    where
        T: From<R>,
    {
        if a.lower == 1 && a.upper == 1 {
            if let Some(lu) = Self::tridiagonal(a, diag, scale) {
                return Ok(lu);
            }
        }
        Self::general(a, diag, scale)
    }

    /// The unpivoted tridiagonal factorization, or `None` where partial
    /// pivoting would interchange rows (see [`Tridiagonal::factorize`]).
    fn tridiagonal<R: BandScalar>(a: &BandMatrix<R>, diag: T, scale: R) -> Option<Self>
    where
        T: From<R>,
    {
        let n = a.n;
        // Column j of the band holds A[j-1][j], A[j][j], A[j+1][j].
        let col = |j: usize, k: usize| T::from(scale * a.data[3 * j + k]);
        let mut d: Vec<T> = (0..n).map(|j| col(j, 1) + diag).collect();
        let lower: Vec<T> = (0..n - 1).map(|j| col(j, 2)).collect();
        let upper: Vec<T> = (0..n - 1).map(|j| col(j + 1, 0)).collect();
        if twisted::available() {
            if let Some(t) = Twisted::factorize(&d, &lower, &upper) {
                let (ab, pivots, inv_diag) = (Vec::new(), Vec::new(), Vec::new());
                return Some(BandLu {
                    n,
                    lower: 1,
                    kv: 2,
                    ab,
                    pivots,
                    inv_diag,
                    tri: None,
                    twisted: Some(t),
                });
            }
        }
        let tri = Tridiagonal::factorize(&mut d, lower, upper)?;
        let one = T::one();
        let inv_diag = d.iter().map(|&v| one / v).collect();
        Some(BandLu {
            n,
            lower: 1,
            kv: 2,
            ab: Vec::new(),
            pivots: Vec::new(),
            inv_diag,
            tri: Some(tri),
            twisted: None,
        })
    }

    /// The general banded factorization with partial pivoting.
    pub(super) fn general<R: BandScalar>(a: &BandMatrix<R>, diag: T, scale: R) -> Result<Self, BandError>
    where
        T: From<R>,
    {
        let (n, lower, upper) = (a.n, a.lower, a.upper);
        let kv = lower + upper;
        let ldab = kv + lower + 1;
        let mut ab = vec![T::zero(); ldab * n];
        let width = lower + upper + 1;
        for j in 0..n {
            // Band rows of column j start `lower` rows into the LU column
            // (the first `lower` rows are room for fill-in).
            let src = &a.data[j * width..(j + 1) * width];
            let dst = &mut ab[j * ldab + lower..j * ldab + lower + width];
            for (d, &s) in dst.iter_mut().zip(src) {
                *d = T::from(scale * s);
            }
            ab[j * ldab + kv] = ab[j * ldab + kv] + diag;
        }
        let mut lu =
            BandLu { n, lower, kv, ab, pivots: vec![0; n], inv_diag: Vec::new(), tri: None, twisted: None };
        lu.factorize()?;
        let one = T::one();
        lu.inv_diag = (0..n).map(|j| one / lu.ab[lu.at(j, j)]).collect();
        Ok(lu)
    }

    pub fn n(&self) -> usize {
        self.n
    }

    /// Whether the matrix was factorized as tridiagonal (with or without
    /// interchanges): a factorization that costs a few solves.
    pub(crate) fn is_tridiagonal(&self) -> bool {
        self.lower <= 1 && self.kv <= 2
    }

    #[inline]
    fn at(&self, i: usize, j: usize) -> usize {
        j * (self.kv + self.lower + 1) + self.kv + i - j
    }

    fn factorize(&mut self) -> Result<(), BandError> {
        let n = self.n;
        // The last column the row interchanges so far have reached.
        let mut ju = 0usize;
        for j in 0..n {
            let km = self.lower.min(n - 1 - j);
            let mut p = 0;
            let mut best = -1.0;
            for r in 0..=km {
                let s = self.ab[self.at(j + r, j)].pivot_size();
                // NaN never wins, so a NaN column ends up as a zero pivot below.
                if s > best {
                    best = s;
                    p = r;
                }
            }
            self.pivots[j] = j + p;
            if best <= 0.0 || !best.is_finite() {
                return Err(BandError::Singular { col: j });
            }
            ju = ju.max((j + self.kv - self.lower + p).min(n - 1));
            if p != 0 {
                for c in j..=ju {
                    let (a, b) = (self.at(j, c), self.at(j + p, c));
                    self.ab.swap(a, b);
                }
            }
            let pivot = self.ab[self.at(j, j)];
            for r in 1..=km {
                let k = self.at(j + r, j);
                self.ab[k] = self.ab[k] / pivot;
            }
            for c in j + 1..=ju {
                let a = self.ab[self.at(j, c)];
                if a == T::zero() {
                    continue;
                }
                for r in 1..=km {
                    let l = self.ab[self.at(j + r, j)];
                    let k = self.at(j + r, c);
                    self.ab[k] = self.ab[k] - l * a;
                }
            }
        }
        Ok(())
    }

    /// Solves `A x = b`.
    pub fn solve(&self, mut b: Array1<T>) -> Result<Array1<T>, BandError> {
        let n = self.n;
        if b.len() != n {
            return Err(BandError::Dimension { expected: n, found: b.len() });
        }
        match b.as_slice_mut() {
            Some(x) => self.solve_in_place(x),
            None => {
                // A strided vector: solve on a contiguous copy.
                let mut x = b.to_vec();
                self.solve_in_place(&mut x);
                b = Array1::from_vec(x);
            }
        }
        Ok(b)
    }

    /// Solves `A x = b` with this factorization and `B y = c` with `other`
    /// (Radau's real and complex systems): the same results as two calls
    /// of [`BandLu::solve`], faster when both are unpivoted tridiagonal
    /// factorizations, whose solves then run interleaved.
    pub fn solve_pair<S: BandScalar>(
        &self,
        b: Array1<T>,
        other: &BandLu<S>,
        c: Array1<S>,
    ) -> Result<(Array1<T>, Array1<S>), BandError> {
        let (n, m) = (self.n, other.n);
        if b.len() != n || c.len() != m {
            let (expected, found) = if b.len() != n { (n, b.len()) } else { (m, c.len()) };
            return Err(BandError::Dimension { expected, found });
        }
        if let (Some(t1), Some(t2), true) = (&self.twisted, &other.twisted, n == m) {
            if !(b.is_standard_layout() && c.is_standard_layout()) {
                return Ok((self.solve(b)?, other.solve(c)?));
            }
            let (mut b, mut c) = (b, c);
            let (x, y) = (b.as_slice_mut().expect("standard"), c.as_slice_mut().expect("standard"));
            t1.solve_pair(x, t2, y);
            return Ok((b, c));
        }
        match (&self.tri, &other.tri, b.is_standard_layout() && c.is_standard_layout(), n == m) {
            (Some(t1), Some(t2), true, true) => {
                let (mut b, mut c) = (b, c);
                let (x, y) = (b.as_slice_mut().expect("standard"), c.as_slice_mut().expect("standard"));
                t1.solve_pair_in_place(&self.inv_diag, x, t2, &other.inv_diag, y);
                Ok((b, c))
            }
            _ => Ok((self.solve(b)?, other.solve(c)?)),
        }
    }

    /// The triangular solves on a contiguous vector: slices of columns
    /// rather than indexing, so the loops carry no bounds checks (this is
    /// most of a Newton iteration's time on a tridiagonal system).
    fn solve_in_place(&self, x: &mut [T]) {
        if let Some(t) = &self.twisted {
            return t.solve(x);
        }
        if let Some(tri) = &self.tri {
            return tri.solve_in_place(&self.inv_diag, x);
        }
        let (n, kv, lower) = (self.n, self.kv, self.lower);
        let ldab = kv + lower + 1;
        // L: the interchanges and multipliers of each column in turn.
        for j in 0..n {
            let p = self.pivots[j];
            if p != j {
                x.swap(j, p);
            }
            let km = lower.min(n - 1 - j);
            let xj = x[j];
            if km > 0 && xj != T::zero() {
                let col = &self.ab[j * ldab + kv + 1..j * ldab + kv + 1 + km];
                for (xi, &l) in x[j + 1..j + 1 + km].iter_mut().zip(col) {
                    *xi = *xi - l * xj;
                }
            }
        }
        // U, with upper bandwidth lower + upper.
        for j in (0..n).rev() {
            let base = j * ldab + kv;
            let xj = x[j] * self.inv_diag[j];
            x[j] = xj;
            let i0 = j.saturating_sub(kv);
            if xj != T::zero() {
                let col = &self.ab[base - (j - i0)..base];
                for (xi, &u) in x[i0..j].iter_mut().zip(col) {
                    *xi = *xi - u * xj;
                }
            }
        }
    }
}
