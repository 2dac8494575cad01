//! Radau's simplified Newton iteration on the decoupled stage system, with
//! its vectors allocated once per solve.
//!
//! An iteration used to allocate about a dozen `n`-vectors (the stage
//! states, both right-hand sides, the real and imaginary parts of the
//! complex correction, the three transformed stages) and to pass over
//! them some fifteen times; three of those passes were the serial sums of
//! the correction's norm. Here the right-hand sides are written into the
//! buffers the solves work in, and one pass takes the correction's three
//! norms (three independent sums, so they overlap), the update of `w` and
//! the new stages `z = T w`. The operations per component and the order
//! of every sum are those of the code replaced, so the bits are the same
//! (the tests compare).

use ndarray::Array1;
use ndarray_linalg::c64;

use super::super::lu::solve_pair;
use super::super::newton::{progress, Cause, Ctx, Fail, Progress};
use super::super::work::wide::widest;
use super::super::work::{sum_sq_ratio, Lanes, CHUNK};
use super::super::StiffRhs;
use super::residual::{all_finite, mix_into, stage_into, transformed_into};
use super::{Lus, C, MU_COMPLEX, MU_REAL, NEWTON_MAXITER, T, TI};

/// The vectors of Radau's Newton iteration.
pub(super) struct RadauWork {
    /// The transformed unknowns `w = TI z`.
    pub w: [Array1<f64>; 3],
    /// The stage increments `z_i = Y_i - y`: Newton's result.
    pub z: [Array1<f64>; 3],
    /// The real system's right-hand side, then its solution.
    f_real: Array1<f64>,
    /// The complex system's right-hand side, then its solution.
    f_complex: Array1<c64>,
    /// A stage state `y + z_i`, the argument of `f`.
    stage: Array1<f64>,
}

impl RadauWork {
    pub fn new(n: usize) -> Self {
        let z = || Array1::zeros(n);
        RadauWork {
            w: [z(), z(), z()],
            z: [z(), z(), z()],
            f_real: z(),
            f_complex: Array1::zeros(n),
            stage: z(),
        }
    }
}

pub(super) struct NewtonOut {
    pub converged: bool,
    pub n_iter: usize,
    pub rate: Option<f64>,
    pub cause: Cause,
}

/// Simplified Newton on the transformed stage system from the guess `z0`;
/// the stages end in `work.z` (meaningful when it converged).
#[allow(clippy::too_many_arguments)]
pub(super) fn solve_collocation<F: StiffRhs + ?Sized>(
    ctx: &mut Ctx<'_, F>,
    t: f64,
    y: &Array1<f64>,
    h: f64,
    z0: &[Array1<f64>; 3],
    scale: &Array1<f64>,
    tol: f64,
    lus: &Lus,
    maxiter: usize,
    work: &mut RadauWork,
) -> Result<NewtonOut, Fail> {
    let fixed = maxiter > NEWTON_MAXITER;
    let m_real = MU_REAL / h;
    let m_complex = c64::new(MU_COMPLEX.0, MU_COMPLEX.1) / h;
    mix_into(&TI, z0, &mut work.w);
    for (zi, z0i) in work.z.iter_mut().zip(z0) {
        zi.assign(z0i);
    }
    let mut dw_norm_old: Option<f64> = None;
    let mut rate: Option<f64> = None;
    let mut converged = false;
    let mut cause = Cause::Diverged;
    let mut k = 0;
    while k < maxiter {
        let mut fs: Vec<Array1<f64>> = Vec::with_capacity(3);
        for (zi, &ci) in work.z.iter().zip(&C) {
            let ti = t + ci * h;
            stage_into(y, zi, &mut work.stage);
            let v = ctx.rhs(ti, &work.stage)?;
            if !all_finite(&v) {
                cause = Cause::NonFinite(ti);
                break;
            }
            fs.push(v);
        }
        ctx.sstats.n_newton_iters += 1;
        if fs.len() < 3 {
            break;
        }
        transformed_into(&fs, &work.w, m_real, m_complex, &mut work.f_real, &mut work.f_complex);
        let (b, c) = (std::mem::take(&mut work.f_real), std::mem::take(&mut work.f_complex));
        let (dw_real, dw_complex) = solve_pair(&lus.real, &lus.complex, b, c);
        // `w` and `z` take the correction at once; when this iteration
        // stops without converging they are not used.
        let sums = update(&dw_real, &dw_complex, scale, &mut work.w, &mut work.z);
        (work.f_real, work.f_complex) = (dw_real, dw_complex);
        let n = scale.len().max(1) as f64;
        // The mean of the three squared RMS norms, as they were computed.
        let sum: f64 = sums.iter().map(|s| (s / n).sqrt().powi(2)).sum();
        let dw_norm = (sum / 3.0).sqrt();
        if !dw_norm.is_finite() {
            break;
        }
        if let Some(old) = dw_norm_old {
            rate = Some(dw_norm / old);
        }
        match progress(rate, dw_norm, NEWTON_MAXITER.saturating_sub(k), tol, !fixed) {
            Progress::Diverging => break,
            Progress::Converged => {
                converged = true;
                break;
            }
            Progress::Continue => {}
        }
        dw_norm_old = Some(dw_norm);
        k += 1;
    }
    Ok(NewtonOut { converged, n_iter: (k + 1).min(maxiter), rate, cause })
}

widest! {
    /// With the correction `dw = (dw_real, re dw_complex, im dw_complex)`:
    /// `w += dw`, `z = T w`, and the three sums `sum_j (dw_i[j] / scale[j])^2`
    /// (each ordered as [`sum_sq_ratio`] orders it).
    fn update(
        dw_real: &Array1<f64>,
        dw_complex: &Array1<c64>,
        scale: &Array1<f64>,
        w: &mut [Array1<f64>; 3],
        z: &mut [Array1<f64>; 3],
    ) -> [f64; 3] {
        let n = scale.len();
        let contiguous = dw_real.as_slice().zip(dw_complex.as_slice()).zip(scale.as_slice());
        let (Some(((dr, dc), s)), true) = (contiguous, w.iter().chain(z.iter()).all(|v| v.is_standard_layout()))
        else {
            return update_strided(dw_real, dw_complex, scale, w, z);
        };
        let (dr, dc, s) = (&dr[..n], &dc[..n], &s[..n]);
        let [w0, w1, w2] = w.each_mut().map(|v| &mut v.as_slice_mut().expect("standard layout")[..n]);
        let [z0, z1, z2] = z.each_mut().map(|v| &mut v.as_slice_mut().expect("standard layout")[..n]);
        let mut lanes = [Lanes::new(n); 3];
        let mut sq = [[0.0; CHUNK]; 3];
        let mut start = 0;
        while start < n {
            let end = (start + CHUNK).min(n);
            let (drc, dcc) = (&dr[start..end], &dc[start..end]);
            squares(drc, dcc, &s[start..end], &mut sq, end - start);
            let ws = w0[start..end].iter_mut().zip(w1[start..end].iter_mut()).zip(w2[start..end].iter_mut());
            let zs = z0[start..end].iter_mut().zip(z1[start..end].iter_mut()).zip(z2[start..end].iter_mut());
            for ((((w0, w1), w2), ((z0, z1), z2)), (&a, c)) in ws.zip(zs).zip(drc.iter().zip(dcc)) {
                let (v0, v1, v2) = (*w0 + a, *w1 + c.re, *w2 + c.im);
                (*w0, *w1, *w2) = (v0, v1, v2);
                *z0 = v0 * T[0][0] + T[0][1] * v1 + T[0][2] * v2;
                *z1 = v0 * T[1][0] + T[1][1] * v1 + T[1][2] * v2;
                *z2 = v0 * T[2][0] + T[2][1] * v1 + T[2][2] * v2;
            }
            for (l, q) in lanes.iter_mut().zip(&sq) {
                l.add(&q[..end - start]);
            }
            start = end;
        }
        lanes.map(Lanes::total)
    }
}

/// `sq[i][j] = (dw_i[j] / s[j])^2` for the three parts of the correction,
/// over the first `len` components (inlined into each width of
/// [`update`]: these divisions bound it).
#[inline(always)]
fn squares(dr: &[f64], dc: &[c64], s: &[f64], sq: &mut [[f64; CHUNK]; 3], len: usize) {
    let [q0, q1, q2] = sq.each_mut().map(|q| &mut q[..len]);
    let qs = q0.iter_mut().zip(q1.iter_mut()).zip(q2.iter_mut());
    for (((q0, q1), q2), ((&a, c), &d)) in qs.zip(dr.iter().zip(dc).zip(s)) {
        let (r0, r1, r2) = (a / d, c.re / d, c.im / d);
        (*q0, *q1, *q2) = (r0 * r0, r1 * r1, r2 * r2);
    }
}

/// [`update`] for vectors that are not contiguous (never the solver's own,
/// kept so that no layout can panic).
fn update_strided(
    dw_real: &Array1<f64>,
    dw_complex: &Array1<c64>,
    scale: &Array1<f64>,
    w: &mut [Array1<f64>; 3],
    z: &mut [Array1<f64>; 3],
) -> [f64; 3] {
    let dw = [dw_real.clone(), dw_complex.mapv(|c| c.re), dw_complex.mapv(|c| c.im)];
    let scale = scale.to_vec();
    let sums = std::array::from_fn(|i| sum_sq_ratio(&dw[i].to_vec(), &scale));
    for (wi, di) in w.iter_mut().zip(&dw) {
        *wi += di;
    }
    mix_into(&T, w, z);
    sums
}

#[cfg(test)]
mod tests {
    use super::super::super::newton::rms;
    use super::super::residual::mix;
    use super::*;
    use ndarray::s;

    fn v(n: usize, k: f64) -> Array1<f64> {
        Array1::from_shape_fn(n, |j| ((j as f64 + k) * 0.37).sin() * 10f64.powf((j % 7) as f64 - 3.0))
    }

    /// The fused update gives the bits of the code it replaced (at every
    /// vector width): the correction split into three real vectors, three
    /// `rms` norms, `w += dw` and `z = mix(T, w)`; strided inputs take the
    /// fallback, with the same results.
    #[test]
    fn update_keeps_the_bits_of_the_separate_passes() {
        crate::implicit::work::wide::at_every_width(|_| update_at_the_current_width());
    }

    fn update_at_the_current_width() {
        for n in [0usize, 1, 5, 63, 64, 65, 1000] {
            let dw_real = v(n, 0.0);
            let dw_complex = Array1::from_shape_fn(n, |j| c64::new(v(n, 1.0)[j], v(n, 2.0)[j]));
            let scale = v(n, 3.0).mapv(|x| x.abs() + 1e-3);
            let w0 = [v(n, 4.0), v(n, 5.0), v(n, 6.0)];

            let dw = [dw_real.clone(), dw_complex.mapv(|c| c.re), dw_complex.mapv(|c| c.im)];
            let norm_sq: f64 = dw.iter().map(|d| rms(d, &scale).powi(2)).sum();
            let mut w_ref = w0.clone();
            for (wi, di) in w_ref.iter_mut().zip(&dw) {
                *wi += di;
            }
            let z_ref = mix(&T, &w_ref);

            let (mut w, mut z) = (w0.clone(), [v(n, 7.0), v(n, 8.0), v(n, 9.0)]);
            let sums = update(&dw_real, &dw_complex, &scale, &mut w, &mut z);
            let m = n.max(1) as f64;
            let fused: f64 = sums.iter().map(|s| (s / m).sqrt().powi(2)).sum();
            assert_eq!(fused.to_bits(), norm_sq.to_bits(), "n {n}");
            assert_eq!(w, w_ref);
            assert_eq!(z, z_ref);

            // A strided correction takes the fallback.
            let mut long = Array1::<f64>::zeros(2 * n);
            long.slice_mut(s![..;2]).assign(&dw_real);
            let strided = long.slice_move(s![..;2]);
            let (mut w2, mut z2) = (w0.clone(), [v(n, 7.0), v(n, 8.0), v(n, 9.0)]);
            let sums2 = update(&strided, &dw_complex, &scale, &mut w2, &mut z2);
            assert_eq!(sums2, sums);
            assert_eq!((w2, z2), (w, z));
        }
    }

    #[test]
    fn mix_into_matches_mix() {
        let x = [v(70, 0.0), v(70, 1.0), v(70, 2.0)];
        let mut out = [Array1::zeros(70), Array1::zeros(70), Array1::zeros(70)];
        mix_into(&TI, &x, &mut out);
        assert_eq!(out, mix(&TI, &x));
    }
}
