//! Checks every shipped Butcher tableau against the Runge-Kutta order
//! conditions, written with rooted trees (Butcher; Hairer, Norsett & Wanner,
//! "Solving ODEs I", section II.2).
//!
//! A method with weights `w` over stages with coefficients `a` has order `p`
//! iff for every rooted tree `t` with at most `p` vertices
//!     Phi(t) = sum_j w_j Phi_j(t) = 1 / gamma(t),
//! where the stage weight `Phi_j(t)` is the product, over the subtrees `u` of
//! the root, of `sum_l a_jl Phi_l(u)` (1 for the one-vertex tree) and the
//! density is `gamma(t) = |t| * prod gamma(u)`. A continuous extension
//! `y(t0 + theta h) = y0 + h sum_j w_j(theta) K_j` has order `q` iff
//! `sum_j w_j(theta) Phi_j(t) = theta^|t| / gamma(t)` for `|t| <= q`.
//!
//! Tolerances. Every tableau entry is a rounded `f64`, and the sums mix terms
//! of size up to ~500 (DOP853's dense weights), so a residual is compared
//! with its own rounding scale: `S = sum_j |w_j| |Phi|_j(t) + |target|`,
//! where `|Phi|` is the elementary weight computed with `|a|`. A condition
//! holds if `|residual| <= TOL * S` with `TOL = 1e-13` (about 450 ulps; the
//! worst residual observed over all methods, trees and sampled theta is
//! ~1.1e-15 S, Tsitouras' interpolant near theta = 1). It is violated if
//! `|residual| >= VIOLATED * S` with `VIOLATED = 1e-9`; the smallest genuine
//! violation checked is ~3e-7 S (DOP853's dense output at order 8).
//! Anything in between fails the test as ambiguous.

use std::ops::Range;

use ode_core::dense::stage_weights;
use ode_core::tableau::{ButcherTableau, DenseOutput, ErrorEstimator};
use proptest::prelude::*;

/// A condition with `|residual| <= TOL * scale` holds.
const TOL: f64 = 1e-13;
/// A condition with `|residual| >= VIOLATED * scale` is genuinely violated.
const VIOLATED: f64 = 1e-9;
/// Trees are generated up to this order: DOP853's 8 plus one to show that
/// the 9th-order conditions fail.
const MAX_ORDER: usize = 9;

// ---------------------------------------------------------------------------
// Rooted trees
// ---------------------------------------------------------------------------

/// A rooted tree, stored as the multiset of the subtrees hanging off its
/// root (indices into [`Forest::trees`], non-decreasing so that every tree
/// has exactly one representation).
struct Tree {
    order: usize,
    children: Vec<usize>,
    gamma: f64,
}

/// All rooted trees up to some order, sorted by order.
struct Forest {
    trees: Vec<Tree>,
    /// Trees of order `n` are `trees[start[n]..start[n + 1]]`.
    start: Vec<usize>,
}

impl Forest {
    fn new(max_order: usize) -> Self {
        let mut trees = vec![Tree { order: 1, children: vec![], gamma: 1.0 }];
        let mut start = vec![0, 0, 1];
        for n in 2..=max_order {
            // A tree of order n is a root plus a multiset of smaller trees
            // whose orders add up to n - 1. Only trees of order < n exist yet.
            let mut multisets = Vec::new();
            multisets_of_order(&trees, 0, n - 1, &mut Vec::new(), &mut multisets);
            for children in multisets {
                let gamma = n as f64 * children.iter().map(|&u| trees[u].gamma).product::<f64>();
                trees.push(Tree { order: n, children, gamma });
            }
            start.push(trees.len());
        }
        Forest { trees, start }
    }

    fn of_order(&self, n: usize) -> Range<usize> {
        self.start[n]..self.start[n + 1]
    }
}

/// Pushes onto `out` every non-decreasing sequence of tree indices `>= first`
/// whose orders sum to `remaining`.
fn multisets_of_order(
    trees: &[Tree],
    first: usize,
    remaining: usize,
    current: &mut Vec<usize>,
    out: &mut Vec<Vec<usize>>,
) {
    if remaining == 0 {
        out.push(current.clone());
        return;
    }
    // Trees are sorted by order, so the scan can stop at the first too big.
    for (idx, tree) in trees.iter().enumerate().skip(first).take_while(|(_, t)| t.order <= remaining) {
        current.push(idx);
        multisets_of_order(trees, idx, remaining - tree.order, current, out);
        current.pop();
    }
}

// ---------------------------------------------------------------------------
// Stages and elementary weights
// ---------------------------------------------------------------------------

/// The extended stage list of a method, `[k_1 .. k_s, f(t1, y1), extra
/// stages]`, as one strictly lower-triangular tableau: `f(t1, y1)` is a
/// stage with `c = 1` and `a`-row `b` (because `y1 = y0 + h sum b_i k_i`).
/// The first `s` rows are the method itself, so weights over the plain
/// stages are checked by padding them with zeros. The nodes `c` are not
/// needed: they are the row sums, which `structure_is_consistent` checks.
struct Stages {
    /// Row `i` has exactly `i` entries.
    a: Vec<Vec<f64>>,
}

impl Stages {
    fn extended(tab: &ButcherTableau) -> Self {
        let mut a: Vec<Vec<f64>> = tab.a.iter().map(|row| row.to_vec()).collect();
        a.push(tab.b.to_vec());
        if let DenseOutput::Dop853 { extra, .. } = tab.dense {
            a.extend(extra.iter().map(|e| e.a.to_vec()));
        }
        for (i, row) in a.iter().enumerate() {
            assert_eq!(row.len(), i, "{}: extended stage {i} has an a-row of length {}", tab.name, row.len());
        }
        Stages { a }
    }

    fn len(&self) -> usize {
        self.a.len()
    }
}

/// `phi[t][j] = Phi_j(t)` for every tree and stage, and `abs[t][j]`, the
/// same with `|a|`, the scale of the rounding error in `phi[t][j]`.
struct ElementaryWeights {
    phi: Vec<Vec<f64>>,
    abs: Vec<Vec<f64>>,
}

impl ElementaryWeights {
    fn new(stages: &Stages, forest: &Forest) -> Self {
        let n = stages.len();
        let mut phi: Vec<Vec<f64>> = Vec::with_capacity(forest.trees.len());
        let mut abs: Vec<Vec<f64>> = Vec::with_capacity(forest.trees.len());
        // a_phi[u][j] = sum_l a_jl Phi_l(u): the factor a subtree u
        // contributes to its parent's stage weight.
        let mut a_phi: Vec<Vec<f64>> = Vec::with_capacity(forest.trees.len());
        let mut a_abs: Vec<Vec<f64>> = Vec::with_capacity(forest.trees.len());
        for tree in &forest.trees {
            let mut p = vec![1.0; n];
            let mut q = vec![1.0; n];
            for &u in &tree.children {
                for j in 0..n {
                    p[j] *= a_phi[u][j];
                    q[j] *= a_abs[u][j];
                }
            }
            let ap = (0..n).map(|j| dot(&stages.a[j], &p)).collect();
            let aq = (0..n).map(|j| stages.a[j].iter().zip(&q).map(|(x, y)| x.abs() * y).sum()).collect();
            phi.push(p);
            abs.push(q);
            a_phi.push(ap);
            a_abs.push(aq);
        }
        ElementaryWeights { phi, abs }
    }

    /// `sum_j w_j Phi_j(t) - target` and its rounding scale; `w` may be
    /// shorter than the stage list (missing weights are zero).
    fn residual(&self, w: &[f64], t: usize, target: f64) -> (f64, f64) {
        let value = dot(w, &self.phi[t]);
        let scale: f64 = w.iter().zip(&self.abs[t]).map(|(x, y)| x.abs() * y).sum::<f64>() + target.abs();
        (value - target, scale)
    }
}

fn dot(x: &[f64], y: &[f64]) -> f64 {
    x.iter().zip(y).map(|(a, b)| a * b).sum()
}

/// Everything needed to check one method.
struct Checker {
    forest: Forest,
    weights: ElementaryWeights,
}

impl Checker {
    fn new(tab: &ButcherTableau) -> Self {
        let forest = Forest::new(MAX_ORDER);
        let weights = ElementaryWeights::new(&Stages::extended(tab), &forest);
        Checker { forest, weights }
    }

    /// For each order `n` in `1..=max_order`, the largest
    /// `|residual| / scale` over the trees of order `n` of the conditions
    /// `sum_j w_j Phi_j(t) = theta^n / gamma(t)` (`theta = 1`: the plain
    /// order conditions). Index 0 is unused.
    fn worst_by_order(&self, w: &[f64], theta: f64, max_order: usize) -> Vec<f64> {
        let mut worst = vec![0.0; max_order + 1];
        for (n, worst_n) in worst.iter_mut().enumerate().skip(1) {
            for t in self.forest.of_order(n) {
                let target = theta.powi(n as i32) / self.forest.trees[t].gamma;
                let (res, scale) = self.weights.residual(w, t, target);
                // scale is 0 only if w = 0 and theta = 0, and then so is res.
                *worst_n = f64::max(*worst_n, res.abs() / scale.max(f64::MIN_POSITIVE));
            }
        }
        worst
    }

    /// Asserts that `w` satisfies the conditions of every order `<= order`
    /// and, if `exact`, violates at least one of order `order + 1`.
    fn assert_order(&self, what: &str, w: &[f64], theta: f64, order: usize, exact: bool) {
        let top = if exact { order + 1 } else { order };
        let worst = self.worst_by_order(w, theta, top);
        for n in 1..=order {
            assert!(
                worst[n] <= TOL,
                "{what}: an order-{n} condition fails (relative residual {:.3e}); by order: {}",
                worst[n],
                fmt_worst(&worst)
            );
        }
        if exact {
            assert!(
                worst[order + 1] >= VIOLATED,
                "{what}: all order-{} conditions hold (worst relative residual {:.3e}), so the order is \
                 higher than {order}; by order: {}",
                order + 1,
                worst[order + 1],
                fmt_worst(&worst)
            );
        }
    }
}

fn fmt_worst(worst: &[f64]) -> String {
    worst.iter().enumerate().skip(1).map(|(n, r)| format!("{n}: {r:.1e}")).collect::<Vec<_>>().join(", ")
}

// ---------------------------------------------------------------------------
// What each method claims
// ---------------------------------------------------------------------------

const NAMES: [&str; 12] = [
    "euler",
    "midpoint",
    "heun2",
    "heun3",
    "rk4",
    "rk4_38",
    "adaptive_heun",
    "fehlberg2",
    "bosh3",
    "dopri5",
    "tsit5",
    "dopri8",
];

/// Number of stages DOP853's dense output adds after `f(t1, y1)`.
fn n_extra(tab: &ButcherTableau) -> usize {
    match tab.dense {
        DenseOutput::Dop853 { extra, .. } => extra.len(),
        _ => 0,
    }
}

/// The order of each method's continuous extension.
fn dense_order(tab: &ButcherTableau) -> usize {
    match tab.dense {
        // Cubic Hermite interpolation is exact for cubics, so with y1 of
        // order p its conditions hold up to min(p, 3).
        DenseOutput::Hermite => (tab.order as usize).min(3),
        DenseOutput::QuarticMidpoint { .. } => 4,
        DenseOutput::StagePolynomial { .. } => 4,
        DenseOutput::Dop853 { .. } => 7,
    }
}

/// Interpolation weights computed here from the documented formulas
/// (see `DenseOutput`), independently of `ode_core::dense`, so that a
/// failure can be attributed to the coefficients or to `stage_weights`.
fn reference_weights(tab: &ButcherTableau, theta: f64) -> Vec<f64> {
    let s = tab.stages();
    let mut w = vec![0.0; s + 1 + n_extra(tab)];
    // Weights of y1 - y0 (that is, of b), k_1 = f0 and f1 in the cubic
    // Hermite basis on [0, 1]: y = y0 + H01 (y1 - y0) + h H10 f0 + h H11 f1.
    let h01 = theta * theta * (3.0 - 2.0 * theta);
    let h10 = theta * (1.0 - theta) * (1.0 - theta);
    let h11 = theta * theta * (theta - 1.0);
    let hermite = |w: &mut [f64]| {
        for (wi, bi) in w.iter_mut().zip(tab.b) {
            *wi = h01 * bi;
        }
        w[0] += h10;
        w[s] += h11;
    };
    match tab.dense {
        DenseOutput::Hermite => hermite(&mut w),
        DenseOutput::QuarticMidpoint { c_mid } => {
            // Hermite plus the multiple of theta^2 (1-theta)^2 (which is 1/16
            // at theta = 1/2 and leaves y0, y1, f0, f1 alone) that moves the
            // value at the midpoint from Hermite's, y0 + h (b/2 + k1/8 - f1/8),
            // to y0 + h sum c_mid k.
            hermite(&mut w);
            let bump = 16.0 * theta * theta * (1.0 - theta) * (1.0 - theta);
            for i in 0..s {
                w[i] += bump * (c_mid[i] - 0.5 * tab.b[i]);
            }
            w[0] -= bump / 8.0;
            w[s] += bump / 8.0;
        }
        DenseOutput::StagePolynomial { coeffs } => {
            for (wi, row) in w.iter_mut().zip(coeffs) {
                *wi = row.iter().enumerate().map(|(m, r)| r * theta.powi(m as i32 + 1)).sum();
            }
        }
        DenseOutput::Dop853 { d, .. } => {
            // y0 + th F0 + th u F1 + th^2 u F2 + th^2 u^2 F3 + th^3 u^2 F4
            //    + th^3 u^3 F5 + th^4 u^3 F6 with u = 1 - th and
            // F0 = h b.k, F1 = h k1 - F0, F2 = 2 F0 - h (f1 + k1), F3+r = h d_r.K.
            let (th, u) = (theta, 1.0 - theta);
            let p = [th, th * u, th * th * u, th * th * u * u, th.powi(3) * u * u, th.powi(3) * u.powi(3)];
            let p6 = th.powi(4) * u.powi(3);
            for (wi, bi) in w.iter_mut().zip(tab.b) {
                *wi = bi * (p[0] - p[1] + 2.0 * p[2]);
            }
            w[0] += p[1] - p[2];
            w[s] -= p[2];
            for (row, pr) in d.iter().zip([p[3], p[4], p[5], p6]) {
                for (wi, dj) in w.iter_mut().zip(row.iter()) {
                    *wi += dj * pr;
                }
            }
        }
    }
    w
}

fn library_weights(tab: &ButcherTableau, theta: f64) -> Vec<f64> {
    let mut w = Vec::new();
    stage_weights(tab, theta, &mut w);
    w
}

// ---------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------

#[test]
fn tree_counts_match_oeis_a000081() {
    // Rooted trees with n vertices: 1, 1, 2, 4, 9, 20, 48, 115, 286.
    let forest = Forest::new(MAX_ORDER);
    let counts: Vec<usize> = (1..=MAX_ORDER).map(|n| forest.of_order(n).len()).collect();
    assert_eq!(counts, [1, 1, 2, 4, 9, 20, 48, 115, 286]);
    assert_eq!((1..=8).map(|n| forest.of_order(n).len()).sum::<usize>(), 200);
}

#[test]
fn tree_densities_are_right_for_small_trees() {
    // Order 3: the bushy tree [tau, tau] (gamma 3) and the chain [[tau]]
    // (gamma 6); order 4: gammas 4, 8, 12, 24 in some order.
    let forest = Forest::new(4);
    let mut g3: Vec<f64> = forest.of_order(3).map(|t| forest.trees[t].gamma).collect();
    g3.sort_by(f64::total_cmp);
    assert_eq!(g3, [3.0, 6.0]);
    let mut g4: Vec<f64> = forest.of_order(4).map(|t| forest.trees[t].gamma).collect();
    g4.sort_by(f64::total_cmp);
    assert_eq!(g4, [4.0, 8.0, 12.0, 24.0]);
}

#[test]
fn all_methods_are_listed_once_and_found_by_name() {
    let names: Vec<&str> = ButcherTableau::all().iter().map(|t| t.name).collect();
    assert_eq!(names, NAMES);
    for tab in ButcherTableau::all() {
        let found = ButcherTableau::by_name(tab.name).expect("by_name finds every method");
        assert!(std::ptr::eq(found, *tab), "{}", tab.name);
        assert!(ButcherTableau::by_name(&tab.name.to_uppercase()).is_some(), "{}", tab.name);
    }
}

#[test]
fn structure_is_consistent() {
    for tab in ButcherTableau::all() {
        let name = tab.name;
        let s = tab.stages();
        assert!(s >= 1, "{name}");
        assert_eq!(tab.c[0], 0.0, "{name}: c[0]");
        assert_eq!(tab.a.len(), s, "{name}: number of a-rows");
        assert_eq!(tab.b.len(), s, "{name}: length of b");
        for (i, row) in tab.a.iter().enumerate() {
            assert_eq!(row.len(), i, "{name}: a-row {i} has {} entries", row.len());
            // Relative to the row's absolute sum: DOP853's rows sum
            // entries of size ~40 to c ~ 0.6.
            let sum: f64 = row.iter().sum();
            let scale = row.iter().map(|x| x.abs()).sum::<f64>().max(tab.c[i].abs());
            assert!(
                (sum - tab.c[i]).abs() <= 1e-14 * scale,
                "{name}: a-row {i} sums to {sum:e}, c = {:e}",
                tab.c[i]
            );
        }
        assert_sums_to(tab.b, 1.0, &format!("{name}: b"));
        assert!(tab.c.iter().all(|c| (0.0..=1.0).contains(c)), "{name}: c outside [0, 1]");
        assert!(tab.order >= 1 && tab.error_order < tab.order, "{name}: orders");

        match tab.error {
            ErrorEstimator::None => assert_eq!(tab.error_order, 0, "{name}"),
            ErrorEstimator::Embedded(e) => {
                assert_eq!(e.len(), s, "{name}: length of e");
                assert_sums_to(e, 0.0, &format!("{name}: e"));
            }
            ErrorEstimator::Dop853 { e5, e3 } => {
                assert_eq!(e5.len(), s, "{name}: length of e5");
                assert_eq!(e3.len(), s, "{name}: length of e3");
                assert_sums_to(e5, 0.0, &format!("{name}: e5"));
                assert_sums_to(e3, 0.0, &format!("{name}: e3"));
            }
        }
        assert_eq!(tab.is_adaptive(), !matches!(tab.error, ErrorEstimator::None), "{name}");

        if tab.fsal {
            // The last stage is f(t1, y1): c = 1, its a-row is b, and the
            // propagated solution does not use it.
            assert_eq!(tab.c[s - 1], 1.0, "{name}: FSAL c");
            assert_eq!(tab.a[s - 1], &tab.b[..s - 1], "{name}: FSAL a-row");
            assert_eq!(tab.b[s - 1], 0.0, "{name}: FSAL b");
        }

        match tab.dense {
            DenseOutput::Hermite => {}
            DenseOutput::QuarticMidpoint { c_mid } => {
                assert_eq!(c_mid.len(), s, "{name}: length of c_mid");
                assert_sums_to(c_mid, 0.5, &format!("{name}: c_mid"));
            }
            DenseOutput::StagePolynomial { coeffs } => {
                assert_eq!(coeffs.len(), s, "{name}: rows of coeffs");
                let degree = coeffs[0].len();
                assert!(coeffs.iter().all(|row| row.len() == degree), "{name}: ragged coeffs");
            }
            DenseOutput::Dop853 { extra, d } => {
                // Extra stage j is over [k_1..k_s, f1, extra_1..extra_{j-1}].
                for (j, e) in extra.iter().enumerate() {
                    assert_eq!(e.a.len(), s + 1 + j, "{name}: a-row of extra stage {j}");
                    let sum: f64 = e.a.iter().sum();
                    let scale = e.a.iter().map(|x| x.abs()).sum::<f64>();
                    assert!(
                        (sum - e.c).abs() <= 1e-14 * scale,
                        "{name}: extra stage {j} row sums to {sum:e}, c = {:e}",
                        e.c
                    );
                }
                assert_eq!(d.len(), 4, "{name}: rows of d");
                assert!(d.iter().all(|row| row.len() == s + 1 + extra.len()), "{name}: length of d rows");
                // Each correction term F3.. vanishes for y' = const.
                for (r, row) in d.iter().enumerate() {
                    assert_sums_to(row, 0.0, &format!("{name}: d row {r}"));
                }
            }
        }
    }
}

/// `sum(v) == target` up to 1e-14 of the absolute sum (at least 1e-14).
fn assert_sums_to(v: &[f64], target: f64, what: &str) {
    let sum: f64 = v.iter().sum();
    let scale = v.iter().map(|x| x.abs()).sum::<f64>().max(1.0);
    assert!((sum - target).abs() <= 1e-14 * scale, "{what} sums to {sum:e}, not {target}");
}

#[test]
fn dop853_and_tsit5_have_the_advertised_shape() {
    let t = ButcherTableau::by_name("tsit5").unwrap();
    assert_eq!((t.stages(), t.order, t.error_order, t.fsal), (7, 5, 4, true));
    assert!(matches!(t.dense, DenseOutput::StagePolynomial { .. }));
    let d = ButcherTableau::by_name("dopri8").unwrap();
    assert_eq!((d.stages(), d.order, d.error_order, d.fsal), (12, 8, 7, false));
    match d.dense {
        DenseOutput::Dop853 { extra, d } => {
            let cs: Vec<f64> = extra.iter().map(|e| e.c).collect();
            assert_eq!(cs, [0.1, 0.2, 7.0 / 9.0]);
            assert_eq!(d.len(), 4);
        }
        _ => panic!("dopri8 must use the DOP853 dense output"),
    }
}

#[test]
fn propagated_solution_has_exactly_the_claimed_order() {
    for tab in ButcherTableau::all() {
        let checker = Checker::new(tab);
        checker.assert_order(&format!("{} b", tab.name), tab.b, 1.0, tab.order as usize, true);
    }
}

#[test]
fn embedded_solutions_have_exactly_their_orders() {
    // b_hat = b - e. For `Embedded`, its order is `error_order` (the
    // controller exponent is 1 / (error_order + 1)). For DOP853 the two
    // estimates come from a 5th- and a 3rd-order solution; its error_order
    // (7) describes the combined estimate instead.
    let b_minus = |b: &[f64], e: &[f64]| b.iter().zip(e).map(|(x, y)| x - y).collect::<Vec<f64>>();
    let mut checked = Vec::new();
    for tab in ButcherTableau::all() {
        let checker = Checker::new(tab);
        match tab.error {
            ErrorEstimator::None => {}
            ErrorEstimator::Embedded(e) => {
                let what = format!("{} b - e", tab.name);
                checker.assert_order(&what, &b_minus(tab.b, e), 1.0, tab.error_order as usize, true);
                checked.push((tab.name, tab.error_order));
            }
            ErrorEstimator::Dop853 { e5, e3 } => {
                checker.assert_order(&format!("{} b - e5", tab.name), &b_minus(tab.b, e5), 1.0, 5, true);
                checker.assert_order(&format!("{} b - e3", tab.name), &b_minus(tab.b, e3), 1.0, 3, true);
                checked.push((tab.name, 53));
            }
        }
    }
    assert_eq!(
        checked,
        [("adaptive_heun", 1), ("fehlberg2", 1), ("bosh3", 2), ("dopri5", 4), ("tsit5", 4), ("dopri8", 53)]
    );
}

#[test]
fn dense_coefficients_have_their_order() {
    // The coefficients themselves, through weights computed in this file.
    // The order is exact: one condition of the next order fails. Not at
    // theta = 1/2, where dopri5's quartic passes through a 5th-order value.
    for tab in ButcherTableau::all() {
        let checker = Checker::new(tab);
        let q = dense_order(tab);
        for theta in [0.1, 0.3, 0.5, 0.77, 1.0] {
            let what = format!("{} reference dense weights at theta = {theta}", tab.name);
            checker.assert_order(&what, &reference_weights(tab, theta), theta, q, false);
        }
        for theta in [0.3, 0.77] {
            let what = format!("{} reference dense weights at theta = {theta}", tab.name);
            checker.assert_order(&what, &reference_weights(tab, theta), theta, q, true);
        }
    }
}

#[test]
fn stage_weights_satisfy_the_dense_conditions() {
    for tab in ButcherTableau::all() {
        let checker = Checker::new(tab);
        let q = dense_order(tab);
        for theta in [0.1, 0.3, 0.5, 0.77, 1.0] {
            let w = library_weights(tab, theta);
            assert_eq!(w.len(), tab.stages() + 1 + n_extra(tab), "{}: number of weights", tab.name);
            let what = format!("{} stage_weights at theta = {theta}", tab.name);
            checker.assert_order(&what, &w, theta, q, false);
        }
    }
}

#[test]
fn stage_weights_match_the_documented_interpolants() {
    for tab in ButcherTableau::all() {
        for theta in [0.0, 0.1, 0.3, 0.5, 0.77, 1.0] {
            let got = library_weights(tab, theta);
            let want = reference_weights(tab, theta);
            assert_eq!(got.len(), want.len(), "{}", tab.name);
            for (j, (g, w)) in got.iter().zip(&want).enumerate() {
                assert!(
                    (g - w).abs() <= 1e-13 * (1.0 + w.abs()),
                    "{} theta = {theta}: weight {j} is {g:e}, expected {w:e}",
                    tab.name
                );
            }
        }
    }
}

#[test]
fn stage_weights_vanish_at_zero_and_reproduce_b_at_one() {
    for tab in ButcherTableau::all() {
        let s = tab.stages();
        let w0 = library_weights(tab, 0.0);
        assert!(w0.iter().all(|&w| w == 0.0), "{}: w(0) = {w0:?}", tab.name);

        // At theta = 1 the interpolant must give y1 itself. The tolerance
        // covers Tsitouras' polynomials: coefficients up to ~88 summed in
        // f64 reproduce b to ~3e-15.
        let w1 = library_weights(tab, 1.0);
        for (j, &w) in w1.iter().enumerate() {
            let want = if j < s { tab.b[j] } else { 0.0 };
            assert!((w - want).abs() <= 1e-13, "{}: w_{j}(1) = {w:e}, expected {want:e}", tab.name);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// The continuous extensions have their order at every theta in [0, 1],
    /// not only at the sampled points.
    #[test]
    fn dense_conditions_hold_for_any_theta(theta in 0.0..=1.0f64) {
        for tab in ButcherTableau::all() {
            let checker = Checker::new(tab);
            let q = dense_order(tab);
            let worst = checker.worst_by_order(&library_weights(tab, theta), theta, q);
            for (n, &r) in worst.iter().enumerate().skip(1) {
                prop_assert!(
                    r <= TOL,
                    "{} at theta = {}: an order-{} condition fails (relative residual {:.3e})",
                    tab.name, theta, n, r
                );
            }
        }
    }
}
