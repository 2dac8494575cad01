//! Adaptive checkpoint adjoint (Zhuang et al. 2020).
//!
//! The forward solve keeps only the state at the start of every accepted
//! step. The backward pass walks the steps in reverse, rebuilds one step's
//! stages from its checkpoint and back-propagates through exactly the
//! arithmetic the forward did (stages, solution weights, interpolation of
//! output times inside the step, the error estimate). The result is the
//! exact derivative of the discrete forward solution with the accepted step
//! sizes held fixed.

use std::fmt::Debug;

use ode_core::dense::stage_weights;
use ode_core::tableau::{ButcherTableau, DenseOutput, ErrorEstimator};
use ode_core::{OdeState, Solution};

use crate::accumulate;
use crate::grad::{time_gradients, BackwardStats, Gradients};
use crate::rhs::VjpRhs;

/// One replayed step: the stage states `Y_i`, their times and derivatives.
struct Replay<S> {
    h: f64,
    stage_t: Vec<f64>,
    stage_y: Vec<S>,
    ks: Vec<S>,
}

fn replay<S: OdeState, F: VjpRhs<S> + ?Sized>(
    f: &F,
    tab: &ButcherTableau,
    t: f64,
    t_next: f64,
    y: &S,
    nfe: &mut usize,
    for_vjp: bool,
) -> Replay<S> {
    let h = t_next - t;
    let s = tab.stages();
    let mut stage_t = Vec::with_capacity(s);
    let mut stage_y: Vec<S> = Vec::with_capacity(s);
    let mut ks: Vec<S> = Vec::with_capacity(s);
    for i in 0..s {
        // Same arithmetic as ode_core::rk::rk_step, so the replay is bitwise
        // the forward step.
        let ti = if i == 0 {
            t
        } else if tab.c[i] == 1.0 {
            t_next
        } else {
            t + tab.c[i] * h
        };
        let yi = if i == 0 {
            y.dup()
        } else {
            let terms: Vec<(f64, &S)> =
                tab.a[i].iter().zip(ks.iter()).filter(|(a, _)| **a != 0.0).map(|(a, k)| (h * a, k)).collect();
            y.lincomb(&terms)
        };
        ks.push(if for_vjp { f.eval_for_vjp(ti, &yi) } else { f.eval(ti, &yi) });
        *nfe += 1;
        stage_t.push(ti);
        stage_y.push(yi);
    }
    Replay { h, stage_t, stage_y, ks }
}

fn error_weights(tab: &ButcherTableau) -> Option<&'static [f64]> {
    match tab.error {
        ErrorEstimator::None => None,
        ErrorEstimator::Embedded(e) => Some(e),
        ErrorEstimator::Dop853 { e5, .. } => Some(e5),
    }
}

/// The end time of accepted step `n`.
fn step_end<S>(sol: &Solution<S>, n: usize) -> f64 {
    match sol.steps.get(n + 1) {
        Some(next) => next.t,
        None => *sol.ts.last().expect("a solution has at least one output"),
    }
}

/// `err_n = h sum_i e_i k_i` for every accepted step, by replay.
pub(crate) fn error_estimates<S: OdeState, F: VjpRhs<S> + ?Sized>(
    f: &F,
    tab: &ButcherTableau,
    sol: &Solution<S>,
    checkpoints: &[S],
) -> Vec<S> {
    let mut nfe = 0;
    let e = error_weights(tab);
    (0..sol.steps.len())
        .map(|n| {
            let r = replay(f, tab, sol.steps[n].t, step_end(sol, n), &checkpoints[n], &mut nfe, false);
            match e {
                Some(e) => ode_core::rk::weighted_stages(&checkpoints[n], r.h, e, &r.ks),
                None => checkpoints[n].zeros_like(),
            }
        })
        .collect()
}

pub(crate) fn backward<S, F>(
    f: &F,
    tab: &'static ButcherTableau,
    sol: &Solution<S>,
    checkpoints: &[S],
    dl_dys: &[S],
    dl_derrs: Option<&[S]>,
) -> Gradients<S, F::Params>
where
    S: OdeState + Debug,
    F: VjpRhs<S> + ?Sized,
{
    let mut stats = BackwardStats::default();
    let mut dtheta = f.zero_params();
    let ts = &sol.ts;
    let n_steps = sol.steps.len();
    let direction = if ts.len() > 1 && ts[1] < ts[0] { -1.0 } else { 1.0 };
    // Walk outputs from the last one back; outputs at a step's end node feed
    // that node's cotangent, outputs strictly inside a step feed its stages.
    let mut out = ts.len() - 1;
    let mut ybar: S = dl_dys[0].zeros_like();
    if n_steps > 0 && ts[out] == step_end(sol, n_steps - 1) {
        ybar = ybar.lincomb(&[(1.0, &dl_dys[out])]);
        out -= 1;
    }
    for n in (0..n_steps).rev() {
        let t_n = sol.steps[n].t;
        let t_next = step_end(sol, n);
        let y_n = &checkpoints[n];
        let mut inside: Vec<usize> = Vec::new();
        while out > 0 && (ts[out] - t_n) * direction > 0.0 {
            inside.push(out);
            out -= 1;
        }
        let err_bar = dl_derrs.map(|d| &d[n]);
        let y_next = checkpoints.get(n + 1).unwrap_or_else(|| sol.ys.last().expect("outputs exist"));
        let inside = Inside { ts, dl_dys, idx: &inside };
        ybar =
            step_backward(f, tab, t_n, t_next, y_n, y_next, ybar, inside, err_bar, &mut dtheta, &mut stats);
        stats.n_steps += 1;
        // Outputs exactly at this step's start node.
        if out > 0 && ts[out] == t_n {
            ybar = ybar.lincomb(&[(1.0, &dl_dys[out])]);
            out -= 1;
        }
    }
    let dy0 = ybar.lincomb(&[(1.0, &dl_dys[0])]);
    let dts = time_gradients(f, ts, &sol.ys, dl_dys, &dy0, &mut stats.nfe);
    Gradients { dy0, dtheta, dts, stats }
}

/// The outputs that lie strictly inside one step: their times and cotangents.
struct Inside<'a, S> {
    ts: &'a [f64],
    dl_dys: &'a [S],
    idx: &'a [usize],
}

/// Back-propagates the cotangent of `y_{n+1}` (plus those of the outputs
/// inside the step and of its error estimate) to `y_n`, accumulating the
/// parameter gradient.
#[allow(clippy::too_many_arguments)]
fn step_backward<S, F>(
    f: &F,
    tab: &'static ButcherTableau,
    t_n: f64,
    t_next: f64,
    y_n: &S,
    y_next: &S,
    ybar_next: S,
    inside: Inside<'_, S>,
    err_bar: Option<&S>,
    dtheta: &mut F::Params,
    stats: &mut BackwardStats,
) -> S
where
    S: OdeState,
    F: VjpRhs<S> + ?Sized,
{
    let r = replay(f, tab, t_n, t_next, y_n, &mut stats.nfe, true);
    let h = r.h;
    let s = tab.stages();
    let extra = match tab.dense {
        DenseOutput::Dop853 { extra, .. } => extra,
        _ => &[],
    };
    let mut vjp = |t: f64, y: &S, a: &S| -> S {
        let (ya, pa) = f.vjp(t, y, a);
        stats.nvjp += 1;
        *dtheta = dtheta.lincomb(&[(1.0, &pa)]);
        ya
    };
    // Cotangents of the extended stage list [k_1..k_s, f1, extra stages].
    let mut kbar: Vec<Option<S>> = (0..s + 1 + extra.len()).map(|_| None).collect();
    let mut ybar_next = ybar_next;
    let mut ybar_n: Option<S> = None;

    if !inside.idx.is_empty() {
        // Interpolated outputs: y(tq) = y_n + h sum_j w_j(theta) K_j.
        let mut w = Vec::new();
        for &i in inside.idx {
            let g = &inside.dl_dys[i];
            stage_weights(tab, (inside.ts[i] - t_n) / h, &mut w);
            accumulate(&mut ybar_n, 1.0, g);
            for (kb, wj) in kbar.iter_mut().zip(&w) {
                if *wj != 0.0 {
                    accumulate(kb, h * wj, g);
                }
            }
        }
        // Rebuild f1 and the extra stages exactly as the forward did, then
        // back-propagate through the extra stages (last first) and f1.
        let needs_f1 = kbar[s].is_some() || !extra.is_empty();
        let mut ext: Vec<&S> = r.ks.iter().collect();
        let f1_owned: Option<S> = if needs_f1 && !tab.fsal {
            stats.nfe += 1;
            Some(f.eval_for_vjp(t_next, y_next))
        } else {
            None
        };
        ext.push(f1_owned.as_ref().unwrap_or(&r.ks[s - 1]));
        let mut extra_y: Vec<S> = Vec::with_capacity(extra.len());
        let mut extra_k: Vec<S> = Vec::with_capacity(extra.len());
        for e in extra {
            let ye = {
                let mut all: Vec<&S> = ext.clone();
                all.extend(extra_k.iter());
                let terms: Vec<(f64, &S)> =
                    e.a.iter().zip(all).filter(|(a, _)| **a != 0.0).map(|(a, k)| (h * a, k)).collect();
                y_n.lincomb(&terms)
            };
            extra_k.push(f.eval_for_vjp(t_n + e.c * h, &ye));
            stats.nfe += 1;
            extra_y.push(ye);
        }
        for (j, e) in extra.iter().enumerate().rev() {
            if let Some(kb) = kbar[s + 1 + j].take() {
                let yb = vjp(t_n + e.c * h, &extra_y[j], &kb);
                accumulate(&mut ybar_n, 1.0, &yb);
                for (m, a) in e.a.iter().enumerate() {
                    if *a != 0.0 {
                        accumulate(&mut kbar[m], h * a, &yb);
                    }
                }
            }
        }
        if let Some(kb) = kbar[s].take() {
            if tab.fsal {
                accumulate(&mut kbar[s - 1], 1.0, &kb);
            } else {
                let yb = vjp(t_next, y_next, &kb);
                ybar_next = ybar_next.lincomb(&[(1.0, &yb)]);
            }
        }
    }
    if let (Some(eb), Some(e)) = (err_bar, error_weights(tab)) {
        for (kb, ei) in kbar.iter_mut().zip(e) {
            if *ei != 0.0 {
                accumulate(kb, h * ei, eb);
            }
        }
    }
    // y_{n+1} = y_n + h sum_i b_i k_i.
    for (kb, bi) in kbar.iter_mut().zip(tab.b) {
        if *bi != 0.0 {
            accumulate(kb, h * bi, &ybar_next);
        }
    }
    let mut ybar_n = match ybar_n {
        Some(y) => y.lincomb(&[(1.0, &ybar_next)]),
        None => ybar_next,
    };
    // Stages in reverse: Y_i = y_n + h sum_{j<i} a_ij k_j, k_i = f(t_i, Y_i).
    for i in (0..s).rev() {
        if let Some(kb) = kbar[i].take() {
            let yb = vjp(r.stage_t[i], &r.stage_y[i], &kb);
            ybar_n = ybar_n.lincomb(&[(1.0, &yb)]);
            for (j, a) in tab.a[i].iter().enumerate() {
                if *a != 0.0 {
                    accumulate(&mut kbar[j], h * a, &yb);
                }
            }
        }
    }
    // Stages without a cotangent (e.g. the FSAL stage when nothing depends
    // on the error estimate) were evaluated for a VJP that never came.
    f.forget_kept();
    ybar_n
}
