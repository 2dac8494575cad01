//! The build script of every workspace crate whose binaries can link
//! libtorch: it lets them find libtorch at run time without
//! `LD_LIBRARY_PATH`, and keeps CUDA loadable.
//!
//! Why every crate: in a workspace build (`cargo test --workspace`) cargo
//! unifies features, so ode-models turns ode-core's `tch` feature on for
//! all crates, and every test binary, example and binary that depends on
//! ode-core links libtorch. Link arguments from a build script reach only
//! its own package's targets, so each package needs its own.
//!
//! Where libtorch lives comes down the dependency graph as build-script
//! metadata: torch-sys (`links = "tch"`) tells its direct dependents
//! (`DEP_TCH_LIBTORCH_LIB`: ode-core with `tch`, ode-models), and each of
//! our crates passes it on under its own `links` name
//! (`DEP_ODE_CORE_LIBTORCH_LIB`, ...). No metadata means libtorch is not in
//! this build (ode-core alone, xtask alone): nothing to do.

use std::path::Path;

/// The metadata keys this script reads, nearest source first.
const SOURCES: &[&str] = &[
    "DEP_TCH_LIBTORCH_LIB",
    "DEP_ODE_CORE_LIBTORCH_LIB",
    "DEP_ODE_AUTODIFF_LIBTORCH_LIB",
    "DEP_ODE_MODELS_LIBTORCH_LIB",
];

fn main() {
    for key in SOURCES {
        println!("cargo:rerun-if-env-changed={key}");
    }
    let Some(lib) = SOURCES.iter().find_map(|k| std::env::var(k).ok()) else {
        return;
    };
    println!("cargo:rustc-link-arg=-Wl,-rpath,{lib}");
    // No symbol of torch_cuda is referenced directly, so the default
    // `--as-needed` would drop it and `tch::Cuda::is_available()` would be
    // false even on a GPU machine.
    if Path::new(&lib).join("libtorch_cuda.so").exists() {
        println!("cargo:rustc-link-arg=-Wl,--no-as-needed");
        println!("cargo:rustc-link-arg=-ltorch_cuda");
        println!("cargo:rustc-link-arg=-Wl,--as-needed");
    }
    // For the crates that depend on this one (DEP_<LINKS>_LIBTORCH_LIB).
    println!("cargo:libtorch_lib={lib}");
}
