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
// Random numbers.
// ---------------------------------------------------------------------------

/// Vigna's SplitMix64: a tiny, fast, seedable generator of 64-bit words,
/// with Box-Muller standard normals on top. Not cryptographic; meant for
/// reproducible test matrices.
#[derive(Clone, Debug)]
pub struct SplitMix64 {
    state: u64,
    spare: Option<f64>,
}

impl SplitMix64 {
    pub fn new(seed: u64) -> Self {
        SplitMix64 { state: seed, spare: None }
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform on `[0, 1)` with 53 random bits.
    pub fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// A standard normal sample (Box-Muller; the second value of each pair
    /// is kept for the next call).
    pub fn normal(&mut self) -> f64 {
        if let Some(z) = self.spare.take() {
            return z;
        }
        // u1 in (0, 1] so the logarithm is finite.
        let u1 = 1.0 - self.uniform();
        let u2 = self.uniform();
        let r = (-2.0 * u1.ln()).sqrt();
        let (s, c) = (2.0 * PI * u2).sin_cos();
        self.spare = Some(r * s);
        r * c
    }
}

/// An `n x m` matrix of independent `N(0, std^2)` entries, filled row by row
/// from [`SplitMix64`] seeded with `seed`.
pub fn normal_matrix(n: usize, m: usize, std: f64, seed: u64) -> Array2<f64> {
    let mut rng = SplitMix64::new(seed);
    Array2::from_shape_simple_fn((n, m), || std * rng.normal())
}

// ---------------------------------------------------------------------------
// Matrix exponential.
// ---------------------------------------------------------------------------

/// The 1-norm (largest column sum of absolute values) of a matrix.
pub fn norm1(a: &Array2<f64>) -> f64 {
    a.columns().into_iter().map(|c| c.iter().map(|x| x.abs()).sum::<f64>()).fold(0.0, f64::max)
}

/// The matrix exponential `exp(A)` of a square matrix, by scaling and
/// squaring with a Taylor polynomial: `A` is scaled by `2^-s` until its
/// 1-norm is at most 1/2, `exp` of the scaled matrix is summed to degree 18
/// (truncation error below `1e-21` relative), and the result is squared `s`
/// times. Accurate to a modest multiple of machine precision times the
/// condition of the problem; no eigen-decomposition needed. A matrix with a
/// non-finite entry gives a matrix of NaN. Returns an empty matrix for a
/// non-square input.
pub fn expm(a: &Array2<f64>) -> Array2<f64> {
    let n = a.nrows();
    if a.ncols() != n {
        return Array2::zeros((0, 0));
    }
    let nrm = norm1(a);
    if !nrm.is_finite() {
        return Array2::from_elem((n, n), f64::NAN);
    }
    let mut s: i32 = 0;
    if nrm > 0.5 {
        s = (nrm / 0.5).log2().ceil() as i32;
        // log2 rounding can leave the scaled norm a hair above 1/2.
        while nrm / 2f64.powi(s) > 0.5 {
            s += 1;
        }
    }
    let x = a / 2f64.powi(s);
    // Horner: I + X/1 (I + X/2 (I + ... (I + X/m))).
    const DEGREE: usize = 18;
    let eye = Array2::<f64>::eye(n);
    let mut p = eye.clone();
    for k in (1..=DEGREE).rev() {
        p = &eye + &(x.dot(&p) / k as f64);
    }
    for _ in 0..s {
        p = p.dot(&p);
    }
    p
}

/// `exp(A t) y0`, the solution of `y' = A y`, `y(0) = y0`.
pub fn linear_solution(a: &Array2<f64>, y0: &Array1<f64>, t: f64) -> Array1<f64> {
    expm(&(a * t)).dot(y0)
}

// ---------------------------------------------------------------------------
// Special functions for the closed-form solutions.
// ---------------------------------------------------------------------------

/// The eccentric anomaly `u` with `u - e sin u = m` (Kepler's equation),
/// `0 <= e < 1`: bisection on the bracket `[m - e, m + e]` (the left side is
/// strictly increasing) finished by Newton steps.
pub fn kepler_eccentric_anomaly(m: f64, e: f64) -> f64 {
    let g = |u: f64| u - e * u.sin() - m;
    let (mut lo, mut hi) = (m - e, m + e);
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if mid <= lo || mid >= hi {
            break;
        }
        if g(mid) > 0.0 {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    let mut u = 0.5 * (lo + hi);
    for _ in 0..2 {
        let d = 1.0 - e * u.cos();
        if d > 0.0 {
            u -= g(u) / d;
        }
    }
    u
}

/// Jacobi elliptic functions `(sn, cn, dn)(u | m)` for parameter
/// `0 <= m < 1`, by the arithmetic-geometric mean (Abramowitz and Stegun
/// 16.4), with `dn = sqrt(1 - m sn^2)`.
pub fn jacobi_sn_cn_dn(u: f64, m: f64) -> (f64, f64, f64) {
    if m == 0.0 {
        return (u.sin(), u.cos(), 1.0);
    }
    let mut a = vec![1.0f64];
    let mut c = vec![m.sqrt()];
    let mut b = (1.0 - m).sqrt();
    while c.len() < 32 && c[c.len() - 1].abs() > 1e-17 {
        let an = a[a.len() - 1];
        let next_a = 0.5 * (an + b);
        let next_c = 0.5 * (an - b);
        b = (an * b).sqrt();
        a.push(next_a);
        c.push(next_c);
    }
    let n = a.len() - 1;
    let mut phi = 2f64.powi(n as i32) * a[n] * u;
    for k in (1..=n).rev() {
        phi = 0.5 * (phi + (c[k] / a[k] * phi.sin()).asin());
    }
    let (sn, cn) = phi.sin_cos();
    // dn > 0 for m < 1; this form keeps full accuracy near cn = 0, where
    // A&S's `cn / cos(phi_1 - phi_0)` is 0/0.
    let dn = (1.0 - m * sn * sn).sqrt();
    (sn, cn, dn)
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

// ---------------------------------------------------------------------------
// DETEST.
// ---------------------------------------------------------------------------

/// The non-stiff DETEST problems (Hull, Enright, Fellen and Sedgwick,
/// "Comparing numerical methods for ordinary differential equations", SIAM
/// J. Numer. Anal. 9(4), 1972), classes A-E, all on `t` in `[0, 20]`.
///
/// Exact solutions are attached where they exist in closed form or can be
/// computed to round-off: A1-A5 (A5 through its logarithmic-spiral
/// solution), B2 and C1-C4 (matrix exponentials), B4, B5 (Jacobi elliptic
/// functions with `m = 0.51`), D1-D5 (Kepler's equation), E1 (Bessel
/// `J_1/2`), E4, E5. B1, B3, C5, E2 and E3 have none (B1, B3 and D carry
/// invariants).
///
/// Two published ports differ from the paper and are *not* followed here:
/// torchdiffeq's E4 uses `0.32` for `0.032`, and its C5 drops the factor
/// `k2` and flips the sign of the indirect term.
pub mod detest {
    use super::*;

    /// The 25 names, in order.
    pub const NAMES: [&str; 25] = [
        "A1", "A2", "A3", "A4", "A5", "B1", "B2", "B3", "B4", "B5", "C1", "C2", "C3", "C4", "C5", "D1", "D2",
        "D3", "D4", "D5", "E1", "E2", "E3", "E4", "E5",
    ];

    const T1: f64 = 20.0;

    fn scalar(
        name: &str,
        y0: f64,
        f: impl Fn(f64, f64) -> f64 + Send + Sync + 'static,
        exact: impl Fn(f64) -> f64 + Send + Sync + 'static,
    ) -> Problem {
        Problem::new(name, 0.0, T1, array![y0], move |t, y: &Array1<f64>| y.mapv(|yi| f(t, yi)))
            .with_exact(move |t| array![exact(t)])
    }

    /// A1: `y' = -y`, `y(0) = 1`; exact `e^-t`.
    pub fn a1() -> Problem {
        scalar("A1", 1.0, |_t, y| -y, |t| (-t).exp())
    }

    /// A2: `y' = -y^3 / 2`, `y(0) = 1`; exact `1 / sqrt(t + 1)`.
    pub fn a2() -> Problem {
        scalar("A2", 1.0, |_t, y| -0.5 * y * y * y, |t| 1.0 / (t + 1.0).sqrt())
    }

    /// A3: `y' = y cos t`, `y(0) = 1`; exact `exp(sin t)`.
    pub fn a3() -> Problem {
        scalar("A3", 1.0, |t, y| y * t.cos(), |t| t.sin().exp())
    }

    /// A4: `y' = y/4 (1 - y/20)`, `y(0) = 1`; exact `20 / (1 + 19 e^(-t/4))`.
    pub fn a4() -> Problem {
        scalar("A4", 1.0, |_t, y| 0.25 * y * (1.0 - y / 20.0), |t| 20.0 / (1.0 + 19.0 * (-t / 4.0).exp()))
    }

    /// The solution of A5. In polar coordinates `(t, y) = r (cos th, sin th)`
    /// the equation becomes `dr/dth = -r`, so the solution through `(0, 4)`
    /// is the spiral `r = 4 e^(pi/2 - th)`; for a given t, `th` in
    /// `(-pi/4, 3pi/4)` solves `4 e^(pi/2 - th) cos th = t` (decreasing in
    /// th there; defined for t in about `[-1.28, 29.8]`).
    pub fn a5_exact(t: f64) -> f64 {
        let g = |th: f64| 4.0 * (FRAC_PI_2 - th).exp() * th.cos() - t;
        let (mut lo, mut hi) = (-FRAC_PI_4, 3.0 * FRAC_PI_4);
        if !(g(lo) >= 0.0 && g(hi) <= 0.0) {
            return f64::NAN;
        }
        for _ in 0..200 {
            let mid = 0.5 * (lo + hi);
            if mid <= lo || mid >= hi {
                break;
            }
            if g(mid) > 0.0 {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        let th = 0.5 * (lo + hi);
        4.0 * (FRAC_PI_2 - th).exp() * th.sin()
    }

    /// A5: `y' = (y - t) / (y + t)`, `y(0) = 4`; exact via [`a5_exact`].
    pub fn a5() -> Problem {
        scalar("A5", 4.0, |t, y| (y - t) / (y + t), a5_exact)
    }

    /// B1: `y1' = 2 (y1 - y1 y2)`, `y2' = -(y2 - y1 y2)`, `y(0) = (1, 3)`
    /// (Lotka-Volterra). Invariant `y1 - ln y1 + 2 (y2 - ln y2)`.
    pub fn b1() -> Problem {
        Problem::new("B1", 0.0, T1, array![1.0, 3.0], |_t, y: &Array1<f64>| {
            array![2.0 * (y[0] - y[0] * y[1]), -(y[1] - y[0] * y[1])]
        })
        .with_invariant(|y| y[0] - y[0].ln() + 2.0 * (y[1] - y[1].ln()))
    }

    fn linear_problem(name: &str, a: Array2<f64>, y0: Array1<f64>) -> Problem {
        let a_rhs = a.clone();
        let y0_exact = y0.clone();
        Problem::new(name, 0.0, T1, y0, move |_t, y: &Array1<f64>| a_rhs.dot(y))
            .with_exact(move |t| linear_solution(&a, &y0_exact, t))
    }

    /// B2: `y' = A y` with `A = [[-1, 1, 0], [1, -2, 1], [0, 1, -1]]`,
    /// `y(0) = (2, 0, 1)`; exact `exp(A t) y0`. The sum is invariant.
    pub fn b2() -> Problem {
        let a = array![[-1.0, 1.0, 0.0], [1.0, -2.0, 1.0], [0.0, 1.0, -1.0]];
        linear_problem("B2", a, array![2.0, 0.0, 1.0]).with_invariant(|y| y.sum())
    }

    /// B3: `y1' = -y1`, `y2' = y1 - y2^2`, `y3' = y2^2`, `y(0) = (1, 0, 0)`.
    /// `y1 = e^-t` and the sum (= 1) are known; no closed form for y2.
    pub fn b3() -> Problem {
        Problem::new("B3", 0.0, T1, array![1.0, 0.0, 0.0], |_t, y: &Array1<f64>| {
            array![-y[0], y[0] - y[1] * y[1], y[1] * y[1]]
        })
        .with_invariant(|y| y.sum())
    }

    /// B4: `y1' = -y2 - y1 y3 / r`, `y2' = y1 - y2 y3 / r`, `y3' = y1 / r`
    /// with `r = sqrt(y1^2 + y2^2)`, `y(0) = (3, 0, 0)`. In polar form the
    /// angle is t and `r' = -y3`, so the exact solution is
    /// `((2 + cos t) cos t, (2 + cos t) sin t, sin t)`.
    pub fn b4() -> Problem {
        Problem::new("B4", 0.0, T1, array![3.0, 0.0, 0.0], |_t, y: &Array1<f64>| {
            let r = (y[0] * y[0] + y[1] * y[1]).sqrt();
            array![-y[1] - y[0] * y[2] / r, y[0] - y[1] * y[2] / r, y[0] / r]
        })
        .with_exact(|t| {
            let (s, c) = t.sin_cos();
            array![(2.0 + c) * c, (2.0 + c) * s, s]
        })
    }

    /// B5 (Euler's equations of a rigid body): `y1' = y2 y3`,
    /// `y2' = -y1 y3`, `y3' = -0.51 y1 y2`, `y(0) = (0, 1, 1)`; exact
    /// `(sn, cn, dn)(t | m = 0.51)`. Invariants `y1^2 + y2^2` and
    /// `0.51 y1^2 + y3^2`.
    pub fn b5() -> Problem {
        Problem::new("B5", 0.0, T1, array![0.0, 1.0, 1.0], |_t, y: &Array1<f64>| {
            array![y[1] * y[2], -y[0] * y[2], -0.51 * y[0] * y[1]]
        })
        .with_exact(|t| {
            let (sn, cn, dn) = jacobi_sn_cn_dn(t, 0.51);
            array![sn, cn, dn]
        })
        .with_invariant(|y| y[0] * y[0] + y[1] * y[1])
    }

    fn unit_first(n: usize) -> Array1<f64> {
        let mut y = Array1::zeros(n);
        y[0] = 1.0;
        y
    }

    /// C1: `y1' = -y1`, `yi' = y(i-1) - yi` (i = 2..9), `y10' = y9`,
    /// `y(0) = e1` (radioactive decay chain); exact `exp(A t) y0`. The sum
    /// is invariant.
    pub fn c1() -> Problem {
        let mut a = Array2::zeros((10, 10));
        for i in 0..10 {
            if i < 9 {
                a[[i, i]] = -1.0;
            }
            if i > 0 {
                a[[i, i - 1]] = 1.0;
            }
        }
        linear_problem("C1", a, unit_first(10)).with_invariant(|y| y.sum())
    }

    /// C2: `yi' = (i-1) y(i-1) - i yi` (i = 1..9, `y0 = 0`), `y10' = 9 y9`,
    /// `y(0) = e1`; exact `exp(A t) y0`. The sum is invariant.
    pub fn c2() -> Problem {
        let mut a = Array2::zeros((10, 10));
        for i in 0..10 {
            if i < 9 {
                a[[i, i]] = -((i + 1) as f64);
            }
            if i > 0 {
                a[[i, i - 1]] = i as f64;
            }
        }
        linear_problem("C2", a, unit_first(10)).with_invariant(|y| y.sum())
    }

    fn tridiagonal(n: usize) -> Array2<f64> {
        let mut a = Array2::zeros((n, n));
        for i in 0..n {
            a[[i, i]] = -2.0;
            if i > 0 {
                a[[i, i - 1]] = 1.0;
            }
            if i + 1 < n {
                a[[i, i + 1]] = 1.0;
            }
        }
        a
    }

    /// C3: `y' = A y` with `A` tridiagonal `(1, -2, 1)` of size 10,
    /// `y(0) = e1`; exact `exp(A t) y0`.
    pub fn c3() -> Problem {
        linear_problem("C3", tridiagonal(10), unit_first(10))
    }

    /// C4: as C3 with 51 equations.
    pub fn c4() -> Problem {
        linear_problem("C4", tridiagonal(51), unit_first(51))
    }

    /// C5: the five outer planets around the sun (30 equations), heliocentric
    /// coordinates, `k2 = 2.95912208286` (time in units of 100 days),
    /// `m0 = 1.00000597682` (sun plus inner planets):
    /// `y_ij'' = k2 (-(m0 + m_i) y_ij / r_i^3 + sum_{k != i} m_k
    /// ((y_kj - y_ij) / d_ik^3 - y_kj / r_k^3))`. State: the 15 positions
    /// (body-major: `x, y, z` of Jupiter, Saturn, Uranus, Neptune, Pluto),
    /// then the 15 velocities. No closed form.
    pub fn c5() -> Problem {
        const K2: f64 = 2.959_122_082_86;
        const M0: f64 = 1.000_005_976_82;
        const M: [f64; 5] = [
            0.000_954_786_104_043,
            0.000_285_583_733_151,
            0.000_043_727_316_454_6,
            0.000_051_775_913_844_9,
            0.000_002_777_777_777_78,
        ];
        #[rustfmt::skip]
        let pos = [
            3.42947415189, 3.35386959711, 1.35494901715,
            6.64145542550, 5.97156957878, 2.18231499728,
            11.2630437207, 14.6952576794, 6.27960525067,
            -30.1552268759, 1.65699966404, 1.43785752721,
            -21.1238353380, 28.4465098142, 15.3882659679,
        ];
        #[rustfmt::skip]
        let vel = [
            -0.557160570446, 0.505696783289, 0.230578543901,
            -0.415570776342, 0.365682722812, 0.169143213293,
            -0.325325669158, 0.189706021964, 0.0877265322780,
            -0.0240476254170, -0.287659532608, -0.117219543175,
            -0.176860753121, -0.216393453025, -0.0148647893090,
        ];
        let y0: Array1<f64> = pos.iter().chain(vel.iter()).copied().collect();
        Problem::new("C5", 0.0, T1, y0, |_t, y: &Array1<f64>| {
            let mut dy = Array1::zeros(30);
            let p = |i: usize, j: usize| y[3 * i + j];
            let r3: Vec<f64> =
                (0..5).map(|i| (p(i, 0).powi(2) + p(i, 1).powi(2) + p(i, 2).powi(2)).powf(1.5)).collect();
            for i in 0..5 {
                for j in 0..3 {
                    dy[3 * i + j] = y[15 + 3 * i + j];
                }
                let mut d3 = [0.0; 5];
                for (k, d) in d3.iter_mut().enumerate() {
                    if k != i {
                        *d = ((p(i, 0) - p(k, 0)).powi(2)
                            + (p(i, 1) - p(k, 1)).powi(2)
                            + (p(i, 2) - p(k, 2)).powi(2))
                        .powf(1.5);
                    }
                }
                for j in 0..3 {
                    let mut acc = -(M0 + M[i]) * p(i, j) / r3[i];
                    for k in (0..5).filter(|&k| k != i) {
                        acc += M[k] * ((p(k, j) - p(i, j)) / d3[k] - p(k, j) / r3[k]);
                    }
                    dy[15 + 3 * i + j] = K2 * acc;
                }
            }
            dy
        })
    }

    /// The exact solution of the Kepler orbit of class D with eccentricity
    /// `e`: `(cos u - e, sqrt(1 - e^2) sin u, -sin u / (1 - e cos u),
    /// sqrt(1 - e^2) cos u / (1 - e cos u))` with `u - e sin u = t`.
    pub fn kepler_orbit(e: f64, t: f64) -> Array1<f64> {
        let u = kepler_eccentric_anomaly(t, e);
        let (s, c) = u.sin_cos();
        let q = (1.0 - e * e).sqrt();
        let den = 1.0 - e * c;
        array![c - e, q * s, -s / den, q * c / den]
    }

    fn orbit(name: &str, e: f64) -> Problem {
        let y0 = array![1.0 - e, 0.0, 0.0, ((1.0 + e) / (1.0 - e)).sqrt()];
        Problem::new(name, 0.0, T1, y0, |_t, y: &Array1<f64>| {
            let r3 = (y[0] * y[0] + y[1] * y[1]).powf(1.5);
            array![y[2], y[3], -y[0] / r3, -y[1] / r3]
        })
        .with_exact(move |t| kepler_orbit(e, t))
        // Energy (= -1/2 for every eccentricity).
        .with_invariant(|y| 0.5 * (y[2] * y[2] + y[3] * y[3]) - 1.0 / (y[0] * y[0] + y[1] * y[1]).sqrt())
    }

    /// D1: Kepler orbit `y1'' = -y1 / r^3`, `y2'' = -y2 / r^3`, state
    /// `(y1, y2, y1', y2')`, `y(0) = (1 - e, 0, 0, sqrt((1 + e) / (1 - e)))`,
    /// eccentricity `e = 0.1`; exact through Kepler's equation.
    pub fn d1() -> Problem {
        orbit("D1", 0.1)
    }
    /// D2: as D1 with `e = 0.3`.
    pub fn d2() -> Problem {
        orbit("D2", 0.3)
    }
    /// D3: as D1 with `e = 0.5`.
    pub fn d3() -> Problem {
        orbit("D3", 0.5)
    }
    /// D4: as D1 with `e = 0.7`.
    pub fn d4() -> Problem {
        orbit("D4", 0.7)
    }
    /// D5: as D1 with `e = 0.9`.
    pub fn d5() -> Problem {
        orbit("D5", 0.9)
    }

    /// E1: `y'' + y' / (t + 1) + (1 - 0.25 / (t + 1)^2) y = 0` (Bessel's
    /// equation of order 1/2 in `x = t + 1`), `y(0) = 0.6713967071418030`,
    /// `y'(0) = 0.09540051444747446`; exact `J_1/2(x) = sqrt(2 / (pi x)) sin x`.
    pub fn e1() -> Problem {
        Problem::new(
            "E1",
            0.0,
            T1,
            array![0.671_396_707_141_803, 0.095_400_514_447_474_46],
            |t, y: &Array1<f64>| {
                let x = t + 1.0;
                array![y[1], -(y[1] / x + (1.0 - 0.25 / (x * x)) * y[0])]
            },
        )
        .with_exact(|t| {
            let x = t + 1.0;
            let k = (2.0 / PI).sqrt();
            let (s, c) = x.sin_cos();
            array![k * s / x.sqrt(), k * (c / x.sqrt() - 0.5 * s / (x * x.sqrt()))]
        })
    }

    /// E2 (Van der Pol, `mu = 1`): `y'' = (1 - y^2) y' - y`, `y(0) = 2`,
    /// `y'(0) = 0`. No closed form.
    pub fn e2() -> Problem {
        Problem::new("E2", 0.0, T1, array![2.0, 0.0], |_t, y: &Array1<f64>| {
            array![y[1], (1.0 - y[0] * y[0]) * y[1] - y[0]]
        })
    }

    /// E3 (forced Duffing): `y'' = y^3 / 6 - y + 2 sin(2.78535 t)`,
    /// `y(0) = y'(0) = 0`. No closed form.
    pub fn e3() -> Problem {
        Problem::new("E3", 0.0, T1, array![0.0, 0.0], |t, y: &Array1<f64>| {
            array![y[1], y[0].powi(3) / 6.0 - y[0] + 2.0 * (2.78535 * t).sin()]
        })
    }

    /// E4: `y'' = 0.032 - 0.4 (y')^2`, `y(0) = 30`, `y'(0) = 0`; exact
    /// `y = 30 + 2.5 ln cosh(sqrt(0.0128) t)`, `y' = sqrt(0.08) tanh(sqrt(0.0128) t)`.
    pub fn e4() -> Problem {
        Problem::new("E4", 0.0, T1, array![30.0, 0.0], |_t, y: &Array1<f64>| {
            array![y[1], 0.032 - 0.4 * y[1] * y[1]]
        })
        .with_exact(|t| {
            let w = 0.0128f64.sqrt() * t;
            array![30.0 + 2.5 * w.cosh().ln(), 0.08f64.sqrt() * w.tanh()]
        })
    }

    /// E5: `y'' = sqrt(1 + (y')^2) / (25 - t)`, `y(0) = y'(0) = 0`; exact
    /// `y' = (q - 1/q) / 2` with `q = 25 / (25 - t)`, `y = 12.5 ln q +
    /// ((25 - t)^2 - 625) / 100`.
    pub fn e5() -> Problem {
        Problem::new("E5", 0.0, T1, array![0.0, 0.0], |t, y: &Array1<f64>| {
            array![y[1], (1.0 + y[1] * y[1]).sqrt() / (25.0 - t)]
        })
        .with_exact(|t| {
            let q = 25.0 / (25.0 - t);
            array![12.5 * q.ln() + ((25.0 - t).powi(2) - 625.0) / 100.0, 0.5 * (q - 1.0 / q)]
        })
    }

    /// The problem named `name` (`"A1"` ... `"E5"`, case-insensitive).
    pub fn by_name(name: &str) -> Option<Problem> {
        let p = match name.to_ascii_uppercase().as_str() {
            "A1" => a1(),
            "A2" => a2(),
            "A3" => a3(),
            "A4" => a4(),
            "A5" => a5(),
            "B1" => b1(),
            "B2" => b2(),
            "B3" => b3(),
            "B4" => b4(),
            "B5" => b5(),
            "C1" => c1(),
            "C2" => c2(),
            "C3" => c3(),
            "C4" => c4(),
            "C5" => c5(),
            "D1" => d1(),
            "D2" => d2(),
            "D3" => d3(),
            "D4" => d4(),
            "D5" => d5(),
            "E1" => e1(),
            "E2" => e2(),
            "E3" => e3(),
            "E4" => e4(),
            "E5" => e5(),
            _ => return None,
        };
        Some(p)
    }

    /// All 25 problems, in the order of [`NAMES`].
    pub fn all() -> Vec<Problem> {
        NAMES.iter().filter_map(|n| by_name(n)).collect()
    }

    /// The problems of one class (`'A'` ... `'E'`).
    pub fn class(c: char) -> Vec<Problem> {
        let c = c.to_ascii_uppercase();
        NAMES.iter().filter(|n| n.starts_with(c)).filter_map(|n| by_name(n)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn max_abs_diff(a: &Array2<f64>, b: &Array2<f64>) -> f64 {
        (a - b).iter().fold(0.0, |m, x| m.max(x.abs()))
    }

    #[test]
    fn splitmix_is_deterministic_and_normal() {
        let a: Vec<u64> = {
            let mut r = SplitMix64::new(7);
            (0..5).map(|_| r.next_u64()).collect()
        };
        let b: Vec<u64> = {
            let mut r = SplitMix64::new(7);
            (0..5).map(|_| r.next_u64()).collect()
        };
        assert_eq!(a, b);
        // Reference value of SplitMix64 seeded with 0 (Vigna's C code).
        assert_eq!(SplitMix64::new(0).next_u64(), 0xe220_a839_7b1d_cdaf);
        let mut r = SplitMix64::new(42);
        let n = 200_000;
        let xs: Vec<f64> = (0..n).map(|_| r.normal()).collect();
        let mean = xs.iter().sum::<f64>() / n as f64;
        let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n as f64;
        assert!(mean.abs() < 0.01, "mean {mean}");
        assert!((var - 1.0).abs() < 0.02, "var {var}");
        assert!(xs.iter().all(|x| x.is_finite()));
        let u: Vec<f64> = (0..1000).map(|_| r.uniform()).collect();
        assert!(u.iter().all(|&x| (0.0..1.0).contains(&x)));
    }

    #[test]
    fn expm_of_diagonal_and_nilpotent() {
        let d = Array2::from_diag(&array![0.0, 1.0, -3.0, 7.5]);
        let e = expm(&d);
        for i in 0..4 {
            assert!((e[[i, i]] - d[[i, i]].exp()).abs() <= 1e-14 * d[[i, i]].exp());
        }
        assert!((e.sum() - e.diag().sum()).abs() == 0.0);
        // Nilpotent: exp(N) = I + N + N^2/2.
        let n = array![[0.0, 2.0, 3.0], [0.0, 0.0, 4.0], [0.0, 0.0, 0.0]];
        let exact = Array2::eye(3) + &n + n.dot(&n) / 2.0;
        assert!(max_abs_diff(&expm(&n), &exact) < 1e-14);
        assert_eq!(expm(&Array2::<f64>::zeros((3, 3))), Array2::<f64>::eye(3));
    }

    #[test]
    fn expm_of_rotation_generator() {
        for &w in &[0.1f64, 1.0, 10.0, 100.0] {
            let a = array![[0.0, -w], [w, 0.0]];
            let (s, c) = w.sin_cos();
            let exact = array![[c, -s], [s, c]];
            assert!(max_abs_diff(&expm(&a), &exact) < 2e-15 * w.max(1.0), "w = {w}");
        }
    }

    #[test]
    fn expm_properties_on_random_matrices() {
        for seed in 0..5 {
            // Skew-symmetric: exp is orthogonal.
            let a = skew_matrix(10, seed) * 10.0;
            let q = expm(&a);
            assert!(max_abs_diff(&q.t().dot(&q), &Array2::eye(10)) < 1e-13);
            // exp(A) exp(-A) = I and the group property.
            let b = normal_matrix(10, 10, 0.5, seed);
            let e = expm(&b);
            assert!(max_abs_diff(&e.dot(&expm(&-&b)), &Array2::eye(10)) < 1e-12);
            let e1 = expm(&(&b * 1.5));
            let e2 = expm(&(&b * 2.5));
            let e4 = expm(&(&b * 4.0));
            let rel = max_abs_diff(&e1.dot(&e2), &e4) / e4.iter().fold(0.0f64, |m, x| m.max(x.abs()));
            assert!(rel < 1e-13, "rel {rel}");
            // Taylor sum with many terms for a small matrix.
            let small = &b * 0.01;
            let mut term = Array2::<f64>::eye(10);
            let mut sum = Array2::<f64>::eye(10);
            for k in 1..30 {
                term = term.dot(&small) / k as f64;
                sum += &term;
            }
            assert!(max_abs_diff(&expm(&small), &sum) < 1e-15);
        }
        assert!(expm(&array![[f64::NAN]])[[0, 0]].is_nan());
        assert_eq!(expm(&Array2::zeros((2, 3))).len(), 0);
    }

    #[test]
    fn kepler_and_elliptic_functions() {
        for &e in &[0.0, 0.1, 0.5, 0.9, 0.99] {
            for i in 0..200 {
                let m = -10.0 + 0.137 * i as f64;
                let u = kepler_eccentric_anomaly(m, e);
                assert!((u - e * u.sin() - m).abs() < 1e-14 * m.abs().max(1.0), "e {e} m {m}");
            }
        }
        // sn^2 + cn^2 = 1, dn^2 + m sn^2 = 1, derivatives sn' = cn dn.
        let m = 0.51;
        for i in 0..100 {
            let u = 0.2 * i as f64 - 3.0;
            let (sn, cn, dn) = jacobi_sn_cn_dn(u, m);
            assert!((sn * sn + cn * cn - 1.0).abs() < 1e-14);
            assert!((dn * dn + m * sn * sn - 1.0).abs() < 1e-14);
            let h = 1e-5;
            let d = (jacobi_sn_cn_dn(u + h, m).0 - jacobi_sn_cn_dn(u - h, m).0) / (2.0 * h);
            assert!((d - cn * dn).abs() < 1e-9, "u {u}: {d} vs {}", cn * dn);
        }
        // Quarter period K(0.51) = 1.8624...: sn(K) = 1 (A&S table).
        let (sn, _, _) = jacobi_sn_cn_dn(0.5 * PI, 0.0);
        assert!((sn - 1.0).abs() < 1e-15);
    }

    /// Every exact solution satisfies its differential equation (central
    /// differences) and its initial value.
    #[test]
    fn exact_solutions_satisfy_their_equations() {
        let mut probs = all(DEFAULT_SEED);
        probs.push(linear(3).reversed().unwrap());
        for p in probs.iter().filter(|p| p.has_exact()) {
            let y0 = p.exact_at(p.t0).unwrap();
            let scale = 1.0 + p.y0.iter().fold(0.0f64, |m, x| m.max(x.abs()));
            let d0 = (&y0 - &p.y0).iter().fold(0.0f64, |m, x| m.max(x.abs()));
            assert!(d0 < 1e-13 * scale, "{}: y0 differs from exact(t0) by {d0}", p.name);
            for i in 1..40 {
                let t = p.t0 + (p.t1 - p.t0) * i as f64 / 40.0;
                let h = 2e-5 * (p.t1 - p.t0).abs();
                let y = |k: f64| p.exact_at(t + k * h).unwrap();
                // Fourth-order central difference.
                let fd = (y(-2.0) - y(-1.0) * 8.0 + y(1.0) * 8.0 - y(2.0)) / (12.0 * h);
                let f = p.f(t, &p.exact_at(t).unwrap());
                let fscale = 1.0 + f.iter().fold(0.0f64, |m, x| m.max(x.abs()));
                let err = (&fd - &f).iter().fold(0.0f64, |m, x| m.max(x.abs())) / fscale;
                assert!(err < 1e-8, "{} at t = {t}: residual {err}", p.name);
            }
        }
    }

    #[test]
    fn invariants_are_constant_on_exact_solutions() {
        for p in all(DEFAULT_SEED).iter().filter(|p| p.has_exact() && p.invariant.is_some()) {
            let inv = p.invariant.as_ref().unwrap();
            let i0 = inv(&p.y0);
            for i in 1..20 {
                let t = p.t0 + (p.t1 - p.t0) * i as f64 / 20.0;
                let it = inv(&p.exact_at(t).unwrap());
                assert!((it - i0).abs() < 1e-12 * (1.0 + i0.abs()), "{} at {t}: {it} vs {i0}", p.name);
            }
        }
    }

    #[test]
    fn detest_catalogue() {
        let all = detest::all();
        assert_eq!(all.len(), 25);
        for (p, n) in all.iter().zip(detest::NAMES) {
            assert_eq!(p.name, n);
            assert_eq!((p.t0, p.t1), (0.0, 20.0));
            let f = p.f(0.0, &p.y0);
            assert_eq!(f.len(), p.dim());
            assert!(f.iter().all(|x| x.is_finite()), "{n}");
        }
        let with_exact: Vec<&str> = all.iter().filter(|p| p.has_exact()).map(|p| p.name.as_str()).collect();
        assert_eq!(
            with_exact,
            [
                "A1", "A2", "A3", "A4", "A5", "B2", "B4", "B5", "C1", "C2", "C3", "C4", "D1", "D2", "D3",
                "D4", "D5", "E1", "E4", "E5"
            ]
        );
        assert_eq!(detest::class('c').len(), 5);
        assert_eq!(detest::c4().dim(), 51);
        assert_eq!(detest::c5().dim(), 30);
        assert!(detest::by_name("F1").is_none());
        assert!(by_name("e3").is_some() && by_name("lorenz").is_some() && by_name("nope").is_none());
        // C1's closed form: y_i = t^(i-1) e^-t / (i-1)!.
        let p = detest::c1();
        let y = p.exact_at(3.0).unwrap();
        let mut fact = 1.0;
        for i in 0..9 {
            if i > 0 {
                fact *= i as f64;
            }
            let want = 3f64.powi(i) * (-3f64).exp() / fact;
            assert!((y[i as usize] - want).abs() < 1e-15, "C1 y{i}");
        }
        // E1's published initial values are J_1/2 at x = 1.
        let e1 = detest::e1();
        let d = &e1.exact_at(0.0).unwrap() - &e1.y0;
        assert!(d.iter().all(|x| x.abs() < 1e-15), "{d}");
    }

    #[test]
    fn torchdiffeq_set_and_helpers() {
        let set = torchdiffeq_set(1);
        assert_eq!(set.iter().map(|p| p.name.as_str()).collect::<Vec<_>>(), ["constant", "sine", "linear"]);
        // Same seed, same matrix; another seed, another matrix.
        assert_eq!(linear(5).y0, linear(5).y0);
        assert_ne!(linear(5).y0, linear(6).y0);
        let a = skew_matrix(10, 9);
        assert_eq!(a, -a.t().to_owned());
        let r = sine().reversed().unwrap();
        assert_eq!((r.t0, r.t1), (8.0, 1.0));
        assert!(lorenz().reversed().is_none());
        let arn = arenstorf().reversed().unwrap();
        assert_eq!(arn.y0, arenstorf().y0);
        assert_eq!(linspace(1.0, 8.0, 10)[9], 8.0);
        assert_eq!(linspace(8.0, 1.0, 3), vec![8.0, 4.5, 1.0]);
        let c = convergence(3).with_span(0.0, 1.0).unwrap();
        assert_eq!(c.t1, 1.0);
        assert!(format!("{:?}", c).contains("convergence"));
    }
}
