//! Helpers shared by the gradient tests: flat parameter access for the test
//! problems, a smooth loss over the outputs, central finite differences and
//! the "frozen step grid" replay of a solve.
#![allow(dead_code)]

use ndarray::{Array1, Array2};
use ode_autodiff::problems::{CubicSpiral, Linear, LotkaVolterra, Mlp, MlpParams};
use ode_autodiff::{GradSolve, VjpRhs};
use ode_core::{Rhs, SolveOptions};

pub type Y = Array1<f64>;

/// A right-hand side whose parameters can be read and replaced as one flat
/// vector (so finite differences can perturb them one at a time).
pub trait FlatParams: VjpRhs<Y> + Clone {
    fn theta(&self) -> Vec<f64>;
    fn with_theta(&self, th: &[f64]) -> Self;
    fn flat(g: &Self::Params) -> Vec<f64>;
}

fn mat_from(shape: (usize, usize), th: &[f64]) -> Array2<f64> {
    Array2::from_shape_vec(shape, th.to_vec()).unwrap()
}

impl FlatParams for Linear {
    fn theta(&self) -> Vec<f64> {
        self.a.iter().copied().collect()
    }
    fn with_theta(&self, th: &[f64]) -> Self {
        Linear { a: mat_from(self.a.dim(), th) }
    }
    fn flat(g: &Array2<f64>) -> Vec<f64> {
        g.iter().copied().collect()
    }
}

impl FlatParams for CubicSpiral {
    fn theta(&self) -> Vec<f64> {
        self.a.iter().copied().collect()
    }
    fn with_theta(&self, th: &[f64]) -> Self {
        CubicSpiral { a: mat_from(self.a.dim(), th) }
    }
    fn flat(g: &Array2<f64>) -> Vec<f64> {
        g.iter().copied().collect()
    }
}

impl FlatParams for LotkaVolterra {
    fn theta(&self) -> Vec<f64> {
        self.p.to_vec()
    }
    fn with_theta(&self, th: &[f64]) -> Self {
        LotkaVolterra { p: [th[0], th[1], th[2], th[3]] }
    }
    fn flat(g: &Array1<f64>) -> Vec<f64> {
        g.to_vec()
    }
}

impl FlatParams for Mlp {
    fn theta(&self) -> Vec<f64> {
        let (w1, b1, w2, b2) = self.params();
        w1.iter().chain(b1.iter()).chain(w2.iter()).chain(b2.iter()).copied().collect()
    }
    fn with_theta(&self, th: &[f64]) -> Self {
        let (n1, n2, n3) = (self.w1.len(), self.b1.len(), self.w2.len());
        let mut m = self.clone();
        m.w1 = mat_from(self.w1.dim(), &th[..n1]);
        m.b1 = Array1::from(th[n1..n1 + n2].to_vec());
        m.w2 = mat_from(self.w2.dim(), &th[n1 + n2..n1 + n2 + n3]);
        m.b2 = Array1::from(th[n1 + n2 + n3..].to_vec());
        m
    }
    fn flat(g: &MlpParams) -> Vec<f64> {
        g.0.iter().chain(g.1.iter()).chain(g.2.iter()).chain(g.3.iter()).copied().collect()
    }
}

/// `y' = -k (y - sin t)` (componentwise, one rate per component): strongly
/// contracting onto a slowly moving target, so unstable backwards in time.
/// Parameters: the rates `k`.
#[derive(Clone, Debug)]
pub struct Relax {
    pub k: Array1<f64>,
}

impl Rhs<Y> for Relax {
    fn eval(&self, t: f64, y: &Y) -> Y {
        Array1::from_shape_fn(y.len(), |i| -self.k[i] * (y[i] - t.sin()))
    }
}

impl VjpRhs<Y> for Relax {
    type Params = Array1<f64>;
    fn zero_params(&self) -> Array1<f64> {
        Array1::zeros(self.k.len())
    }
    fn vjp(&self, t: f64, y: &Y, a: &Y) -> (Y, Array1<f64>) {
        let dy = Array1::from_shape_fn(y.len(), |i| -self.k[i] * a[i]);
        let dk = Array1::from_shape_fn(y.len(), |i| -a[i] * (y[i] - t.sin()));
        (dy, dk)
    }
}

impl FlatParams for Relax {
    fn theta(&self) -> Vec<f64> {
        self.k.to_vec()
    }
    fn with_theta(&self, th: &[f64]) -> Self {
        Relax { k: Array1::from(th.to_vec()) }
    }
    fn flat(g: &Array1<f64>) -> Vec<f64> {
        g.to_vec()
    }
}

/// A smooth, non-linear loss over all outputs:
/// `L = sum_i (c_i . y_i + 0.5 d_i |y_i|^2)` with fixed, output-dependent
/// weights `c_i[j] = cos(1 + i + 2j)`, `d_i = 0.3 + 0.1 i`.
pub fn loss(ys: &[Y]) -> f64 {
    ys.iter()
        .enumerate()
        .map(|(i, y)| {
            let (c, d) = weights(i, y.len());
            c.dot(y) + 0.5 * d * y.dot(y)
        })
        .sum()
}

/// `dL/dy_i` of [`loss`].
pub fn loss_cot(ys: &[Y]) -> Vec<Y> {
    ys.iter()
        .enumerate()
        .map(|(i, y)| {
            let (c, d) = weights(i, y.len());
            c + &(y * d)
        })
        .collect()
}

fn weights(i: usize, n: usize) -> (Y, f64) {
    (Array1::from_shape_fn(n, |j| (1.0 + i as f64 + 2.0 * j as f64).cos()), 0.3 + 0.1 * i as f64)
}

/// Options that replay exactly the accepted steps of `fwd` with `method`:
/// a step grid made of the accepted step starts plus the final time.
pub fn frozen(fwd: &GradSolve<Y>, method: &'static ode_core::ButcherTableau) -> SolveOptions {
    let mut grid: Vec<f64> = fwd.solution.steps.iter().map(|s| s.t).collect();
    grid.push(*fwd.solution.ts.last().unwrap());
    SolveOptions::default().method(method).grid(grid)
}

/// Fourth-order central finite differences (five-point stencil
/// `(-L(x+2e) + 8 L(x+e) - 8 L(x-e) + L(x-2e)) / 12e`) of a scalar function
/// of y0 and of the flat parameters, with `e = eps * max(1, |x|)`.
/// Truncation error O(e^4 L^(5)), rounding error O(1e-16 |L| / e).
pub fn fd_grad<F: FlatParams>(
    f: &F,
    y0: &Y,
    eps: f64,
    objective: &dyn Fn(&F, &Y) -> f64,
) -> (Vec<f64>, Vec<f64>) {
    let mut dy = Vec::new();
    for j in 0..y0.len() {
        let e = eps * y0[j].abs().max(1.0);
        let at = |d: f64| {
            let mut y = y0.clone();
            y[j] += d;
            objective(f, &y)
        };
        dy.push(stencil(&at, e));
    }
    let th = f.theta();
    let mut dth = Vec::new();
    for k in 0..th.len() {
        let e = eps * th[k].abs().max(1.0);
        let at = |d: f64| {
            let mut t = th.clone();
            t[k] += d;
            objective(&f.with_theta(&t), y0)
        };
        dth.push(stencil(&at, e));
    }
    (dy, dth)
}

/// The five-point derivative of `at` at 0 with step `e`.
pub fn stencil(at: &dyn Fn(f64) -> f64, e: f64) -> f64 {
    (-at(2.0 * e) + 8.0 * at(e) - 8.0 * at(-e) + at(-2.0 * e)) / (12.0 * e)
}

/// Norm-wise relative error `max|a - b| / max(max|b|, floor)`.
pub fn rel(a: &[f64], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len());
    let num = a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f64::max);
    let den = b.iter().map(|y| y.abs()).fold(1e-300, f64::max);
    num / den
}

/// `[dy0, dtheta]` concatenated.
pub fn cat(a: &[f64], b: &[f64]) -> Vec<f64> {
    a.iter().chain(b).copied().collect()
}

/// Matrix exponential by scaling and squaring of a 20-term Taylor series
/// (accurate to rounding for the small, moderate-norm matrices used here).
pub fn expm(a: &Array2<f64>) -> Array2<f64> {
    let n = a.nrows();
    let norm = a.iter().map(|x| x.abs()).sum::<f64>();
    let s = if norm > 0.5 { (norm / 0.5).log2().ceil() as i32 } else { 0 };
    let b = a / 2f64.powi(s);
    let mut term = Array2::<f64>::eye(n);
    let mut sum = Array2::<f64>::eye(n);
    for k in 1..=20 {
        term = term.dot(&b) / k as f64;
        sum += &term;
    }
    for _ in 0..s {
        sum = sum.dot(&sum);
    }
    sum
}

/// Formats a list of errors compactly.
pub struct Errs<'a>(pub &'a [f64]);

impl std::fmt::LowerExp for Errs<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let p = f.precision().unwrap_or(2);
        let parts: Vec<String> = self.0.iter().map(|e| format!("{e:.p$e}")).collect();
        write!(f, "[{}]", parts.join(", "))
    }
}
