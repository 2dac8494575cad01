//! Irregular sampling: dropping a seeded fraction of each series'
//! observations from a [`PaddedSeries`], keeping the remaining observations
//! at their real times.
//!
//! The default, [`DropMode::TimePoints`], drops whole time points (all
//! channels of a time together), as the irregular-sampling experiments of
//! the latent ODE literature do (Rubanova et al. 2019 subsample time points
//! of MuJoCo and of the spirals): the series then has fewer, unevenly spaced
//! observation times, which is what an ODE-RNN handles and a plain RNN does
//! not. [`DropMode::Channels`] drops single values instead (PhysioNet-like
//! partial observations, where the mask matters as much as the times).
//!
//! After dropping, the time points left without any observed value are
//! removed and the rest are packed to the front of the series in time
//! order, keeping their times; `T` shrinks to the new longest series.
//! Time points that had no observed value to begin with are kept, so that
//! dropping nothing is the identity.

use ode_core::problems::SplitMix64;

use super::ts::PaddedSeries;

/// What one dropped observation is.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum DropMode {
    /// A time point with all its channels (the rows with at least one
    /// observed value are the observations).
    #[default]
    TimePoints,
    /// A single observed value of one channel.
    Channels,
}

/// Bad arguments to [`drop_observations`].
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum SamplingError {
    #[error("drop fraction {0} is not in [0, 1]")]
    BadFraction(f64),
}

/// A copy of `data` with `fraction` of each series' observations dropped
/// (see the module doc for what an observation is in each `mode`), chosen
/// by a permutation seeded by `seed` and the series' index: the same seed
/// gives the same result.
///
/// Counts are spread by error diffusion: series `i` loses
/// `round(f S_i) - round(f S_{i-1})` observations, `S_i` the number of
/// observations of series `0..=i`, so every series loses its share to
/// within one observation and the data set as a whole to within one
/// observation of `fraction`. At least one observation of every series
/// that had one remains (which may leave the whole data set short of the
/// request when `fraction` is close to 1).
pub fn drop_observations(
    data: &PaddedSeries,
    fraction: f64,
    mode: DropMode,
    seed: u64,
) -> Result<PaddedSeries, SamplingError> {
    if !(0.0..=1.0).contains(&fraction) {
        return Err(SamplingError::BadFraction(fraction));
    }
    let (t_max, c) = (data.t_max, data.n_channels);
    let mut seeds = SplitMix64::new(seed);
    let (mut seen, mut dropped) = (0usize, 0usize);
    // Per series: the kept rows (original indices) and their new mask.
    let mut kept: Vec<(Vec<usize>, Vec<bool>)> = Vec::with_capacity(data.n);
    for i in 0..data.n {
        let mut rng = SplitMix64::new(seeds.next_u64());
        let len = data.lengths[i];
        let base = i * t_max * c;
        let mut mask = data.observed[base..base + len * c].to_vec();
        let row_observed = |mask: &[bool], r: usize| mask[r * c..(r + 1) * c].iter().any(|&o| o);
        let candidates: Vec<usize> = match mode {
            DropMode::TimePoints => (0..len).filter(|&r| row_observed(&mask, r)).collect(),
            DropMode::Channels => (0..len * c).filter(|&k| mask[k]).collect(),
        };
        let m = candidates.len();
        seen += m;
        let target = (fraction * seen as f64).round() as usize;
        let k = target.saturating_sub(dropped).min(m.saturating_sub(1));
        dropped += k;
        for chosen in choose(&candidates, k, &mut rng) {
            match mode {
                DropMode::TimePoints => mask[chosen * c..(chosen + 1) * c].fill(false),
                DropMode::Channels => mask[chosen] = false,
            }
        }
        let before = &data.observed[base..base + len * c];
        let rows: Vec<usize> =
            (0..len).filter(|&r| row_observed(&mask, r) || !row_observed(before, r)).collect();
        let rows_mask = rows.iter().flat_map(|&r| mask[r * c..(r + 1) * c].iter().copied()).collect();
        kept.push((rows, rows_mask));
    }

    let new_t = kept.iter().map(|(rows, _)| rows.len()).max().unwrap_or(0);
    let n = data.n;
    let mut out = PaddedSeries {
        n,
        t_max: new_t,
        n_channels: c,
        values: vec![0.0; n * new_t * c],
        observed: vec![false; n * new_t * c],
        lengths: kept.iter().map(|(rows, _)| rows.len()).collect(),
        labels: data.labels.clone(),
        times: vec![0.0; n * new_t],
    };
    for (i, (rows, mask)) in kept.iter().enumerate() {
        for (new_r, &r) in rows.iter().enumerate() {
            for ch in 0..c {
                let (from, to) = ((i * t_max + r) * c + ch, (i * new_t + new_r) * c + ch);
                if mask[new_r * c + ch] {
                    out.values[to] = data.values[from];
                    out.observed[to] = true;
                }
            }
        }
        // Real rows keep their times; padding repeats the last one.
        let last = rows.last().map_or(0.0, |&r| data.times[i * t_max + r]);
        for k in 0..new_t {
            out.times[i * new_t + k] = rows.get(k).map_or(last, |&r| data.times[i * t_max + r]);
        }
    }
    Ok(out)
}

/// `k` distinct elements of `items`, by a partial Fisher-Yates shuffle.
fn choose(items: &[usize], k: usize, rng: &mut SplitMix64) -> Vec<usize> {
    let mut pool = items.to_vec();
    for j in 0..k.min(pool.len()) {
        let pick = j + (rng.next_u64() % (pool.len() - j) as u64) as usize;
        pool.swap(j, pick);
    }
    pool.truncate(k);
    pool
}

/// The number of observations of each series in `mode`'s sense: time points
/// with at least one observed value, or observed values.
pub fn observation_counts(data: &PaddedSeries, mode: DropMode) -> Vec<usize> {
    let (t_max, c) = (data.t_max, data.n_channels);
    (0..data.n)
        .map(|i| {
            let rows = data.observed[i * t_max * c..(i * t_max + data.lengths[i]) * c].chunks(c.max(1));
            match mode {
                DropMode::TimePoints => rows.filter(|row| row.iter().any(|&o| o)).count(),
                DropMode::Channels => rows.flatten().filter(|&&o| o).count(),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A JapaneseVowels-like padded set: 200 series of 7..=29 time points, 12
    /// channels, value `1000 i + 100 row + channel`, every 7th value missing
    /// and some time points fully missing.
    fn sample() -> PaddedSeries {
        let (n, t_max, c) = (200, 29, 12);
        let lengths: Vec<usize> = (0..n).map(|i| 7 + (i * 7) % 23).collect();
        let mut p = PaddedSeries {
            n,
            t_max,
            n_channels: c,
            values: vec![0.0; n * t_max * c],
            observed: vec![false; n * t_max * c],
            labels: (0..n).map(|i| i % 9).collect(),
            times: vec![0.0; n * t_max],
            lengths,
        };
        for i in 0..n {
            let len = p.lengths[i];
            for r in 0..t_max {
                p.times[i * t_max + r] = r.min(len - 1) as f64 / 28.0;
                if r >= len || (i + r) % 11 == 5 {
                    continue;
                }
                for ch in 0..c {
                    let at = (i * t_max + r) * c + ch;
                    if at % 7 != 3 {
                        p.values[at] = (1000 * i + 100 * r + ch) as f64;
                        p.observed[at] = true;
                    }
                }
            }
        }
        p
    }

    #[test]
    fn fraction_matches_within_one_observation() {
        let data = sample();
        for mode in [DropMode::TimePoints, DropMode::Channels] {
            let before = observation_counts(&data, mode);
            let total: usize = before.iter().sum();
            for fraction in [0.1, 0.3, 0.5, 0.9] {
                let out = drop_observations(&data, fraction, mode, 7).unwrap();
                let after = observation_counts(&out, mode);
                let dropped: usize = before.iter().sum::<usize>() - after.iter().sum::<usize>();
                let achieved = dropped as f64 / total as f64;
                // The whole data set: within one observation of the request.
                assert!((achieved - fraction).abs() <= 1.0 / total as f64, "{mode:?} {fraction}: {achieved}");
                // Every series: within one observation of its share.
                for (b, a) in before.iter().zip(&after) {
                    let lost = (b - a) as f64;
                    assert!((lost - fraction * *b as f64).abs() <= 1.0, "{mode:?} {fraction}: {b} -> {a}");
                }
            }
        }
    }

    #[test]
    fn kept_values_keep_their_times() {
        let data = sample();
        for mode in [DropMode::TimePoints, DropMode::Channels] {
            let out = drop_observations(&data, 0.5, mode, 3).unwrap();
            // Whole time points go in TimePoints mode; single values rarely empty a row of 12.
            let shorter = out.t_max < data.t_max;
            assert!(shorter == (mode == DropMode::TimePoints) && out.t_max > 0, "{mode:?}: T {}", out.t_max);
            assert_eq!(out.labels, data.labels);
            for i in 0..out.n {
                let times = &out.times[i * out.t_max..(i + 1) * out.t_max];
                let len = out.lengths[i];
                assert!(times[..len].windows(2).all(|w| w[0] < w[1]), "{mode:?}: series {i}");
                assert!(times[len..].iter().all(|&t| t == times[len - 1]));
                for (r, &t) in times[..len].iter().enumerate() {
                    // The original row is the time's index (times are row / 28).
                    let orig = (t * 28.0).round() as usize;
                    // A kept row has an observation, unless it had none to begin with.
                    let row_observed = (0..12).any(|ch| out.observed[(i * out.t_max + r) * 12 + ch]);
                    let was_observed = (0..12).any(|ch| data.observed[(i * data.t_max + orig) * 12 + ch]);
                    assert!(row_observed || !was_observed, "{mode:?}: series {i} row {r} emptied but kept");
                    for ch in 0..12 {
                        let at = (i * out.t_max + r) * 12 + ch;
                        let from = (i * data.t_max + orig) * 12 + ch;
                        if out.observed[at] {
                            assert!(data.observed[from]);
                            assert_eq!(out.values[at], data.values[from]);
                        } else {
                            assert_eq!(out.values[at], 0.0);
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn seeded_identity_and_at_least_one_left() {
        let data = sample();
        for mode in [DropMode::TimePoints, DropMode::Channels] {
            let a = drop_observations(&data, 0.3, mode, 11).unwrap();
            assert_eq!(a, drop_observations(&data, 0.3, mode, 11).unwrap());
            assert_ne!(a, drop_observations(&data, 0.3, mode, 12).unwrap());
            assert_eq!(drop_observations(&data, 0.0, mode, 11).unwrap(), data);
            let all = drop_observations(&data, 1.0, mode, 11).unwrap();
            assert!(observation_counts(&all, mode).iter().all(|&k| k == 1), "{mode:?}");
        }
        for bad in [-0.1, 1.5, f64::NAN] {
            assert!(matches!(
                drop_observations(&data, bad, DropMode::TimePoints, 0),
                Err(SamplingError::BadFraction(_))
            ));
        }
    }
}
