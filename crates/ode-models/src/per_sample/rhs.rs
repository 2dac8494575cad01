//! Right-hand sides that take one time per sample.

use tch::{Kind, Tensor};

/// `dy/dt = f(t, y)` evaluated on a whole batch whose samples are at
/// different times: `t` is a `[B]` tensor of `f64` on `y`'s device and `y`
/// is `[B, ...]`. The result must have `y`'s shape, kind and device.
///
/// Every closure `Fn(&Tensor, &Tensor) -> Tensor` is one. Functions written
/// for one shared scalar time go through [`Autonomous`] (if they ignore `t`)
/// or [`GroupedByTime`] (if they use it).
pub trait BatchRhs {
    fn eval(&self, t: &Tensor, y: &Tensor) -> Tensor;

    /// True when row `b` of the result depends only on row `b` of `y` and
    /// `t[b]` (no per-sample data indexed by batch position, no batch
    /// statistics): the solver may then call `f` on the running samples
    /// only, so finished samples cost nothing. False by default, since a
    /// closure may hold per-sample data (`-k * y` with `k` of shape
    /// `[B, 1]`); wrap a row-wise function in [`Rowwise`] to say so.
    fn rowwise(&self) -> bool {
        false
    }
}

impl<F: Fn(&Tensor, &Tensor) -> Tensor> BatchRhs for F {
    fn eval(&self, t: &Tensor, y: &Tensor) -> Tensor {
        self(t, y)
    }
}

/// Marks a right-hand side as row-wise ([`BatchRhs::rowwise`]): the
/// solver then evaluates only the samples that are still running.
pub struct Rowwise<F>(pub F);

impl<F: BatchRhs> BatchRhs for Rowwise<F> {
    fn eval(&self, t: &Tensor, y: &Tensor) -> Tensor {
        self.0.eval(t, y)
    }

    fn rowwise(&self) -> bool {
        true
    }
}

/// Adapts an `Fn(f64, &Tensor)` that does not depend on `t` (the usual
/// neural-ODE MLP): one call on the whole batch with `t = NaN`, so that a
/// function that does use `t` arithmetically fails loudly (a non-finite
/// right-hand side) instead of silently seeing a wrong time.
pub struct Autonomous<F>(pub F);

impl<F: Fn(f64, &Tensor) -> Tensor> BatchRhs for Autonomous<F> {
    fn eval(&self, _t: &Tensor, y: &Tensor) -> Tensor {
        (self.0)(f64::NAN, y)
    }
}

/// Adapts a time-dependent `Fn(f64, &Tensor)`: the batch is split into the
/// groups of samples that share a time, `f` is called once per group, and
/// the results are put back in batch order (differentiably). Exact, but it
/// costs one call per distinct time: with per-sample stepping that is
/// usually one call per sample after the first step.
pub struct GroupedByTime<F>(pub F);

impl<F: Fn(f64, &Tensor) -> Tensor> BatchRhs for GroupedByTime<F> {
    fn eval(&self, t: &Tensor, y: &Tensor) -> Tensor {
        let times: Vec<f64> = match Vec::<f64>::try_from(&t.to_kind(Kind::Double)) {
            Ok(v) => v,
            // A malformed time tensor: the solver always passes [B] f64.
            Err(_) => return (self.0)(f64::NAN, y),
        };
        let first = times.first().copied().unwrap_or(f64::NAN);
        if times.iter().all(|&x| x == first) {
            return (self.0)(first, y);
        }
        let mut groups: Vec<(f64, Vec<i64>)> = Vec::new();
        for (b, &tb) in times.iter().enumerate() {
            match groups.iter_mut().find(|(tg, _)| tg.to_bits() == tb.to_bits()) {
                Some((_, idx)) => idx.push(b as i64),
                None => groups.push((tb, vec![b as i64])),
            }
        }
        let mut parts = Vec::with_capacity(groups.len());
        let mut order: Vec<i64> = Vec::with_capacity(times.len());
        for (tg, idx) in &groups {
            let index = Tensor::from_slice(idx).to_device(y.device());
            parts.push((self.0)(*tg, &y.index_select(0, &index)));
            order.extend(idx);
        }
        // `order[j]` is the sample in row j of the concatenation; invert it.
        let mut inverse = vec![0i64; order.len()];
        for (row, &b) in order.iter().enumerate() {
            inverse[b as usize] = row as i64;
        }
        let inverse = Tensor::from_slice(&inverse).to_device(y.device());
        Tensor::cat(&parts, 0).index_select(0, &inverse)
    }
}
