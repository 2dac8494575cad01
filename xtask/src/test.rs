//! `cargo xtask test`: exactly what CI runs. It runs `setup` first: the
//! build needs libtorch from the virtualenv's torch wheel and OpenBLAS; the
//! tests themselves never call Python.

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{bail, Context, Result};

use crate::util::{self, cargo};
use crate::venv;

struct Stage {
    name: &'static str,
    cmd: Command,
    /// Whether this stage runs tests whose result lines are counted.
    counts: bool,
}

pub fn run() -> Result<()> {
    let t_all = Instant::now();
    // The build needs libtorch (from the venv's torch wheel) and OpenBLAS;
    // the data loader's tests read the real data sets when they are there.
    venv::setup()?;
    crate::data::run(&[]).context("fetching the data sets (`cargo xtask data`)")?;

    let nextest = util::output(cargo().args(["nextest", "--version"])).is_some();
    let mut stages = vec![
        Stage {
            name: "format (cargo fmt --check)",
            cmd: with_args(cargo(), &["fmt", "--all", "--", "--check"]),
            counts: false,
        },
        Stage {
            name: "lint (cargo clippy -D warnings)",
            cmd: with_args(cargo(), &["clippy", "--workspace", "--all-targets", "--", "-D", "warnings"]),
            counts: false,
        },
        Stage {
            // ode-core is promised usable without LAPACK (no `stiff` feature).
            name: "ode-core without default features (cargo clippy -D warnings)",
            cmd: with_args(
                cargo(),
                &[
                    "clippy",
                    "-p",
                    "ode-core",
                    "--no-default-features",
                    "--all-targets",
                    "--",
                    "-D",
                    "warnings",
                ],
            ),
            counts: false,
        },
        Stage {
            // `bench stiff` is behind xtask's `stiff` feature, which the
            // workspace lint leaves off: lint it too, or it breaks unseen.
            name: "xtask with the stiff bench (cargo clippy -D warnings)",
            cmd: with_args(
                cargo(),
                &["clippy", "-p", "xtask", "--features", "stiff", "--all-targets", "--", "-D", "warnings"],
            ),
            counts: false,
        },
    ];
    if nextest {
        stages.push(Stage {
            name: "tests (cargo nextest)",
            cmd: with_args(cargo(), &["nextest", "run", "--workspace", "--no-fail-fast"]),
            counts: true,
        });
    } else {
        eprintln!("test: cargo-nextest not installed; using cargo test");
        stages.push(Stage {
            name: "tests (cargo test)",
            cmd: with_args(cargo(), &["test", "--workspace", "--all-targets", "--no-fail-fast"]),
            counts: true,
        });
    }
    stages.push(Stage {
        name: "doc tests (cargo test --doc)",
        cmd: with_args(cargo(), &["test", "--workspace", "--doc"]),
        counts: true,
    });

    let n = stages.len();
    let (mut passed, mut failed) = (0u64, 0u64);
    for (i, mut stage) in stages.into_iter().enumerate() {
        eprintln!("\n==> [{}/{n}] {}", i + 1, stage.name);
        let t0 = Instant::now();
        // No progress bar: CI logs are files.
        stage.cmd.env("CARGO_TERM_PROGRESS_WHEN", "never");
        let result = if stage.counts {
            run_counting(&mut stage.cmd).map(|(p, f)| {
                passed += p;
                failed += f;
            })
        } else {
            util::run(&mut stage.cmd)
        };
        if let Err(e) = result {
            bail!("stage {}/{n} `{}` failed: {e:#}", i + 1, stage.name);
        }
        eprintln!("==> [{}/{n}] {} passed in {:.1} s", i + 1, stage.name, t0.elapsed().as_secs_f64());
    }
    eprintln!("\nall {n} stages passed in {:.1} s", t_all.elapsed().as_secs_f64());
    // The plain closing line: every runner's counts (tests and doc tests) added up.
    println!("tests: {passed} passed, {failed} failed");
    Ok(())
}

fn with_args(mut cmd: Command, args: &[&str]) -> Command {
    cmd.args(args);
    cmd
}

/// Runs a test command, passing its output through while adding up the
/// passed/failed counts of its result lines (cargo test's `test result:`,
/// nextest's `Summary`).
fn run_counting(cmd: &mut Command) -> Result<(u64, u64)> {
    let line = util::show(cmd);
    eprintln!("$ {line}");
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("could not start `{line}`"))?;
    let out = child.stdout.take().expect("piped");
    let err = child.stderr.take().expect("piped");
    let t_out = std::thread::spawn(move || pass_through(out, false));
    let t_err = std::thread::spawn(move || pass_through(err, true));
    let (p1, f1) = t_out.join().expect("stdout reader");
    let (p2, f2) = t_err.join().expect("stderr reader");
    let status = child.wait()?;
    if !status.success() {
        bail!("`{line}` failed ({status})");
    }
    Ok((p1 + p2, f1 + f2))
}

fn pass_through(r: impl Read, to_stderr: bool) -> (u64, u64) {
    let (mut passed, mut failed) = (0, 0);
    for line in BufReader::new(r).split(b'\n') {
        let Ok(line) = line else { break };
        let text = String::from_utf8_lossy(&line);
        if to_stderr {
            let _ = writeln!(std::io::stderr(), "{text}");
        } else {
            let _ = writeln!(std::io::stdout(), "{text}");
        }
        if let Some((p, f)) = parse_counts(&text) {
            passed += p;
            failed += f;
        }
    }
    (passed, failed)
}

/// Passed and failed counts of a runner's result line.
fn parse_counts(line: &str) -> Option<(u64, u64)> {
    let t = line.trim();
    let rest = if let Some(i) = t.find("test result:") {
        &t[i + "test result:".len()..]
    } else if t.starts_with("Summary [") {
        let i = t.find(" run:")?;
        &t[i + " run:".len()..]
    } else {
        return None;
    };
    let (mut passed, mut failed) = (0, 0);
    for piece in rest.split([',', ';']) {
        let words: Vec<&str> = piece.split_whitespace().collect();
        if let [.., num, word] = words[..] {
            if let Ok(n) = num.parse::<u64>() {
                if word.starts_with("passed") {
                    passed += n;
                } else if word.starts_with("failed") {
                    failed += n;
                }
            }
        }
    }
    Some((passed, failed))
}

#[cfg(test)]
mod tests {
    use super::parse_counts;

    #[test]
    fn counts_of_result_lines() {
        assert_eq!(
            parse_counts("test result: ok. 7 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 1.18s"),
            Some((7, 0))
        );
        assert_eq!(parse_counts("     Summary [   0.030s] 6 tests run: 6 passed, 0 skipped"), Some((6, 0)));
        assert_eq!(
            parse_counts("     Summary [   0.030s] 6 tests run: 5 passed, 1 failed, 0 skipped"),
            Some((5, 1))
        );
        assert_eq!(parse_counts("running 6 tests"), None);
    }
}
