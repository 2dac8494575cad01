//! Right-hand sides with hand-written vector-Jacobian products: the test
//! problems of the gradient tests and experiments, and examples of how to
//! implement [`VjpRhs`] for an ndarray model.

use ndarray::{Array1, Array2, Axis};
use ode_core::Rhs;

use crate::rhs::VjpRhs;

mod three_body;
pub use three_body::ThreeBody;

/// `y' = A y`; the parameters are the entries of `A`.
#[derive(Clone, Debug)]
pub struct Linear {
    pub a: Array2<f64>,
}

impl Linear {
    pub fn new(a: Array2<f64>) -> Self {
        Linear { a }
    }
}

impl Rhs<Array1<f64>> for Linear {
    fn eval(&self, _t: f64, y: &Array1<f64>) -> Array1<f64> {
        self.a.dot(y)
    }
}

impl VjpRhs<Array1<f64>> for Linear {
    type Params = Array2<f64>;
    fn zero_params(&self) -> Array2<f64> {
        Array2::zeros(self.a.raw_dim())
    }
    fn vjp(&self, _t: f64, y: &Array1<f64>, a: &Array1<f64>) -> (Array1<f64>, Array2<f64>) {
        // a^T A, and d(a^T A y)/dA = a y^T.
        let dy = self.a.t().dot(a);
        let da = outer(a, y);
        (dy, da)
    }
}

/// Lotka-Volterra `x' = p0 x - p1 x y`, `y' = -p2 y + p3 x y`.
#[derive(Clone, Debug)]
pub struct LotkaVolterra {
    pub p: [f64; 4],
}

impl Default for LotkaVolterra {
    /// The parameters of REFERENCE.md: p = [1.5, 1, 3, 1].
    fn default() -> Self {
        LotkaVolterra { p: [1.5, 1.0, 3.0, 1.0] }
    }
}

impl Rhs<Array1<f64>> for LotkaVolterra {
    fn eval(&self, _t: f64, u: &Array1<f64>) -> Array1<f64> {
        let [p0, p1, p2, p3] = self.p;
        let (x, y) = (u[0], u[1]);
        Array1::from(vec![p0 * x - p1 * x * y, -p2 * y + p3 * x * y])
    }
}

impl VjpRhs<Array1<f64>> for LotkaVolterra {
    type Params = Array1<f64>;
    fn zero_params(&self) -> Array1<f64> {
        Array1::zeros(4)
    }
    fn vjp(&self, _t: f64, u: &Array1<f64>, a: &Array1<f64>) -> (Array1<f64>, Array1<f64>) {
        let [p0, p1, p2, p3] = self.p;
        let (x, y) = (u[0], u[1]);
        let dy =
            Array1::from(vec![a[0] * (p0 - p1 * y) + a[1] * p3 * y, -a[0] * p1 * x + a[1] * (p3 * x - p2)]);
        let dp = Array1::from(vec![a[0] * x, -a[0] * x * y, -a[1] * y, a[1] * x * y]);
        (dy, dp)
    }
}

/// The cubic spiral `y' = (y^3) A` (row vector times matrix), with
/// `A = [[-0.1, 2], [-2, -0.1]]` by default.
#[derive(Clone, Debug)]
pub struct CubicSpiral {
    pub a: Array2<f64>,
}

impl Default for CubicSpiral {
    fn default() -> Self {
        CubicSpiral { a: ndarray::array![[-0.1, 2.0], [-2.0, -0.1]] }
    }
}

impl Rhs<Array1<f64>> for CubicSpiral {
    fn eval(&self, _t: f64, y: &Array1<f64>) -> Array1<f64> {
        y.mapv(|v| v * v * v).dot(&self.a)
    }
}

impl VjpRhs<Array1<f64>> for CubicSpiral {
    type Params = Array2<f64>;
    fn zero_params(&self) -> Array2<f64> {
        Array2::zeros(self.a.raw_dim())
    }
    fn vjp(&self, _t: f64, y: &Array1<f64>, a: &Array1<f64>) -> (Array1<f64>, Array2<f64>) {
        // f_j = sum_i y_i^3 A_ij: df_j/dy_i = 3 y_i^2 A_ij, df_j/dA_ij = y_i^3.
        let aa = self.a.dot(a);
        let dy = Array1::from_shape_fn(y.len(), |i| 3.0 * y[i] * y[i] * aa[i]);
        let da = outer(&y.mapv(|v| v * v * v), a);
        (dy, da)
    }
}

/// A one-hidden-layer tanh network `f(y) = W2 tanh(W1 y + b1) + b2`, the
/// small neural ODE of the gradient-accuracy experiment. Parameters are
/// `(W1, b1, W2, b2)`.
#[derive(Clone, Debug)]
pub struct Mlp {
    pub w1: Array2<f64>,
    pub b1: Array1<f64>,
    pub w2: Array2<f64>,
    pub b2: Array1<f64>,
}

/// The parameter (gradient) type of [`Mlp`].
pub type MlpParams = (Array2<f64>, Array1<f64>, Array2<f64>, Array1<f64>);

impl Mlp {
    /// A network of the given sizes with weights from a deterministic
    /// generator (scaled like Glorot initialisation).
    pub fn seeded(dim: usize, hidden: usize, seed: u64) -> Self {
        let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        let mut next = move || {
            // xorshift64*: enough for reproducible test weights.
            state ^= state >> 12;
            state ^= state << 25;
            state ^= state >> 27;
            (state.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0
        };
        let s1 = (6.0 / (dim + hidden) as f64).sqrt();
        let w1 = Array2::from_shape_fn((hidden, dim), |_| s1 * next());
        let b1 = Array1::from_shape_fn(hidden, |_| 0.1 * next());
        let w2 = Array2::from_shape_fn((dim, hidden), |_| s1 * next());
        let b2 = Array1::from_shape_fn(dim, |_| 0.1 * next());
        Mlp { w1, b1, w2, b2 }
    }

    /// The parameters as one value of the gradient type.
    pub fn params(&self) -> MlpParams {
        (self.w1.clone(), self.b1.clone(), self.w2.clone(), self.b2.clone())
    }
}

impl Rhs<Array1<f64>> for Mlp {
    fn eval(&self, _t: f64, y: &Array1<f64>) -> Array1<f64> {
        let h = (self.w1.dot(y) + &self.b1).mapv(f64::tanh);
        self.w2.dot(&h) + &self.b2
    }
}

impl VjpRhs<Array1<f64>> for Mlp {
    type Params = MlpParams;
    fn zero_params(&self) -> MlpParams {
        (
            Array2::zeros(self.w1.raw_dim()),
            Array1::zeros(self.b1.len()),
            Array2::zeros(self.w2.raw_dim()),
            Array1::zeros(self.b2.len()),
        )
    }
    fn vjp(&self, _t: f64, y: &Array1<f64>, a: &Array1<f64>) -> (Array1<f64>, MlpParams) {
        let s = (self.w1.dot(y) + &self.b1).mapv(f64::tanh);
        let ds = self.w2.t().dot(a);
        let dh = &ds * &s.mapv(|v| 1.0 - v * v);
        let dy = self.w1.t().dot(&dh);
        (dy, (outer(&dh, y), dh.clone(), outer(a, &s), a.clone()))
    }
}

/// `u v^T`.
pub fn outer(u: &Array1<f64>, v: &Array1<f64>) -> Array2<f64> {
    let uc = u.view().insert_axis(Axis(1));
    let vr = v.view().insert_axis(Axis(0));
    uc.dot(&vr)
}
