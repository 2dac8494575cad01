//! Makes binaries and tests of this crate find libtorch at run time without
//! LD_LIBRARY_PATH, and keeps CUDA loadable.
//!
//! torch-sys tells its direct dependents where libtorch lives
//! (`DEP_TCH_LIBTORCH_LIB`). We bake that directory into an rpath, and link
//! `torch_cuda` with `--no-as-needed`: no symbol of it is referenced
//! directly, so the default `--as-needed` would drop it and
//! `tch::Cuda::is_available()` would be false even on a GPU machine.

use std::path::Path;

fn main() {
    println!("cargo:rerun-if-env-changed=DEP_TCH_LIBTORCH_LIB");
    let Ok(lib) = std::env::var("DEP_TCH_LIBTORCH_LIB") else {
        return;
    };
    println!("cargo:rustc-link-arg=-Wl,-rpath,{lib}");
    if Path::new(&lib).join("libtorch_cuda.so").exists() {
        println!("cargo:rustc-link-arg=-Wl,--no-as-needed");
        println!("cargo:rustc-link-arg=-ltorch_cuda");
        println!("cargo:rustc-link-arg=-Wl,--as-needed");
    }
    // Re-exported for crates that depend on us (DEP_ODE_MODELS_LIBTORCH_LIB).
    println!("cargo:libtorch_lib={lib}");
}
