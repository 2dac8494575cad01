//! `cargo xtask setup`: the project virtualenv and the Rust components.
//!
//! The Python packages live in `.venv` at the workspace root. A stamp file
//! records the requirement list it was built from, so a second `setup` is a
//! no-op unless the list changed. pip's own cache (~/.cache/pip) is reused.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};

use crate::util::{self, run};

/// Python packages: torch is where libtorch comes from (tch 0.26 expects
/// 2.13.0; the wheel is the CUDA build and runs on CPU too), numpy and scipy
/// and torchdiffeq are the peers of the benchmarks. Pinned so that builds and benchmark
/// numbers are comparable between runs.
pub const PY_REQUIREMENTS: &[&str] =
    &["numpy==2.4.6", "scipy==1.17.1", "torch==2.13.0", "torchdiffeq==0.2.5"];

/// Debian packages the build needs: OpenBLAS for ndarray-linalg (the stiff
/// solvers' LU) and a font for the figures.
const DEBIAN_PACKAGES: &[&str] = &["libopenblas-dev", "fonts-dejavu-core"];

/// `.venv/torch`: a version-independent link to the torch package, which
/// `.cargo/config.toml` gives torch-sys as LIBTORCH.
const TORCH_LINK: &str = ".venv/torch";

/// Rustup components `cargo xtask test` needs.
const RUST_COMPONENTS: &[&str] = &["rustfmt", "clippy"];

pub const VENV_DIR: &str = ".venv";
const STAMP: &str = ".venv/xtask-requirements.txt";

/// The interpreter inside the project virtualenv.
pub fn venv_python() -> PathBuf {
    Path::new(VENV_DIR).join("bin").join("python")
}

/// The text the stamp holds: one requirement per line.
fn stamp_text() -> String {
    let mut s = String::new();
    for r in PY_REQUIREMENTS {
        s.push_str(r);
        s.push('\n');
    }
    s
}

/// Whether `.venv` is set up for the current requirement list.
pub fn venv_is_current() -> bool {
    venv_python().exists() && std::fs::read_to_string(STAMP).is_ok_and(|s| s == stamp_text())
}

/// `cargo xtask setup`: everything a build, the tests and the benchmarks
/// need. Cheap when nothing is missing.
pub fn setup() -> Result<()> {
    ensure_rust_components()?;
    ensure_debian_packages()?;
    ensure_venv()?;
    ensure_torch_link()
}

/// Installs the missing Debian packages (as root), or says what to install.
fn ensure_debian_packages() -> Result<()> {
    let missing: Vec<&str> = DEBIAN_PACKAGES
        .iter()
        .copied()
        .filter(|p| {
            let status = util::output(Command::new("dpkg-query").args(["-W", "-f=${Status}", p]));
            !status.is_some_and(|s| s.contains("install ok installed"))
        })
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    if util::is_root() {
        eprintln!("setup: installing Debian packages {}", missing.join(" "));
        return apt_get_install(&missing);
    }
    bail!(
        "missing system packages; install them with\n    sudo apt-get install -y {}\nthen rerun the command",
        missing.join(" ")
    )
}

/// Points `.venv/torch` at the installed torch package.
fn ensure_torch_link() -> Result<()> {
    let out = util::output(
        Command::new(venv_python()).args(["-c", "import os, torch; print(os.path.dirname(torch.__file__))"]),
    )
    .context("torch is not importable in .venv; rerun `cargo xtask setup`")?;
    let abs = PathBuf::from(out.trim());
    // Relative inside the venv, so the checkout can move.
    let venv_abs = std::fs::canonicalize(VENV_DIR).with_context(|| format!("resolving {VENV_DIR}"))?;
    let target = abs.strip_prefix(&venv_abs).map(Path::to_path_buf).unwrap_or(abs);
    let link = Path::new(TORCH_LINK);
    if std::fs::read_link(link).ok().as_deref() == Some(target.as_path()) {
        return Ok(());
    }
    let _ = std::fs::remove_file(link);
    std::os::unix::fs::symlink(&target, link)
        .with_context(|| format!("linking {TORCH_LINK} -> {}", target.display()))
}

/// Creates or refreshes `.venv` unless it is already current.
pub fn ensure_venv() -> Result<()> {
    if venv_is_current() {
        eprintln!("setup: {VENV_DIR} is up to date ({})", PY_REQUIREMENTS.join(", "));
        return Ok(());
    }
    let python = ensure_python3()?;
    if !venv_python().exists() {
        eprintln!("setup: creating {VENV_DIR}");
        let created = run(Command::new(&python).args(["-m", "venv", VENV_DIR]));
        if let Err(e) = created {
            // Debian's python3 ships without ensurepip unless python3-venv is installed.
            std::fs::remove_dir_all(VENV_DIR).ok();
            if util::is_root() && python == "python3" && apt_get_install(&["python3-venv"]).is_ok() {
                run(Command::new(&python).args(["-m", "venv", VENV_DIR]))?;
            } else {
                return Err(e.context(
                    "could not create the virtualenv; on Debian/Ubuntu install it with \
                     `sudo apt-get install python3-venv`",
                ));
            }
        }
    }
    let py = venv_python();
    run(Command::new(&py).args(["-m", "pip", "install", "--upgrade", "pip"]))
        .context("upgrading pip inside the virtualenv")?;
    let mut install = Command::new(&py);
    install.args(["-m", "pip", "install"]).args(PY_REQUIREMENTS);
    run(&mut install).context("installing the Python requirements")?;
    std::fs::write(STAMP, stamp_text()).with_context(|| format!("writing {STAMP}"))?;
    eprintln!("setup: {VENV_DIR} ready ({})", PY_REQUIREMENTS.join(", "));
    Ok(())
}

/// Finds python3, installing Debian's python3 + python3-venv when missing and
/// running as root. Returns the command name to use.
fn ensure_python3() -> Result<String> {
    let python = "python3".to_string();
    if util::output(Command::new(&python).arg("--version")).is_some() {
        return Ok(python);
    }
    if util::is_root() {
        eprintln!("setup: python3 not found; installing Debian's python3 and python3-venv");
        apt_get_install(&["python3", "python3-venv"])?;
        if util::output(Command::new(&python).arg("--version")).is_some() {
            return Ok(python);
        }
        bail!("python3 is still missing after apt-get install");
    }
    bail!(
        "python3 not found. Install Python 3 with the venv module, e.g. on Debian/Ubuntu:\n    \
         sudo apt-get update && sudo apt-get install -y python3 python3-venv\nthen rerun `cargo xtask setup`"
    )
}

fn apt_get_install(pkgs: &[&str]) -> Result<()> {
    run(Command::new("apt-get").arg("update").env("DEBIAN_FRONTEND", "noninteractive"))?;
    run(Command::new("apt-get")
        .args(["install", "-y", "--no-install-recommends"])
        .args(pkgs)
        .env("DEBIAN_FRONTEND", "noninteractive"))
}

/// Makes sure `cargo fmt` and `cargo clippy` are available, adding the
/// rustup components when they are missing.
pub fn ensure_rust_components() -> Result<()> {
    let installed = util::output(Command::new("rustup").args(["component", "list", "--installed"]));
    for comp in RUST_COMPONENTS {
        let present = match &installed {
            Some(list) => list.lines().any(|l| l.split('-').next() == Some(*comp)),
            None => {
                // No rustup: accept the tool if cargo can already run it.
                let sub = if *comp == "rustfmt" { "fmt" } else { "clippy" };
                let ok = util::output(util::cargo().args([sub, "--version"])).is_some();
                if !ok {
                    bail!("`cargo {sub}` is not available and rustup was not found to install `{comp}`");
                }
                true
            }
        };
        if !present {
            eprintln!("setup: adding the rustup component {comp}");
            run(Command::new("rustup").args(["component", "add", comp]))?;
        }
    }
    Ok(())
}
