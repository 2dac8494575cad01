//! Small helpers shared by the commands: paths, child processes, machine
//! description, markdown sections.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{bail, Context, Result};

/// The workspace root (the parent of `xtask/`).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("xtask lives inside the workspace").to_path_buf()
}

/// The cargo that runs us (so a toolchain override stays in force). No
/// `LD_LIBRARY_PATH`: every binary that links libtorch carries an rpath to
/// it (build/libtorch_rpath.rs), so plain cargo works the same.
pub fn cargo() -> Command {
    Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
}

/// Human-readable form of a command line.
pub fn show(cmd: &Command) -> String {
    let mut s = cmd.get_program().to_string_lossy().into_owned();
    for a in cmd.get_args() {
        s.push(' ');
        s.push_str(&a.to_string_lossy());
    }
    s
}

/// Runs a command with inherited stdio; an error names it and its exit code.
pub fn run(cmd: &mut Command) -> Result<()> {
    let line = show(cmd);
    eprintln!("$ {line}");
    let status = cmd.status().with_context(|| format!("could not start `{line}`"))?;
    if !status.success() {
        bail!("`{line}` failed ({status})");
    }
    Ok(())
}

/// Runs a command quietly and returns its trimmed stdout, or `None` when it
/// cannot be started or fails.
pub fn output(cmd: &mut Command) -> Option<String> {
    let out = cmd.output().ok()?;
    out.status.success().then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// Whether we run as root (uid 0).
pub fn is_root() -> bool {
    output(Command::new("id").arg("-u")).is_some_and(|s| s == "0")
}

/// Number of online processors.
pub fn nproc() -> usize {
    std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
}

/// The CPU model from /proc/cpuinfo.
pub fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into())
}

/// The 1-minute load average from /proc/loadavg (other work on the machine
/// skews timings).
pub fn load_average() -> Option<f64> {
    std::fs::read_to_string("/proc/loadavg").ok()?.split_whitespace().next()?.parse().ok()
}

/// `rustc --version`.
pub fn rustc_version() -> String {
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    output(Command::new(rustc).arg("--version")).unwrap_or_else(|| "rustc (unknown version)".into())
}

/// Today's UTC date as YYYY-MM-DD.
pub fn today_utc() -> String {
    let secs =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    let days = (secs / 86_400) as i64;
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}

/// Replaces the section between `<!-- {name}:begin -->` and
/// `<!-- {name}:end -->` in a markdown file (appending it when missing, and
/// creating the file with `preamble` when it does not exist).
pub fn write_md_section(path: &Path, preamble: &str, name: &str, body: &str) -> Result<()> {
    let begin = format!("<!-- {name}:begin -->");
    let end = format!("<!-- {name}:end -->");
    let section = format!("{begin}\n{}\n{end}", body.trim_end());
    let old = match std::fs::read_to_string(path) {
        Ok(s) => s,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => preamble.to_string(),
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    };
    let new = match (old.find(&begin), old.find(&end)) {
        (Some(b), Some(e)) if e > b => format!("{}{}{}", &old[..b], section, &old[e + end.len()..]),
        _ => {
            let mut s = old.trim_end().to_string();
            s.push_str("\n\n");
            s.push_str(&section);
            s.push('\n');
            s
        }
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(path, new).with_context(|| format!("writing {}", path.display()))
}

/// Best-of-N wall-clock timing with N adapted to a time budget: one run is
/// always made; when it took less than `budget` seconds, more runs follow up
/// to `clamp(budget / first, min_repeats, max_repeats)` in total. The Python
/// peer implements the same rule with the same constants.
#[derive(Clone, Copy, Debug, serde::Serialize)]
pub struct TimingPolicy {
    pub budget_s: f64,
    pub min_repeats: usize,
    pub max_repeats: usize,
}

impl TimingPolicy {
    pub fn repeats_after(&self, first_s: f64) -> usize {
        if first_s >= self.budget_s {
            return 1;
        }
        let n = (self.budget_s / first_s.max(1e-9)).floor() as usize;
        n.clamp(self.min_repeats, self.max_repeats)
    }

    /// Times `f`, returning the best time in seconds, the number of runs
    /// and the value of the last run.
    pub fn time<T>(&self, mut f: impl FnMut() -> T) -> (f64, usize, T) {
        let t0 = Instant::now();
        let mut last = f();
        let mut best = t0.elapsed().as_secs_f64();
        let n = self.repeats_after(best);
        for _ in 1..n {
            let t0 = Instant::now();
            last = f();
            best = best.min(t0.elapsed().as_secs_f64());
        }
        (best, n, last)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn md_section_is_replaced_not_duplicated() {
        let dir = std::env::temp_dir().join(format!("xtask-md-{}", std::process::id()));
        let path = dir.join("b.md");
        write_md_section(&path, "# T\n", "core", "one").unwrap();
        write_md_section(&path, "# T\n", "other", "x").unwrap();
        write_md_section(&path, "# T\n", "core", "two").unwrap();
        let s = std::fs::read_to_string(&path).unwrap();
        assert!(s.starts_with("# T"));
        assert!(s.contains("<!-- core:begin -->\ntwo\n<!-- core:end -->"));
        assert!(!s.contains("one"));
        assert!(s.contains("<!-- other:begin -->\nx\n<!-- other:end -->"));
        std::fs::remove_dir_all(dir).ok();
    }

    #[test]
    fn repeats_policy() {
        let p = TimingPolicy { budget_s: 2.0, min_repeats: 3, max_repeats: 30 };
        assert_eq!(p.repeats_after(5.0), 1);
        assert_eq!(p.repeats_after(1.0), 3);
        assert_eq!(p.repeats_after(0.1), 20);
        assert_eq!(p.repeats_after(0.001), 30);
    }

    #[test]
    fn date_format() {
        let d = today_utc();
        assert_eq!(d.len(), 10);
        assert!(d.starts_with("20"));
    }
}
