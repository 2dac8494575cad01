//! Gradient-norm clipping, as `torch.nn.utils.clip_grad_norm_`.
//!
//! The latent ODE's training meets rare gradient spikes (20x the typical
//! norm when the dynamics briefly turn stiff) that knock Adam at lr 0.01
//! out of a good basin; clipping the total norm keeps one bad batch from
//! undoing hundreds of iterations.

use tch::{Kind, Tensor};

/// Scales the gradients of `vars` so that their joint L2 norm is at most
/// `max_norm`, and returns the norm before clipping. Variables without a
/// gradient are skipped. A non-finite norm leaves the gradients unchanged
/// (the caller's loss check reports the failure).
///
/// ```
/// use tch::{Kind, Tensor};
/// let w = Tensor::zeros([2], (Kind::Double, tch::Device::Cpu)).set_requires_grad(true);
/// (&w * Tensor::from_slice(&[3.0, 4.0])).sum(Kind::Double).backward();
/// let norm = ode_models::clip::clip_grad_norm(&[w.shallow_clone()], 1.0);
/// assert!((norm - 5.0).abs() < 1e-12);
/// assert!((w.grad().norm().double_value(&[]) - 1.0).abs() < 1e-6);
/// ```
pub fn clip_grad_norm(vars: &[Tensor], max_norm: f64) -> f64 {
    let grads: Vec<Tensor> = vars.iter().map(Tensor::grad).filter(Tensor::defined).collect();
    let norm = grads.iter().map(|g| g.square().sum(Kind::Double).double_value(&[])).sum::<f64>().sqrt();
    if norm.is_finite() && norm > max_norm {
        // torch's 1e-6 guard, so the clipped norm lands just below max_norm.
        let scale = max_norm / (norm + 1e-6);
        tch::no_grad(|| {
            for g in &grads {
                let _ = g.shallow_clone().g_mul_scalar_(scale);
            }
        });
    }
    norm
}

#[cfg(test)]
mod tests {
    use super::*;

    fn var_with_grad(g: &[f64]) -> Tensor {
        let w = Tensor::zeros([g.len() as i64], (Kind::Double, tch::Device::Cpu)).set_requires_grad(true);
        (&w * Tensor::from_slice(g)).sum(Kind::Double).backward();
        w
    }

    #[test]
    fn clips_the_joint_norm_only_when_above_the_limit() {
        let (a, b) = (var_with_grad(&[3.0, 0.0]), var_with_grad(&[0.0, 4.0]));
        let untouched = Tensor::zeros([3], (Kind::Double, tch::Device::Cpu)).set_requires_grad(true);
        let vars = [a.shallow_clone(), b.shallow_clone(), untouched];
        assert!((clip_grad_norm(&vars, 10.0) - 5.0).abs() < 1e-12);
        assert_eq!(Vec::<f64>::try_from(a.grad()).unwrap(), vec![3.0, 0.0]);
        assert!((clip_grad_norm(&vars, 2.5) - 5.0).abs() < 1e-12);
        // Both variables scaled by the same factor: the direction is kept.
        let (ga, gb) = (Vec::<f64>::try_from(a.grad()).unwrap(), Vec::<f64>::try_from(b.grad()).unwrap());
        assert!((ga[0] - 1.5).abs() < 1e-6 && (gb[1] - 2.0).abs() < 1e-6, "{ga:?} {gb:?}");
        let nan = var_with_grad(&[f64::NAN, 1.0]);
        assert!(clip_grad_norm(&[nan.shallow_clone()], 1.0).is_nan());
        assert_eq!(Vec::<f64>::try_from(nan.grad()).unwrap()[1], 1.0);
    }
}
