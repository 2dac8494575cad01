//! What the three benchmark harnesses (`bench core`, `bench stiff`,
//! `bench torch`) share: the run header, number formats, and publishing a
//! run as `target/bench/<name>.json` plus its section of
//! `docs/benchmarks.md`.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::Serialize;

use crate::util;

/// Where the JSON records go.
pub const OUT_DIR: &str = "target/bench";
/// The document every benchmark writes one section of.
pub const DOC: &str = "docs/benchmarks.md";

const DOC_PREAMBLE: &str = "# Benchmarks\n\n\
Each section is written by `cargo xtask bench <name>` and replaced on the next run of that bench; \
the raw records are in `target/bench/<name>.json`.\n";

/// A duration for a table: µs below a millisecond, ms below a second.
pub fn fmt_time(s: f64) -> String {
    if s < 1e-3 {
        format!("{:.1} µs", s * 1e6)
    } else if s < 1.0 {
        format!("{:.2} ms", s * 1e3)
    } else {
        format!("{s:.2} s")
    }
}

/// A load average, or `unknown` where /proc could not be read.
pub fn fmt_load(l: Option<f64>) -> String {
    l.map(|l| format!("{l:.2}")).unwrap_or_else(|| "unknown".into())
}

/// The sentence under a section's title: the command, the date, the
/// machine and toolchain, `software` (the peer's versions and whatever the
/// run pinned), and the load average before and after, since every ratio
/// was measured on a machine that may have been busy.
pub fn run_header(name: &str, quick: bool, software: &str, load: (Option<f64>, Option<f64>)) -> String {
    format!(
        "Run `cargo xtask bench {name}{}` on {}: {} cores ({}); {}; {software}; 1-minute load average {} \
         at the start and {} at the end.\n\n",
        if quick { " --quick" } else { "" },
        util::today_utc(),
        util::nproc(),
        util::cpu_model(),
        util::rustc_version(),
        fmt_load(load.0),
        fmt_load(load.1)
    )
}

/// Writes `records` to `target/bench/<name>.json`, prints `md` and puts it
/// in the `<name>` section of docs/benchmarks.md. Returns the JSON path.
pub fn publish<R: Serialize>(name: &str, records: &[R], md: &str) -> Result<PathBuf> {
    std::fs::create_dir_all(OUT_DIR).with_context(|| format!("creating {OUT_DIR}"))?;
    let json_path = Path::new(OUT_DIR).join(format!("{name}.json"));
    std::fs::write(&json_path, serde_json::to_string_pretty(records)?)
        .with_context(|| format!("writing {}", json_path.display()))?;
    println!("{md}");
    util::write_md_section(Path::new(DOC), DOC_PREAMBLE, name, md)?;
    eprintln!("[bench {name}] wrote {} and the {name} section of {DOC}", json_path.display());
    Ok(json_path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_pick_a_readable_unit() {
        assert_eq!(fmt_time(2.5e-5), "25.0 µs");
        assert_eq!(fmt_time(0.0123), "12.30 ms");
        assert_eq!(fmt_time(3.0), "3.00 s");
        assert_eq!(fmt_load(None), "unknown");
        assert_eq!(fmt_load(Some(1.234)), "1.23");
    }
}
