//! Test metrics of a [`SequenceModel`] on the spirals, following the
//! paper: each test spiral is encoded from its `n` irregular noisy
//! observations, the model predicts the `n_extrap` grid times after the
//! window, and the predictive RMSE compares them with the noise-free spiral.

use serde::{Deserialize, Serialize};
use tch::{Kind, Tensor};

use super::spirals::{Observations, Spirals};
use super::{LatentError, SequenceModel};

/// Test-set metrics.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TestMetrics {
    pub n_test: usize,
    /// RMSE of the predictions at the `n_extrap` times after the window
    /// against the clean spirals: the paper's predictive RMSE.
    pub rmse_extrap: f64,
    /// RMSE at the observed times against the clean spirals (latent ODE:
    /// reconstruction; RNNs: one-step-ahead predictions).
    pub rmse_obs: f64,
    /// RMSE at all `n_window` window times (observed or not) against the
    /// clean spirals (see [`SequenceModel::predict_window`]): the reading of
    /// the paper's "n / 100 observations" table that covers the whole window.
    /// `None` only in metrics written before every model had it.
    #[serde(default)]
    pub rmse_window: Option<f64>,
    /// Test loss (latent ODE: negative ELBO with `z0` at the posterior mean).
    pub loss: f64,
    pub nfe: usize,
}

/// One test spiral with the model's curve, for figures.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Example {
    pub index: usize,
    pub clockwise: bool,
    /// Window then extrapolation times, and the clean points there.
    pub times: Vec<f64>,
    pub truth: Vec<[f64; 2]>,
    pub obs_times: Vec<f64>,
    pub obs: Vec<[f64; 2]>,
    /// The model's curve: latent ODE at every time of `times`; RNNs at the
    /// observed times (one step ahead) and then the extrapolation times.
    pub fit_times: Vec<f64>,
    pub fit: Vec<[f64; 2]>,
    /// Latent ODE: `z(t)` at `fit_times`.
    pub latent: Option<Vec<Vec<f64>>>,
}

fn rows(t: &Tensor) -> Result<Vec<Vec<f64>>, LatentError> {
    let t = t.to_kind(Kind::Double).to_device(tch::Device::Cpu);
    let n = t.size()[0];
    (0..n).map(|i| Ok(Vec::<f64>::try_from(t.get(i))?)).collect()
}

fn pairs(t: &Tensor) -> Result<Vec<[f64; 2]>, LatentError> {
    Ok(rows(t)?.into_iter().map(|r| [r[0], r[1]]).collect())
}

/// Test metrics of `model` on spirals `test_idx`, and the first
/// `n_examples` of them as [`Example`]s.
pub fn evaluate(
    model: &dyn SequenceModel,
    data: &Spirals,
    obs: &Observations,
    test_idx: &[usize],
    n_examples: usize,
) -> Result<(TestMetrics, Vec<Example>), LatentError> {
    let device = model.var_store().device();
    let kind = model.var_store().trainable_variables().first().map(|t| t.kind()).unwrap_or(Kind::Float);
    let (w, e) = (data.config.n_window, data.config.n_extrap);
    let (t0, t_end) = (data.times[0], data.times[w - 1]);
    let batch = data.batch(obs, test_idx, kind, device)?;
    let extrap_times = &data.times[w..w + e];
    let pred = if e > 0 {
        model.predict(&batch, t0, extrap_times)?
    } else {
        model.predict(&batch, t0, &data.times[w - 1..w])?
    };
    let rmse_extrap = if e > 0 {
        let truth = data.clean_tensor(test_idx, w, w + e, kind, device);
        (&pred.at_query - truth).square().mean(Kind::Double).sqrt().double_value(&[])
    } else {
        f64::NAN
    };
    // Clean values at the union times of the batch, compared where observed.
    let idx: Vec<i64> =
        batch.times.iter().map(|t| data.times.iter().position(|s| s == t).unwrap_or(0) as i64).collect();
    let clean_w = data.clean_tensor(test_idx, 0, w, kind, device);
    let clean_u = clean_w.index_select(1, &Tensor::from_slice(&idx).to_device(device));
    let m = batch.mask.unsqueeze(-1);
    let se = ((&pred.at_obs - clean_u).square() * &m).sum(Kind::Double);
    let rmse_obs = (se / (m.sum(Kind::Double) * 2.0)).sqrt().double_value(&[]);
    let p = model.predict_window(&batch, t0, &data.times[..w])?;
    let rmse_window = Some((p - &clean_w).square().mean(Kind::Double).sqrt().double_value(&[]));
    let loss = model.loss(&batch, t0, t_end)?;
    let metrics =
        TestMetrics { n_test: test_idx.len(), rmse_extrap, rmse_obs, rmse_window, loss, nfe: pred.nfe };

    let mut examples = Vec::new();
    for &i in test_idx.iter().take(n_examples) {
        let b = data.batch(obs, &[i], kind, device)?;
        let all = data.clean_tensor(&[i], 0, w + e, kind, device).squeeze_dim(0);
        let obs_vals = b.values.squeeze_dim(0);
        let (fit_times, fit, latent) = if model.continuous_time() {
            let p = model.predict(&b, t0, &data.times)?;
            let z = p.latent_query.map(|z| rows(&z.squeeze_dim(0))).transpose()?;
            (data.times.clone(), pairs(&p.at_query.squeeze_dim(0))?, z)
        } else {
            let p = model.predict(&b, t0, extrap_times)?;
            let mut t = b.times.clone();
            t.extend_from_slice(extrap_times);
            let f = Tensor::cat(&[p.at_obs.squeeze_dim(0), p.at_query.squeeze_dim(0)], 0);
            (t, pairs(&f)?, None)
        };
        examples.push(Example {
            index: i,
            clockwise: data.clockwise[i],
            times: data.times.clone(),
            truth: pairs(&all)?,
            obs_times: b.times.clone(),
            obs: pairs(&obs_vals)?,
            fit_times,
            fit,
            latent,
        });
    }
    Ok((metrics, examples))
}
