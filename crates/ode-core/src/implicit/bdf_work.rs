//! BDF's per-step vectors, allocated once per solve, and the fused passes
//! over them. On a 1000-component banded problem a step was about fifteen
//! passes over `n` values and ten allocations around two tridiagonal
//! solves; here the predictor, `psi`, the Newton update and the
//! difference update each read their inputs once and write into these
//! buffers.
//!
//! Every kernel does the floating-point operations of the ndarray code it
//! replaced in the same order (per component; the norms' sums as
//! [`super::work::sum_sq_ratio`] orders them), so results keep their bits. The tests below compare against those
//! expressions.

use ndarray::{Array1, Array2};

use super::work::square_ratios;
use super::work::wide::widest;
use super::work::{Lanes, CHUNK};
use crate::tolerance::{Atol, Tolerance};

mod rescale;

pub(crate) use rescale::change_d;

/// The vectors of one BDF step.
pub(crate) struct BdfWork {
    /// The predictor: the history extrapolated to the new time.
    pub y_pred: Array1<f64>,
    /// `atol + rtol |y|` at the predictor, then at the corrected state.
    pub scale: Array1<f64>,
    /// `sum_{j=1}^{k} gamma_j D^j y / alpha_k`.
    pub psi: Array1<f64>,
    /// Newton's iterate.
    pub y: Array1<f64>,
    /// Newton's accumulated correction `y - y_pred`.
    pub d: Array1<f64>,
}

impl BdfWork {
    pub fn new(n: usize) -> Self {
        let z = || Array1::zeros(n);
        BdfWork { y_pred: z(), scale: z(), psi: z(), y: z(), d: z() }
    }
}

fn slice(a: &Array1<f64>) -> &[f64] {
    a.as_slice().expect("work vectors are contiguous")
}

fn slice_mut(a: &mut Array1<f64>) -> &mut [f64] {
    a.as_slice_mut().expect("work vectors are contiguous")
}

widest! {
    /// `y_pred = sum_{j=0}^{k} D^j` (summed from zero in row order) and
    /// `psi = (sum_{j=1}^{k} gamma_j D^j) / alpha` (likewise, then divided),
    /// reading each row of `d` once.
    /// A block of `BLOCK` columns at a time with both sums in registers, so
    /// each value of `d` is loaded once and each output stored once (a
    /// buffer of partial sums loaded and stored once per row made this 9% of
    /// a step on heat1000). Eight columns: at sixteen the compiler shuffled
    /// lanes between halves and the kernel took 0.51 of the tridiagonal
    /// solve's samples on heat1000, at eight 0.42; at 32 it spilled (1.4).
    pub(crate) fn predict(d: &Array2<f64>, k: usize, gamma: &[f64], alpha: f64, w: &mut BdfWork) {
        const BLOCK: usize = 8;
        let n = d.ncols();
        let flat = d.as_slice().expect("the difference array is in standard layout");
        let (yp, psi) = (slice_mut(&mut w.y_pred), slice_mut(&mut w.psi));
        let rows = gamma.len().min(k + 1);
        let mut start = 0;
        while start + BLOCK <= n {
            let (mut ya, mut pa) = ([0.0; BLOCK], [0.0; BLOCK]);
            for (j, &g) in gamma.iter().enumerate().take(rows) {
                let r = &flat[j * n + start..j * n + start + BLOCK];
                if j == 0 {
                    ya.iter_mut().zip(r).for_each(|(a, &v)| *a += v);
                } else {
                    for ((a, p), &v) in ya.iter_mut().zip(pa.iter_mut()).zip(r) {
                        *a += v;
                        *p += g * v;
                    }
                }
            }
            yp[start..start + BLOCK].copy_from_slice(&ya);
            psi[start..start + BLOCK].iter_mut().zip(&pa).for_each(|(o, &p)| *o = p / alpha);
            start += BLOCK;
        }
        for col in start..n {
            let (mut ya, mut pa) = (0.0, 0.0);
            for (j, &g) in gamma.iter().enumerate().take(rows) {
                let v = flat[j * n + col];
                ya += v;
                if j > 0 {
                    pa += g * v;
                }
            }
            yp[col] = ya;
            psi[col] = pa / alpha;
        }
    }
}

widest! {
    /// Newton's right-hand side `c f - psi - d` in place of `f`; whether `f`
    /// was finite.
    pub(crate) fn newton_rhs(f: &mut Array1<f64>, c: f64, w: &BdfWork) -> bool {
        let (psi, d) = (slice(&w.psi), slice(&w.d));
        match f.as_slice_mut() {
            Some(f) => {
                let mut finite = true;
                for ((r, &p), &dd) in f.iter_mut().zip(psi).zip(d) {
                    finite &= r.is_finite();
                    *r = c * *r - p - dd;
                }
                finite
            }
            None => {
                let finite = f.iter().all(|v| v.is_finite());
                f.iter_mut().zip(psi).zip(d).for_each(|((r, &p), &dd)| *r = c * *r - p - dd);
                finite
            }
        }
    }
}

widest! {
    /// The RMS of `dy / scale` (as [`super::newton::rms`]), with `y += dy` and
    /// `d += dy` done in the same pass. The updates are wasted when the caller
    /// then stops iterating, but it discards `y` and `d` in that case.
    pub(crate) fn newton_update(dy: &Array1<f64>, w: &mut BdfWork) -> f64 {
        let n = dy.len().max(1) as f64;
        let Some(dy) = dy.as_slice() else {
            let s = super::newton::rms(dy, &w.scale);
            w.y += dy;
            w.d += dy;
            return s;
        };
        let (s, y, d) = (slice(&w.scale), w.y.as_slice_mut(), w.d.as_slice_mut());
        let (y, d) = (y.expect("contiguous"), d.expect("contiguous"));
        let mut buf = [0.0; CHUNK];
        let mut acc = Lanes::new(dy.len());
        let chunks = dy.chunks(CHUNK).zip(s.chunks(CHUNK)).zip(y.chunks_mut(CHUNK)).zip(d.chunks_mut(CHUNK));
        for (((xc, sc), yc), dc) in chunks {
            let sq = &mut buf[..xc.len()];
            for (((q, &a), &sd), (yy, dd)) in sq.iter_mut().zip(xc).zip(sc).zip(yc.iter_mut().zip(dc.iter_mut()))
            {
                let r = a / sd;
                *q = r * r;
                *yy += a;
                *dd += a;
            }
            acc.add(sq);
        }
        (acc.total() / n).sqrt()
    }
}

widest! {
    /// After an accepted step at order `k` with correction `dd`:
    /// `D^(k+2) = dd - D^(k+1)`, `D^(k+1) = dd`, then `D^i += D^(i+1)` for
    /// `i = k..=0`; a block of columns at a time, so each row is loaded once.
    /// With `want = (m, p)`, also the sums of squares of the updated rows `k`
    /// (when `m`) and `k + 2` (when `p`) over `scale`, as
    /// [`super::work::sum_sq_ratio`] sums them (0 when not wanted): the
    /// order estimates read those rows, and a pass of their own re-read them
    /// and the scale.
    pub(crate) fn update_differences_and_sums(
        d: &mut Array2<f64>,
        k: usize,
        dd: &Array1<f64>,
        scale: &Array1<f64>,
        want: (bool, bool),
    ) -> (f64, f64) {
        let (want_m, want_p) = want;
        let n = d.ncols();
        let (dd, scale) = (slice(dd), slice(scale));
        let flat = d.as_slice_mut().expect("the difference array is in standard layout");
        let mut buf = [0.0; CHUNK];
        let (mut acc_m, mut acc_p) = (Lanes::new(n), Lanes::new(n));
        let mut start = 0;
        while start < n {
            let len = CHUNK.min(n - start);
            let at = |i: usize| i * n + start;
            let sc = &scale[start..start + len];
            {
                let (lo, hi) = flat.split_at_mut(at(k + 2));
                let prev = &mut lo[at(k + 1)..at(k + 1) + len];
                let next = &mut hi[..len];
                for ((x, p), &a) in next.iter_mut().zip(prev.iter_mut()).zip(&dd[start..start + len]) {
                    *x = a - *p;
                    *p = a;
                }
                if want_p {
                    square_ratios(&mut buf[..len], next, sc);
                    acc_p.add(&buf[..len]);
                }
            }
            for i in (0..=k).rev() {
                let (lo, hi) = flat.split_at_mut(at(i + 1));
                let row = &mut lo[at(i)..at(i) + len];
                add_assign(row, &hi[..len]);
                if want_m && i == k {
                    square_ratios(&mut buf[..len], row, sc);
                    acc_m.add(&buf[..len]);
                }
            }
            start += len;
        }
        (acc_m.total(), acc_p.total())
    }
}

/// `a += b`, a block of eight at a time loaded into locals before any
/// store, so the compiler vectorizes it inline whatever it knows about
/// aliasing. (Written as a plain loop inline it stayed scalar; as a
/// `widest!` function of its own it vectorized, but then each of the
/// `(k + 1) n / 64` calls a step makes paid a dispatch and a call for
/// eight vector additions: 10% of a step on heat1000.)
#[inline(always)]
fn add_assign(a: &mut [f64], b: &[f64]) {
    const W: usize = 8;
    let n = a.len().min(b.len());
    let (a, b) = (&mut a[..n], &b[..n]);
    let mut a_blocks = a.chunks_exact_mut(W);
    let mut b_blocks = b.chunks_exact(W);
    for (x, y) in a_blocks.by_ref().zip(b_blocks.by_ref()) {
        let y: [f64; W] = y.try_into().expect("chunks_exact gives full blocks");
        let mut v: [f64; W] = (&*x).try_into().expect("chunks_exact gives full blocks");
        v.iter_mut().zip(&y).for_each(|(v, &y)| *v += y);
        x.copy_from_slice(&v);
    }
    for (x, &y) in a_blocks.into_remainder().iter_mut().zip(b_blocks.remainder()) {
        *x += y;
    }
}

widest! {
    /// BDF's error norm: `scale = atol + rtol |y|` into `w.scale` (the scale
    /// of the order estimates that follow) and the RMS of `w.d / scale`, in
    /// one pass for a scalar `atol` (as [`super::newton::Ctx::scale_into`]
    /// followed by [`super::newton::rms`]); with whether `w.y` is finite.
    pub(crate) fn error_norm(tol: &Tolerance, w: &mut BdfWork) -> (f64, bool) {
        let n = w.y.len();
        let (rtol, y) = (tol.rtol, slice(&w.y));
        let Atol::Scalar(atol) = tol.atol else {
            let s = w.scale.as_slice_mut().expect("contiguous");
            s.iter_mut().enumerate().for_each(|(j, o)| *o = tol.atol_at(j) + rtol * y[j].abs());
            return (super::newton::rms(&w.d, &w.scale), y.iter().all(|v| v.is_finite()));
        };
        let (d, s) = (slice(&w.d), w.scale.as_slice_mut().expect("contiguous"));
        let mut buf = [0.0; CHUNK];
        let (mut acc, mut finite) = (Lanes::new(n), true);
        for ((yc, dc), sc) in y.chunks(CHUNK).zip(d.chunks(CHUNK)).zip(s.chunks_mut(CHUNK)) {
            let sq = &mut buf[..yc.len()];
            for (((q, &v), &e), o) in sq.iter_mut().zip(yc).zip(dc).zip(sc.iter_mut()) {
                finite &= v.is_finite();
                *o = atol + rtol * v.abs();
                let r = e / *o;
                *q = r * r;
            }
            acc.add(sq);
        }
        ((acc.total() / n.max(1) as f64).sqrt(), finite)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::implicit::newton::rms;
    use crate::implicit::work;
    use ndarray::{s, Axis, Zip};

    fn sample(rows: usize, n: usize, seed: f64) -> Array2<f64> {
        Array2::from_shape_fn((rows, n), |(i, j)| {
            ((i * 7 + j * 3) as f64 * 0.731 + seed).sin() * 10f64.powi((j % 9) as i32 - 4)
        })
    }

    /// At every vector width the processor has (the kernels are compiled
    /// for each).
    #[test]
    fn fused_passes_keep_the_bits_of_the_ndarray_code() {
        crate::implicit::work::wide::at_every_width(|_| fused_passes_at_the_current_width());
    }

    fn fused_passes_at_the_current_width() {
        for n in [0usize, 1, 5, 63, 64, 65, 200] {
            let d = sample(8, n, 0.0);
            let gamma = [0.0, 1.0, 1.5, 11.0 / 6.0, 25.0 / 12.0, 137.0 / 60.0];
            let alpha = 1.37;
            for k in 1..=5 {
                let mut w = BdfWork::new(n);
                predict(&d, k, &gamma, alpha, &mut w);
                assert_eq!(w.y_pred, d.slice(s![..=k, ..]).sum_axis(Axis(0)), "n {n} k {k}");
                assert_eq!(w.psi, work::weighted_rows(&d, &gamma, k, alpha), "n {n} k {k}");

                // Newton's right-hand side and update.
                w.d = sample(1, n, 1.0).row(0).to_owned();
                w.scale = sample(1, n, 2.0).row(0).mapv(|v| v.abs() + 1e-3);
                let f = sample(1, n, 3.0).row(0).to_owned();
                let mut rhs = f.clone();
                assert!(newton_rhs(&mut rhs, 0.3, &w));
                let mut expected = f.clone();
                Zip::from(&mut expected).and(&w.psi).and(&w.d).for_each(|r, &p, &dd| *r = 0.3 * *r - p - dd);
                assert_eq!(rhs, expected);
                let (y0, d0) = (w.y.clone(), w.d.clone());
                let norm = newton_update(&rhs, &mut w);
                assert_eq!(norm, rms(&rhs, &w.scale));
                assert_eq!(w.y, &y0 + &rhs);
                assert_eq!(w.d, &d0 + &rhs);

                let mut d1 = d.clone();
                let mut d2 = d.clone();
                assert_eq!(
                    update_differences_and_sums(&mut d1, k, &rhs, &w.scale, (false, false)),
                    (0.0, 0.0)
                );
                {
                    let (prev, mut next) = d2.multi_slice_mut((s![k + 1, ..], s![k + 2, ..]));
                    Zip::from(&mut next).and(&rhs).and(&prev).for_each(|x, &a, &b| *x = a - b);
                }
                d2.row_mut(k + 1).assign(&rhs);
                work::accumulate_down(&mut d2, k);
                assert_eq!(d1, d2, "n {n} k {k}");
                for want in [(true, true), (true, false), (false, true)] {
                    let mut d3 = d.clone();
                    let (sm, sp) = update_differences_and_sums(&mut d3, k, &rhs, &w.scale, want);
                    assert_eq!(d3, d2, "n {n} k {k}");
                    let sum =
                        |row: usize| work::sum_sq_ratio(d2.row(row).as_slice().unwrap(), slice(&w.scale));
                    assert_eq!(sm, if want.0 { sum(k) } else { 0.0 }, "n {n} k {k}");
                    assert_eq!(sp, if want.1 { sum(k + 2) } else { 0.0 }, "n {n} k {k}");
                }

                // The error norm and its scale, for both kinds of atol.
                w.y = d.row(k).to_owned();
                let atols =
                    [Atol::Scalar(1e-9), Atol::PerComponent((0..n).map(|j| 1e-9 * (j + 1) as f64).collect())];
                for atol in atols {
                    let tol = Tolerance::new(1e-6, atol);
                    let scale = Array1::from_shape_fn(n, |j| tol.atol_at(j) + 1e-6 * w.y[j].abs());
                    let (norm, finite) = error_norm(&tol, &mut w);
                    assert_eq!(w.scale, scale);
                    assert_eq!(norm, rms(&w.d, &scale));
                    assert!(finite);
                }
            }
        }
    }

    #[test]
    fn a_non_finite_f_is_reported() {
        let mut w = BdfWork::new(3);
        w.psi.fill(1.0);
        let mut f = Array1::from(vec![1.0, f64::NAN, 2.0]);
        assert!(!newton_rhs(&mut f, 0.5, &w));
        let mut f = Array1::from(vec![1.0, f64::NEG_INFINITY, 2.0]);
        assert!(!newton_rhs(&mut f, 0.5, &w));
        let mut f = Array1::from(vec![1.0, 3.0, 2.0]);
        assert!(newton_rhs(&mut f, 0.5, &w));
        assert_eq!(f, Array1::from(vec![-0.5, 0.5, 0.0]));
        w.y = Array1::from(vec![1.0, f64::INFINITY, 2.0]);
        assert!(!error_norm(&Tolerance::new(1e-6, Atol::Scalar(1e-9)), &mut w).1);
    }
}
