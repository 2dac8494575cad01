//! Fixtures shared by the step-error tests of ode-models and the
//! regularizer tests of ode-dise (which include this file by path): a small
//! f64 MLP whose weights require gradients, seeded inputs, and a relative
//! distance.

use tch::{Device, Kind, Tensor};

/// The tests that use these fixtures seed torch's global generator and
/// then draw from it (data, weights, Hutchinson probes): each holds this
/// lock, so that no other test's draws fall in between.
pub fn serial() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOCK.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A 2 -> 16 -> 2 tanh MLP in f64 with fixed random weights that require
/// gradients.
pub struct Mlp {
    pub w1: Tensor,
    pub b1: Tensor,
    pub w2: Tensor,
    pub b2: Tensor,
}

impl Mlp {
    pub fn new(seed: i64, scale: f64) -> Self {
        tch::manual_seed(seed);
        let o = (Kind::Double, Device::Cpu);
        Mlp {
            w1: (Tensor::randn([2, 16], o) * scale).set_requires_grad(true),
            b1: (Tensor::randn([16], o) * 0.1).set_requires_grad(true),
            w2: (Tensor::randn([16, 2], o) * (scale / 4.0)).set_requires_grad(true),
            b2: (Tensor::randn([2], o) * 0.1).set_requires_grad(true),
        }
    }

    pub fn forward(&self, y: &Tensor) -> Tensor {
        (y.matmul(&self.w1) + &self.b1).tanh().matmul(&self.w2) + &self.b2
    }

    pub fn params(&self) -> Vec<Tensor> {
        [&self.w1, &self.b1, &self.w2, &self.b2].into_iter().map(Tensor::shallow_clone).collect()
    }

    pub fn zero_grads(&self) {
        for p in self.params() {
            let mut g = p.grad();
            if g.defined() {
                let _ = g.zero_();
            }
        }
    }

    pub fn grads(&self) -> Vec<f64> {
        let mut all = Vec::new();
        for p in self.params() {
            let g = p.grad();
            let g = if g.defined() { g } else { p.zeros_like() };
            all.extend(Vec::<f64>::try_from(g.flatten(0, -1)).unwrap());
        }
        all
    }
}

pub fn input(seed: i64, b: i64) -> Tensor {
    tch::manual_seed(seed);
    Tensor::randn([b, 2], (Kind::Double, Device::Cpu)) * 1.5
}

pub fn f64s(x: &Tensor) -> Vec<f64> {
    Vec::<f64>::try_from(&x.reshape([-1])).unwrap()
}

pub fn rel(a: &[f64], b: &[f64]) -> f64 {
    let num: f64 = a.iter().zip(b).map(|(p, q)| (p - q) * (p - q)).sum::<f64>().sqrt();
    let den: f64 = b.iter().map(|q| q * q).sum::<f64>().sqrt();
    num / den
}
