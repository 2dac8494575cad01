//! Shared helpers of the per-sample tests.

use tch::{Device, Kind, Tensor};

pub fn dev() -> Device {
    Device::Cpu
}

pub fn f64s(x: &Tensor) -> Vec<f64> {
    Vec::<f64>::try_from(&x.to_kind(Kind::Double).reshape([-1])).unwrap()
}

pub fn max_abs_diff(a: &Tensor, b: &Tensor) -> f64 {
    (a.to_kind(Kind::Double) - b.to_kind(Kind::Double)).abs().max().double_value(&[])
}

/// A 2 -> hidden -> 2 tanh MLP with fixed random weights, as plain tensors
/// (so tests can perturb them for finite differences).
pub struct Mlp {
    pub w1: Tensor,
    pub b1: Tensor,
    pub w2: Tensor,
    pub b2: Tensor,
}

impl Mlp {
    pub fn new(seed: i64, hidden: i64, kind: Kind) -> Self {
        tch::manual_seed(seed);
        let o = (kind, dev());
        Mlp {
            w1: Tensor::randn([2, hidden], o) * 0.8,
            b1: Tensor::randn([hidden], o) * 0.1,
            w2: Tensor::randn([hidden, 2], o) * (1.0 / (hidden as f64).sqrt()),
            b2: Tensor::randn([2], o) * 0.1,
        }
    }

    pub fn forward(&self, y: &Tensor) -> Tensor {
        (y.matmul(&self.w1) + &self.b1).tanh().matmul(&self.w2) + &self.b2
    }

    pub fn params(&self) -> Vec<&Tensor> {
        vec![&self.w1, &self.b1, &self.w2, &self.b2]
    }
}
