//! A small seeded generator (ode-core's SplitMix64) for the spiral data.
//!
//! The data must be the same for a seed on every machine and every version
//! of every dependency, so it does not come from torch's generator (whose
//! stream may change between libtorch releases) or from `rand` (whose
//! algorithms are not a stability promise across major versions).

use ode_core::problems::SplitMix64;

/// The spiral data's generator: ode-core's SplitMix64 (Steele, Lea and
/// Flood 2014: passes BigCrush, one `u64` of state, any seed is fine) with
/// independent streams, unbiased integers and one-of-a-pair normals.
#[derive(Clone, Debug)]
pub struct DataRng {
    bits: SplitMix64,
}

impl DataRng {
    pub fn new(seed: u64) -> Self {
        DataRng { bits: SplitMix64::new(seed) }
    }

    /// A generator for an independent purpose derived from the same seed
    /// (so that, say, the observation times do not shift when the number of
    /// spirals changes).
    pub fn stream(seed: u64, purpose: u64) -> Self {
        let mut g = DataRng::new(seed ^ purpose.wrapping_mul(0xA076_1D64_78BD_642F));
        g.next_u64();
        g
    }

    pub fn next_u64(&mut self) -> u64 {
        self.bits.next_u64()
    }

    /// Uniform in [0, 1) with 53 random bits.
    pub fn uniform(&mut self) -> f64 {
        self.bits.uniform()
    }

    /// Uniform integer in `[0, n)` (`n > 0`), by rejection so that it is unbiased.
    pub fn below(&mut self, n: u64) -> u64 {
        assert!(n > 0, "below(0)");
        let zone = u64::MAX - u64::MAX % n;
        loop {
            let x = self.next_u64();
            if x < zone {
                return x % n;
            }
        }
    }

    /// Standard normal by Box-Muller (one of the pair; simplicity over speed).
    pub fn normal(&mut self) -> f64 {
        let u1 = 1.0 - self.uniform(); // (0, 1]: ln is finite
        let u2 = self.uniform();
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }

    /// `k` distinct indices of `0..n`, ascending (partial Fisher-Yates).
    pub fn choose_sorted(&mut self, n: usize, k: usize) -> Vec<usize> {
        assert!(k <= n, "choose_sorted: k > n");
        let mut pool: Vec<usize> = (0..n).collect();
        for i in 0..k {
            let j = i + self.below((n - i) as u64) as usize;
            pool.swap(i, j);
        }
        let mut out = pool[..k].to_vec();
        out.sort_unstable();
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn moments_of_uniform_and_normal() {
        let mut g = DataRng::new(3);
        let n = 200_000;
        let (mut su, mut sn, mut sn2) = (0.0, 0.0, 0.0);
        for _ in 0..n {
            su += g.uniform();
            let z = g.normal();
            sn += z;
            sn2 += z * z;
        }
        let n = n as f64;
        assert!((su / n - 0.5).abs() < 5e-3);
        assert!((sn / n).abs() < 1e-2);
        assert!((sn2 / n - 1.0).abs() < 2e-2);
    }

    #[test]
    fn choose_sorted_is_distinct_and_sorted() {
        let mut g = DataRng::new(9);
        let v = g.choose_sorted(100, 30);
        assert_eq!(v.len(), 30);
        assert!(v.windows(2).all(|w| w[0] < w[1]) && *v.last().unwrap() < 100);
        assert_eq!(g.choose_sorted(5, 5), vec![0, 1, 2, 3, 4]);
    }
}
