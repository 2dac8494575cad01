//! Rescaling BDF's differences to a new step size (`change_d`): the
//! matrix products of Shampine and Reichelt as fused multiply-add chains,
//! all output rows of a block of columns in registers.

use ndarray::Array2;

/// Rows of the largest difference array a rescaling touches
/// (`D^0 .. D^5`).
const R_DIM: usize = super::super::bdf::MAX_ORDER + 1;

/// `R` of Shampine-Reichelt: row i, column j = prod_{m=1..i} (m - 1 - factor j) / m.
fn compute_r(order: usize, factor: f64) -> [[f64; R_DIM]; R_DIM] {
    let mut r = [[0.0; R_DIM]; R_DIM];
    r[0][..=order].fill(1.0);
    for i in 1..=order {
        let (above, row) = r.split_at_mut(i);
        for (j, (x, &up)) in row[0].iter_mut().zip(&above[i - 1]).enumerate().take(order + 1).skip(1) {
            let m = ((i - 1) as f64 - factor * j as f64) / i as f64;
            *x = up * m;
        }
    }
    r
}

/// Rescales the differences `d[0..=order]` from step `h` to step
/// `factor h`: `D <- (R U)^T D` with `U = R(1)`.
///
/// The products used to go through ndarray's `dot` (matrixmultiply: an
/// output, packing buffers and a kernel call for a `6 x 1000` result).
/// Here each output is the fused multiply-add chain from zero over the
/// inner index that matrixmultiply's FMA kernel computes, so on machines
/// with FMA the bits are the same; elsewhere the chain is a plain
/// multiply-add, as matrixmultiply's fallback kernels do.
pub(crate) fn change_d(d: &mut Array2<f64>, order: usize, factor: f64) {
    let order = order.min(R_DIM - 1);
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("fma") {
        if super::super::work::wide::allowed(512) {
            // SAFETY: the CPU has FMA and AVX-512F, checked just above.
            unsafe { change_d_fma512(d, order, factor) };
        } else {
            // SAFETY: the CPU has FMA, checked just above.
            unsafe { change_d_fma(d, order, factor) };
        }
        return;
    }
    change_d_with(d, order, factor, |a, b, c| c + a * b);
}

/// The same chains eight columns per instruction (an `fma` rounds the
/// same at every width).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "fma,avx512f")]
unsafe fn change_d_fma512(d: &mut Array2<f64>, order: usize, factor: f64) {
    change_d_with(d, order, factor, f64::mul_add);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "fma")]
unsafe fn change_d_fma(d: &mut Array2<f64>, order: usize, factor: f64) {
    change_d_with(d, order, factor, f64::mul_add);
}

/// `change_d` with `madd(a, b, c) = a b + c` (inlined into each caller, so
/// that it becomes one instruction where FMA is enabled).
#[inline(always)]
fn change_d_with(d: &mut Array2<f64>, order: usize, factor: f64, madd: impl Fn(f64, f64, f64) -> f64) {
    let (r, u) = (compute_r(order, factor), compute_r(order, 1.0));
    let mut ru = [[0.0; R_DIM]; R_DIM];
    for i in 0..=order {
        for j in 0..=order {
            ru[i][j] = (0..=order).fold(0.0, |acc, m| madd(r[i][m], u[m][j], acc));
        }
    }
    let n = d.ncols();
    let flat = d.as_slice_mut().expect("the difference array is in standard layout");
    match order + 1 {
        1 => rescale_rows::<1>(flat, n, &ru, madd),
        2 => rescale_rows::<2>(flat, n, &ru, madd),
        3 => rescale_rows::<3>(flat, n, &ru, madd),
        4 => rescale_rows::<4>(flat, n, &ru, madd),
        5 => rescale_rows::<5>(flat, n, &ru, madd),
        _ => rescale_rows::<R_DIM>(flat, n, &ru, madd),
    }
}

/// Columns rescaled at once by [`rescale_rows`]: one AVX-512 register per
/// row. Sixteen (two per row, for more independent chains at low orders)
/// took 0.136 of the tridiagonal solve's samples on heat1000 in perf,
/// eight 0.103: at up to seven rows of sums the chains are enough.
const BLOCK: usize = 8;

/// `rows = R` rows of `flat` (row length `n`) replaced by `(RU)^T` times
/// them, `BLOCK` columns at a time with all `R` sums in registers: each
/// input is loaded and each output stored once. (A block of 64 columns at
/// a time through a buffer, as before, loaded and stored the partial sums
/// once per input row: `change_d` was 10% of a step on heat1000.) Each
/// output is still the chain from zero over the input rows in order.
#[inline(always)]
fn rescale_rows<const R: usize>(
    flat: &mut [f64],
    n: usize,
    ru: &[[f64; R_DIM]; R_DIM],
    madd: impl Fn(f64, f64, f64) -> f64,
) {
    let mut start = 0;
    while start + BLOCK <= n {
        let mut acc = [[0.0; BLOCK]; R];
        for (j, ruj) in ru.iter().enumerate().take(R) {
            let x = &flat[j * n + start..j * n + start + BLOCK];
            for (o, &a) in acc.iter_mut().zip(ruj) {
                o.iter_mut().zip(x).for_each(|(s, &v)| *s = madd(a, v, *s));
            }
        }
        for (i, o) in acc.iter().enumerate() {
            flat[i * n + start..i * n + start + BLOCK].copy_from_slice(o);
        }
        start += BLOCK;
    }
    for col in start..n {
        let mut acc = [0.0; R];
        for (j, ruj) in ru.iter().enumerate().take(R) {
            let v = flat[j * n + col];
            acc.iter_mut().zip(ruj).for_each(|(s, &a)| *s = madd(a, v, *s));
        }
        for (i, &o) in acc.iter().enumerate() {
            flat[i * n + col] = o;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::s;

    fn sample(rows: usize, n: usize, seed: f64) -> Array2<f64> {
        Array2::from_shape_fn((rows, n), |(i, j)| {
            ((i * 7 + j * 3) as f64 * 0.731 + seed).sin() * 10f64.powi((j % 9) as i32 - 4)
        })
    }

    /// The rescaling as it was written with ndarray's products.
    fn change_d_ndarray(d: &mut Array2<f64>, order: usize, factor: f64) {
        let r = |f: f64| {
            let mut r = Array2::zeros((order + 1, order + 1));
            r.row_mut(0).fill(1.0);
            for i in 1..=order {
                for j in 1..=order {
                    let m = ((i - 1) as f64 - f * j as f64) / i as f64;
                    r[[i, j]] = r[[i - 1, j]] * m;
                }
            }
            r
        };
        let ru = r(factor).dot(&r(1.0));
        let new = ru.t().dot(&d.slice(s![..=order, ..]));
        d.slice_mut(s![..=order, ..]).assign(&new);
    }

    #[test]
    fn change_d_matches_the_matrix_products() {
        for bits in [256, 512] {
            crate::implicit::work::wide::cap(bits);
            change_d_at_the_current_width();
        }
        crate::implicit::work::wide::cap(512);
    }

    /// The path of machines without FMA (plain multiply-add), which the
    /// dispatch in `change_d` never takes on a machine that has FMA: same
    /// products as ndarray's within the rounding bound of a dot product of
    /// that length (`(RU)` has entries up to ~1e6 at factor 10, so the
    /// bound is relative to the summands, not to the result), and rows
    /// past `order` untouched.
    #[test]
    fn change_d_without_fma_matches_the_matrix_products() {
        for n in [0usize, 1, 7, 64, 130] {
            for order in 1..=5 {
                for factor in [0.2, 0.93, 1.0, 10.0] {
                    let d0 = sample(8, n, factor);
                    let (mut a, mut b) = (d0.clone(), d0.clone());
                    change_d_with(&mut a, order, factor, |x, y, acc| acc + x * y);
                    change_d_ndarray(&mut b, order, factor);
                    // |R| |U|: a bound on |RU| entry by entry.
                    let (r, u) = (compute_r(order, factor), compute_r(order, 1.0));
                    let ru_abs =
                        |j: usize, i: usize| (0..=order).map(|m| (r[j][m] * u[m][i]).abs()).sum::<f64>();
                    let gamma = 4.0 * (2 * order + 2) as f64 * f64::EPSILON;
                    for i in 0..=order {
                        for c in 0..n {
                            let mag: f64 = (0..=order).map(|j| ru_abs(j, i) * d0[[j, c]].abs()).sum();
                            let (x, y) = (a[[i, c]], b[[i, c]]);
                            assert!((x - y).abs() <= gamma * mag, "n {n} order {order} row {i}: {x} {y}");
                        }
                    }
                    assert_eq!(a.slice(s![order + 1.., ..]), d0.slice(s![order + 1.., ..]));
                }
            }
        }
    }

    fn change_d_at_the_current_width() {
        #[cfg(target_arch = "x86_64")]
        let fma = std::arch::is_x86_feature_detected!("fma");
        #[cfg(not(target_arch = "x86_64"))]
        let fma = false;
        for n in [0usize, 1, 7, 64, 130] {
            for order in 1..=5 {
                for factor in [0.2, 0.5, 0.93, 1.0, 1.7, 10.0] {
                    let mut a = sample(8, n, factor);
                    let mut b = a.clone();
                    change_d(&mut a, order, factor);
                    change_d_ndarray(&mut b, order, factor);
                    if fma {
                        // matrixmultiply's FMA kernel: the same chains.
                        assert_eq!(a, b, "n {n} order {order} factor {factor}");
                    } else {
                        for (x, y) in a.iter().zip(&b) {
                            assert!((x - y).abs() <= 1e-12 * (1.0 + y.abs()), "{x} {y}");
                        }
                    }
                    // Rows past `order` are not touched.
                    assert_eq!(a.slice(s![order + 1.., ..]), sample(8, n, factor).slice(s![order + 1.., ..]));
                }
            }
        }
        // Rescaling by 1 leaves the differences as they are (up to rounding).
        let d = sample(8, 50, 0.3);
        let mut e = d.clone();
        change_d(&mut e, 4, 1.0);
        for (x, y) in e.iter().zip(&d) {
            assert!((x - y).abs() <= 1e-13 * (1.0 + y.abs()), "{x} {y}");
        }
    }
}
