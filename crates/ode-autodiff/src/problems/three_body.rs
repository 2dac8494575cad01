//! The gravitational N-body problem (three bodies in the experiments) with the
//! masses as the parameters.
//!
//! State layout for `n` bodies in `dim` dimensions: all positions first, then
//! all velocities, `y = [r_0, .., r_{n-1}, v_0, .., v_{n-1}]` (length
//! `2 n dim`). The right-hand side is
//!
//! ```text
//! r_i' = k_v v_i
//! v_i' = G sum_{j != i} m_j (r_j - r_i) / (|r_j - r_i|^2 + eps^2)^{3/2}
//! ```
//!
//! with `k_v = 1`, `G = 1`, `eps = 0` for [`ThreeBody::planar`] and
//! [`ThreeBody::spatial`]. [`ThreeBody::aca_paper`] uses the non-dimensional
//! constants of the ACA paper's three-body experiment (Zhuang et al. 2020,
//! torch_ACA's `three_body_problem.py`, after an Alpha Centauri example):
//! `G = K1 ~ 0.2005`, `k_v = K2 ~ 7.239`.

use ndarray::Array1;
use ode_core::Rhs;

use crate::rhs::VjpRhs;

/// Newtonian gravity between point masses; the parameters are the masses.
#[derive(Clone, Debug)]
pub struct ThreeBody {
    /// One mass per body (the number of bodies is `masses.len()`).
    pub masses: Array1<f64>,
    /// Spatial dimension (2 for planar, 3 for spatial motion).
    pub dim: usize,
    /// Gravitational constant multiplying the accelerations.
    pub g: f64,
    /// Factor in `r' = k_v v` (1 in physical units).
    pub vel_scale: f64,
    /// Plummer softening length `eps` (0: exact Newtonian gravity).
    pub softening: f64,
}

/// Gravitational constant (m^3 kg^-1 s^-2) used by the ACA paper's setup.
const G_SI: f64 = 6.67408e-11;
/// Reference mass: the sun (kg).
const M_ND: f64 = 1.989e30;
/// Reference distance: between the stars of Alpha Centauri (m).
const R_ND: f64 = 5.326e12;
/// Reference speed: the earth around the sun (m/s).
const V_ND: f64 = 30_000.0;
/// Reference time: about half the orbital period of Alpha Centauri (s).
const T_ND: f64 = 79.91 * 365.0 * 24.0 * 3600.0 * 0.51;

impl ThreeBody {
    /// Planar motion, `G = 1`.
    pub fn planar(masses: Array1<f64>) -> Self {
        ThreeBody { masses, dim: 2, g: 1.0, vel_scale: 1.0, softening: 0.0 }
    }

    /// Motion in three dimensions, `G = 1`.
    pub fn spatial(masses: Array1<f64>) -> Self {
        ThreeBody { dim: 3, ..ThreeBody::planar(masses) }
    }

    /// The ACA paper's three-body system: 3-D, `G = K1 = G t m / (r^2 v)` and
    /// `k_v = K2 = v t / r` with the reference quantities of its script.
    pub fn aca_paper(masses: Array1<f64>) -> Self {
        ThreeBody {
            masses,
            dim: 3,
            g: G_SI * T_ND * M_ND / (R_ND * R_ND * V_ND),
            vel_scale: V_ND * T_ND / R_ND,
            softening: 0.0,
        }
    }

    /// The initial state of the ACA paper's experiment:
    /// `r = (0, 0.2, 0), (0.5, 0, 0.5), (0, 0, 0.5)`,
    /// `v = (0, 0.1, 0), (0, 0, 0.1), (0.1, 0, 0)`.
    pub fn aca_paper_initial_state() -> Array1<f64> {
        Array1::from(vec![
            0.0, 0.2, 0.0, 0.5, 0.0, 0.5, 0.0, 0.0, 0.5, // positions
            0.0, 0.1, 0.0, 0.0, 0.0, 0.1, 0.1, 0.0, 0.0, // velocities
        ])
    }

    /// The planar figure-eight choreography of Chenciner and Montgomery
    /// (2000) for three unit masses with `G = 1` (period about 6.3259).
    pub fn figure_eight_initial_state() -> Array1<f64> {
        let (x, y) = (0.970_004_36, -0.243_087_53);
        let (vx, vy) = (-0.932_407_37, -0.864_731_46);
        Array1::from(vec![x, y, -x, -y, 0.0, 0.0, -vx / 2.0, -vy / 2.0, -vx / 2.0, -vy / 2.0, vx, vy])
    }

    /// The same system with other masses.
    pub fn with_masses(&self, masses: Array1<f64>) -> Self {
        ThreeBody { masses, ..self.clone() }
    }

    /// Number of bodies.
    pub fn n_bodies(&self) -> usize {
        self.masses.len()
    }

    /// Length of the state vector, `2 n dim`.
    pub fn state_len(&self) -> usize {
        2 * self.n_bodies() * self.dim
    }

    /// Number of position components `n dim` (they come first in the state).
    pub fn n_positions(&self) -> usize {
        self.n_bodies() * self.dim
    }

    /// `r_j - r_i`, its softened squared length `s` and `s^{-3/2}`.
    fn separation(&self, y: &Array1<f64>, i: usize, j: usize) -> ([f64; 3], f64, f64) {
        let mut d = [0.0; 3];
        let mut s = self.softening * self.softening;
        for (k, dk) in d.iter_mut().enumerate().take(self.dim) {
            *dk = y[j * self.dim + k] - y[i * self.dim + k];
            s += *dk * *dk;
        }
        (d, s, s.powf(-1.5))
    }
}

impl Rhs<Array1<f64>> for ThreeBody {
    fn eval(&self, _t: f64, y: &Array1<f64>) -> Array1<f64> {
        let (n, dim, np) = (self.n_bodies(), self.dim, self.n_positions());
        let mut out = Array1::zeros(self.state_len());
        for k in 0..np {
            out[k] = self.vel_scale * y[np + k];
        }
        for i in 0..n {
            for j in (0..n).filter(|&j| j != i) {
                let (d, _, inv3) = self.separation(y, i, j);
                let c = self.g * self.masses[j] * inv3;
                for (k, dk) in d.iter().enumerate().take(dim) {
                    out[np + i * dim + k] += c * dk;
                }
            }
        }
        out
    }
}

impl VjpRhs<Array1<f64>> for ThreeBody {
    type Params = Array1<f64>;

    fn zero_params(&self) -> Array1<f64> {
        Array1::zeros(self.n_bodies())
    }

    fn vjp(&self, _t: f64, y: &Array1<f64>, a: &Array1<f64>) -> (Array1<f64>, Array1<f64>) {
        let (n, dim, np) = (self.n_bodies(), self.dim, self.n_positions());
        let mut dy = Array1::zeros(self.state_len());
        let mut dm = Array1::zeros(n);
        // r' = k_v v.
        for k in 0..np {
            dy[np + k] = self.vel_scale * a[k];
        }
        // v_i' = G sum_j m_j d_ij s_ij^{-3/2} with d_ij = r_j - r_i:
        // d/dm_j gives G d s^{-3/2}; d/dd gives G m_j (s^{-3/2} I - 3 s^{-5/2} d d^T).
        for i in 0..n {
            let w = |k: usize| a[np + i * dim + k];
            for j in (0..n).filter(|&j| j != i) {
                let (d, s, inv3) = self.separation(y, i, j);
                let wd: f64 = (0..dim).map(|k| w(k) * d[k]).sum();
                dm[j] += self.g * inv3 * wd;
                let c = self.g * self.masses[j];
                for (k, dk) in d.iter().enumerate().take(dim) {
                    let gk = c * (inv3 * w(k) - 3.0 * inv3 / s * dk * wd);
                    dy[j * dim + k] += gk;
                    dy[i * dim + k] -= gk;
                }
            }
        }
        (dy, dm)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fixed pseudo-random vector (no rand dependency in this crate).
    fn pseudo(n: usize, seed: u64) -> Array1<f64> {
        let mut s = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        Array1::from_shape_fn(n, |_| {
            s = s.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            ((s >> 11) as f64 / (1u64 << 53) as f64) * 2.0 - 1.0
        })
    }

    /// `<a, f(y)>`, the scalar whose gradient the VJP is.
    fn inner(f: &ThreeBody, y: &Array1<f64>, a: &Array1<f64>) -> f64 {
        f.eval(0.0, y).dot(a)
    }

    fn check_vjp(f: &ThreeBody, y: &Array1<f64>, seed: u64) {
        let a = pseudo(f.state_len(), seed);
        let (dy, dm) = f.vjp(0.0, y, &a);
        let eps = 1e-6;
        for k in 0..y.len() {
            let (mut yp, mut ym) = (y.clone(), y.clone());
            yp[k] += eps;
            ym[k] -= eps;
            let fd = (inner(f, &yp, &a) - inner(f, &ym, &a)) / (2.0 * eps);
            assert!((fd - dy[k]).abs() <= 1e-6 * (1.0 + fd.abs()), "dy[{k}]: fd {fd}, vjp {}", dy[k]);
        }
        for j in 0..f.n_bodies() {
            let (mut mp, mut mm) = (f.masses.clone(), f.masses.clone());
            mp[j] += eps;
            mm[j] -= eps;
            let fd = (inner(&f.with_masses(mp), y, &a) - inner(&f.with_masses(mm), y, &a)) / (2.0 * eps);
            assert!((fd - dm[j]).abs() <= 1e-6 * (1.0 + fd.abs()), "dm[{j}]: fd {fd}, vjp {}", dm[j]);
        }
    }

    #[test]
    fn vjp_matches_finite_differences_planar() {
        let f = ThreeBody::planar(Array1::from(vec![1.0, 0.8, 1.3]));
        check_vjp(&f, &ThreeBody::figure_eight_initial_state(), 1);
        check_vjp(&f, &(ThreeBody::figure_eight_initial_state() + 0.1 * pseudo(12, 7)), 2);
    }

    #[test]
    fn vjp_matches_finite_differences_aca_paper_and_softened() {
        let y0 = ThreeBody::aca_paper_initial_state();
        let f = ThreeBody::aca_paper(Array1::from(vec![1.1, 1.1, 0.9]));
        check_vjp(&f, &y0, 3);
        let soft = ThreeBody { softening: 0.3, ..ThreeBody::spatial(Array1::from(vec![0.5, 2.0, 1.0])) };
        check_vjp(&soft, &(y0 + 0.05 * pseudo(18, 11)), 4);
    }

    #[test]
    fn constants_match_the_paper_script() {
        let f = ThreeBody::aca_paper(Array1::ones(3));
        assert!((f.g - 0.2005).abs() < 1e-3, "K1 = {}", f.g);
        assert!((f.vel_scale - 7.239).abs() < 1e-2, "K2 = {}", f.vel_scale);
    }

    #[test]
    fn momentum_is_conserved() {
        // sum_i m_i v_i' = 0 for pairwise forces.
        let f = ThreeBody::spatial(Array1::from(vec![1.1, 1.1, 0.9]));
        let y = ThreeBody::aca_paper_initial_state();
        let dv = f.eval(0.0, &y);
        for k in 0..3 {
            let p: f64 = (0..3).map(|i| f.masses[i] * dv[9 + i * 3 + k]).sum();
            assert!(p.abs() < 1e-12, "component {k}: {p}");
        }
    }
}
