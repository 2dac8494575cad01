//! The functional state trait every solver is generic over.
//!
//! Solvers never mutate a state in place: each stage and each new state is a
//! fresh value built by [`OdeState::lincomb`]. That costs an allocation per
//! stage for ndarray, but it is what lets the same code drive `tch::Tensor`s
//! under autograd, where in-place updates would corrupt the graph.

use ndarray::{Array, Dimension, Zip};

use crate::tolerance::Tolerance;

/// A value an ODE can evolve: an array, a tuple of arrays, a `Vec` of them.
///
/// The reductions (`weighted_sq_sum`, `all_finite`) are the only places a
/// solver reads numbers back from the state; for device tensors they are the
/// host synchronisation points, so solvers call them once per step.
pub trait OdeState: Sized {
    /// A copy that can be kept independently (a shallow clone for tensors).
    fn dup(&self) -> Self;
    /// A state of the same shape filled with zeros.
    fn zeros_like(&self) -> Self;
    /// Number of scalar components.
    fn numel(&self) -> usize;
    /// `self + sum_i c_i * x_i` as a new state. All terms have `self`'s shape
    /// (callers check shapes with [`OdeState::same_shape`] first).
    fn lincomb(&self, terms: &[(f64, &Self)]) -> Self;
    /// `sum_j (e_j / (atol_j + rtol * max(|y0_j|, |y1_j|)))^2` over all
    /// components. `offset` is the index of this state's first component in a
    /// per-component `atol` (composite states pass their parts' offsets).
    fn weighted_sq_sum(e: &Self, y0: &Self, y1: &Self, tol: &Tolerance, offset: usize) -> f64;
    /// True when every component is finite.
    fn all_finite(&self) -> bool;
    /// True when `other` has exactly this state's structure and shape.
    fn same_shape(&self, other: &Self) -> bool;
    /// A human-readable description of the shape, for error messages.
    fn shape_desc(&self) -> String;
    /// The Euclidean inner product `sum_j self_j * other_j` (gradients with
    /// respect to time need it).
    fn dot(&self, other: &Self) -> f64;

    /// Root-mean-square of the error scaled by the tolerance: the number a
    /// step-size controller compares with 1.
    fn error_ratio(e: &Self, y0: &Self, y1: &Self, tol: &Tolerance) -> f64 {
        let n = e.numel().max(1) as f64;
        (Self::weighted_sq_sum(e, y0, y1, tol, 0) / n).sqrt()
    }
}

/// Scalar element types an ndarray state may hold.
pub trait Real: ndarray::LinalgScalar + num_like::Float + Send + Sync + std::fmt::Debug {
    /// Lossy conversion from the `f64` coefficients of a tableau.
    fn from_f64(x: f64) -> Self;
    /// Widening conversion for norms, always accumulated in `f64`.
    fn to_f64(self) -> f64;
}

mod num_like {
    /// The few float operations the state impls need, without a num-traits
    /// dependency.
    pub trait Float: Copy + PartialOrd {
        fn abs(self) -> Self;
        fn is_finite(self) -> bool;
    }
    impl Float for f32 {
        fn abs(self) -> Self {
            f32::abs(self)
        }
        fn is_finite(self) -> bool {
            f32::is_finite(self)
        }
    }
    impl Float for f64 {
        fn abs(self) -> Self {
            f64::abs(self)
        }
        fn is_finite(self) -> bool {
            f64::is_finite(self)
        }
    }
}

impl Real for f32 {
    fn from_f64(x: f64) -> Self {
        x as f32
    }
    fn to_f64(self) -> f64 {
        self as f64
    }
}

impl Real for f64 {
    fn from_f64(x: f64) -> Self {
        x
    }
    fn to_f64(self) -> f64 {
        self
    }
}

impl<A: Real, D: Dimension> OdeState for Array<A, D> {
    fn dup(&self) -> Self {
        self.clone()
    }

    fn zeros_like(&self) -> Self {
        Array::zeros(self.raw_dim())
    }

    fn numel(&self) -> usize {
        self.len()
    }

    fn lincomb(&self, terms: &[(f64, &Self)]) -> Self {
        let mut out = self.clone();
        for &(c, x) in terms {
            if c != 0.0 {
                out.scaled_add(A::from_f64(c), x);
            }
        }
        out
    }

    fn weighted_sq_sum(e: &Self, y0: &Self, y1: &Self, tol: &Tolerance, offset: usize) -> f64 {
        let rtol = tol.rtol;
        let mut acc = 0.0;
        // Iterating in logical order keeps per-component atol aligned with
        // the flattened (row-major) component index.
        for (j, ((ej, a), b)) in e.iter().zip(y0.iter()).zip(y1.iter()).enumerate() {
            let scale = tol.atol_at(offset + j) + rtol * a.to_f64().abs().max(b.to_f64().abs());
            let r = ej.to_f64() / scale;
            acc += r * r;
        }
        acc
    }

    fn all_finite(&self) -> bool {
        Zip::from(self).all(|x| x.is_finite())
    }

    fn same_shape(&self, other: &Self) -> bool {
        self.shape() == other.shape()
    }

    fn shape_desc(&self) -> String {
        format!("{:?}", self.shape())
    }

    fn dot(&self, other: &Self) -> f64 {
        self.iter().zip(other.iter()).map(|(a, b)| a.to_f64() * b.to_f64()).sum()
    }
}

impl<S: OdeState> OdeState for Vec<S> {
    fn dup(&self) -> Self {
        self.iter().map(OdeState::dup).collect()
    }

    fn zeros_like(&self) -> Self {
        self.iter().map(OdeState::zeros_like).collect()
    }

    fn numel(&self) -> usize {
        self.iter().map(OdeState::numel).sum()
    }

    fn lincomb(&self, terms: &[(f64, &Self)]) -> Self {
        let mut part_terms = Vec::with_capacity(terms.len());
        self.iter()
            .enumerate()
            .map(|(i, s)| {
                part_terms.clear();
                part_terms.extend(terms.iter().map(|&(c, x)| (c, &x[i])));
                s.lincomb(&part_terms)
            })
            .collect()
    }

    fn weighted_sq_sum(e: &Self, y0: &Self, y1: &Self, tol: &Tolerance, offset: usize) -> f64 {
        let mut off = offset;
        let mut acc = 0.0;
        for ((ei, ai), bi) in e.iter().zip(y0).zip(y1) {
            acc += S::weighted_sq_sum(ei, ai, bi, tol, off);
            off += ei.numel();
        }
        acc
    }

    fn all_finite(&self) -> bool {
        self.iter().all(OdeState::all_finite)
    }

    fn same_shape(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().zip(other).all(|(a, b)| a.same_shape(b))
    }

    fn shape_desc(&self) -> String {
        let parts: Vec<String> = self.iter().map(OdeState::shape_desc).collect();
        format!("[{}]", parts.join(", "))
    }

    fn dot(&self, other: &Self) -> f64 {
        self.iter().zip(other).map(|(a, b)| a.dot(b)).sum()
    }
}

macro_rules! tuple_state {
    ($($T:ident $i:tt),+) => {
        impl<$($T: OdeState),+> OdeState for ($($T,)+) {
            fn dup(&self) -> Self {
                ($(self.$i.dup(),)+)
            }

            fn zeros_like(&self) -> Self {
                ($(self.$i.zeros_like(),)+)
            }

            fn numel(&self) -> usize {
                0 $(+ self.$i.numel())+
            }

            fn lincomb(&self, terms: &[(f64, &Self)]) -> Self {
                ($({
                    let part: Vec<(f64, &$T)> = terms.iter().map(|&(c, x)| (c, &x.$i)).collect();
                    self.$i.lincomb(&part)
                },)+)
            }

            fn weighted_sq_sum(e: &Self, y0: &Self, y1: &Self, tol: &Tolerance, offset: usize) -> f64 {
                let mut off = offset;
                let mut acc = 0.0;
                $(
                    acc += $T::weighted_sq_sum(&e.$i, &y0.$i, &y1.$i, tol, off);
                    off += e.$i.numel();
                )+
                let _ = off;
                acc
            }

            fn all_finite(&self) -> bool {
                true $(&& self.$i.all_finite())+
            }

            fn same_shape(&self, other: &Self) -> bool {
                true $(&& self.$i.same_shape(&other.$i))+
            }

            fn shape_desc(&self) -> String {
                let parts: Vec<String> = vec![$(self.$i.shape_desc()),+];
                format!("({})", parts.join(", "))
            }

            fn dot(&self, other: &Self) -> f64 {
                0.0 $(+ self.$i.dot(&other.$i))+
            }
        }
    };
}

tuple_state!(A 0, B 1);
tuple_state!(A 0, B 1, C 2);
tuple_state!(A 0, B 1, C 2, D 3);
