//! The problems the benchmark, the experiments and the demo solve. Kept
//! small and explicit so the Python peer can define the very same ones.

use ndarray::{array, Array1, Array2};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rand_distr::StandardNormal;

/// Lorenz 1963: sigma 10, rho 28, beta 8/3.
pub const LORENZ: (f64, f64, f64) = (10.0, 28.0, 8.0 / 3.0);

pub fn lorenz(sigma: f64, rho: f64, beta: f64) -> impl Fn(f64, &Array1<f64>) -> Array1<f64> + Sync {
    move |_t, y| array![sigma * (y[1] - y[0]), y[0] * (rho - y[2]) - y[1], y[0] * y[1] - beta * y[2]]
}

/// Arenstorf's periodic orbit of the restricted three-body problem
/// (Hairer, Norsett, Wanner, Solving ODEs I, II.0).
pub const ARENSTORF_MU: f64 = 0.012277471;
// The literature values, digits beyond f64 included.
#[allow(clippy::excessive_precision)]
pub const ARENSTORF_Y0: [f64; 4] = [0.994, 0.0, 0.0, -2.00158510637908252240537862224];
#[allow(clippy::excessive_precision)]
pub const ARENSTORF_PERIOD: f64 = 17.0652165601579625588917206249;

pub fn arenstorf(mu: f64) -> impl Fn(f64, &Array1<f64>) -> Array1<f64> + Sync {
    let nu = 1.0 - mu;
    move |_t, y| {
        let (x, z, vx, vz) = (y[0], y[1], y[2], y[3]);
        let r1 = (x + mu).powi(2) + z * z;
        let r2 = (x - nu).powi(2) + z * z;
        let d1 = r1 * r1.sqrt();
        let d2 = r2 * r2.sqrt();
        array![
            vx,
            vz,
            x + 2.0 * vz - nu * (x + mu) / d1 - mu * (x - nu) / d2,
            z - 2.0 * vx - nu * z / d1 - mu * z / d2
        ]
    }
}

/// Van der Pol oscillator `x'' = mu (1 - x^2) x' - x` as a first-order system.
pub fn van_der_pol(mu: f64) -> impl Fn(f64, &Array1<f64>) -> Array1<f64> + Sync {
    move |_t, y| array![y[1], mu * (1.0 - y[0] * y[0]) * y[1] - y[0]]
}

/// `y' = A y`.
pub fn linear(a: Array2<f64>) -> impl Fn(f64, &Array1<f64>) -> Array1<f64> + Sync {
    move |_t, y| a.dot(y)
}

/// An `n x m` matrix of independent `scale * N(0, 1)` entries from a seeded RNG.
pub fn normal_matrix(n: usize, m: usize, scale: f64, seed: u64) -> Array2<f64> {
    let mut rng = StdRng::seed_from_u64(seed);
    Array2::from_shape_fn((n, m), |_| scale * rng.sample::<f64, _>(StandardNormal))
}

/// A vector of `N(0, 1)` entries from a seeded RNG.
pub fn normal_vector(n: usize, seed: u64) -> Array1<f64> {
    let mut rng = StdRng::seed_from_u64(seed);
    Array1::from_shape_fn(n, |_| rng.sample::<f64, _>(StandardNormal))
}

/// `A = U - U^T - damping I` with `U = scale * N(0, 1)`: oscillatory, slowly
/// decaying, non-stiff.
pub fn damped_skew_matrix(n: usize, scale: f64, damping: f64, seed: u64) -> Array2<f64> {
    let u = normal_matrix(n, n, scale, seed);
    let mut a = &u - &u.t();
    for i in 0..n {
        a[[i, i]] -= damping;
    }
    a
}

/// `side * side` points on a jittered grid over `[lo, hi]^2`: one uniformly
/// random point in each grid cell, from a seeded RNG.
pub fn jittered_grid(side: usize, lo: f64, hi: f64, seed: u64) -> Vec<Array1<f64>> {
    let mut rng = StdRng::seed_from_u64(seed);
    let cell = (hi - lo) / side as f64;
    let mut out = Vec::with_capacity(side * side);
    for i in 0..side {
        for j in 0..side {
            let x = lo + cell * (i as f64 + rng.gen::<f64>());
            let v = lo + cell * (j as f64 + rng.gen::<f64>());
            out.push(array![x, v]);
        }
    }
    out
}

/// Largest absolute componentwise difference.
pub fn max_abs_diff(a: &Array1<f64>, b: &Array1<f64>) -> f64 {
    a.iter().zip(b.iter()).map(|(x, y)| (x - y).abs()).fold(0.0, f64::max)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeded_data_is_reproducible() {
        assert_eq!(normal_matrix(3, 3, 1.0, 7), normal_matrix(3, 3, 1.0, 7));
        let a = damped_skew_matrix(4, 0.1, 0.05, 1);
        for i in 0..4 {
            assert!((a[[i, i]] + 0.05).abs() < 1e-15);
            for j in 0..4 {
                if i != j {
                    assert!((a[[i, j]] + a[[j, i]]).abs() < 1e-15);
                }
            }
        }
        let g = jittered_grid(3, -2.0, 2.0, 5);
        assert_eq!(g.len(), 9);
        assert!(g.iter().all(|p| p.iter().all(|x| (-2.0..=2.0).contains(x))));
    }

    #[test]
    fn right_hand_sides() {
        let f = lorenz(10.0, 28.0, 8.0 / 3.0);
        assert_eq!(f(0.0, &array![1.0, 1.0, 1.0]), array![0.0, 26.0, 1.0 - 8.0 / 3.0]);
        let g = van_der_pol(1.0);
        assert_eq!(g(0.0, &array![2.0, 1.0]), array![1.0, -3.0 - 2.0]);
        let h = arenstorf(ARENSTORF_MU);
        let d = h(0.0, &Array1::from(ARENSTORF_Y0.to_vec()));
        assert_eq!(d[0], 0.0);
        assert!(d.iter().all(|x| x.is_finite()));
    }
}
