//! Small-vector kernels of the multistep methods, written on plain slices:
//! for the 3-16 unknowns of typical stiff test problems the per-step cost
//! is dominated by allocation and ndarray's slicing bookkeeping, not by
//! arithmetic. Each kernel does the same floating-point operations in the
//! same order as the ndarray expression it replaces, so results are
//! bitwise unchanged; the one exception is the sum in the norms of long
//! vectors (64 components or more), kept in [`Lanes`] rather than one chain.

use ndarray::{Array1, Array2, ArrayView1};

pub(crate) mod wide;

/// Ratios squared are formed this many at a time before they are summed.
/// Every kernel that sums squares in [`Lanes`] order works in chunks of
/// this size: `Lanes` decides by it whether a sum runs in one chain.
pub(crate) const CHUNK: usize = 64;

/// Long sums of squares are kept in this many interleaved partial sums:
/// one running sum over a thousand components is a chain of a thousand
/// dependent additions (about 0.7 us at n = 1000, several times per step),
/// sixteen chains run side by side.
pub(crate) const LANES: usize = 16;

/// A sum of squares over `n` components in the fixed order every norm of
/// the implicit methods uses (their bits steer the step size):
///
/// - `n >= CHUNK`: component `j` goes to lane `j % LANES`, and the lanes
///   are added in a fixed tree at the end. Each lane is plain scalar
///   arithmetic, so the bits do not depend on the vector width the kernel
///   was compiled for.
/// - shorter: in index order from zero, in lane 0 (a short chain: the cost
///   is elsewhere); the tree then adds only zeros, which changes no bits.
#[derive(Clone, Copy)]
pub(crate) struct Lanes {
    lanes: [f64; LANES],
    in_order: bool,
}

impl Lanes {
    #[inline(always)]
    pub(crate) fn new(n: usize) -> Self {
        Lanes { lanes: [0.0; LANES], in_order: n < CHUNK }
    }

    /// Adds `sq`, the squares of the next components; the first is
    /// component `j` with `j % LANES == 0` (chunks of `CHUNK` keep this).
    #[inline(always)]
    pub(crate) fn add(&mut self, sq: &[f64]) {
        if self.in_order {
            for &q in sq {
                self.lanes[0] += q;
            }
            return;
        }
        for c in sq.chunks(LANES) {
            for (a, &q) in self.lanes.iter_mut().zip(c) {
                *a += q;
            }
        }
    }

    /// The total: lanes folded in halves (lane i takes lane i + w).
    #[inline(always)]
    pub(crate) fn total(mut self) -> f64 {
        let mut w = LANES / 2;
        while w > 0 {
            for i in 0..w {
                self.lanes[i] += self.lanes[i + w];
            }
            w /= 2;
        }
        self.lanes[0]
    }
}

/// `sum_j (x_j / s_j)^2`, summed as [`Lanes`] orders it. The divisions are
/// done a chunk at a time in a loop the compiler vectorizes.
pub(crate) fn sum_sq_ratio(x: &[f64], s: &[f64]) -> f64 {
    let mut buf = [0.0; CHUNK];
    let mut acc = Lanes::new(x.len().min(s.len()));
    for (xc, sc) in x.chunks(CHUNK).zip(s.chunks(CHUNK)) {
        let sq = &mut buf[..xc.len().min(sc.len())];
        square_ratios(sq, xc, sc);
        acc.add(sq);
    }
    acc.total()
}

/// `q = (x / s)^2` per component: the terms of [`sum_sq_ratio`].
#[inline(always)]
pub(crate) fn square_ratios(q: &mut [f64], x: &[f64], s: &[f64]) {
    for ((q, &a), &d) in q.iter_mut().zip(x).zip(s) {
        let r = a / d;
        *q = r * r;
    }
}

/// `sum_j ((a_j - b_j) / s_j)^2` in the same way.
fn sum_sq_diff_ratio(a: &[f64], b: &[f64], s: &[f64]) -> f64 {
    let mut buf = [0.0; CHUNK];
    let mut acc = Lanes::new(a.len().min(b.len()).min(s.len()));
    for ((ac, bc), sc) in a.chunks(CHUNK).zip(b.chunks(CHUNK)).zip(s.chunks(CHUNK)) {
        let sq = &mut buf[..ac.len().min(bc.len()).min(sc.len())];
        for (((q, &x), &y), &d) in sq.iter_mut().zip(ac).zip(bc).zip(sc) {
            let r = (x - y) / d;
            *q = r * r;
        }
        acc.add(sq);
    }
    acc.total()
}

/// Root-mean-square of `x / scale` (as [`super::newton::rms`], on a view,
/// so that a row of a history array needs no copy).
pub(crate) fn rms_view(x: ArrayView1<'_, f64>, scale: &Array1<f64>) -> f64 {
    let n = x.len().max(1) as f64;
    let s = match (x.as_slice(), scale.as_slice()) {
        (Some(x), Some(s)) => sum_sq_ratio(x, s),
        // Strided: copied, so that the sum is the one above.
        _ => sum_sq_ratio(&x.to_vec(), &scale.to_vec()),
    };
    (s / n).sqrt()
}

/// Root-mean-square of `(a - b) / scale` without forming `a - b`.
pub(crate) fn rms_diff(a: &Array1<f64>, b: &Array1<f64>, scale: &Array1<f64>) -> f64 {
    let n = a.len().max(1) as f64;
    let s = match (a.as_slice(), b.as_slice(), scale.as_slice()) {
        (Some(a), Some(b), Some(s)) => sum_sq_diff_ratio(a, b, s),
        _ => sum_sq_diff_ratio(&a.to_vec(), &b.to_vec(), &scale.to_vec()),
    };
    (s / n).sqrt()
}

/// `out = sum_{j=0}^{k} a_j` over the rows of `a`, summed in row order
/// from zero (what `sum_axis(Axis(0))` of those rows computes).
// BDF's fused passes (`bdf_work`) replaced it; kept as their test oracle.
#[cfg(test)]
pub(crate) fn sum_rows_into(a: &Array2<f64>, k: usize, out: &mut Array1<f64>) {
    let n = a.ncols();
    out.fill(0.0);
    let out = out.as_slice_mut().expect("a fresh vector is contiguous");
    match a.as_slice() {
        // (`chunks_exact` needs rows of at least one element.)
        Some(flat) if n > 0 => {
            for row in flat.chunks_exact(n).take(k + 1) {
                for (o, &v) in out.iter_mut().zip(row) {
                    *o += v;
                }
            }
        }
        _ => {
            for j in 0..=k {
                for (o, &v) in out.iter_mut().zip(a.row(j)) {
                    *o += v;
                }
            }
        }
    }
}

/// `d_i <- d_i + d_(i+1)` for `i` from `k` down to 0 (BDF's update of
/// its differences after a step), on the raw storage when `d` is in
/// standard layout.
// BDF's fused passes (`bdf_work`) replaced it; kept as their test oracle.
#[cfg(test)]
pub(crate) fn accumulate_down(d: &mut Array2<f64>, k: usize) {
    let n = d.ncols();
    let Some(flat) = d.as_slice_mut() else {
        for i in (0..=k).rev() {
            let (mut lo, hi) = d.multi_slice_mut((ndarray::s![i, ..], ndarray::s![i + 1, ..]));
            lo += &hi;
        }
        return;
    };
    for i in (0..=k).rev() {
        let (lo, hi) = flat.split_at_mut((i + 1) * n);
        for (a, &b) in lo[i * n..].iter_mut().zip(&hi[..n]) {
            *a += b;
        }
    }
}

/// `sum_{j=1}^{k} w_j d_j / div` over the rows of `d`, accumulated in row
/// order from zero, then divided (BDF's `psi`).
// BDF's fused passes (`bdf_work`) replaced it; kept as their test oracle.
#[cfg(test)]
pub(crate) fn weighted_rows(d: &Array2<f64>, w: &[f64], k: usize, div: f64) -> Array1<f64> {
    let n = d.ncols();
    let mut out = Array1::zeros(n);
    {
        let o = out.as_slice_mut().expect("a fresh vector is contiguous");
        for (j, &wj) in w.iter().enumerate().take(k + 1).skip(1) {
            let row = d.row(j);
            match row.as_slice() {
                // Plain slices: the loop vectorizes (an ndarray iterator
                // over a row does not).
                Some(r) => o.iter_mut().zip(r).for_each(|(x, &v)| *x += wj * v),
                None => o.iter_mut().zip(row).for_each(|(x, &v)| *x += wj * v),
            }
        }
        for x in o.iter_mut() {
            *x /= div;
        }
    }
    out
}

/// The Pascal-matrix prediction `z_j <- z_j + z_(j+1)` (for `k` in
/// `0..q`, `j` from `q - 1` down to `k`) on the rows `0..=q` of `z`, on the
/// raw storage when `z` is in standard layout.
pub(crate) fn pascal_in_place(z: &mut Array2<f64>, q: usize) {
    let n = z.ncols();
    let Some(flat) = z.as_slice_mut() else {
        super::nordsieck::predict(z, q);
        return;
    };
    for k in 0..q {
        for j in (k..q).rev() {
            let (lo, hi) = flat.split_at_mut((j + 1) * n);
            for (a, &b) in lo[j * n..].iter_mut().zip(&hi[..n]) {
                *a += b;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::implicit::newton::rms;
    use ndarray::{s, Axis};

    fn sample(rows: usize, n: usize) -> Array2<f64> {
        Array2::from_shape_fn((rows, n), |(i, j)| {
            ((i * 7 + j * 3) as f64 * 0.731).sin() * 10f64.powi(j as i32 - 2)
        })
    }

    /// Long norms are summed in lanes: the same bits at every vector width,
    /// as accurate as a compensated sum to a few ulps; short ones in index
    /// order, as before.
    #[test]
    fn sums_of_squares_are_fixed_and_accurate() {
        let x: Vec<f64> =
            (0..1000i32).map(|j| (f64::from(j) * 0.37).sin() * 10f64.powi((j % 7) - 3)).collect();
        let s: Vec<f64> = (0..1000).map(|j| 1e-3 + (j % 13) as f64).collect();
        for n in [1usize, 17, 63, 64, 65, 130, 1000] {
            let (x, s) = (&x[..n], &s[..n]);
            let mut bits = Vec::new();
            wide::at_every_width(|_| bits.push(sum_sq_ratio(x, s).to_bits()));
            assert!(bits.windows(2).all(|w| w[0] == w[1]), "n {n}: {bits:?}");
            let got = f64::from_bits(bits[0]);
            // Neumaier's compensated sum as the accurate value.
            let (mut sum, mut comp) = (0.0f64, 0.0f64);
            for (&a, &d) in x.iter().zip(s) {
                let q = (a / d) * (a / d);
                let t = sum + q;
                comp += if sum.abs() >= q.abs() { (sum - t) + q } else { (q - t) + sum };
                sum = t;
            }
            assert!((got - (sum + comp)).abs() <= 1e-14 * got, "n {n}: {got} vs {}", sum + comp);
            if n < CHUNK {
                let ordered = x.iter().zip(s).fold(0.0, |acc, (&a, &d)| acc + (a / d) * (a / d));
                assert_eq!(got.to_bits(), ordered.to_bits(), "n {n}");
            }
        }
    }

    #[test]
    fn kernels_match_the_ndarray_expressions_bitwise() {
        // n = 0: an empty state is solvable and must not panic.
        // 130: more than two chunks of the norms.
        for n in [0usize, 1, 3, 8, 130] {
            let a = sample(9, n);
            let scale = Array1::from_shape_fn(n, |j| 1e-3 + j as f64);
            for k in 0..6 {
                let mut out = Array1::from_elem(n, f64::NAN);
                sum_rows_into(&a, k, &mut out);
                assert_eq!(out, a.slice(s![..=k, ..]).sum_axis(Axis(0)), "n {n} k {k}");
                // Same through the non-contiguous path.
                let t = a.t().to_owned().reversed_axes();
                let mut out2 = Array1::zeros(n);
                sum_rows_into(&t, k, &mut out2);
                assert_eq!(out2, out);
                assert_eq!(rms_view(a.row(k), &scale), rms(&a.row(k).to_owned(), &scale));
                let (x, y) = (a.row(k).to_owned(), a.row(k + 1).to_owned());
                assert_eq!(rms_diff(&x, &y, &scale), rms(&(&x - &y), &scale));
            }
            for k in 0..7 {
                let w: Vec<f64> = (0..=k).map(|j| 1.0 / (j as f64 + 0.7)).collect();
                let mut expected = Array1::zeros(n);
                for (j, &wj) in w.iter().enumerate().skip(1) {
                    expected.scaled_add(wj, &a.row(j));
                }
                assert_eq!(weighted_rows(&a, &w, k, 1.3), expected / 1.3, "n {n} k {k}");
                let (mut d1, mut d2) = (a.clone(), a.clone());
                accumulate_down(&mut d1, k);
                for i in (0..=k).rev() {
                    let (mut lo, hi) = d2.multi_slice_mut((s![i, ..], s![i + 1, ..]));
                    lo += &hi;
                }
                assert_eq!(d1, d2, "n {n} k {k}");
            }
            for q in 1..=8 {
                let mut z1 = a.clone();
                let mut z2 = a.clone();
                pascal_in_place(&mut z1, q);
                crate::implicit::nordsieck::predict(&mut z2, q);
                assert_eq!(z1, z2, "n {n} q {q}");
            }
        }
    }
}
