//! The UEA time-series classification problems (`.ts` files), taken from
//! the PyPI wheel of `aeon`, which ships a few of them in
//! `aeon/datasets/data/<Problem>/`.
//!
//! The wheel is downloaded with `pip download --no-deps` (nothing is
//! installed) and the two `.ts` files of each problem are extracted with
//! Python's `zipfile` (a wheel is a zip; pip needs Python anyway, so this
//! adds no tool and no crate to the bootstrapper). The pip used is the
//! first that works of: `python3 -m pip`, the project virtualenv `.venv`
//! (after `cargo xtask setup`), and a bare virtualenv with only pip in
//! `datasets/cache/.pip-venv`, created here (as root, Debian's `python3` /
//! `python3-venv` are installed with apt-get when missing).

#[allow(dead_code)]
#[path = "../../../crates/ode-models/src/data/ts.rs"]
mod ts;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{bail, Context, Result};

use crate::util;

/// The pinned wheel (`pip index versions aeon` gave 1.6.0 as the newest on
/// 2026-12-08).
pub const AEON_REQUIREMENT: &str = "aeon==1.6.0";

/// The problems we use, as named in the wheel (and in the UEA archive).
pub const PROBLEMS: &[&str] = &["JapaneseVowels"];

/// Where the bare pip-only virtualenv goes when no other pip is available.
const PIP_VENV: &str = "datasets/cache/.pip-venv";

/// The file names of a problem's split.
pub fn split_files(problem: &str) -> [String; 2] {
    [format!("{problem}_TRAIN.ts"), format!("{problem}_TEST.ts")]
}

/// Downloads the aeon wheel into `tmp` and extracts `problem`'s `.ts`
/// files into `out`; returns their names and the source description.
pub fn fetch_problem(problem: &str, tmp: &Path, out: &Path) -> Result<(Vec<String>, String)> {
    let python = pip_python()?;
    let mut download = Command::new(&python);
    download
        .args(["-m", "pip", "download", "--no-deps", "--only-binary=:all:"])
        // We only unpack data files, so the wheel's Python requirement is moot.
        .args(["--ignore-requires-python", "--disable-pip-version-check", "--no-input", "--quiet"])
        .arg("--dest")
        .arg(tmp)
        .arg(AEON_REQUIREMENT);
    util::run(&mut download).with_context(|| {
        format!("`pip download {AEON_REQUIREMENT}` failed (is PyPI, or your pip index, reachable?)")
    })?;
    let wheel = std::fs::read_dir(tmp)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.extension().is_some_and(|e| e == "whl"))
        .with_context(|| format!("pip download left no .whl in {}", tmp.display()))?;
    let wheel_name = wheel.file_name().unwrap_or_default().to_string_lossy().into_owned();
    let wheel_sha = super::idx::sha256_file(&wheel)?;
    eprintln!("data: {problem}: {wheel_name} sha256 {wheel_sha}");

    let names = split_files(problem);
    let staged: Vec<PathBuf> =
        names.iter().map(|n| out.join(format!("{n}.tmp{}", std::process::id()))).collect();
    let mut extract = Command::new(&python);
    extract.args(["-c", EXTRACT_PY]).arg(&wheel);
    for (name, to) in names.iter().zip(&staged) {
        extract.arg(format!("aeon/datasets/data/{problem}/{name}")).arg(to);
    }
    let extracted = util::run(&mut extract)
        .with_context(|| format!("extracting {problem}'s .ts files from {wheel_name}"));
    if let Err(e) = extracted {
        for s in &staged {
            let _ = std::fs::remove_file(s);
        }
        return Err(e);
    }
    for (name, from) in names.iter().zip(&staged) {
        std::fs::rename(from, out.join(name))?;
    }
    eprintln!("data: {problem}: extracted {} from {wheel_name}", names.join(", "));
    let version = AEON_REQUIREMENT.trim_start_matches("aeon==");
    let source = format!(
        "PyPI aeon {version} ({wheel_name}: aeon/datasets/data/{problem}/; wheel sha256 {wheel_sha})"
    );
    Ok((names.to_vec(), source))
}

/// `python -c EXTRACT_PY WHEEL MEMBER OUT [MEMBER OUT ...]`: copies zip
/// members to files (a missing member is a KeyError naming it). One line,
/// so that the echoed command stays readable.
const EXTRACT_PY: &str = "import sys, zipfile, pathlib; z = zipfile.ZipFile(sys.argv[1]); \
                          [pathlib.Path(out).write_bytes(z.read(member)) \
                          for member, out in zip(sys.argv[2::2], sys.argv[3::2])]";

/// Parses a problem's two files and prints what they hold.
pub fn report(problem: &str, dir: &Path) -> Result<()> {
    let t = Instant::now();
    let (train, test) = ts::read_ts_split(dir, problem)?;
    let (lo, hi) = (
        train.length_range().0.min(test.length_range().0),
        train.length_range().1.max(test.length_range().1),
    );
    eprintln!(
        "data: {problem}: {} train + {} test series, {} channels, {} classes, lengths {lo}..={hi} ({}, parsed \
         in {:.3} s)",
        train.len(),
        test.len(),
        train.n_channels,
        train.class_labels().len(),
        dir.display(),
        t.elapsed().as_secs_f64()
    );
    Ok(())
}

fn has_pip(python: &Path) -> bool {
    util::output(Command::new(python).args(["-m", "pip", "--version"])).is_some()
}

/// A Python interpreter that has pip: the system's, the project's `.venv`,
/// or a bare virtualenv made for this (see the module doc).
fn pip_python() -> Result<PathBuf> {
    pip_python_in(&[PathBuf::from("python3"), crate::venv::venv_python()], Path::new(PIP_VENV))
}

/// The first of `preferred` that has pip, else the interpreter of a
/// pip-only virtualenv at `fallback_venv` (created when it has no pip).
fn pip_python_in(preferred: &[PathBuf], fallback_venv: &Path) -> Result<PathBuf> {
    let fallback = fallback_venv.join("bin/python");
    if let Some(found) = preferred.iter().chain([&fallback]).find(|p| has_pip(p)) {
        return Ok(found.clone());
    }
    let python3 = Path::new("python3");
    if util::output(Command::new(python3).arg("--version")).is_none() {
        if !util::is_root() {
            bail!(
                "`cargo xtask data` needs Python 3 with pip or venv to download the aeon wheel; on Debian/Ubuntu:\n    \
                 sudo apt-get update && sudo apt-get install -y python3 python3-venv\nthen rerun the command"
            );
        }
        eprintln!("data: python3 not found; installing Debian's python3 and python3-venv");
        apt_get_install(&["python3", "python3-venv"])?;
    }
    eprintln!("data: no pip found; creating a pip-only virtualenv in {}", fallback_venv.display());
    let create = || util::run(Command::new(python3).args(["-m", "venv", "--clear"]).arg(fallback_venv));
    if let Err(e) = create() {
        // Debian's python3 lacks ensurepip unless python3-venv is installed.
        if !util::is_root() {
            return Err(e.context(
                "could not create a virtualenv for pip; on Debian/Ubuntu install `python3-venv` (or \
                 `python3-pip`) with sudo apt-get, then rerun the command",
            ));
        }
        apt_get_install(&["python3-venv"])?;
        create()?;
    }
    if !has_pip(&fallback) {
        bail!("{} has no pip after `python3 -m venv`", fallback.display());
    }
    Ok(fallback)
}

fn apt_get_install(packages: &[&str]) -> Result<()> {
    util::run(Command::new("apt-get").arg("update").env("DEBIAN_FRONTEND", "noninteractive"))?;
    util::run(
        Command::new("apt-get")
            .args(["install", "-y", "--no-install-recommends"])
            .args(packages)
            .env("DEBIAN_FRONTEND", "noninteractive"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The extraction script on a zip written by Python's zipfile: members
    /// are copied byte for byte, and a missing member fails naming it.
    #[test]
    fn extract_script_copies_members() {
        if util::output(Command::new("python3").arg("--version")).is_none() {
            eprintln!("python3 not found; skipped");
            return;
        }
        let dir = std::env::temp_dir().join(format!("xtask-aeon-extract-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let zip = dir.join("w.whl");
        let make =
            "import sys, zipfile\nwith zipfile.ZipFile(sys.argv[1], 'w', zipfile.ZIP_DEFLATED) as z:\n    \
                    z.writestr('a/b/P_TRAIN.ts', '@data\\n1:x\\n' * 50)\n    z.writestr('other', 'no')\n";
        util::run(Command::new("python3").args(["-c", make]).arg(&zip)).unwrap();
        let out = dir.join("P_TRAIN.ts");
        let ok = Command::new("python3")
            .args(["-c", EXTRACT_PY])
            .arg(&zip)
            .arg("a/b/P_TRAIN.ts")
            .arg(&out)
            .output()
            .unwrap();
        assert!(ok.status.success(), "{}", String::from_utf8_lossy(&ok.stderr));
        assert_eq!(std::fs::read_to_string(&out).unwrap(), "@data\n1:x\n".repeat(50));
        let missing = Command::new("python3")
            .args(["-c", EXTRACT_PY])
            .arg(&zip)
            .arg("a/b/P_TEST.ts")
            .arg(dir.join("t"))
            .output()
            .unwrap();
        assert!(!missing.status.success());
        assert!(String::from_utf8_lossy(&missing.stderr).contains("P_TEST.ts"));
        std::fs::remove_dir_all(&dir).ok();
    }

    /// Without any pip among the preferred interpreters, a pip-only
    /// virtualenv is made (no network needed) and then reused.
    #[test]
    fn falls_back_to_a_pip_only_venv() {
        if util::output(Command::new("python3").args(["-c", "import ensurepip, venv"])).is_none() {
            eprintln!("python3 without ensurepip/venv; skipped (it would apt-get install)");
            return;
        }
        let dir = std::env::temp_dir().join(format!("xtask-aeon-venv-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let venv = dir.join("pip-venv");
        let none = [PathBuf::from("/nonexistent/python3")];
        let python = pip_python_in(&none, &venv).unwrap();
        assert_eq!(python, venv.join("bin/python"));
        assert!(has_pip(&python));
        let t = Instant::now();
        assert_eq!(pip_python_in(&none, &venv).unwrap(), python);
        assert!(t.elapsed().as_secs_f64() < 2.0, "reuse should not rebuild the venv");
        // A preferred interpreter with pip wins.
        assert_eq!(pip_python_in(std::slice::from_ref(&python), &dir.join("unused")).unwrap(), python);
        assert!(!dir.join("unused").exists());
        std::fs::remove_dir_all(&dir).ok();
    }
}
