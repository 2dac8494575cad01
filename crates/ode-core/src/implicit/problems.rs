//! Standard stiff test problems with analytic Jacobians, from Hairer and
//! Wanner's test set (Solving ODEs II, and the "Test Set for IVP Solvers"
//! of Mazzia et al., archimede.uniba.it/~testset), and the heat equation
//! by the method of lines. Shared by the tests and `cargo xtask bench stiff`.

use std::f64::consts::PI;

use ndarray::{array, Array1, Array2};

use super::banded::BandMatrix;
use super::StiffRhs;

/// Robertson's chemical kinetics: rate constants 0.04, 3e7, 1e4,
/// `y0 = [1, 0, 0]`.
#[derive(Clone, Copy, Debug, Default)]
pub struct Robertson;

impl Robertson {
    pub fn y0() -> Array1<f64> {
        array![1.0, 0.0, 0.0]
    }
    /// The state at `t = 1e5`. No value is published at this time (the
    /// test set's is at 1e11): scipy 1.17's LSODA at rtol 1e-13 with the
    /// analytic Jacobian, which its Radau at rtol 1e-13 matches to 1e-10
    /// relative in every component.
    #[allow(clippy::excessive_precision)]
    pub fn reference_1e5() -> Array1<f64> {
        array![1.786592114224534e-02, 7.274751468496777e-08, 9.821340061102409e-01]
    }
    /// The state at `t = 4e10`, computed and cross-checked the same way.
    #[allow(clippy::excessive_precision)]
    pub fn reference_4e10() -> Array1<f64> {
        array![5.2083451768525135e-08, 2.0833381779467691e-13, 9.9999994791635416e-01]
    }
}

impl StiffRhs for Robertson {
    fn eval(&self, _t: f64, y: &Array1<f64>) -> Array1<f64> {
        if y.len() != 3 {
            return Array1::zeros(0);
        }
        let (a, b, c) = (y[0], y[1], y[2]);
        array![-0.04 * a + 1e4 * b * c, 0.04 * a - 1e4 * b * c - 3e7 * b * b, 3e7 * b * b]
    }
    fn jacobian(&self, _t: f64, y: &Array1<f64>) -> Option<Array2<f64>> {
        if y.len() != 3 {
            return None;
        }
        let (b, c) = (y[1], y[2]);
        Some(array![[-0.04, 1e4 * c, 1e4 * b], [0.04, -1e4 * c - 6e7 * b, -1e4 * b], [0.0, 6e7 * b, 0.0]])
    }
}

/// Van der Pol's oscillator `x'' = mu (1 - x^2) x' - x` as a first-order
/// system (MATLAB's `vdp1000` with `mu = 1000` on `[0, 3000]`), `y0 = [2, 0]`.
#[derive(Clone, Copy, Debug)]
pub struct VanDerPol {
    pub mu: f64,
}

impl VanDerPol {
    pub fn y0() -> Array1<f64> {
        array![2.0, 0.0]
    }
    /// The state at `t = 3000` for `mu = 1000`. No published value: scipy
    /// 1.17's Radau at rtol 1e-13, atol 1e-14 with the analytic Jacobian
    /// (its run at rtol 1e-12 agrees to 6e-13 relative, its LSODA at 1e-13
    /// to 2e-10).
    #[allow(clippy::excessive_precision)]
    pub fn reference_mu1000_t3000() -> Array1<f64> {
        array![-1.5106069367448323, 0.0011783800007294553]
    }
}

impl StiffRhs for VanDerPol {
    fn eval(&self, _t: f64, y: &Array1<f64>) -> Array1<f64> {
        if y.len() != 2 {
            return Array1::zeros(0);
        }
        array![y[1], self.mu * (1.0 - y[0] * y[0]) * y[1] - y[0]]
    }
    fn jacobian(&self, _t: f64, y: &Array1<f64>) -> Option<Array2<f64>> {
        if y.len() != 2 {
            return None;
        }
        Some(array![[0.0, 1.0], [-2.0 * self.mu * y[0] * y[1] - 1.0, self.mu * (1.0 - y[0] * y[0])]])
    }
}

/// HIRES (Schäfer 1975): 8 reactions of plant physiology, on
/// `[0, 321.8122]`.
#[derive(Clone, Copy, Debug, Default)]
pub struct Hires;

impl Hires {
    pub const T_END: f64 = 321.8122;
    pub fn y0() -> Array1<f64> {
        array![1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0057]
    }
    /// The test set's reference at `T_END` (RADAU5 in quadruple-like
    /// precision on a Cray C90, uround 1e-19, rtol = atol = 1.1e-18; from
    /// the test set's `hires.f`).
    #[allow(clippy::excessive_precision)]
    pub fn reference() -> Array1<f64> {
        array![
            0.7371312573325668e-3,
            0.1442485726316185e-3,
            0.5888729740967575e-4,
            0.1175651343283149e-2,
            0.2386356198831331e-2,
            0.6238968252742796e-2,
            0.2849998395185769e-2,
            0.2850001604814231e-2
        ]
    }
}

impl StiffRhs for Hires {
    fn eval(&self, _t: f64, y: &Array1<f64>) -> Array1<f64> {
        if y.len() != 8 {
            return Array1::zeros(0);
        }
        let r = 280.0 * y[5] * y[7] - 1.81 * y[6];
        array![
            -1.71 * y[0] + 0.43 * y[1] + 8.32 * y[2] + 0.0007,
            1.71 * y[0] - 8.75 * y[1],
            -10.03 * y[2] + 0.43 * y[3] + 0.035 * y[4],
            8.32 * y[1] + 1.71 * y[2] - 1.12 * y[3],
            -1.745 * y[4] + 0.43 * y[5] + 0.43 * y[6],
            -280.0 * y[5] * y[7] + 0.69 * y[3] + 1.71 * y[4] - 0.43 * y[5] + 0.69 * y[6],
            r,
            -r
        ]
    }
    fn jacobian(&self, _t: f64, y: &Array1<f64>) -> Option<Array2<f64>> {
        if y.len() != 8 {
            return None;
        }
        let mut j = Array2::zeros((8, 8));
        let rows: [&[(usize, f64)]; 5] = [
            &[(0, -1.71), (1, 0.43), (2, 8.32)],
            &[(0, 1.71), (1, -8.75)],
            &[(2, -10.03), (3, 0.43), (4, 0.035)],
            &[(1, 8.32), (2, 1.71), (3, -1.12)],
            &[(4, -1.745), (5, 0.43), (6, 0.43)],
        ];
        for (i, row) in rows.iter().enumerate() {
            for &(k, v) in row.iter() {
                j[[i, k]] = v;
            }
        }
        let (a, b) = (280.0 * y[7], 280.0 * y[5]);
        j[[5, 3]] = 0.69;
        j[[5, 4]] = 1.71;
        j[[5, 5]] = -a - 0.43;
        j[[5, 6]] = 0.69;
        j[[5, 7]] = -b;
        j[[6, 5]] = a;
        j[[6, 6]] = -1.81;
        j[[6, 7]] = b;
        j[[7, 5]] = -a;
        j[[7, 6]] = 1.81;
        j[[7, 7]] = -b;
        Some(j)
    }
}

/// OREGO, the Oregonator (Field and Noyes 1974) on `[0, 360]`,
/// `y0 = [1, 2, 3]`.
#[derive(Clone, Copy, Debug, Default)]
pub struct Orego;

impl Orego {
    pub const T_END: f64 = 360.0;
    pub fn y0() -> Array1<f64> {
        array![1.0, 2.0, 3.0]
    }
    /// The test set's reference at `T_END` (RADAU, uround 1.01e-19,
    /// rtol = 1.1e-18, atol = 1.1e-40; from the test set's `orego.f`).
    #[allow(clippy::excessive_precision)]
    pub fn reference() -> Array1<f64> {
        array![0.1000814870318523e1, 0.1228178521549917e4, 0.1320554942846706e3]
    }
}

const OREGO_S: f64 = 77.27;
const OREGO_Q: f64 = 8.375e-6;
const OREGO_W: f64 = 0.161;

impl StiffRhs for Orego {
    fn eval(&self, _t: f64, y: &Array1<f64>) -> Array1<f64> {
        if y.len() != 3 {
            return Array1::zeros(0);
        }
        array![
            OREGO_S * (y[1] + y[0] * (1.0 - OREGO_Q * y[0] - y[1])),
            (y[2] - (1.0 + y[0]) * y[1]) / OREGO_S,
            OREGO_W * (y[0] - y[2])
        ]
    }
    fn jacobian(&self, _t: f64, y: &Array1<f64>) -> Option<Array2<f64>> {
        if y.len() != 3 {
            return None;
        }
        Some(array![
            [OREGO_S * (1.0 - 2.0 * OREGO_Q * y[0] - y[1]), OREGO_S * (1.0 - y[0]), 0.0],
            [-y[1] / OREGO_S, -(1.0 + y[0]) / OREGO_S, 1.0 / OREGO_S],
            [OREGO_W, 0.0, -OREGO_W]
        ])
    }
}

/// The heat equation `u_t = u_xx` on `(0, 1)` with `u = 0` at both ends,
/// discretized by second-order central differences on `n` interior points
/// (`dx = 1 / (n + 1)`). The semi-discrete system is linear, so its exact
/// solution is known: [`Heat1d::exact`]. Its Jacobian is tridiagonal: with
/// `StiffOptions::banded(1, 1)` it is given in band storage.
#[derive(Clone, Debug)]
pub struct Heat1d {
    pub n: usize,
}

impl Heat1d {
    fn dx(&self) -> f64 {
        1.0 / (self.n as f64 + 1.0)
    }

    /// `u0 = sin(pi x) + 0.5 sin(3 pi x)` at the grid points.
    pub fn y0(&self) -> Array1<f64> {
        self.exact(0.0)
    }

    /// The exact solution of the semi-discrete system: each `sin(k pi x)`
    /// is an eigenvector of the difference operator with eigenvalue
    /// `-4 sin^2(k pi dx / 2) / dx^2`.
    pub fn exact(&self, t: f64) -> Array1<f64> {
        let dx = self.dx();
        let mode = |k: f64| {
            let lam = 4.0 * (k * PI * dx / 2.0).sin().powi(2) / (dx * dx);
            (-lam * t).exp()
        };
        let (a1, a3) = (mode(1.0), 0.5 * mode(3.0));
        Array1::from_shape_fn(self.n, |j| {
            let x = (j as f64 + 1.0) * dx;
            a1 * (PI * x).sin() + a3 * (3.0 * PI * x).sin()
        })
    }
}

impl StiffRhs for Heat1d {
    fn eval(&self, _t: f64, u: &Array1<f64>) -> Array1<f64> {
        let c = 1.0 / (self.dx() * self.dx());
        let copy;
        let u = match u.as_slice() {
            Some(s) => s,
            None => {
                copy = u.to_vec();
                &copy
            }
        };
        let n = u.len();
        // One pass over zipped slices (no indexing with boundary tests: at
        // n = 1000 this is a good part of a banded Newton iteration), each
        // component as `((-2 u_i + u_(i-1)) + u_(i+1)) c`.
        let mut out = Vec::with_capacity(n);
        match n {
            0 => {}
            1 => out.push(-2.0 * u[0] * c),
            _ => {
                out.push((-2.0 * u[0] + u[1]) * c);
                out.extend(u.windows(3).map(|w| (-2.0 * w[1] + w[0] + w[2]) * c));
                out.push((-2.0 * u[n - 1] + u[n - 2]) * c);
            }
        }
        Array1::from_vec(out)
    }
    fn jacobian(&self, _t: f64, u: &Array1<f64>) -> Option<Array2<f64>> {
        let n = u.len();
        let c = 1.0 / (self.dx() * self.dx());
        let mut j = Array2::zeros((n, n));
        for i in 0..n {
            j[[i, i]] = -2.0 * c;
            if i > 0 {
                j[[i, i - 1]] = c;
            }
            if i + 1 < n {
                j[[i, i + 1]] = c;
            }
        }
        Some(j)
    }
    /// The same tridiagonal matrix in band storage (lower = upper = 1), so
    /// that a banded solve never builds the `n x n` matrix.
    fn banded_jacobian(&self, _t: f64, u: &Array1<f64>, jac: &mut BandMatrix) -> bool {
        let n = u.len();
        let c = 1.0 / (self.dx() * self.dx());
        for i in 0..n {
            jac.set(i, i, -2.0 * c);
            if i > 0 {
                jac.set(i, i - 1, c);
            }
            if i + 1 < n {
                jac.set(i, i + 1, c);
            }
        }
        true
    }
}

/// A problem with its time origin moved: `Shifted(&f, t0)` at time `t` is
/// `f` at `t - t0`, Jacobians included. The problems above are autonomous,
/// so only the rounding of t changes: solving from `t0` instead of 0 tests
/// a solver where a step is few ulps of t (tests/stiff_robustness.rs,
/// `examples/stiff_sweep.rs`).
///
/// ```
/// use ode_core::implicit::problems::{Heat1d, Shifted};
/// use ode_core::implicit::{solve_stiff, StiffMethod, StiffOptions};
///
/// let heat = Heat1d { n: 50 };
/// let opts = StiffOptions::new(StiffMethod::Bdf).tol(1e-8, 1e-11).banded(1, 1);
/// let sol = solve_stiff(&Shifted(&heat, 1e5), heat.y0(), &[1e5, 1e5 + 0.1], &opts).unwrap();
/// let exact = heat.exact(0.1);
/// let err = (&sol.solution.ys[1] - &exact).mapv(f64::abs).fold(0.0f64, |a, &b| a.max(b));
/// assert!(err < 1e-6);
/// ```
#[derive(Clone, Copy, Debug)]
pub struct Shifted<'a, F: ?Sized>(pub &'a F, pub f64);

impl<F: StiffRhs + ?Sized> StiffRhs for Shifted<'_, F> {
    fn eval(&self, t: f64, y: &Array1<f64>) -> Array1<f64> {
        self.0.eval(t - self.1, y)
    }

    fn jacobian(&self, t: f64, y: &Array1<f64>) -> Option<Array2<f64>> {
        self.0.jacobian(t - self.1, y)
    }

    fn banded_jacobian(&self, t: f64, y: &Array1<f64>, jac: &mut BandMatrix) -> bool {
        self.0.banded_jacobian(t - self.1, y, jac)
    }
}
