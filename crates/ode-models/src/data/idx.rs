//! IDX files (the MNIST format): reading and writing unsigned-byte arrays,
//! plain or gzipped, with errors that name the file.
//!
//! An IDX file is a 4-byte magic number `0x00 0x00 <type> <ndims>` (type
//! `0x08` is unsigned byte, the only type used by MNIST-like data sets),
//! `ndims` big-endian `u32` dimensions, and the data in row-major order.
//! Image files are `0x00000803` (`[N, rows, cols]`), label files
//! `0x00000801` (`[N]`).
//!
//! This module uses only `std`, `flate2`, `sha2` and `thiserror` (no tch), so
//! that `xtask`, which must build without libtorch, includes the same source
//! file with `#[path]` to write and verify the data sets.

use std::fs::File;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use flate2::read::GzDecoder;
use flate2::write::GzEncoder;
use flate2::Compression;
use sha2::{Digest, Sha256};

/// Magic number of an IDX image file (`u8`, 3 dimensions).
pub const IMAGES_MAGIC: u32 = 0x0000_0803;
/// Magic number of an IDX label file (`u8`, 1 dimension).
pub const LABELS_MAGIC: u32 = 0x0000_0801;
/// The IDX type code of unsigned bytes.
const TYPE_U8: u8 = 0x08;
/// The first two bytes of a gzip stream.
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// Everything that can go wrong reading a data set. Every variant names the
/// file (or files) it is about.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    #[error("{}: file not found", .path.display())]
    Missing { path: PathBuf },
    #[error("{}: {source}", .path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{}: corrupt gzip stream: {reason}", .path.display())]
    Corrupt { path: PathBuf, reason: String },
    #[error("{}: truncated: {what} needs {expected} bytes, the file has {found}", .path.display())]
    Truncated { path: PathBuf, what: &'static str, expected: usize, found: usize },
    #[error(
        "{}: {extra} bytes after the end of the data (dimensions {dims:?}); wrong file or corrupt header",
        .path.display()
    )]
    TrailingBytes { path: PathBuf, dims: Vec<usize>, extra: usize },
    #[error(
        "{}: bad magic number {found:#010x}, expected {expected:#010x} ({kind}); not an IDX file of that kind",
        .path.display()
    )]
    BadMagic { path: PathBuf, found: u32, expected: u32, kind: &'static str },
    #[error("{}: dimension mismatch: expected {expected}, found {found:?}", .path.display())]
    DimensionMismatch { path: PathBuf, expected: String, found: Vec<usize> },
    #[error("{}: label {label} at index {index} is out of range 0..{classes}", .path.display())]
    LabelOutOfRange { path: PathBuf, index: usize, label: u8, classes: u8 },
    #[error(
        "{} holds {n_images} images but {} holds {n_labels} labels",
        .images.display(),
        .labels.display()
    )]
    CountMismatch { images: PathBuf, n_images: usize, labels: PathBuf, n_labels: usize },
    #[error("{}: sha256 mismatch: expected {expected}, found {found}", .path.display())]
    ChecksumMismatch { path: PathBuf, expected: String, found: String },
}

impl DataError {
    /// The file this error is about (the image file for a count mismatch).
    pub fn path(&self) -> &Path {
        match self {
            DataError::Missing { path }
            | DataError::Io { path, .. }
            | DataError::Corrupt { path, .. }
            | DataError::Truncated { path, .. }
            | DataError::TrailingBytes { path, .. }
            | DataError::BadMagic { path, .. }
            | DataError::DimensionMismatch { path, .. }
            | DataError::LabelOutOfRange { path, .. }
            | DataError::ChecksumMismatch { path, .. } => path,
            DataError::CountMismatch { images, .. } => images,
        }
    }
}

/// An unsigned-byte IDX array: its dimensions and row-major data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdxArray {
    pub dims: Vec<usize>,
    pub data: Vec<u8>,
}

impl IdxArray {
    /// The magic number of this array (`0x0000_08<ndims>`).
    pub fn magic(&self) -> u32 {
        ((TYPE_U8 as u32) << 8) | self.dims.len() as u32
    }
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> DataError + '_ {
    move |source| {
        if source.kind() == io::ErrorKind::NotFound {
            DataError::Missing { path: path.to_path_buf() }
        } else {
            DataError::Io { path: path.to_path_buf(), source }
        }
    }
}

/// The bytes of a file, gunzipped when it starts with the gzip magic
/// (whatever its name).
pub fn read_bytes(path: &Path) -> Result<Vec<u8>, DataError> {
    let raw = std::fs::read(path).map_err(io_err(path))?;
    if raw.len() >= 2 && raw[..2] == GZIP_MAGIC {
        let mut out = Vec::with_capacity(raw.len() * 4);
        GzDecoder::new(&raw[..])
            .read_to_end(&mut out)
            .map_err(|e| DataError::Corrupt { path: path.to_path_buf(), reason: e.to_string() })?;
        Ok(out)
    } else {
        Ok(raw)
    }
}

/// Parses an unsigned-byte IDX array from `bytes` (`path` only names the
/// source in errors). `expected_magic` checks the type and the number of
/// dimensions; `kind` describes it in errors.
pub fn parse_idx(
    path: &Path,
    bytes: &[u8],
    expected_magic: u32,
    kind: &'static str,
) -> Result<IdxArray, DataError> {
    let p = || path.to_path_buf();
    if bytes.len() < 4 {
        return Err(DataError::Truncated {
            path: p(),
            what: "the magic number",
            expected: 4,
            found: bytes.len(),
        });
    }
    let magic = u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
    if magic != expected_magic {
        return Err(DataError::BadMagic { path: p(), found: magic, expected: expected_magic, kind });
    }
    let ndims = bytes[3] as usize;
    let header = 4 + 4 * ndims;
    if bytes.len() < header {
        return Err(DataError::Truncated {
            path: p(),
            what: "the header",
            expected: header,
            found: bytes.len(),
        });
    }
    let dims: Vec<usize> = bytes[4..header]
        .chunks_exact(4)
        .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]) as usize)
        .collect();
    let count = dims.iter().try_fold(1usize, |acc, &d| acc.checked_mul(d)).ok_or_else(|| {
        DataError::DimensionMismatch {
            path: p(),
            expected: "a size that fits in memory".into(),
            found: dims.clone(),
        }
    })?;
    let body = &bytes[header..];
    if body.len() < count {
        return Err(DataError::Truncated {
            path: p(),
            what: "the data",
            expected: header + count,
            found: bytes.len(),
        });
    }
    if body.len() > count {
        return Err(DataError::TrailingBytes { path: p(), dims, extra: body.len() - count });
    }
    Ok(IdxArray { dims, data: body.to_vec() })
}

/// Reads an IDX file with the given magic (plain or gzipped).
pub fn read_idx(path: &Path, expected_magic: u32, kind: &'static str) -> Result<IdxArray, DataError> {
    let bytes = read_bytes(path)?;
    parse_idx(path, &bytes, expected_magic, kind)
}

/// Reads an image file `[N, rows, cols]`; with `shape = Some((rows, cols))`
/// other image sizes are a [`DataError::DimensionMismatch`].
pub fn read_images(path: &Path, shape: Option<(usize, usize)>) -> Result<IdxArray, DataError> {
    let a = read_idx(path, IMAGES_MAGIC, "images, u8, 3 dimensions")?;
    if let Some((r, c)) = shape {
        if a.dims[1] != r || a.dims[2] != c {
            return Err(DataError::DimensionMismatch {
                path: path.to_path_buf(),
                expected: format!("[N, {r}, {c}]"),
                found: a.dims,
            });
        }
    }
    Ok(a)
}

/// Reads a label file `[N]` and checks every label is below `classes`.
pub fn read_labels(path: &Path, classes: u8) -> Result<Vec<u8>, DataError> {
    let a = read_idx(path, LABELS_MAGIC, "labels, u8, 1 dimension")?;
    if let Some((index, &label)) = a.data.iter().enumerate().find(|(_, &l)| l >= classes) {
        return Err(DataError::LabelOutOfRange { path: path.to_path_buf(), index, label, classes });
    }
    Ok(a.data)
}

/// Reads an image file and its label file and checks they have the same
/// number of items. Returns `(images [N, rows, cols], labels [N])`.
pub fn read_pair(
    images: &Path,
    labels: &Path,
    shape: Option<(usize, usize)>,
    classes: u8,
) -> Result<(IdxArray, Vec<u8>), DataError> {
    let im = read_images(images, shape)?;
    let lb = read_labels(labels, classes)?;
    if im.dims[0] != lb.len() {
        return Err(DataError::CountMismatch {
            images: images.to_path_buf(),
            n_images: im.dims[0],
            labels: labels.to_path_buf(),
            n_labels: lb.len(),
        });
    }
    Ok((im, lb))
}

/// The IDX encoding of an array.
pub fn encode_idx(dims: &[usize], data: &[u8]) -> Vec<u8> {
    let count: usize = dims.iter().product();
    assert_eq!(count, data.len(), "IDX data length does not match the dimensions {dims:?}");
    assert!(dims.len() < 256, "IDX supports at most 255 dimensions");
    let mut out = Vec::with_capacity(4 + 4 * dims.len() + data.len());
    out.extend_from_slice(&[0, 0, TYPE_U8, dims.len() as u8]);
    for &d in dims {
        out.extend_from_slice(&u32::try_from(d).expect("IDX dimensions fit in u32").to_be_bytes());
    }
    out.extend_from_slice(data);
    out
}

/// Writes an unsigned-byte IDX file, gzipped when the name ends in `.gz`.
/// The file is written to a temporary name and renamed, so a reader never
/// sees half a file.
pub fn write_idx(path: &Path, dims: &[usize], data: &[u8]) -> Result<(), DataError> {
    let bytes = encode_idx(dims, data);
    let gz = path.extension().is_some_and(|e| e == "gz");
    let mut tmp_name = path.file_name().unwrap_or_default().to_os_string();
    tmp_name.push(format!(".tmp{}", std::process::id()));
    let tmp = path.with_file_name(tmp_name);
    let result = (|| {
        let mut f = io::BufWriter::new(File::create(&tmp)?);
        if gz {
            let mut enc = GzEncoder::new(f, Compression::default());
            enc.write_all(&bytes)?;
            f = enc.finish()?;
        } else {
            f.write_all(&bytes)?;
        }
        f.into_inner().map_err(|e| e.into_error())?.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.map_err(|source| DataError::Io { path: path.to_path_buf(), source })
}

/// `dir/name` or `dir/name.gz`, whichever exists (plain first).
pub fn find_file(dir: &Path, name: &str) -> Result<PathBuf, DataError> {
    let plain = dir.join(name);
    if plain.is_file() {
        return Ok(plain);
    }
    let gz = dir.join(format!("{name}.gz"));
    if gz.is_file() {
        return Ok(gz);
    }
    Err(DataError::Missing { path: plain })
}

/// The lowercase hex sha256 of a file's bytes (as stored, not gunzipped).
pub fn sha256_file(path: &Path) -> Result<String, DataError> {
    let mut f = File::open(path).map_err(io_err(path))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = f.read(&mut buf).map_err(io_err(path))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(h.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

/// Checks a file's sha256 against `expected` (hex, any case).
pub fn verify_sha256(path: &Path, expected: &str) -> Result<(), DataError> {
    let found = sha256_file(path)?;
    if found.eq_ignore_ascii_case(expected) {
        Ok(())
    } else {
        Err(DataError::ChecksumMismatch { path: path.to_path_buf(), expected: expected.to_string(), found })
    }
}

/// A seeded permutation of `0..n` (Fisher-Yates driven by SplitMix64), the
/// same on every platform and version.
pub fn permutation(n: usize, seed: u64) -> Vec<i64> {
    let mut rng = ode_core::problems::SplitMix64::new(seed);
    let mut perm: Vec<i64> = (0..n as i64).collect();
    for i in (1..n).rev() {
        let j = (rng.next_u64() % (i as u64 + 1)) as usize;
        perm.swap(i, j);
    }
    perm
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A fresh directory under the system temp dir, removed on drop.
    pub struct TempDir(pub PathBuf);
    impl TempDir {
        pub fn new(tag: &str) -> TempDir {
            static N: AtomicUsize = AtomicUsize::new(0);
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0);
            let dir = std::env::temp_dir().join(format!(
                "ode-models-idx-{tag}-{}-{}-{nanos}",
                std::process::id(),
                N.fetch_add(1, Ordering::Relaxed)
            ));
            std::fs::create_dir_all(&dir).unwrap();
            TempDir(dir)
        }
    }
    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn images(n: usize) -> Vec<u8> {
        (0..n * 28 * 28).map(|i| (i * 7 % 256) as u8).collect()
    }

    #[test]
    fn round_trip_plain_and_gz() {
        let d = TempDir::new("rt");
        for name in ["im-idx3-ubyte", "im-idx3-ubyte.gz"] {
            let p = d.0.join(name);
            let data = images(3);
            write_idx(&p, &[3, 28, 28], &data).unwrap();
            let a = read_images(&p, Some((28, 28))).unwrap();
            assert_eq!(a.dims, vec![3, 28, 28]);
            assert_eq!(a.data, data);
            let raw = std::fs::read(&p).unwrap();
            assert_eq!(raw[..2] == GZIP_MAGIC, name.ends_with(".gz"));
        }
        let p = d.0.join("lb-idx1-ubyte.gz");
        write_idx(&p, &[4], &[0, 9, 3, 1]).unwrap();
        assert_eq!(read_labels(&p, 10).unwrap(), vec![0, 9, 3, 1]);
        assert_eq!(find_file(&d.0, "lb-idx1-ubyte").unwrap(), p);
    }

    #[test]
    fn missing_file() {
        let d = TempDir::new("missing");
        let e = read_labels(&d.0.join("nope"), 10).unwrap_err();
        assert!(matches!(e, DataError::Missing { .. }), "{e}");
        assert!(e.to_string().contains("nope"));
        assert!(matches!(find_file(&d.0, "nope"), Err(DataError::Missing { .. })));
        assert!(matches!(sha256_file(&d.0.join("nope")), Err(DataError::Missing { .. })));
    }

    #[test]
    fn truncated_plain_and_gz() {
        let d = TempDir::new("trunc");
        let bytes = encode_idx(&[2, 28, 28], &images(2));
        for cut in [2, 10, bytes.len() - 1] {
            let p = d.0.join(format!("cut{cut}"));
            std::fs::write(&p, &bytes[..cut]).unwrap();
            let e = read_images(&p, None).unwrap_err();
            assert!(matches!(e, DataError::Truncated { .. }), "{e}");
            assert!(e.to_string().contains(&format!("cut{cut}")), "{e}");
        }
        // A gzip stream cut short is a corrupt file.
        let p = d.0.join("im.gz");
        write_idx(&p, &[2, 28, 28], &images(2)).unwrap();
        let gz = std::fs::read(&p).unwrap();
        std::fs::write(&p, &gz[..gz.len() / 2]).unwrap();
        let e = read_images(&p, None).unwrap_err();
        assert!(matches!(e, DataError::Corrupt { .. } | DataError::Truncated { .. }), "{e}");
        assert!(e.to_string().contains("im.gz"), "{e}");
    }

    #[test]
    fn trailing_bytes() {
        let d = TempDir::new("trail");
        let p = d.0.join("lb");
        let mut bytes = encode_idx(&[2], &[1, 2]);
        bytes.push(7);
        std::fs::write(&p, bytes).unwrap();
        assert!(matches!(read_labels(&p, 10), Err(DataError::TrailingBytes { extra: 1, .. })));
    }

    #[test]
    fn bad_magic() {
        let d = TempDir::new("magic");
        let p = d.0.join("lb");
        write_idx(&p, &[2], &[1, 2]).unwrap();
        // A label file where images are expected.
        let e = read_images(&p, None).unwrap_err();
        assert!(matches!(e, DataError::BadMagic { found: 0x801, expected: 0x803, .. }), "{e}");
        std::fs::write(&p, b"PK\x03\x04garbage").unwrap();
        assert!(matches!(read_labels(&p, 10), Err(DataError::BadMagic { .. })));
    }

    #[test]
    fn dimension_mismatch() {
        let d = TempDir::new("dims");
        let p = d.0.join("im");
        write_idx(&p, &[2, 32, 32], &vec![0; 2 * 32 * 32]).unwrap();
        let e = read_images(&p, Some((28, 28))).unwrap_err();
        assert!(matches!(e, DataError::DimensionMismatch { .. }), "{e}");
        assert!(read_images(&p, None).is_ok());
    }

    #[test]
    fn label_out_of_range() {
        let d = TempDir::new("label");
        let p = d.0.join("lb");
        write_idx(&p, &[3], &[1, 10, 2]).unwrap();
        let e = read_labels(&p, 10).unwrap_err();
        assert!(matches!(e, DataError::LabelOutOfRange { index: 1, label: 10, classes: 10, .. }), "{e}");
    }

    #[test]
    fn count_mismatch() {
        let d = TempDir::new("count");
        let (im, lb) = (d.0.join("im"), d.0.join("lb"));
        write_idx(&im, &[2, 28, 28], &images(2)).unwrap();
        write_idx(&lb, &[3], &[1, 2, 3]).unwrap();
        let e = read_pair(&im, &lb, Some((28, 28)), 10).unwrap_err();
        assert!(matches!(e, DataError::CountMismatch { n_images: 2, n_labels: 3, .. }), "{e}");
        let s = e.to_string();
        assert!(s.contains("im") && s.contains("lb"), "{s}");
    }

    #[test]
    fn checksum() {
        let d = TempDir::new("sha");
        let p = d.0.join("abc");
        std::fs::write(&p, b"abc").unwrap();
        let h = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
        assert_eq!(sha256_file(&p).unwrap(), h);
        verify_sha256(&p, &h.to_uppercase()).unwrap();
        std::fs::write(&p, b"abd").unwrap();
        let e = verify_sha256(&p, h).unwrap_err();
        assert!(matches!(e, DataError::ChecksumMismatch { .. }), "{e}");
        assert_eq!(e.path(), p);
    }
}
