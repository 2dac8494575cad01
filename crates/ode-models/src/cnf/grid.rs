//! Square 2-D grids for density heat maps, and sample histograms on them.

use serde::Serialize;
use tch::{Device, Kind, Tensor};

/// `n x n` cell centres covering `[lo, hi]^2`, row-major with `y` as the row.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct Grid {
    pub lo: f64,
    pub hi: f64,
    pub n: usize,
}

impl Grid {
    pub fn cell(&self) -> f64 {
        (self.hi - self.lo) / self.n as f64
    }

    /// The cell centres as a `[n * n, 2]` tensor (`(x, y)` per row, `x` fastest).
    pub fn points(&self, device: Device) -> Tensor {
        let h = self.cell();
        let mut v = Vec::with_capacity(2 * self.n * self.n);
        for j in 0..self.n {
            for i in 0..self.n {
                v.push((self.lo + (i as f64 + 0.5) * h) as f32);
                v.push((self.lo + (j as f64 + 0.5) * h) as f32);
            }
        }
        Tensor::from_slice(&v).view([(self.n * self.n) as i64, 2]).to_device(device)
    }

    /// Density estimate from samples (`[N, 2]`): counts per cell / (N h^2),
    /// in the order of [`Grid::points`]. Samples outside the grid count in N.
    pub fn histogram(&self, samples: &Tensor) -> Vec<f64> {
        let xs: Vec<f32> = Vec::try_from(samples.to_kind(Kind::Float).to_device(Device::Cpu).flatten(0, -1))
            .unwrap_or_default();
        let mut counts = vec![0.0; self.n * self.n];
        let h = self.cell();
        for p in xs.chunks_exact(2) {
            let (i, j) = (((p[0] as f64 - self.lo) / h).floor(), ((p[1] as f64 - self.lo) / h).floor());
            if i >= 0.0 && j >= 0.0 && (i as usize) < self.n && (j as usize) < self.n {
                counts[j as usize * self.n + i as usize] += 1.0;
            }
        }
        let total = (xs.len() / 2).max(1) as f64 * h * h;
        counts.iter().map(|c| c / total).collect()
    }
}

/// A tensor's values as `f64`s (for JSON).
pub fn to_vec(t: &Tensor) -> Vec<f64> {
    Vec::try_from(t.to_kind(Kind::Double).to_device(Device::Cpu).flatten(0, -1)).unwrap_or_default()
}

/// Rows of a `[N, 2]` tensor as pairs (for JSON).
pub fn to_pairs(t: &Tensor) -> Vec<[f64; 2]> {
    to_vec(t).chunks_exact(2).map(|c| [c[0], c[1]]).collect()
}
