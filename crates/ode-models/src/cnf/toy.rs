//! Seeded 2-D toy data (FFJORD's eight sets, re-implemented from their
//! definitions) and a D-dimensional Gaussian mixture for the scale check.
//!
//! The generators use their own small RNG ([`ToyRng`], ode-core's SplitMix64
//! with Box-Muller normals), not torch's global generator, so a seed fixes the
//! samples whatever else the process draws.

use std::str::FromStr;

use ode_core::problems::SplitMix64;
use tch::{Device, Kind, Tensor};

use super::CnfError;

/// The toy sets' generator: ode-core's SplitMix64 (with its Box-Muller
/// normals) under a seed of its own, plus the integer draws the sets need.
#[derive(Clone, Debug)]
pub struct ToyRng {
    bits: SplitMix64,
}

impl ToyRng {
    pub fn new(seed: u64) -> Self {
        ToyRng { bits: SplitMix64::new(seed ^ 0x5DEE_CE66_D1CE_4E5B) }
    }

    pub fn next_u64(&mut self) -> u64 {
        self.bits.next_u64()
    }

    /// Uniform on [0, 1).
    pub fn uniform(&mut self) -> f64 {
        self.bits.uniform()
    }

    /// Uniform integer in `0..n` (`n > 0`).
    pub fn below(&mut self, n: usize) -> usize {
        ((self.uniform() * n as f64) as usize).min(n.saturating_sub(1))
    }

    /// Standard normal (Box-Muller, both values used).
    pub fn normal(&mut self) -> f64 {
        self.bits.normal()
    }

    /// Fisher-Yates shuffle.
    pub fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            let j = self.below(i + 1);
            v.swap(i, j);
        }
    }
}

/// FFJORD's 2-D toy data sets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ToySet {
    Swissroll,
    Circles,
    Rings,
    Moons,
    EightGaussians,
    Pinwheel,
    TwoSpirals,
    Checkerboard,
}

impl ToySet {
    pub const ALL: [ToySet; 8] = [
        ToySet::Swissroll,
        ToySet::Circles,
        ToySet::Rings,
        ToySet::Moons,
        ToySet::EightGaussians,
        ToySet::Pinwheel,
        ToySet::TwoSpirals,
        ToySet::Checkerboard,
    ];

    pub fn name(self) -> &'static str {
        match self {
            ToySet::Swissroll => "swissroll",
            ToySet::Circles => "circles",
            ToySet::Rings => "rings",
            ToySet::Moons => "moons",
            ToySet::EightGaussians => "8gaussians",
            ToySet::Pinwheel => "pinwheel",
            ToySet::TwoSpirals => "2spirals",
            ToySet::Checkerboard => "checkerboard",
        }
    }

    /// `n` points as `n` pairs, from `seed`. Scales follow FFJORD so that
    /// every set fits roughly in [-4, 4]^2.
    pub fn sample_points(self, n: usize, seed: u64) -> Vec<[f64; 2]> {
        let mut r = ToyRng::new(seed ^ (self as u64).wrapping_mul(0xA24B_AED4_963E_E407));
        let tau = std::f64::consts::TAU;
        let mut pts: Vec<[f64; 2]> = match self {
            ToySet::Swissroll => (0..n)
                .map(|_| {
                    // sklearn's swiss roll, coordinates (x, z), noise 1, scaled by 1/5.
                    let t = 1.5 * std::f64::consts::PI * (1.0 + 2.0 * r.uniform());
                    [(t * t.cos() + r.normal()) / 5.0, (t * t.sin() + r.normal()) / 5.0]
                })
                .collect(),
            ToySet::Circles => {
                // Two concentric circles (radius 1 and 0.5), noise 0.08, scaled by 3.
                let outer = n / 2;
                let mut v: Vec<[f64; 2]> = (0..n)
                    .map(|i| {
                        let (k, m, rad) =
                            if i < outer { (i, outer, 1.0) } else { (i - outer, n - outer, 0.5) };
                        let a = tau * k as f64 / m as f64;
                        [3.0 * (rad * a.cos() + 0.08 * r.normal()), 3.0 * (rad * a.sin() + 0.08 * r.normal())]
                    })
                    .collect();
                r.shuffle(&mut v);
                v
            }
            ToySet::Rings => {
                // Four circles of radius 1, 0.75, 0.5, 0.25, scaled by 3, noise 0.08 after scaling.
                let q = n / 4;
                let counts = [n - 3 * q, q, q, q];
                let radii = [0.25, 0.5, 0.75, 1.0];
                let mut v = Vec::with_capacity(n);
                for (&m, &rad) in counts.iter().zip(&radii) {
                    for k in 0..m {
                        let a = tau * k as f64 / m as f64;
                        v.push([3.0 * rad * a.cos(), 3.0 * rad * a.sin()]);
                    }
                }
                r.shuffle(&mut v);
                v.iter().map(|p| [p[0] + 0.08 * r.normal(), p[1] + 0.08 * r.normal()]).collect()
            }
            ToySet::Moons => {
                // sklearn's two moons, noise 0.1, then x * 2 + (-1, -0.2).
                let outer = n / 2;
                let mut v: Vec<[f64; 2]> = (0..n)
                    .map(|i| {
                        let (x, y) = if i < outer {
                            let a = std::f64::consts::PI * i as f64 / (outer.max(2) - 1) as f64;
                            (a.cos(), a.sin())
                        } else {
                            let m = n - outer;
                            let a = std::f64::consts::PI * (i - outer) as f64 / (m.max(2) - 1) as f64;
                            (1.0 - a.cos(), 1.0 - a.sin() - 0.5)
                        };
                        [2.0 * (x + 0.1 * r.normal()) - 1.0, 2.0 * (y + 0.1 * r.normal()) - 0.2]
                    })
                    .collect();
                r.shuffle(&mut v);
                v
            }
            ToySet::EightGaussians => {
                let s = std::f64::consts::FRAC_1_SQRT_2;
                let centers =
                    [(1.0, 0.0), (-1.0, 0.0), (0.0, 1.0), (0.0, -1.0), (s, s), (s, -s), (-s, s), (-s, -s)];
                (0..n)
                    .map(|_| {
                        let (cx, cy) = centers[r.below(8)];
                        let (x, y) = (0.5 * r.normal() + 4.0 * cx, 0.5 * r.normal() + 4.0 * cy);
                        [x / 1.414, y / 1.414]
                    })
                    .collect()
            }
            ToySet::Pinwheel => {
                // Five arms: radial std 0.3, tangential std 0.1, rate 0.25, scaled by 2;
                // (radial, tangential) times the rotation matrix from the right, as FFJORD does.
                let classes = 5;
                (0..n)
                    .map(|i| {
                        let label = i * classes / n.max(1);
                        let fr = 0.3 * r.normal() + 1.0;
                        let ft = 0.1 * r.normal();
                        let angle = tau * label as f64 / classes as f64 + 0.25 * fr.exp();
                        let (s, c) = angle.sin_cos();
                        [2.0 * (fr * c + ft * s), 2.0 * (ft * c - fr * s)]
                    })
                    .collect()
            }
            ToySet::TwoSpirals => (0..n)
                .map(|i| {
                    let a = r.uniform().sqrt() * 540.0 * tau / 360.0;
                    let x = -a.cos() * a + 0.5 * r.uniform();
                    let y = a.sin() * a + 0.5 * r.uniform();
                    let sign = if i % 2 == 0 { 1.0 } else { -1.0 };
                    [sign * x / 3.0 + 0.1 * r.normal(), sign * y / 3.0 + 0.1 * r.normal()]
                })
                .collect(),
            ToySet::Checkerboard => (0..n)
                .map(|_| {
                    let x1 = 4.0 * r.uniform() - 2.0;
                    let x2 = r.uniform() - 2.0 * r.below(2) as f64 + x1.floor().rem_euclid(2.0);
                    [2.0 * x1, 2.0 * x2]
                })
                .collect(),
        };
        pts.truncate(n);
        pts
    }

    /// `n` samples as a `[n, 2]` float tensor on `device`.
    pub fn sample(self, n: usize, seed: u64, device: Device) -> Tensor {
        points_to_tensor(&self.sample_points(n, seed), device)
    }
}

impl FromStr for ToySet {
    type Err = CnfError;
    fn from_str(s: &str) -> Result<Self, CnfError> {
        ToySet::ALL.into_iter().find(|t| t.name() == s).ok_or_else(|| {
            CnfError::Arg(format!(
                "unknown toy set `{s}`; known: {}",
                ToySet::ALL.map(ToySet::name).join(", ")
            ))
        })
    }
}

fn points_to_tensor(pts: &[[f64; 2]], device: Device) -> Tensor {
    let flat: Vec<f32> = pts.iter().flat_map(|p| [p[0] as f32, p[1] as f32]).collect();
    Tensor::from_slice(&flat).view([pts.len() as i64, 2]).to_device(device)
}

/// An equal-weight mixture of `components` isotropic Gaussians (std 0.5) in
/// `dim` dimensions, the means drawn once from N(0, (4 / dim) I) so that they
/// lie about 2 from the origin whatever the dimension.
#[derive(Clone, Debug)]
pub struct GaussianMixture {
    pub dim: usize,
    pub means: Vec<Vec<f64>>,
    pub std: f64,
}

impl GaussianMixture {
    pub fn new(dim: usize, components: usize, seed: u64) -> Result<Self, CnfError> {
        if dim == 0 {
            return Err(CnfError::ZeroDim);
        }
        if components == 0 {
            return Err(CnfError::Arg("a mixture needs at least one component".into()));
        }
        let mut r = ToyRng::new(seed);
        let scale = 2.0 / (dim as f64).sqrt();
        let means = (0..components).map(|_| (0..dim).map(|_| scale * r.normal()).collect()).collect();
        Ok(GaussianMixture { dim, means, std: 0.5 })
    }

    /// `[n, dim]` samples from `seed`.
    pub fn sample(&self, n: usize, seed: u64, device: Device) -> Tensor {
        let mut r = ToyRng::new(seed.wrapping_add(0x1234_5678));
        let mut flat = Vec::with_capacity(n * self.dim);
        for _ in 0..n {
            let m = &self.means[r.below(self.means.len())];
            flat.extend(m.iter().map(|&mu| (mu + self.std * r.normal()) as f32));
        }
        Tensor::from_slice(&flat).view([n as i64, self.dim as i64]).to_device(device).to_kind(Kind::Float)
    }
}
