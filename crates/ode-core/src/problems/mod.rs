//! Standard initial-value test problems, reusable by tests, benchmarks and
//! users.
//!
//! Every problem is a [`Problem`]: a name, an interval `[t0, t1]`, an initial
//! value, the right-hand side and, where one is known, the exact solution
//! (closed form, or computed to round-off: matrix exponentials, Kepler's
//! equation, Jacobi elliptic functions), a known end value or a first
//! integral. A `Problem` is itself an [`Rhs`], so `&problem` goes straight
//! into [`crate::solve()`].
//!
//! The sets:
//!
//! - torchdiffeq's test set: [`constant`], [`sine`], [`linear`] (t in
//!   `[1, 8]`, `y0` the exact solution at 1);
//! - the convergence-order problem [`convergence`]: `y' = A y` with
//!   `A = 0.5 N(0, 1)` of size 10 x 10, t in `[0, 4]`;
//! - classics: [`lorenz`], [`arenstorf`], [`van_der_pol`],
//!   [`lotka_volterra`], [`cubic_spiral`];
//! - the non-stiff DETEST classes A-E of Hull, Enright, Fellen and Sedgwick
//!   (1972) in [`detest`], all on `[0, 20]`.
//!
//! Random matrices come from a small seeded generator ([`SplitMix64`] with
//! Box-Muller normals) so the same seed gives the same problem everywhere,
//! without a dependency on `rand`.
//!
//! ```
//! use ode_core::{problems, solve, SolveOptions};
//!
//! let p = problems::detest::a3();
//! let sol = solve(&p, p.y0.clone(), &[p.t0, p.t1], &SolveOptions::default().tol(1e-8, 1e-10)).unwrap();
//! let exact = p.exact_at(p.t1).unwrap();
//! assert!((sol.ys[1][0] - exact[0]).abs() < 1e-6);
//! ```

use std::f64::consts::{FRAC_PI_2, FRAC_PI_4, PI};
use std::fmt;

use ndarray::{array, Array1, Array2};

use crate::rhs::Rhs;

pub mod detest;
mod random;
mod special;

pub use random::{normal_matrix, SplitMix64};
pub use special::{expm, jacobi_sn_cn_dn, kepler_eccentric_anomaly, linear_solution, norm1};

/// A right-hand side `f(t, y)` on `f64` vectors.
pub type VectorField = Box<dyn Fn(f64, &Array1<f64>) -> Array1<f64> + Send + Sync>;
/// An exact solution `t -> y(t)`.
pub type ExactSolution = Box<dyn Fn(f64) -> Array1<f64> + Send + Sync>;
/// A first integral: a function of the state that is constant along every
/// solution (energy, a conserved sum, ...).
pub type Invariant = Box<dyn Fn(&Array1<f64>) -> f64 + Send + Sync>;

/// The seed of the random matrices when none is given (by [`by_name`] and
/// [`torchdiffeq_set`] callers that pass it).
pub const DEFAULT_SEED: u64 = 0x5eed_0de5;

/// An initial-value problem `y' = f(t, y)`, `y(t0) = y0`, to be solved on
/// `[t0, t1]` (`t1 < t0` means backwards in time).
pub struct Problem {
    /// Short name (`"A1"`, `"sine"`, `"lorenz"`, ...).
    pub name: String,
    pub t0: f64,
    pub t1: f64,
    pub y0: Array1<f64>,
    /// The right-hand side.
    pub rhs: VectorField,
    /// The exact solution, when one is known for every t of the interval.
    pub exact: Option<ExactSolution>,
    /// The exact value at `t1` when it is known but [`Problem::exact`] is
    /// not (e.g. a periodic orbit integrated over one period).
    pub y_end: Option<Array1<f64>>,
    /// A function of the state that the exact solution keeps constant.
    pub invariant: Option<Invariant>,
}

impl fmt::Debug for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Problem")
            .field("name", &self.name)
            .field("t0", &self.t0)
            .field("t1", &self.t1)
            .field("y0", &self.y0)
            .field("exact", &self.exact.is_some())
            .field("y_end", &self.y_end)
            .field("invariant", &self.invariant.is_some())
            .finish()
    }
}

impl Rhs<Array1<f64>> for Problem {
    #[inline]
    fn eval(&self, t: f64, y: &Array1<f64>) -> Array1<f64> {
        (self.rhs)(t, y)
    }
}

impl Problem {
    /// A problem without exact solution, end value or invariant.
    pub fn new(
        name: impl Into<String>,
        t0: f64,
        t1: f64,
        y0: Array1<f64>,
        rhs: impl Fn(f64, &Array1<f64>) -> Array1<f64> + Send + Sync + 'static,
    ) -> Self {
        Problem {
            name: name.into(),
            t0,
            t1,
            y0,
            rhs: Box::new(rhs),
            exact: None,
            y_end: None,
            invariant: None,
        }
    }

    /// Attaches the exact solution.
    pub fn with_exact(mut self, exact: impl Fn(f64) -> Array1<f64> + Send + Sync + 'static) -> Self {
        self.exact = Some(Box::new(exact));
        self
    }

    /// Attaches the known value at `t1`.
    pub fn with_y_end(mut self, y_end: Array1<f64>) -> Self {
        self.y_end = Some(y_end);
        self
    }

    /// Attaches a first integral.
    pub fn with_invariant(mut self, inv: impl Fn(&Array1<f64>) -> f64 + Send + Sync + 'static) -> Self {
        self.invariant = Some(Box::new(inv));
        self
    }

    /// Number of components of the state.
    pub fn dim(&self) -> usize {
        self.y0.len()
    }

    /// `f(t, y)`.
    pub fn f(&self, t: f64, y: &Array1<f64>) -> Array1<f64> {
        (self.rhs)(t, y)
    }

    /// The exact solution at `t`, when known (at `t1` also from
    /// [`Problem::y_end`], at `t0` the initial value).
    pub fn exact_at(&self, t: f64) -> Option<Array1<f64>> {
        match &self.exact {
            Some(e) => Some(e(t)),
            None if t == self.t1 => self.y_end.clone(),
            None if t == self.t0 => Some(self.y0.clone()),
            None => None,
        }
    }

    /// Whether the exact solution is known on the whole interval.
    pub fn has_exact(&self) -> bool {
        self.exact.is_some()
    }

    /// `n >= 2` equally spaced output times from `t0` to `t1` (both included
    /// exactly).
    pub fn linspace(&self, n: usize) -> Vec<f64> {
        linspace(self.t0, self.t1, n)
    }

    /// The same problem integrated from `t1` back to `t0`, starting from the
    /// exact value at `t1`. `None` when that value is not known.
    pub fn reversed(self) -> Option<Problem> {
        let y1 = self.exact_at(self.t1)?;
        let y_end = if self.exact.is_none() { Some(self.y0.clone()) } else { None };
        Some(Problem {
            name: format!("{}-reversed", self.name),
            t0: self.t1,
            t1: self.t0,
            y0: y1,
            y_end,
            ..self
        })
    }

    /// The same problem on `[t0, t1]`; the initial value becomes the exact
    /// solution at the new `t0` (which must then be known).
    pub fn with_span(mut self, t0: f64, t1: f64) -> Option<Problem> {
        let y0 = self.exact.as_ref()?(t0);
        self.t0 = t0;
        self.t1 = t1;
        self.y0 = y0;
        self.y_end = None;
        Some(self)
    }
}

/// `n >= 2` equally spaced points from `a` to `b`, both ends exact. For
/// `n < 2` returns `[a]` (n = 1) or nothing (n = 0).
pub fn linspace(a: f64, b: f64, n: usize) -> Vec<f64> {
    match n {
        0 => Vec::new(),
        1 => vec![a],
        _ => {
            let mut v: Vec<f64> = (0..n).map(|i| a + (b - a) * (i as f64) / ((n - 1) as f64)).collect();
            v[n - 1] = b;
            v
        }
    }
}

// ---------------------------------------------------------------------------
// torchdiffeq's test set.
// ---------------------------------------------------------------------------

/// torchdiffeq's `constant` problem: `y' = a + (y - (a t + b))^5` with
/// `a = 0.2`, `b = 3`; exact `a t + b` (the quintic term vanishes on it, so
/// any error is pushed back only weakly). t in `[1, 8]`.
pub fn constant() -> Problem {
    let (a, b) = (0.2, 3.0);
    Problem::new("constant", 1.0, 8.0, array![a + b], move |t, y: &Array1<f64>| {
        y.mapv(|yi| a + (yi - (a * t + b)).powi(5))
    })
    .with_exact(move |t| array![a * t + b])
}

/// torchdiffeq's `sine` problem: `y' = 2y/t + t^4 sin 2t - t^2 + 4t^3`, exact
/// `-t^4 cos 2t / 2 + t^3 sin 2t / 2 + t^2 cos 2t / 4 - t^3 + 2t^4 +
/// (pi - 1/4) t^2`. t in `[1, 8]`.
pub fn sine() -> Problem {
    fn exact(t: f64) -> f64 {
        let (s, c) = (2.0 * t).sin_cos();
        let t2 = t * t;
        let t3 = t2 * t;
        let t4 = t3 * t;
        -0.5 * t4 * c + 0.5 * t3 * s + 0.25 * t2 * c - t3 + 2.0 * t4 + (PI - 0.25) * t2
    }
    Problem::new("sine", 1.0, 8.0, array![exact(1.0)], |t, y: &Array1<f64>| {
        let g = t.powi(4) * (2.0 * t).sin() - t * t + 4.0 * t.powi(3);
        y.mapv(|yi| 2.0 * yi / t + g)
    })
    .with_exact(|t| array![exact(t)])
}

/// The skew-symmetric matrix `U - U^T` with `U = 0.1 N(0, 1)` of size
/// `dim x dim` from `seed`, as in torchdiffeq's `linear` problem.
pub fn skew_matrix(dim: usize, seed: u64) -> Array2<f64> {
    let u = normal_matrix(dim, dim, 0.1, seed);
    &u - &u.t()
}

/// torchdiffeq's `linear` problem: `y' = A y` with `A = U - U^T`,
/// `U = 0.1 N(0, 1)` (10 x 10, from `seed`); exact `exp(A t) 1` (the
/// all-ones vector, as torchdiffeq), t in `[1, 8]`, `y0 = exp(A) 1`. `A` is
/// skew-symmetric, so `|y|` is invariant.
pub fn linear(seed: u64) -> Problem {
    let dim = 10;
    let a = skew_matrix(dim, seed);
    let ones = Array1::<f64>::ones(dim);
    let y0 = linear_solution(&a, &ones, 1.0);
    let a_rhs = a.clone();
    Problem::new("linear", 1.0, 8.0, y0, move |_t, y: &Array1<f64>| a_rhs.dot(y))
        .with_exact(move |t| linear_solution(&a, &ones, t))
        .with_invariant(|y| y.dot(y).sqrt())
}

/// torchdiffeq's three problems: constant, sine, linear.
pub fn torchdiffeq_set(seed: u64) -> Vec<Problem> {
    vec![constant(), sine(), linear(seed)]
}

/// The convergence-order problem: `y' = A y` with `A = 0.5 N(0, 1)` of size
/// 10 x 10 from `seed`, `y0 = 1` (all ones), t in `[0, 4]`; exact
/// `exp(A t) y0`.
pub fn convergence(seed: u64) -> Problem {
    let dim = 10;
    let a = normal_matrix(dim, dim, 0.5, seed);
    let y0 = Array1::<f64>::ones(dim);
    let (a_rhs, y0_exact) = (a.clone(), y0.clone());
    Problem::new("convergence", 0.0, 4.0, y0, move |_t, y: &Array1<f64>| a_rhs.dot(y))
        .with_exact(move |t| linear_solution(&a, &y0_exact, t))
}

// ---------------------------------------------------------------------------
// Classics.
// ---------------------------------------------------------------------------

/// The Lorenz system with `sigma = 10`, `rho = 28`, `beta = 8/3`,
/// `y0 = (1, 0, 0)`, t in `[0, 10]`. Chaotic: errors grow like `e^(0.9 t)`.
pub fn lorenz() -> Problem {
    let (sigma, rho, beta) = (10.0, 28.0, 8.0 / 3.0);
    Problem::new("lorenz", 0.0, 10.0, array![1.0, 0.0, 0.0], move |_t, y: &Array1<f64>| {
        array![sigma * (y[1] - y[0]), y[0] * (rho - y[2]) - y[1], y[0] * y[1] - beta * y[2]]
    })
}

/// The Arenstorf orbit of the restricted three-body problem (Hairer,
/// Norsett, Wanner, Solving ODEs I, II.0): state `(x, y, x', y')`,
/// `mu = 0.012277471`, integrated over exactly one period
/// `T = 17.0652165601579625588917206249` (rounded to f64), so `y(T) = y0` ([`Problem::y_end`]).
/// The Jacobi constant is the invariant.
pub fn arenstorf() -> Problem {
    let mu = 0.012277471;
    let mu1 = 1.0 - mu;
    let period = 17.065_216_560_157_964;
    let y0 = array![0.994, 0.0, 0.0, -2.001_585_106_379_082_4];
    Problem::new("arenstorf", 0.0, period, y0.clone(), move |_t, y: &Array1<f64>| {
        let (x, yy, vx, vy) = (y[0], y[1], y[2], y[3]);
        let d1 = ((x + mu).powi(2) + yy * yy).powf(1.5);
        let d2 = ((x - mu1).powi(2) + yy * yy).powf(1.5);
        array![
            vx,
            vy,
            x + 2.0 * vy - mu1 * (x + mu) / d1 - mu * (x - mu1) / d2,
            yy - 2.0 * vx - mu1 * yy / d1 - mu * yy / d2
        ]
    })
    .with_y_end(y0)
    .with_invariant(move |y| {
        let (x, yy, vx, vy) = (y[0], y[1], y[2], y[3]);
        let r1 = ((x + mu).powi(2) + yy * yy).sqrt();
        let r2 = ((x - mu1).powi(2) + yy * yy).sqrt();
        0.5 * (vx * vx + vy * vy) - 0.5 * (x * x + yy * yy) - mu1 / r1 - mu / r2
    })
}

/// The Van der Pol oscillator `y1' = y2`, `y2' = mu (1 - y1^2) y2 - y1`,
/// `y0 = (2, 0)`, t in `[0, 20]` (lengthen `t1` for large `mu`: the period
/// grows like `(3 - 2 ln 2) mu`; the problem is stiff for large `mu`).
pub fn van_der_pol(mu: f64) -> Problem {
    Problem::new(format!("van_der_pol(mu={mu})"), 0.0, 20.0, array![2.0, 0.0], move |_t, y: &Array1<f64>| {
        array![y[1], mu * (1.0 - y[0] * y[0]) * y[1] - y[0]]
    })
}

/// Lotka-Volterra `x' = a x - b x y`, `y' = -c y + d x y` with
/// `(a, b, c, d) = (1.5, 1, 3, 1)`, `(x, y)(0) = (1, 1)`, t in `[0, 10]`.
/// Invariant: `d x - c ln x + b y - a ln y`.
pub fn lotka_volterra() -> Problem {
    let (a, b, c, d) = (1.5, 1.0, 3.0, 1.0);
    Problem::new("lotka_volterra", 0.0, 10.0, array![1.0, 1.0], move |_t, y: &Array1<f64>| {
        array![a * y[0] - b * y[0] * y[1], -c * y[1] + d * y[0] * y[1]]
    })
    .with_invariant(move |y| d * y[0] - c * y[0].ln() + b * y[1] - a * y[1].ln())
}

/// The cubic spiral of torchdiffeq's demo: `y' = (y^3) A` (row vector, cube
/// taken componentwise) with `A = [[-0.1, 2], [-2, -0.1]]`, `y0 = (2, 0)`,
/// t in `[0, 25]`.
pub fn cubic_spiral() -> Problem {
    Problem::new("cubic_spiral", 0.0, 25.0, array![2.0, 0.0], |_t, y: &Array1<f64>| {
        let (a, b) = (y[0].powi(3), y[1].powi(3));
        array![-0.1 * a - 2.0 * b, 2.0 * a - 0.1 * b]
    })
}

/// Every named problem of this module (random ones with `seed`), DETEST
/// included, with `van_der_pol(1)`.
pub fn all(seed: u64) -> Vec<Problem> {
    let mut v = vec![
        constant(),
        sine(),
        linear(seed),
        convergence(seed),
        lorenz(),
        arenstorf(),
        van_der_pol(1.0),
        lotka_volterra(),
        cubic_spiral(),
    ];
    v.extend(detest::all());
    v
}

/// Looks a problem up by name (case-insensitive): `"constant"`, `"sine"`,
/// `"linear"`, `"convergence"` (with [`DEFAULT_SEED`]), `"lorenz"`,
/// `"arenstorf"`, `"van_der_pol"` (mu = 1), `"lotka_volterra"`,
/// `"cubic_spiral"`, or a DETEST name (`"A1"` ... `"E5"`).
pub fn by_name(name: &str) -> Option<Problem> {
    let p = match name.to_ascii_lowercase().as_str() {
        "constant" => constant(),
        "sine" => sine(),
        "linear" => linear(DEFAULT_SEED),
        "convergence" => convergence(DEFAULT_SEED),
        "lorenz" => lorenz(),
        "arenstorf" => arenstorf(),
        "van_der_pol" | "vdp" => van_der_pol(1.0),
        "lotka_volterra" => lotka_volterra(),
        "cubic_spiral" => cubic_spiral(),
        _ => return detest::by_name(name),
    };
    Some(p)
}

#[cfg(test)]
mod tests;
