//! A GRU cell (torch's `gru_cell`, PyTorch's `nn.GRUCell` layout and
//! initialization) whose update can be switched off per sample.

use tch::{nn, Tensor};

/// `h' = GRU(x, h)` with weights `w_ih [3H, I]`, `w_hh [3H, H]` and biases
/// `[3H]`: `3H (I + H) + 6H` parameters.
#[derive(Debug)]
pub struct GruCell {
    pub w_ih: Tensor,
    pub w_hh: Tensor,
    pub b_ih: Tensor,
    pub b_hh: Tensor,
    pub input: i64,
    pub hidden: i64,
}

impl GruCell {
    /// Uniform(-1/sqrt(H), 1/sqrt(H)) for every weight, as PyTorch.
    pub fn new(path: nn::Path, input: i64, hidden: i64) -> GruCell {
        let bound = 1.0 / (hidden.max(1) as f64).sqrt();
        let init = nn::Init::Uniform { lo: -bound, up: bound };
        GruCell {
            w_ih: path.var("w_ih", &[3 * hidden, input], init),
            w_hh: path.var("w_hh", &[3 * hidden, hidden], init),
            b_ih: path.var("b_ih", &[3 * hidden], init),
            b_hh: path.var("b_hh", &[3 * hidden], init),
            input,
            hidden,
        }
    }

    pub fn parameter_count(input: i64, hidden: i64) -> i64 {
        3 * hidden * (input + hidden) + 6 * hidden
    }

    /// One GRU update of `h [B, H]` from `x [B, I]`.
    pub fn step(&self, x: &Tensor, h: &Tensor) -> Tensor {
        x.gru_cell(h, &self.w_ih, &self.w_hh, Some(&self.b_ih), Some(&self.b_hh))
    }

    /// The update where `update [B, 1]` is 1 and `h` unchanged where it is
    /// 0 (padding rows, time points without any observed value).
    pub fn masked_step(&self, x: &Tensor, h: &Tensor, update: &Tensor) -> Tensor {
        update * self.step(x, h) + (1.0 - update) * h
    }
}
