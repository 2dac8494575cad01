//! A batch of padded series as the models take it.

use tch::{Device, Kind, Tensor};

use super::TsModelError;
use crate::data::SeriesTensors;

/// Per-channel standardization from the observed values of a training set:
/// the LPC channels of JapaneseVowels have different scales, and a GRU's
/// gates saturate on large inputs. After it the training mean of every
/// channel is 0, which is also GRU-D's "empirical mean" imputation target.
#[derive(Clone, Debug, PartialEq)]
pub struct Standardizer {
    pub mean: Vec<f64>,
    pub std: Vec<f64>,
}

impl Standardizer {
    /// Mean and standard deviation of each channel over the observed values
    /// of `data` (a channel never observed, or constant, gets 0 and 1).
    pub fn fit(data: &SeriesTensors) -> Standardizer {
        let obs = data.observed.to_kind(Kind::Double);
        let vals = data.values.to_kind(Kind::Double) * &obs;
        let count = obs.sum_dim_intlist(&[0i64, 1][..], false, Kind::Double).clamp_min(1.0);
        let mean = vals.sum_dim_intlist(&[0i64, 1][..], false, Kind::Double) / &count;
        let sq =
            ((&vals - &mean).square() * &obs).sum_dim_intlist(&[0i64, 1][..], false, Kind::Double) / count;
        let mean: Vec<f64> = Vec::try_from(mean).unwrap_or_default();
        let std: Vec<f64> = Vec::try_from(sq.sqrt())
            .unwrap_or_default()
            .into_iter()
            .map(|s: f64| if s.is_finite() && s > 1e-12 { s } else { 1.0 })
            .collect();
        Standardizer { mean, std }
    }
}

/// A batch: `B` series padded to the longest of them (`T` rows), `C`
/// channels, in the models' float kind on their device.
#[derive(Debug)]
pub struct SeriesBatch {
    /// `[B, T, C]`, standardized; 0 where not observed.
    pub values: Tensor,
    /// `[B, T, C]`; 1 where observed.
    pub observed: Tensor,
    /// `[B, T]`; 1 on the rows `0..len` of each series, 0 on padding.
    pub valid: Tensor,
    /// `[B, T]`; observation times (padding repeats the last one, so the
    /// gap into a padding row is 0).
    pub times: Tensor,
    /// `[B]` i64.
    pub labels: Tensor,
    pub lengths: Vec<usize>,
}

impl SeriesBatch {
    /// The series `which` of `data`, standardized by `scale`, trimmed to
    /// their longest length.
    pub fn gather(
        data: &SeriesTensors,
        which: &[usize],
        scale: &Standardizer,
        kind: Kind,
        device: Device,
    ) -> Result<SeriesBatch, TsModelError> {
        let n = data.len();
        if which.is_empty() {
            return Err(TsModelError::InvalidArgument { name: "batch", reason: "no series".into() });
        }
        if let Some(&bad) = which.iter().find(|&&i| i >= n) {
            return Err(TsModelError::InvalidArgument {
                name: "batch",
                reason: format!("series {bad} of a data set of {n}"),
            });
        }
        let c = data.values.size()[2];
        if scale.mean.len() != c as usize || scale.std.len() != c as usize {
            return Err(TsModelError::Shape(format!(
                "standardizer for {} channels, data with {c}",
                scale.mean.len()
            )));
        }
        let idx = Tensor::from_slice(&which.iter().map(|&i| i as i64).collect::<Vec<_>>());
        let all_lengths: Vec<i64> = Vec::try_from(&data.lengths)?;
        let lengths: Vec<usize> = which.iter().map(|&i| all_lengths[i].max(0) as usize).collect();
        let t = lengths.iter().copied().max().unwrap_or(0).max(1) as i64;
        let observed = data.observed.index_select(0, &idx).narrow(1, 0, t).to_kind(kind);
        let mean = Tensor::from_slice(&scale.mean).to_kind(kind);
        let std = Tensor::from_slice(&scale.std).to_kind(kind);
        let values =
            (data.values.index_select(0, &idx).narrow(1, 0, t).to_kind(kind) - mean) / std * &observed;
        let rows = Tensor::arange(t, (Kind::Int64, Device::Cpu)).unsqueeze(0);
        let lens = Tensor::from_slice(&lengths.iter().map(|&l| l as i64).collect::<Vec<_>>()).unsqueeze(1);
        let valid = rows.lt_tensor(&lens).to_kind(kind);
        let times = data.times.index_select(0, &idx).narrow(1, 0, t).to_kind(kind);
        let labels = data.labels.index_select(0, &idx);
        Ok(SeriesBatch {
            values: values.to_device(device),
            observed: observed.to_device(device),
            valid: valid.to_device(device),
            times: times.to_device(device),
            labels: labels.to_device(device),
            lengths,
        })
    }

    pub fn batch_size(&self) -> i64 {
        self.values.size()[0]
    }

    pub fn steps(&self) -> i64 {
        self.values.size()[1]
    }

    pub fn channels(&self) -> i64 {
        self.values.size()[2]
    }

    /// `[B, 1]`: the time from row `k - 1` to row `k` (0 for `k = 0`).
    pub fn gap_into(&self, k: i64) -> Tensor {
        if k == 0 {
            return self.times.select(1, 0).zeros_like().unsqueeze(1);
        }
        (self.times.select(1, k) - self.times.select(1, k - 1)).unsqueeze(1)
    }

    /// `[B, 1]`: 1 where row `k` is a real row.
    pub fn valid_at(&self, k: i64) -> Tensor {
        self.valid.select(1, k).unsqueeze(1)
    }
}
