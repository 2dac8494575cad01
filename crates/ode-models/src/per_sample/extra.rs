//! The evaluations beyond a step's own stages, per sample: Hairer's
//! initial step and DOP853's extra dense-output stages.

use ode_core::tableau::DenseOutput;
use ode_core::ButcherTableau;
use tch::Tensor;

use super::error::PerSampleError;
use super::output::{self, Active};
use super::rhs::BatchRhs;
use super::solve::Run;
use super::step::{advance, column, initial_norms};

impl<F: BatchRhs + ?Sized> Run<'_, F> {
    /// Hairer's starting step (ode-core's `initial_step`), per sample.
    pub(super) fn initial_steps(
        &mut self,
        y0: &Tensor,
        f0: &Tensor,
        order: u32,
    ) -> Result<Vec<f64>, PerSampleError> {
        let d = initial_norms(&[y0, f0], y0, &self.scale);
        let (d0, d1) = (&d[0], &d[1]);
        let h0: Vec<f64> = d0
            .iter()
            .zip(d1)
            .map(|(&a, &b)| if a < 1e-5 || b < 1e-5 { 1e-6 } else { 0.01 * a / b })
            .collect();
        let signed: Vec<f64> = h0.iter().zip(&self.s.dir).map(|(h, d)| d * h).collect();
        let y1 = y0 + f0 * column(&signed, y0);
        let t1: Vec<f64> = self.s.t.iter().zip(&signed).map(|(t, h)| t + h).collect();
        let everyone: Vec<usize> = (0..h0.len()).collect();
        let f1 = self.call(&t1, &y1, &everyone)?;
        let d2 = initial_norms(&[&(f1 + f0 * -1.0)], y0, &self.scale).remove(0);
        Ok((0..h0.len())
            .map(|i| {
                let d2 = d2[i] / h0[i];
                let m = d1[i].max(d2);
                let h1 = if m <= 1e-15 || !d2.is_finite() {
                    (1e-6f64).max(h0[i] * 1e-3)
                } else {
                    (0.01 / m).powf(1.0 / (order as f64 + 1.0))
                };
                let h = (100.0 * h0[i]).min(h1);
                if h.is_finite() && h > 0.0 {
                    h
                } else {
                    1e-6
                }
            })
            .collect())
    }

    /// DOP853's three extra stages for the dense output, evaluated when some
    /// sample has an output strictly inside its step (counted for those).
    #[allow(clippy::too_many_arguments)]
    pub(super) fn extra_stages(
        &mut self,
        tab: &ButcherTableau,
        act: &Active,
        hits: &[output::Hit],
        ya: &Tensor,
        hcol: &Tensor,
        t: &[f64],
        h: &[f64],
        ks: &[Tensor],
        f1: &Tensor,
    ) -> Result<Vec<Tensor>, PerSampleError> {
        let DenseOutput::Dop853 { extra, .. } = tab.dense else {
            return Ok(Vec::new());
        };
        let mut who: Vec<usize> = hits.iter().filter(|x| !x.exact).map(|x| act.idx[x.row]).collect();
        who.dedup();
        if who.is_empty() {
            return Ok(Vec::new());
        }
        let mut all: Vec<Tensor> = ks.iter().map(Tensor::shallow_clone).collect();
        all.push(f1.shallow_clone());
        for e in extra {
            let ye = advance(ya, hcol, e.a, &all);
            let te: Vec<f64> = t.iter().zip(h).map(|(t, h)| t + e.c * h).collect();
            let ke = self.call(&te, &ye, &who)?;
            all.push(ke);
        }
        Ok(all.split_off(ks.len() + 1))
    }
}
