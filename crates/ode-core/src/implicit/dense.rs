//! Continuous output of the implicit methods: each accepted step keeps the
//! polynomial the method itself defines over it.

use ndarray::{Array1, Array2};

/// The continuous solution over one accepted step.
#[derive(Clone, Debug)]
pub enum Segment {
    /// BDF/NDF: the polynomial interpolating `y` at `t, t - h, .., t - k h`
    /// in backward-difference form (`d` has rows `D^0 .. D^k`, scaled by
    /// the step as in scipy's BDF), over `[t - h, t]`.
    Bdf { t: f64, h: f64, d: Array2<f64> },
    /// Radau IIA: the collocation polynomial
    /// `y_old + sum_k q_k x^(k+1)`, `x = (t - t_old) / h`, over `[t_old, t_old + h]`.
    Radau { t_old: f64, h: f64, y_old: Array1<f64>, q: Array2<f64> },
    /// Implicit Adams: the Nordsieck polynomial `sum_j z_j x^j`,
    /// `x = (t - t_end) / h`, of the step `[t - h, t]` (rows of `z`:
    /// `h^j y^(j)(t) / j!`).
    Adams { t: f64, h: f64, z: Array2<f64> },
}

impl Segment {
    /// Start of the step.
    pub fn t_start(&self) -> f64 {
        match self {
            Segment::Bdf { t, h, .. } => t - h,
            Segment::Radau { t_old, .. } => *t_old,
            Segment::Adams { t, h, .. } => t - h,
        }
    }

    /// End of the step.
    pub fn t_end(&self) -> f64 {
        match self {
            Segment::Bdf { t, .. } => *t,
            Segment::Radau { t_old, h, .. } => t_old + h,
            Segment::Adams { t, .. } => *t,
        }
    }

    /// The state at `t` (extrapolates outside the step).
    pub fn eval(&self, t: f64) -> Array1<f64> {
        match self {
            Segment::Bdf { t: tn, h, d } => bdf_eval(*tn, *h, d, t),
            Segment::Radau { t_old, h, y_old, q } => radau_eval(*t_old, *h, y_old, q, t),
            Segment::Adams { t: tn, h, z } => {
                let x = if *h == 0.0 { 0.0 } else { (t - tn) / h };
                super::nordsieck::eval(z.view(), x)
            }
        }
    }
}

/// The BDF interpolant at `t`: `D^0 + sum_j D^j prod_{m<j} (t - (tn - m h)) / ((m + 1) h)`.
pub(crate) fn bdf_eval(tn: f64, h: f64, d: &Array2<f64>, t: f64) -> Array1<f64> {
    let mut y = d.row(0).to_owned();
    let mut p = 1.0;
    for j in 1..d.nrows() {
        let m = (j - 1) as f64;
        p *= (t - (tn - m * h)) / ((m + 1.0) * h);
        y.scaled_add(p, &d.row(j));
    }
    y
}

/// The Radau collocation polynomial at `t`.
pub(crate) fn radau_eval(t_old: f64, h: f64, y_old: &Array1<f64>, q: &Array2<f64>, t: f64) -> Array1<f64> {
    let x = if h == 0.0 { 0.0 } else { (t - t_old) / h };
    let mut y = y_old.clone();
    let mut p = 1.0;
    for row in q.rows() {
        p *= x;
        y.scaled_add(p, &row);
    }
    y
}

/// A continuous solution over the whole integrated interval: one
/// [`Segment`] per accepted step.
#[derive(Clone, Debug, Default)]
pub struct StiffDense {
    pub(crate) segments: Vec<Segment>,
    pub(crate) direction: f64,
    /// Where a terminal event stopped the solve, inside the last segment.
    pub(crate) t_stop: Option<f64>,
}

impl StiffDense {
    /// The interval covered, `(t0, t_end)` in integration order.
    pub fn t_span(&self) -> Option<(f64, f64)> {
        let end = self.t_stop.or_else(|| self.segments.last().map(Segment::t_end))?;
        Some((self.segments.first()?.t_start(), end))
    }

    /// The state at `t`, or `None` outside the covered interval.
    pub fn eval(&self, t: f64) -> Option<Array1<f64>> {
        let (a, b) = self.t_span()?;
        let d = self.direction;
        if !t.is_finite() || (t - a) * d < 0.0 || (t - b) * d > 0.0 {
            return None;
        }
        let idx = self.segments.partition_point(|s| (s.t_end() - t) * d < 0.0);
        let seg = self.segments.get(idx).or(self.segments.last())?;
        Some(seg.eval(t))
    }

    /// The segments, one per accepted step.
    pub fn segments(&self) -> &[Segment] {
        &self.segments
    }

    pub fn len(&self) -> usize {
        self.segments.len()
    }

    pub fn is_empty(&self) -> bool {
        self.segments.is_empty()
    }
}
