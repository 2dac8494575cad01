//! Image classification data sets in IDX form (MNIST, Fashion-MNIST) as
//! tensors.
//!
//! `cargo xtask data` fetches and verifies the data sets into
//! `datasets/cache/<name>/` (see `datasets/README.md`); [`load_idx_dir`]
//! reads any directory with the four standard MNIST file names, plain or
//! gzipped:
//!
//! ```no_run
//! use ode_models::data::load_idx_dir;
//! use std::path::Path;
//!
//! let split = load_idx_dir(Path::new("datasets/cache/mnist10k"), "mnist10k")?;
//! let train = split.train.to_device(tch::Device::cuda_if_available());
//! for (x, y) in train.batches(128, Some(0)) {
//!     // x: [B, 1, 28, 28] f32 in [0, 1], y: [B] i64
//!     # let _ = (x, y);
//! }
//! # Ok::<(), ode_models::data::DataError>(())
//! ```
//!
//! Time-series classification files in the sktime/aeon `.ts` format (the
//! UEA archive, e.g. JapaneseVowels) are read by [`ts::read_ts`] into plain
//! vectors; [`ts::TsDataset::padded`] pads them to `[N, T, C]`,
//! [`irregular::drop_observations`] makes them irregularly sampled, and
//! [`SeriesTensors::from_padded`] turns the result into tensors.

pub mod idx;
pub mod irregular;
pub mod ts;
#[cfg(test)]
mod ts_tests;

use std::path::Path;

use tch::{Device, Kind, Tensor};

pub use idx::{permutation, DataError};
pub use irregular::{drop_observations, DropMode, SamplingError};
pub use ts::{read_ts, read_ts_split, unit_time_step, PaddedSeries, TsDataset, TsError};

/// Image side length of MNIST-like data sets.
pub const SIDE: usize = 28;
/// Number of classes of MNIST-like data sets.
pub const CLASSES: u8 = 10;

/// The standard file names (each may also end in `.gz`).
pub const TRAIN_IMAGES: &str = "train-images-idx3-ubyte";
pub const TRAIN_LABELS: &str = "train-labels-idx1-ubyte";
pub const TEST_IMAGES: &str = "t10k-images-idx3-ubyte";
pub const TEST_LABELS: &str = "t10k-labels-idx1-ubyte";

/// Labelled 28x28 grey images.
#[derive(Debug)]
pub struct ImageDataset {
    /// `[N, 1, 28, 28]`, f32 in `[0, 1]` (byte / 255).
    pub images: Tensor,
    /// `[N]`, i64 class indices.
    pub labels: Tensor,
}

/// A train/test pair of one data set.
#[derive(Debug)]
pub struct Split {
    pub train: ImageDataset,
    pub test: ImageDataset,
    pub name: String,
}

impl ImageDataset {
    /// From raw IDX bytes: `pixels` holds `n * rows * cols` bytes, `labels`
    /// `n` class indices. The tensors are on the CPU.
    pub fn from_bytes(pixels: &[u8], rows: usize, cols: usize, labels: &[u8]) -> ImageDataset {
        let n = labels.len();
        assert_eq!(pixels.len(), n * rows * cols, "pixel bytes do not match {n} images of {rows}x{cols}");
        let images =
            Tensor::from_slice(pixels).view([n as i64, 1, rows as i64, cols as i64]).to_kind(Kind::Float)
                / 255.0;
        let labels = Tensor::from_slice(labels).to_kind(Kind::Int64);
        ImageDataset { images, labels }
    }

    /// Number of examples.
    pub fn len(&self) -> usize {
        self.labels.size()[0] as usize
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The device the tensors live on.
    pub fn device(&self) -> Device {
        self.images.device()
    }

    /// A copy on `device` (a shallow copy when it is already there).
    pub fn to_device(&self, device: Device) -> ImageDataset {
        ImageDataset { images: self.images.to_device(device), labels: self.labels.to_device(device) }
    }

    /// The first `n` examples (all of them when `n >= len`); shares storage
    /// with `self`.
    pub fn subset(&self, n: usize) -> ImageDataset {
        let n = n.min(self.len()) as i64;
        ImageDataset { images: self.images.narrow(0, 0, n), labels: self.labels.narrow(0, 0, n) }
    }

    /// Mini-batches `(images [B, 1, 28, 28], labels [B])` on the dataset's
    /// device, the last one possibly smaller. With `shuffle_seed` the order
    /// is a permutation fixed by the seed (independent of tch's global RNG
    /// and of the device); without it, the stored order.
    pub fn batches(&self, batch_size: usize, shuffle_seed: Option<u64>) -> Batches<'_> {
        assert!(batch_size > 0, "batch size must be positive");
        let order = shuffle_seed.map(|seed| {
            let perm = permutation(self.len(), seed);
            Tensor::from_slice(&perm).to_device(self.device())
        });
        Batches { data: self, order, pos: 0, batch_size }
    }

    /// Number of examples of each class (length 10).
    pub fn class_counts(&self) -> Vec<i64> {
        let counts = self.labels.to_device(Device::Cpu).bincount::<Tensor>(None, CLASSES as i64);
        Vec::<i64>::try_from(&counts).expect("bincount gives i64")
    }
}

/// The iterator of [`ImageDataset::batches`].
pub struct Batches<'a> {
    data: &'a ImageDataset,
    order: Option<Tensor>,
    pos: usize,
    batch_size: usize,
}

impl Iterator for Batches<'_> {
    type Item = (Tensor, Tensor);

    fn next(&mut self) -> Option<(Tensor, Tensor)> {
        let n = self.data.len();
        if self.pos >= n {
            return None;
        }
        let len = self.batch_size.min(n - self.pos);
        let (start, size) = (self.pos as i64, len as i64);
        self.pos += len;
        Some(match &self.order {
            Some(order) => {
                let idx = order.narrow(0, start, size);
                (self.data.images.index_select(0, &idx), self.data.labels.index_select(0, &idx))
            }
            None => (self.data.images.narrow(0, start, size), self.data.labels.narrow(0, start, size)),
        })
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = (self.data.len() - self.pos).div_ceil(self.batch_size);
        (left, Some(left))
    }
}

impl ExactSizeIterator for Batches<'_> {}

/// Loads one image/label pair of files (plain or gzipped) as a dataset on the CPU.
pub fn load_pair(images: &Path, labels: &Path) -> Result<ImageDataset, DataError> {
    let (im, lb) = idx::read_pair(images, labels, Some((SIDE, SIDE)), CLASSES)?;
    Ok(ImageDataset::from_bytes(&im.data, SIDE, SIDE, &lb))
}

/// Loads the four standard MNIST-format files from `dir` (each plain or
/// with `.gz`): `train-images-idx3-ubyte`, `train-labels-idx1-ubyte`,
/// `t10k-images-idx3-ubyte`, `t10k-labels-idx1-ubyte`. Images must be
/// 28x28 and labels below 10. The tensors are on the CPU.
pub fn load_idx_dir(dir: &Path, name: &str) -> Result<Split, DataError> {
    let f = |n| idx::find_file(dir, n);
    let train = load_pair(&f(TRAIN_IMAGES)?, &f(TRAIN_LABELS)?)?;
    let test = load_pair(&f(TEST_IMAGES)?, &f(TEST_LABELS)?)?;
    Ok(Split { train, test, name: name.to_string() })
}

/// A padded time-series data set as tensors on the CPU (from
/// [`PaddedSeries`]; see [`TsDataset::padded`] for the time axis).
#[derive(Debug)]
pub struct SeriesTensors {
    /// `[N, T, C]` f32; 0 where not observed.
    pub values: Tensor,
    /// `[N, T, C]` f32; 1 where observed, 0 for missing values and padding.
    pub observed: Tensor,
    /// `[N]` i64; the number of real time points of each series.
    pub lengths: Tensor,
    /// `[N]` i64; class indices.
    pub labels: Tensor,
    /// `[N, T]` f64; the time of each row (padding repeats the last real
    /// time). f64 so that an ODE solver can take the times as they are.
    pub times: Tensor,
}

impl SeriesTensors {
    pub fn from_padded(p: &PaddedSeries) -> SeriesTensors {
        let (n, t, c) = (p.n as i64, p.t_max as i64, p.n_channels as i64);
        let values: Vec<f32> = p.values.iter().map(|&v| v as f32).collect();
        let observed: Vec<f32> = p.observed.iter().map(|&o| f32::from(u8::from(o))).collect();
        let lengths: Vec<i64> = p.lengths.iter().map(|&l| l as i64).collect();
        let labels: Vec<i64> = p.labels.iter().map(|&l| l as i64).collect();
        SeriesTensors {
            values: Tensor::from_slice(&values).view([n, t, c]),
            observed: Tensor::from_slice(&observed).view([n, t, c]),
            lengths: Tensor::from_slice(&lengths),
            labels: Tensor::from_slice(&labels),
            times: Tensor::from_slice(&p.times).view([n, t]),
        }
    }

    /// Number of series.
    pub fn len(&self) -> usize {
        self.labels.size()[0] as usize
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A copy on `device` (a shallow copy when it is already there).
    pub fn to_device(&self, device: Device) -> SeriesTensors {
        SeriesTensors {
            values: self.values.to_device(device),
            observed: self.observed.to_device(device),
            lengths: self.lengths.to_device(device),
            labels: self.labels.to_device(device),
            times: self.times.to_device(device),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::idx::tests::TempDir;
    use super::idx::write_idx;
    use super::*;

    /// Writes a synthetic split: image `i` is filled with byte `i`, label `i % 10`.
    fn write_split(dir: &Path, n_train: usize, n_test: usize, gz: bool) {
        let ext = if gz { ".gz" } else { "" };
        for (im, lb, n) in [(TRAIN_IMAGES, TRAIN_LABELS, n_train), (TEST_IMAGES, TEST_LABELS, n_test)] {
            let pixels: Vec<u8> = (0..n).flat_map(|i| std::iter::repeat_n(i as u8, SIDE * SIDE)).collect();
            let labels: Vec<u8> = (0..n).map(|i| (i % 10) as u8).collect();
            write_idx(&dir.join(format!("{im}{ext}")), &[n, SIDE, SIDE], &pixels).unwrap();
            write_idx(&dir.join(format!("{lb}{ext}")), &[n], &labels).unwrap();
        }
    }

    #[test]
    fn load_plain_and_gz() {
        for gz in [false, true] {
            let d = TempDir::new("load");
            write_split(&d.0, 25, 7, gz);
            let s = load_idx_dir(&d.0, "synthetic").unwrap();
            assert_eq!(s.name, "synthetic");
            assert_eq!((s.train.len(), s.test.len()), (25, 7));
            assert_eq!(s.train.images.size(), vec![25, 1, 28, 28]);
            assert_eq!(s.train.images.kind(), Kind::Float);
            assert_eq!(s.train.labels.kind(), Kind::Int64);
            let px = s.train.images.get(3).mean(Kind::Float).double_value(&[]);
            assert!((px - 3.0 / 255.0).abs() < 1e-6);
            assert_eq!(s.test.labels.int64_value(&[6]), 6);
            let max = s.train.images.max().double_value(&[]);
            assert!((max - 24.0 / 255.0).abs() < 1e-6);
            assert_eq!(s.train.class_counts(), vec![3, 3, 3, 3, 3, 2, 2, 2, 2, 2]);
        }
    }

    #[test]
    fn load_errors_name_the_file() {
        let d = TempDir::new("loaderr");
        write_split(&d.0, 5, 5, false);
        std::fs::remove_file(d.0.join(TEST_LABELS)).unwrap();
        let e = load_idx_dir(&d.0, "x").unwrap_err();
        assert!(matches!(e, DataError::Missing { .. }) && e.to_string().contains(TEST_LABELS), "{e}");
        write_idx(&d.0.join(TEST_LABELS), &[4], &[0, 1, 2, 3]).unwrap();
        let e = load_idx_dir(&d.0, "x").unwrap_err();
        assert!(matches!(e, DataError::CountMismatch { .. }), "{e}");
    }

    #[test]
    fn batches_cover_everything_once() {
        let d = TempDir::new("batches");
        write_split(&d.0, 23, 3, true);
        let s = load_idx_dir(&d.0, "x").unwrap();
        let plain: Vec<_> = s.train.batches(10, None).collect();
        assert_eq!(plain.iter().map(|(x, _)| x.size()[0]).collect::<Vec<_>>(), vec![10, 10, 3]);
        assert_eq!(plain[1].1.int64_value(&[0]), 0);
        let mut seen = Vec::new();
        let it = s.train.batches(8, Some(42));
        assert_eq!(it.len(), 3);
        for (x, y) in it {
            assert_eq!(x.size()[1..], [1, 28, 28]);
            for k in 0..y.size()[0] {
                // Image content identifies the example; labels stay paired with it.
                let id = (x.get(k).mean(Kind::Float).double_value(&[]) * 255.0).round() as i64;
                assert_eq!(y.int64_value(&[k]), id % 10);
                seen.push(id);
            }
        }
        let in_order = seen.windows(2).all(|w| w[0] < w[1]);
        assert!(!in_order, "a shuffled order should differ from the stored one");
        seen.sort();
        assert_eq!(seen, (0..23).collect::<Vec<_>>());
        // The same seed gives the same order.
        let a: Vec<i64> =
            s.train.batches(23, Some(7)).map(|(_, y)| Vec::try_from(&y).unwrap()).next().unwrap();
        let b: Vec<i64> =
            s.train.batches(23, Some(7)).map(|(_, y)| Vec::try_from(&y).unwrap()).next().unwrap();
        assert_eq!(a, b);
    }

    #[test]
    fn subset_and_device() {
        let d = TempDir::new("subset");
        write_split(&d.0, 12, 2, false);
        let s = load_idx_dir(&d.0, "x").unwrap();
        let sub = s.train.subset(5);
        assert_eq!(sub.len(), 5);
        assert_eq!(sub.labels.int64_value(&[4]), 4);
        assert_eq!(s.train.subset(100).len(), 12);
        let moved = sub.to_device(Device::Cpu);
        assert_eq!(moved.device(), Device::Cpu);
        assert_eq!(moved.len(), 5);
    }

    /// The real data sets, when `cargo xtask data` has fetched them (skipped otherwise).
    #[test]
    fn cached_datasets_load() {
        let cache = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../datasets/cache");
        for (name, n_train, n_test) in [("mnist10k", 8000, 2000), ("fashion-mnist", 60000, 10000)] {
            let dir = cache.join(name);
            if !dir.is_dir() {
                eprintln!("{name}: not fetched (run `cargo xtask data`); skipped");
                continue;
            }
            let t = std::time::Instant::now();
            let s = load_idx_dir(&dir, name).unwrap();
            eprintln!("{name}: loaded in {:.2} s", t.elapsed().as_secs_f64());
            assert_eq!((s.train.len(), s.test.len()), (n_train, n_test));
            for ds in [&s.train, &s.test] {
                let (lo, hi) = (ds.images.min().double_value(&[]), ds.images.max().double_value(&[]));
                assert!(lo == 0.0 && hi == 1.0, "{name}: pixel range [{lo}, {hi}]");
                let counts = ds.class_counts();
                assert!(counts.iter().all(|&c| c > 0), "{name}: class counts {counts:?}");
            }
        }
    }

    #[test]
    fn permutation_is_a_fixed_permutation() {
        let p = permutation(100, 1);
        let mut s = p.clone();
        s.sort();
        assert_eq!(s, (0..100).collect::<Vec<_>>());
        assert_eq!(p, permutation(100, 1));
        assert_ne!(p, permutation(100, 2));
    }
}
