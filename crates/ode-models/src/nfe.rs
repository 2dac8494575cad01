//! Summaries of per-sample evaluation counts: what "the NFE" of a model is
//! when each sample is stepped on its own.

use serde::{Deserialize, Serialize};

/// Mean, median, 90th percentile and maximum of per-sample NFE.
///
/// ```
/// use ode_models::NfeSummary;
/// let s = NfeSummary::of(&[14, 20, 26, 20, 14, 14, 14, 20, 20, 38]).unwrap();
/// assert_eq!((s.mean, s.median, s.p90, s.max), (20.0, 20.0, 26.0, 38));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct NfeSummary {
    pub samples: usize,
    pub mean: f64,
    /// The middle value; the mean of the two middle ones for an even count.
    pub median: f64,
    /// Nearest-rank 90th percentile: the smallest count at least 90% of
    /// the samples do not exceed.
    pub p90: f64,
    pub max: usize,
}

impl NfeSummary {
    /// The summary of `counts`; `None` when there are none.
    pub fn of(counts: &[usize]) -> Option<NfeSummary> {
        if counts.is_empty() {
            return None;
        }
        let mut sorted = counts.to_vec();
        sorted.sort_unstable();
        let n = sorted.len();
        let median =
            if n % 2 == 1 { sorted[n / 2] as f64 } else { (sorted[n / 2 - 1] + sorted[n / 2]) as f64 / 2.0 };
        // Nearest rank: ceil(0.9 n), 1-based; integer arithmetic avoids
        // 0.9 * n landing a hair above an integer.
        let rank = (9 * n).div_ceil(10).max(1);
        Some(NfeSummary {
            samples: n,
            mean: sorted.iter().sum::<usize>() as f64 / n as f64,
            median,
            p90: sorted[rank - 1] as f64,
            max: sorted[n - 1],
        })
    }
}

#[cfg(test)]
mod tests {
    use super::NfeSummary;

    #[test]
    fn percentiles_by_nearest_rank() {
        assert_eq!(NfeSummary::of(&[]), None);
        let one = NfeSummary::of(&[7]).unwrap();
        assert_eq!((one.mean, one.median, one.p90, one.max), (7.0, 7.0, 7.0, 7));
        // 1..=100: p90 is the 90th value, the median the mean of 50 and 51.
        let hundred: Vec<usize> = (1..=100).rev().collect();
        let s = NfeSummary::of(&hundred).unwrap();
        assert_eq!((s.samples, s.mean, s.median, s.p90, s.max), (100, 50.5, 50.5, 90.0, 100));
        // 1..=11: rank ceil(9.9) = 10.
        let eleven: Vec<usize> = (1..=11).collect();
        assert_eq!(NfeSummary::of(&eleven).unwrap().p90, 10.0);
    }
}
