//! The variables an optimizer updates, by name.

use tch::nn::VarStore;
use tch::{Kind, Tensor};

use super::OptimError;

/// The trainable variables of a `VarStore` when the optimizer was built,
/// sorted by name (so that state and updates have a fixed order). The
/// tensors are shallow clones: updates land in the store's variables, and
/// a later `VarStore::load` (which copies into the same tensors) is seen.
pub(crate) struct Params {
    pub names: Vec<String>,
    pub tensors: Vec<Tensor>,
}

impl Params {
    pub fn from_var_store(vs: &VarStore) -> Result<Params, OptimError> {
        let mut named: Vec<(String, Tensor)> =
            vs.variables().into_iter().filter(|(_, t)| t.requires_grad()).collect();
        if named.is_empty() {
            return Err(OptimError::NoParameters);
        }
        named.sort_by(|a, b| a.0.cmp(&b.0));
        let (names, tensors) = named.into_iter().unzip();
        Ok(Params { names, tensors })
    }

    /// Each variable's gradient, `None` where it has none yet; an error
    /// naming the first variable whose gradient is not finite. One host
    /// read-back for all of them.
    pub fn gradients(&self) -> Result<Vec<Option<Tensor>>, OptimError> {
        let grads: Vec<Option<Tensor>> = self
            .tensors
            .iter()
            .map(|p| {
                let g = p.grad();
                g.defined().then(|| g.detach())
            })
            .collect();
        let flags: Vec<Tensor> = grads.iter().flatten().map(|g| g.isfinite().all()).collect();
        if flags.is_empty() {
            return Ok(grads);
        }
        let all_finite = Tensor::f_stack(&flags, 0)?.f_all()?.f_to_kind(Kind::Int64)?.f_int64_value(&[])?;
        if all_finite == 0 {
            let bad = grads
                .iter()
                .zip(&self.names)
                .find(|(g, _)| g.as_ref().is_some_and(|g| g.isfinite().all().int64_value(&[]) == 0))
                .map(|(_, n)| n.clone())
                .unwrap_or_default();
            return Err(OptimError::NonFiniteGradient(bad));
        }
        Ok(grads)
    }

    pub fn zero_grad(&mut self) {
        for p in &mut self.tensors {
            p.zero_grad();
        }
    }
}
