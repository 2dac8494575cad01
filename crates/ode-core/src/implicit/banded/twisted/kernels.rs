//! The twisted solves' loops: each chain carries its running value in a
//! register, and each step is one fused multiply-add (see the parent
//! module).

use super::{BandScalar, Twisted};

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "fma")]
pub(super) unsafe fn solve_x86<T: BandScalar>(f: &Twisted<T>, x: &mut [T]) {
    solve_body(f, x)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "fma")]
pub(super) unsafe fn solve_pair_x86<T: BandScalar, S: BandScalar>(
    f: &Twisted<T>,
    x: &mut [T],
    g: &Twisted<S>,
    y: &mut [S],
) {
    solve_pair_body(f, x, g, y)
}

/// One system: its two chains per sweep interleaved.
#[inline(always)]
pub(super) fn solve_body<T: BandScalar>(f: &Twisted<T>, x: &mut [T]) {
    let n = f.n();
    let x = &mut x[..n];
    forward(f, x);
    twist(f, x);
    backward(f, x);
}

/// Forward sweep: rows `1..m` from the top and `n-2..=m+1` from the
/// bottom. Each chain carries its running value in a register (a store
/// and reload per step would add their latency to the chain); the common
/// length runs without branches, then the longer chain's rest.
// Indices, not iterators: the two chains walk `x` in opposite directions.
#[allow(clippy::needless_range_loop)]
#[inline(always)]
fn forward<T: BandScalar>(f: &Twisted<T>, x: &mut [T]) {
    let (n, m) = (f.n(), f.m);
    let (top, bottom) = (m - 1, (n - 1).saturating_sub(m + 1));
    let common = top.min(bottom);
    let (mut pt, mut pb) = (x[0], x[n - 1]);
    for k in 0..common {
        let (i, j) = (1 + k, n - 2 - k);
        pt = x[i].fused_mul_sub(f.l[i], pt);
        pb = x[j].fused_mul_sub(f.u[j], pb);
        x[i] = pt;
        x[j] = pb;
    }
    for i in 1 + common..=top {
        pt = x[i].fused_mul_sub(f.l[i], pt);
        x[i] = pt;
    }
    for k in common..bottom {
        let j = n - 2 - k;
        pb = x[j].fused_mul_sub(f.u[j], pb);
        x[j] = pb;
    }
}

/// Backward sweep: rows `m-1..=0` and `m+1..n` outwards from the twist.
#[inline(always)]
fn backward<T: BandScalar>(f: &Twisted<T>, x: &mut [T]) {
    let (n, m) = (f.n(), f.m);
    let (top, bottom) = (m, n - 1 - m);
    let common = top.min(bottom);
    let (mut nt, mut nb) = (x[m], x[m]);
    for k in 0..common {
        let (i, j) = (m - 1 - k, m + 1 + k);
        nt = (x[i] * f.inv[i]).fused_mul_sub(f.w[i], nt);
        nb = (x[j] * f.inv[j]).fused_mul_sub(f.w[j], nb);
        x[i] = nt;
        x[j] = nb;
    }
    for k in common..top {
        let i = m - 1 - k;
        nt = (x[i] * f.inv[i]).fused_mul_sub(f.w[i], nt);
        x[i] = nt;
    }
    for k in common..bottom {
        let j = m + 1 + k;
        nb = (x[j] * f.inv[j]).fused_mul_sub(f.w[j], nb);
        x[j] = nb;
    }
}

/// The twist row: both neighbours eliminated, then its unknown.
#[inline(always)]
fn twist<T: BandScalar>(f: &Twisted<T>, x: &mut [T]) {
    let (n, m) = (f.n(), f.m);
    let mut v = x[m].fused_mul_sub(f.l[m], x[m - 1]);
    if m + 1 < n {
        v = v.fused_mul_sub(f.u[m], x[m + 1]);
    }
    x[m] = v * f.inv[m];
}

/// Two systems of the same size: four chains per sweep.
#[allow(clippy::needless_range_loop)]
#[inline(always)]
pub(super) fn solve_pair_body<T: BandScalar, S: BandScalar>(
    f: &Twisted<T>,
    x: &mut [T],
    g: &Twisted<S>,
    y: &mut [S],
) {
    let (n, m) = (f.n(), f.m);
    let (x, y) = (&mut x[..n], &mut y[..n]);
    let (top, bottom) = (m - 1, (n - 1).saturating_sub(m + 1));
    let common = top.min(bottom);
    let (mut xt, mut xb, mut yt, mut yb) = (x[0], x[n - 1], y[0], y[n - 1]);
    for k in 0..common {
        let (i, j) = (1 + k, n - 2 - k);
        xt = x[i].fused_mul_sub(f.l[i], xt);
        yt = y[i].fused_mul_sub(g.l[i], yt);
        xb = x[j].fused_mul_sub(f.u[j], xb);
        yb = y[j].fused_mul_sub(g.u[j], yb);
        (x[i], y[i], x[j], y[j]) = (xt, yt, xb, yb);
    }
    for i in 1 + common..=top {
        xt = x[i].fused_mul_sub(f.l[i], xt);
        yt = y[i].fused_mul_sub(g.l[i], yt);
        (x[i], y[i]) = (xt, yt);
    }
    for k in common..bottom {
        let j = n - 2 - k;
        xb = x[j].fused_mul_sub(f.u[j], xb);
        yb = y[j].fused_mul_sub(g.u[j], yb);
        (x[j], y[j]) = (xb, yb);
    }
    twist(f, x);
    twist(g, y);
    let (top, bottom) = (m, n - 1 - m);
    let common = top.min(bottom);
    let (mut xt, mut xb, mut yt, mut yb) = (x[m], x[m], y[m], y[m]);
    for k in 0..common {
        let (i, j) = (m - 1 - k, m + 1 + k);
        xt = (x[i] * f.inv[i]).fused_mul_sub(f.w[i], xt);
        yt = (y[i] * g.inv[i]).fused_mul_sub(g.w[i], yt);
        xb = (x[j] * f.inv[j]).fused_mul_sub(f.w[j], xb);
        yb = (y[j] * g.inv[j]).fused_mul_sub(g.w[j], yb);
        (x[i], y[i], x[j], y[j]) = (xt, yt, xb, yb);
    }
    for k in common..top {
        let i = m - 1 - k;
        xt = (x[i] * f.inv[i]).fused_mul_sub(f.w[i], xt);
        yt = (y[i] * g.inv[i]).fused_mul_sub(g.w[i], yt);
        (x[i], y[i]) = (xt, yt);
    }
    for k in common..bottom {
        let j = m + 1 + k;
        xb = (x[j] * f.inv[j]).fused_mul_sub(f.w[j], xb);
        yb = (y[j] * g.inv[j]).fused_mul_sub(g.w[j], yb);
        (x[j], y[j]) = (xb, yb);
    }
}
